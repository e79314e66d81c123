"""Offline plan: what `pulumi up` would create, evaluated from the real program with no AWS at hand.

    python -m plan                      # the example stack, Pulumi.dev.yaml
    python -m plan --stack prod         # Pulumi.prod.yaml
    python -m plan --set secondaryRegions='["us-east-2","us-west-2"]'
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
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from core.config import ConfigError
from plan import budget, diagram, engine, policies, scenarios, simulate

NAME_KEYS = ("name", "bucket", "functionName", "clusterIdentifier", "identifier", "globalClusterIdentifier", "alarmName", "dashboardName", "domainName", "topic")
POLICY_VIOLATION_EXIT = 3
SIMULATION_PROBLEM_EXIT = 4
app = typer.Typer(add_completion=False, help=__doc__)


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


def render(console: Console, stack: str, evaluation: engine.Evaluation) -> None:
    groups: dict[tuple[str, str], list[engine.ResourceRecord]] = defaultdict(list)
    for record in evaluation.managed:
        groups[(record.region or "?", role_of(evaluation, record))].append(record)
    console.print(f"[bold]Offline plan for stack {stack}[/] — the real program under Pulumi's mock engine; "
                  f"no AWS calls. The account id shows as {engine.MOCK_ACCOUNT_ID}; ids and ARNs are placeholders.")
    order = sorted(groups, key=lambda g: ({"primary": 0, "secondary": 1, "global": 2}.get(g[1], 3), g[0]))
    for region, role in order:
        records = groups[(region, role)]
        table = Table(title=f"{region} · DR-Role {role} · {len(records)} to create", title_justify="left", show_edge=False)
        table.add_column("type")
        table.add_column("physical name")
        table.add_column("logical name", style="dim")
        for record in sorted(records, key=lambda r: (r.type, r.name)):
            table.add_row(record.type, physical_name(record), record.name)
        console.print(table)
    per_region = Counter(r.region or "?" for r in evaluation.managed)  # "?": state-only (random values)
    summary = ", ".join(f"{count} in {region}" for region, count in sorted(per_region.items()))
    console.print(f"[bold]Total: {len(evaluation.managed)} resources to create[/] ({summary}).")


@app.command()
def main(
    stack: str = typer.Option("dev", help="Reads Pulumi.<stack>.yaml from the project root."),
    config_file: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="A stack config file to read instead."),
    set_: list[str] = typer.Option([], "--set", help="Override a config key: KEY=VALUE (JSON for lists/maps)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable resource list."),
    diagram_path: Optional[Path] = typer.Option(None, "--diagram", dir_okay=False, help="Write the architecture diagram (Mermaid) here: .md for a Markdown page, else raw Mermaid."),
    simulate_: Optional[str] = typer.Option(None, "--simulate", metavar="SCENARIO",
                                            help=f"Play an outage on the evaluated stack and print its timeline: {', '.join(scenarios.BY_KEY)}, or all."),
) -> None:
    console = Console(width=200)
    path = config_file or engine.ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        console.print(f"[red]error:[/] no stack config {path}: create it or pass --config-file")
        raise typer.Exit(2)
    raw = {**engine.stack_config(path), **parse_overrides(set_)}
    try:
        evaluation = engine.evaluate(raw, stack=stack)
    except ConfigError as error:
        console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1)
    if simulate_:
        raise typer.Exit(run_simulation(console, evaluation, simulate_))
    if diagram_path:
        text = diagram.document(evaluation, stack) if diagram_path.suffix == ".md" else diagram.mermaid(evaluation)
        diagram_path.write_text(text)
    violations = policies.check(evaluation, policies.suffix_config(raw))
    if as_json:
        print(json.dumps([{"type": r.type, "name": r.name, "region": r.region, "physicalName": physical_name(r), "inputs": r.inputs}
                          for r in evaluation.managed], indent=2, default=str))
    else:
        render(console, stack, evaluation)
        console.print()
        console.print(budget.format_text(budget.compute(evaluation)), markup=False, highlight=False, soft_wrap=True)
    report_policies(Console(width=200, stderr=as_json), violations)
    if diagram_path:
        Console(width=200, stderr=True).print(f"diagram written to {diagram_path}")
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
        console.print("[bold green]Policy pack: no violations[/] (policy/rules.py; the same rules run under `pulumi preview --policy-pack policy`).")
        return
    console.print(f"[bold red]Policy pack: {len(violations)} violation(s)[/] (policy/rules.py, all mandatory):")
    for violation in violations:
        console.print(f"  {violation}", markup=False, highlight=False, soft_wrap=True)


if __name__ == "__main__":
    app()
