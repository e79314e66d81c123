"""Offline plan: what `pulumi up` would create, evaluated from the real program with no AWS at hand.

    python -m plan                      # the example stack, Pulumi.dev.yaml
    python -m plan --stack prod         # Pulumi.prod.yaml
    python -m plan --stack-file examples/three-region/Pulumi.three-region.yaml
    python -m plan --set secondaryRegions='["us-east-2","us-west-2"]' --set dynamodbWitnessRegion=
    python -m plan --outputs            # the stack outputs (JSON) `pulumi up` would export
    python -m plan --diagram docs/architecture.md   # also write the Mermaid architecture diagram
    python -m plan --simulate primary-region-lost   # play an outage on the evaluated stack (or: all)

After the resources it prints the recovery budget (plan/budget.py) and the policy pack's verdict
(policy/rules.py via plan/policies.py); it exits with status 3 when a policy is violated. The budget's
API and database RTO are the worst case of the outage simulation (plan/simulate.py, plan/scenarios.py);
``--simulate`` prints a scenario's timeline instead and exits with status 4 when it shows a problem.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from core.config import ConfigError
from plan import budget, diagram, engine, policies, scenarios, simulate

NAME_KEYS = (
    "name",
    "bucket",
    "functionName",
    "clusterIdentifier",
    "identifier",
    "globalClusterIdentifier",
    "alarmName",
    "dashboardName",
    "domainName",
    "topic",
)
POLICY_VIOLATION_EXIT = 3
SIMULATION_PROBLEM_EXIT = 4
CONFIG_ERROR_EXIT, USAGE_EXIT = 1, 2
STATE_ONLY = "state only"  # random values and local builds: in the Pulumi state, not in AWS
# Plain click help: flags show as flags (rich help prints `--json <bool>`), examples keep their lines.
app = typer.Typer(add_completion=False, rich_markup_mode=None)
EPILOG = """\b
Examples:
  python -m plan                                   # the example stack, Pulumi.dev.yaml
  python -m plan --stack prod                      # Pulumi.prod.yaml in the project root
  python -m plan --stack-file examples/three-region/Pulumi.three-region.yaml
  python -m plan --set natGateways=single --set secondaryRegions='["us-east-2","us-west-2"]' --set dynamodbWitnessRegion=
  python -m plan --outputs | jq .dashboards        # the stack outputs `pulumi up` would export
  python -m plan --json > resources.json           # every resource with its inputs
  python -m plan --diagram docs/architecture.md    # also write the architecture diagram
  python -m plan --simulate primary-region-lost    # play an outage on the evaluated stack (or: all)

\b
Exit status: 0 the plan passes the policy pack; 1 the config is invalid (every problem named);
2 bad usage (e.g. no such stack file); 3 a policy is violated (each violation listed); 4 --simulate
found a problem (traffic to a region that is down, the goal missed, automatic fail-back, nobody paged).
"""


def physical_name(record: engine.ResourceRecord) -> str:
    for key in NAME_KEYS:
        value = record.inputs.get(key)
        if isinstance(value, str) and value:
            return value
    tag = (record.inputs.get("tags") or {}).get("Name")
    return tag or "-"


role_of = budget.dr_role  # the DR-Role default tag of a resource's provider


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--set {pair!r}: expected KEY=VALUE, e.g. --set natGateways=single")
        overrides[key.removeprefix(f"{engine.PROJECT}:")] = value
    return overrides


def group_of(evaluation: engine.Evaluation, record: engine.ResourceRecord) -> tuple[str, str]:
    """(where, DR-Role): the region and its provider's role, or the state-only group."""
    if record.region is None:
        return STATE_ONLY, ""
    return record.region, role_of(evaluation, record)


def group_title(group: tuple[str, str], count: int) -> str:
    where, role = group
    if where == STATE_ONLY:
        return f"state only (random values, local builds; nothing in AWS) · {count} to create"
    return f"{where} · DR-Role {role} · {count} to create"


def render(console: Console, stack: str, evaluation: engine.Evaluation) -> None:
    groups: dict[tuple[str, str], list[engine.ResourceRecord]] = defaultdict(list)
    for record in evaluation.managed:
        groups[group_of(evaluation, record)].append(record)
    console.print(
        f"[bold]Offline plan for stack {stack}[/] — the real program under Pulumi's mock engine; "
        f"no AWS calls. The account id shows as {engine.MOCK_ACCOUNT_ID}; ids and ARNs are placeholders."
    )
    ranks = {"primary": 0, "secondary": 1, "global": 2, "": 4}
    for group in sorted(groups, key=lambda g: (ranks.get(g[1], 3), g[0])):
        records = groups[group]
        # Columns fold long names instead of widening the table past the terminal.
        table = Table(title=group_title(group, len(records)), title_justify="left", show_edge=False, expand=False)
        table.add_column("type", overflow="fold")
        table.add_column("physical name", overflow="fold")
        table.add_column("logical name", style="dim", overflow="fold")
        for record in sorted(records, key=lambda r: (r.type, r.name)):
            table.add_row(record.type, physical_name(record), record.name)
        console.print(table)
    per_group = Counter(group_of(evaluation, r)[0] for r in evaluation.managed)
    summary = ", ".join(
        f"{count} {'state only' if where == STATE_ONLY else 'in ' + where}"
        for where, count in sorted(per_group.items())
    )
    console.print(f"[bold]Total: {len(evaluation.managed)} resources to create[/] ({summary}).")
    for line in ledger_migrations(evaluation):
        console.print(line, markup=False, highlight=False)


