"""What the operator reads: the status report as tables, plans, outcomes and errors."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from drctl.actions import Outcome, Plan, Step
from drctl.dns import health_word
from drctl.errors import DrctlError
from drctl.status import DEGRADED, HEALTHY, Report

VERDICT_STYLE = {HEALTHY: "bold green", DEGRADED: "bold yellow"}  # failed over / overridden: bold red


def status(console: Console, report: Report) -> None:
    writer = report.writer or "none"
    console.print(f"[bold]{escape(report.stack)}[/] · operator {escape(report.operator)}")
    console.print(
        f"Aurora global cluster {report.global_cluster}: writer [bold]{writer}[/] (config primaryRegion {report.config_primary})"
    )
    _table(
        console,
        "Aurora",
        ("region", "cluster", "role", "status", "lag", "RPO lag"),
        [
            (c.region, c.identifier, c.role, c.status, _ms(c.lag_ms, c.role), _ms(c.rpo_lag_ms, c.role))
            for c in report.aurora
        ],
    )
    _table(
        console,
        "DynamoDB global tables",
        ("table", "region", "status there", "as replica", "replication latency into it"),
        [
            (
                t.table,
                t.region,
                t.table_status,
                t.replica_status,
                ", ".join(f"{_ms(v)} from {sender}" for sender, v in t.latency_ms.items()) or "-",
            )
            for t in report.dynamodb
        ],
    )
    _table(
        console,
        "S3 replication",
        ("bucket", "rule", "status", "latency", "pending", "failed"),
        [
            (r.bucket, r.rule, r.status, _number(r.latency_s, " s"), _number(r.pending_ops), _number(r.failed_ops))
            for r in report.s3
        ],
    )
    _table(
        console,
        "Route 53 health checks",
        ("region", "kind", "type", "checkers", "override", "routing sees"),
        [
            (
                h.region,
                h.kind,
                h.type,
                health_word(h.measured),
                _flags(h.disabled, h.inverted),
                health_word(h.effective),
            )
            for h in report.health_checks
        ],
    )
    _table(
        console,
        "Routing holds (CloudWatch alarm per holder region)",
        ("region", "held", "hold alarm in each holder region"),
        [
            (
                h.region,
                {True: "HELD", False: "no", None: "unknown"}[h.held],
                ", ".join(f"{holder} {state or 'unread'}" for holder, state in h.alarms.items()),
            )
            for h in report.holds
        ],
    )
    serves = report.dns["serves"] or escape(report.dns.get("serves_unknown") or "unresolved")
    console.print(f"{report.dns['name']} → [bold]{serves}[/]")
    for hop in report.dns["path"]:
        console.print(f"  {escape(hop)}", highlight=False)
    for region, reason in report.unreachable.items():
        console.print(f"[red]unreachable: {region}: {escape(reason)}[/]")
    console.print(f"Verdict: [{VERDICT_STYLE.get(report.verdict, 'bold red')}]{report.verdict}[/]")
    for reason in report.reasons:
        console.print(f"  - {escape(reason)}", highlight=False)


def plan(console: Console, shown: Plan, *, dry_run: bool) -> None:
    console.print(f"[bold]{escape(shown.summary)}[/]")
    for note in shown.notes:
        console.print(f"  {escape(note)}", highlight=False)
    for check in shown.checks:
        mark = "[green]✓[/]" if check.ok else "[red]✗[/]"
        console.print(f"  {mark} {escape(check.name)}: {escape(check.detail)}", highlight=False)
    if dry_run:
        console.print("Steps (dry run: none is executed):")
        _steps(console, shown.steps)


def outcome(console: Console, done: Outcome) -> None:
    for label, seconds in done.measured.items():
        console.print(
            f"[bold]RTO {label}: {seconds:.0f} s[/] (from the switch call until the writer role and availability were confirmed)"
        )


def notified(console: Console, results: dict[str, str], audit: str | None) -> None:
    for region, result in results.items():
        style = "" if result == "published" else "yellow"
        console.print(f"  SNS {region}: {escape(result)}", style=style, highlight=False)
    if audit:
        console.print(f"  audit: {audit}", highlight=False)


def error(console: Console, problem: DrctlError) -> None:
    # One line however long (soft_wrap): an operator can grep it, a pipe does not cut it.
    console.print(f"[bold red]error:[/] {escape(str(problem))}", highlight=False, soft_wrap=True)
    if problem.state:
        console.print(f"state now: {escape(problem.state)}", highlight=False)
    for step in problem.next_steps:
        console.print(f"  {escape(step)}", highlight=False)


def _steps(console: Console, steps: Iterable[Step]) -> None:
    for number, step in enumerate(steps, 1):
        kind = "change" if step.changes else "read"
        console.print(escape(f"  {number}. [{kind}] {step.title}"), highlight=False)


def _table(console: Console, title: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    table = Table(title=title, title_justify="left", show_edge=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    console.print(table if rows else f"{title}: nothing found")


def _ms(value: float | None, role: str = "") -> str:
    if role == "writer":
        return "-"
    return "unknown" if value is None else f"{value:g} ms"


def _number(value: float | None, unit: str = "") -> str:
    return "unknown" if value is None else f"{value:g}{unit}"


def _flags(disabled: bool, inverted: bool) -> str:
    return (
        "none"
        if not (disabled or inverted)
        else "+".join(f for f, on in (("Disabled", disabled), ("Inverted", inverted)) if on)
    )