def ledger_migrations(evaluation: engine.Evaluation) -> list[str]:
    """The ledger's SQL migrations that `pulumi up` runs (the migrator invocation's input), in order."""
    lines = []
    for record in evaluation.of_type("aws:lambda/invocation:Invocation"):
        versions = json.loads(record.inputs.get("input") or "{}").get("migrations", [])
        lines.append(
            f"Ledger migrations applied by `pulumi up` ({record.name}, {record.region}; functions/ledger/migrations): "
            + (", ".join(versions) or "none")
        )
    return lines


def shown_path(path: Path) -> str:
    """A path as the project's docs show it: relative to the project root when inside it."""
    resolved = path.resolve()
    return str(resolved.relative_to(engine.ROOT)) if resolved.is_relative_to(engine.ROOT) else str(path)


def stack_name(stack: str | None, stack_file: Path | None) -> str:
    """--stack, else the <name> of a Pulumi.<name>.yaml given as --stack-file, else dev."""
    if stack:
        return stack
    if stack_file and stack_file.name.startswith("Pulumi.") and stack_file.suffix in (".yaml", ".yml"):
        return stack_file.name[len("Pulumi.") : -len(stack_file.suffix)] or "dev"
    return "dev"


@app.command(epilog=EPILOG)
def main(
    stack: str | None = typer.Option(
        None, metavar="NAME", help="Reads Pulumi.<NAME>.yaml from the project root (default: dev)."
    ),
    stack_file: Path | None = typer.Option(
        None,
        "--stack-file",
        "--config-file",
        dir_okay=False,
        metavar="PATH",
        help="A stack file to read instead, e.g. one of examples/; the stack is named after its Pulumi.<name>.yaml.",
    ),
    set_: list[str] = typer.Option(
        [], "--set", metavar="KEY=VALUE", help="Override a config key (JSON for lists and maps); repeatable."
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print every resource with its inputs as JSON instead of the tables."
    ),
    outputs: bool = typer.Option(
        False,
        "--outputs",
        help="Print the stack outputs `pulumi up` would export (JSON; placeholders for what only AWS knows).",
    ),
    diagram_path: Path | None = typer.Option(
        None,
        "--diagram",
        dir_okay=False,
        metavar="PATH",
        help="Also write the architecture diagram (Mermaid): .md for a Markdown page, else raw Mermaid.",
    ),
    simulate_: str | None = typer.Option(
        None,
        "--simulate",
        metavar="SCENARIO",
        help=f"Play an outage on the evaluated stack and print its timeline: {', '.join(scenarios.BY_KEY)}, or all.",
    ),
) -> None:
    """Plans a stack offline: runs the real program under Pulumi's mock runtime (no AWS credentials, no
    Pulumi CLI), prints every resource `pulumi up` would create by region, the recovery budget, and the
    policy pack's verdict."""
    console, errors = Console(), Console(stderr=True)
    name = stack_name(stack, stack_file)
    path = stack_file or engine.ROOT / f"Pulumi.{name}.yaml"
    if not path.is_file():
        errors.print(
            f"[red]error:[/] no stack file {path}: create it, or pass --stack-file PATH (e.g. one of examples/)"
        )
        raise typer.Exit(USAGE_EXIT)
    raw = {**engine.stack_config(path), **parse_overrides(set_)}
    try:
        evaluation = engine.evaluate(raw, stack=name)
    except ConfigError as error:
        errors.print(f"[red]error:[/] {path}: {error}")
        raise typer.Exit(CONFIG_ERROR_EXIT) from None
    if simulate_:
        raise typer.Exit(run_simulation(console, evaluation, simulate_))
    if diagram_path:
        command = diagram.regenerate_command(name, shown_path(path) if stack_file else None, shown_path(diagram_path))
        text = (
            diagram.document(evaluation, name, command) if diagram_path.suffix == ".md" else diagram.mermaid(evaluation)
        )
        diagram_path.write_text(text)
    violations = policies.check(evaluation, policies.suffix_config(raw))
    machine = as_json or outputs
    if outputs:
        print(json.dumps(evaluation.outputs, indent=2, sort_keys=True, default=str))
    elif as_json:
        print(
            json.dumps(
                [
                    {
                        "type": r.type,
                        "name": r.name,
                        "region": r.region,
                        "physicalName": physical_name(r),
                        "inputs": r.inputs,
                    }
                    for r in evaluation.managed
                ],
                indent=2,
                default=str,
            )
        )
    else:
        render(console, name, evaluation)
        console.print()
        console.print(budget.format_text(budget.compute(evaluation)), markup=False, highlight=False, soft_wrap=True)
    report_policies(errors if machine else console, violations)
    if diagram_path:
        errors.print(f"diagram written to {diagram_path}")
    if violations:
        raise typer.Exit(POLICY_VIOLATION_EXIT)


def run_simulation(console: Console, evaluation: engine.Evaluation, which: str) -> int:
    """Prints the scenario(s) and the worst-case figures; the exit status says whether any shows a problem."""
    try:
        model = simulate.build_model(evaluation)
        keys = None if which == "all" else [scenarios.scenario(which).key]
        results = scenarios.run_all(model, keys)
    except simulate.SimulationError as error:
        console.print(f"[red]error:[/] {error}")
        return 2
    console.print(scenarios.report_all(results, model), markup=False, highlight=False, soft_wrap=True)
    return SIMULATION_PROBLEM_EXIT if any(r.problems() for r in results) else 0


def report_policies(console: Console, violations: list[policies.Violation]) -> None:
    console.print()
    if not violations:
        console.print(
            "[bold green]Policy pack: no violations[/] (policy/rules.py; the same rules run under `pulumi preview --policy-pack policy`)."
        )
        return
    console.print(f"[bold red]Policy pack: {len(violations)} violation(s)[/] (policy/rules.py, all mandatory):")
    for violation in violations:
        console.print(f"  {violation}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
