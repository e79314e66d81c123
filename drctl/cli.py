"""The typer app: one command per operation, all sharing plan, confirm, execute, notify and audit."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from drctl import __version__, actions, aurora, ledger, render, traffic
from drctl.actions import Plan
from drctl.aws import CREDENTIAL_LOAD_ERRORS, Clients, Unreachable, credential_problem
from drctl.context import Context
from drctl.errors import USAGE_EXIT, DrctlError, OperationFailed, Refused, UsageError
from drctl.notify import DEFAULT_AUDIT_LOG, Event, Identity, append_audit, publish, whoami
from drctl.stack import load
from drctl.status import DEGRADED, HEALTHY, collect
from drctl.waiters import Clock, SystemClock

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_TIMEOUT = 900.0  # AWS quotes minutes for a switchover or failover; 15 of them leave room
PUBLISHED_OUTCOMES = ("ok", "failed")  # refusals and dry runs changed nothing: audit line only

HELP = (
    "DR operations for the payment platform. Needs only AWS credentials (the DR operator role) and the stack's "
    "config file. Exit codes: 0 done; 1 the operation failed or a pre-check refused it; 2 bad usage, nothing changed. "
    "docs/runbook.md says which command to run when."
)
app = typer.Typer(add_completion=False, no_args_is_help=True, help=HELP, pretty_exceptions_enable=False)


@dataclass(frozen=True)
class Runtime:
    """What a run needs from outside; tests pass their own as CliRunner's `obj`."""

    clients: Clients
    clock: Clock
    console: Console
    errors: Console
    stack: str | None = None
    config_file: Path | None = None
    project_dir: Path | None = None
    audit_log: Path = DEFAULT_AUDIT_LOG
    region: str | None = None  # --region: asked first, before the command's own target

    @classmethod
    def default(cls) -> Runtime:
        return cls(Clients.from_environment(), SystemClock(), Console(), Console(stderr=True))

    def context(self, target: str | None = None) -> Context:
        """`target`: the command's region (checked against the stack); STS and global reads ask --region, else it, first."""
        stack = load(self.stack, self.config_file, self.project_dir)
        self.clients.use_clock(self.clock.monotonic)
        for region in (self.region, target):
            if region:
                stack.require_region(region)
        return Context(
            stack,
            self.clients,
            self.clock,
            say=lambda line: self.console.print(line, markup=False, highlight=False),
            prefer=self.region or target,
        )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"drctl {__version__} (payment-dr)")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", is_eager=True, callback=_version, help="Print the version and exit.")
    ] = False,
    stack: Annotated[
        str | None, typer.Option(help="Stack name: reads Pulumi.<stack>.yaml from the project directory.")
    ] = None,
    config_file: Annotated[
        Path | None, typer.Option(dir_okay=False, help="A stack config file to read instead of --stack.")
    ] = None,
    project_dir: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            envvar="DRCTL_PROJECT_DIR",
            help="Where Pulumi.<stack>.yaml lives (default: the current directory).",
        ),
    ] = None,
    audit_log: Annotated[Path, typer.Option(help="Local audit file, one JSON line per action.")] = DEFAULT_AUDIT_LOG,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            metavar="REGION",
            help="A stack region known to answer: STS and global reads ask it first "
            "(default: the command's --to region, then dataHomeRegion). "
            "The profile's default region is never used.",
        ),
    ] = None,
) -> None:
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime.default()
    ctx.obj = replace(
        runtime, stack=stack, config_file=config_file, project_dir=project_dir, audit_log=audit_log, region=region
    )


def reports_errors(command: F) -> F:
    """Every command: a DrctlError is printed with its state and next steps, and sets the exit code."""

    @functools.wraps(command)
    def run(ctx: typer.Context, **kwargs: Any) -> Any:
        runtime = ctx.obj
        try:
            return command(ctx, **kwargs)
        except DrctlError as problem:
            render.error(runtime.errors, problem)
            raise typer.Exit(problem.exit_code) from problem
        except CREDENTIAL_LOAD_ERRORS as problem:  # raised outside Clients.call (Clients converts its own)
            render.error(runtime.errors, credential_problem(problem))
            raise typer.Exit(USAGE_EXIT) from problem
        except Unreachable as problem:
            failure = OperationFailed(f"AWS did not answer: {problem}")
            render.error(runtime.errors, failure)
            raise typer.Exit(failure.exit_code) from problem

    return run  # type: ignore[return-value]


Timeout = Annotated[float, typer.Option(min=1, help="Seconds to wait for each state before giving up.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print every step; call no mutating API.")]
Yes = Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")]


@app.command()
@reports_errors
def status(
    ctx: typer.Context, json_output: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False
) -> None:
    """Writer, replication lag of every data store, health checks, where DNS sends traffic, and a verdict."""
    runtime, context = _open(ctx)
    identity, unknown = _operator(context)
    report = collect(context, identity.arn)
    if unknown:  # what status could read is still worth printing; the verdict says the picture is partial
        report.reasons.insert(0, unknown)
        report.verdict = DEGRADED if report.verdict == HEALTHY else report.verdict
    if json_output:
        typer.echo(json.dumps(asdict(report), indent=2))
    else:
        render.status(runtime.console, report)
    # Read-only: an audit line (who looked, what they saw), never a notification.
    event = Event.now(
        context, identity, "status", {"json": json_output}, "ok", {"verdict": report.verdict, "reasons": report.reasons}
    )
    try:
        audit = append_audit(runtime.audit_log, event, {})
    except OSError as error:
        runtime.errors.print(f"[bold red]audit line NOT written[/] to {runtime.audit_log}: {error}")
        return
    if not json_output:
        render.notified(runtime.console, {}, str(audit))


def _operator(ctx: Context) -> tuple[Identity, str | None]:
    """Who runs status; STS unreachable in every region is one more line of the report, never an abort.

    Missing or rejected credentials still stop it (exit 2): nothing else could be read either."""
    try:
        return whoami(ctx), None
    except Refused as problem:
        return Identity(arn="unknown (STS unreachable)", account=""), f"operator unknown: {problem}"


@app.command()
@reports_errors
def switchover(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", metavar="REGION", help="The secondary region to make the writer.")],
    dry_run: DryRun = False,
    yes: Yes = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
    if_needed: Annotated[
        bool,
        typer.Option("--if-needed", help="Succeed without change when REGION already is the writer (for `pulumi up`)."),
    ] = False,
) -> None:
    """Planned role swap with no data loss (Aurora managed switchover, RPO 0)."""
    runtime, context = _open(ctx, to)
    if if_needed:
        writer = aurora.read_topology(context, prefer=to).writer
        if writer is not None and writer.region == to:
            runtime.console.print(f"{to} is already the writer: nothing to do", highlight=False)
            return
    _act(
        runtime,
        context,
        "switchover",
        {"to": to, "dry_run": dry_run, "timeout": timeout},
        lambda: actions.switchover_plan(context, to, timeout),
        dry_run=dry_run,
        confirm=_asks(yes, f"Make {to} the writer?"),
    )


@app.command()
@reports_errors
def failover(
    ctx: typer.Context,
    to: Annotated[str, typer.Option("--to", metavar="REGION", help="The surviving region to promote.")],
    allow_data_loss: Annotated[
        bool, typer.Option("--allow-data-loss", help="Required: accept losing unreplicated writes.")
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Unplanned failover for a lost primary (Aurora managed failover, loses what had not replicated).
    Every call goes to the surviving REGION first (or --region), never to the profile's default region."""
    runtime, context = _open(ctx, to)
    if not allow_data_loss:
        stack = context.stack
        raise UsageError(
            f"failover promotes {to} at once and loses every write the current primary had not yet replicated. "
            f"If the primary still works, run a switchover instead (RPO 0): {stack.command(f'switchover --to {to}')}. "
            f"If the primary region is lost, re-run with --allow-data-loss: {stack.command(f'failover --to {to} --allow-data-loss')}"
        )
    _act(
        runtime,
        context,
        "failover",
        {"to": to, "allow_data_loss": True, "dry_run": dry_run, "timeout": timeout},
        lambda: actions.failover_plan(context, to, timeout),
        dry_run=dry_run,
        confirm=_typed(yes, to),
    )


@app.command()
@reports_errors
def dns(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option("--to", metavar="REGION", help="Send all traffic to this region: hold every region ahead of it."),
    ] = None,
    release: Annotated[
        bool, typer.Option("--release", help="Release every hold, behind the drain gate (as failback).")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --release: release although replication has not drained.")
    ] = False,
    route53: Annotated[
        bool,
        typer.Option(
            "--route53",
            help="Fallback: Route 53 health-check flags instead of holds (needs Route 53's control plane, us-east-1).",
        ),
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """Move traffic, no data moves: CloudWatch holds in the other regions (Route 53's data plane acts on them);
    with routingControl "arc" also ARC routing controls; --route53: the health-check flags instead."""
    if (to is None) != release:
        raise UsageError("give exactly one of --to REGION or --release")
    if force and not release:
        raise UsageError("--force applies to --release only (holding needs no gate)")
    if route53 and force:
        raise UsageError("--force applies to the holds, not to --route53 (the flags have no drain gate)")
    runtime, context = _open(ctx, to)
    if route53:
        _act(
            runtime,
            context,
            "dns",
            {"to": to, "release": release, "route53": True, "dry_run": dry_run},
            lambda: actions.dns_plan(context, to),
            dry_run=dry_run,
            confirm=_asks(yes, f"Send all traffic to {to}?" if to else "Release every Route 53 override?"),
        )
    elif to:
        _act(
            runtime,
            context,
            "dns",
            {"to": to, "dry_run": dry_run},
            lambda: traffic.hold_plan(context, to),
            dry_run=dry_run,
            confirm=_asks(yes, f"Hold every region ahead of {to} and send all traffic there?"),
        )
    else:
        command = context.stack.command("dns --release")
        _act(
            runtime,
            context,
            "dns",
            {"release": True, "force": force, "dry_run": dry_run},
            lambda: traffic.release_plan(context, None, force=force, command=command),
            dry_run=dry_run,
            confirm=_asks(yes, "Release every hold?"),
        )


@app.command()
@reports_errors
def failback(
    ctx: typer.Context,
    to: Annotated[
        str | None,
        typer.Option(
            "--to", metavar="REGION", help="The held region to let traffic back into (default: primaryRegion)."
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Release although replication has not drained or the region is not seen serving."),
    ] = False,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """Release the hold on a region (traffic returns) once DynamoDB, S3, Aurora and the ledger have drained into it and it serves."""
    runtime, context = _open(ctx, to)
    target = to or context.stack.cfg.primary.name
    command = context.stack.command(f"failback --to {target}")
    _act(
        runtime,
        context,
        "failback",
        {"to": target, "force": force, "dry_run": dry_run},
        lambda: traffic.release_plan(context, [target], force=force, command=command),
        dry_run=dry_run,
        confirm=_asks(yes, f"Let traffic back into {target}?"),
    )


@app.command()
@reports_errors
def drill(
    ctx: typer.Context,
    to: Annotated[
        str | None, typer.Option("--to", metavar="REGION", help="The secondary to drill with (default: the first).")
    ] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
    timeout: Timeout = DEFAULT_TIMEOUT,
) -> None:
    """Game day: switchover to a secondary and back, measuring the RTO of each direction."""
    runtime, context = _open(ctx, to)
    _act(
        runtime,
        context,
        "drill",
        {"to": to, "dry_run": dry_run, "timeout": timeout},
        lambda: actions.drill_plan(context, to, timeout),
        dry_run=dry_run,
        confirm=_asks(yes, "Run the drill (two switchovers)?"),
    )


@app.command()
@reports_errors
def reconcile(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option(metavar="TIME", help="Only payments accepted at or after this ISO 8601 time (UTC if no offset)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region", metavar="REGION", help="The surviving region whose DynamoDB is read (default: the writer's)."
        ),
    ] = None,
    db_host: Annotated[
        str | None,
        typer.Option(
            help="Connect here instead of the writer's endpoint (a tunnel); the IAM token stays the writer's."
        ),
    ] = None,
    db_port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port with --db-host.")] = None,
    dry_run: DryRun = False,
    yes: Yes = False,
) -> None:
    """After a failover: post to the ledger the accepted payments DynamoDB holds and the ledger lacks (idempotent)."""
    runtime, context = _open(ctx)
    start = _utc(since) if since else None
    if region:
        context.stack.require_region(region)
    sessions: list[ledger.Session] = []
    changes: list[bool] = []

    def build() -> Plan:
        plan, session = ledger.reconcile_plan(context, region, start, db_host, db_port)
        sessions.append(session)
        changes.append(any(step.changes for step in plan.steps))
        return plan

    try:
        _act(
            runtime,
            context,
            "reconcile",
            {"since": since, "region": region, "dry_run": dry_run},
            build,
            dry_run=dry_run,
            confirm=lambda: (
                yes or not any(changes) or typer.confirm("Post the missing transactions to the ledger?", default=False)
            ),
        )
    finally:
        for session in sessions:
            session.close()


def _utc(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise UsageError(f"--since {text!r}: not an ISO 8601 time, e.g. 2026-03-01T12:00:00Z") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _act(
    runtime: Runtime,
    ctx: Context,
    command: str,
    args: dict[str, Any],
    build: Callable[[], Plan],
    *,
    dry_run: bool,
    confirm: Callable[[], bool],
) -> None:
    """Shared by every action: plan, show, confirm, execute, then notify and audit however it ended."""
    identity = whoami(ctx)
    runtime.console.print(f"operator {identity.arn}", highlight=False)
    outcome, details = "failed", {}
    plan: Plan | None = None
    try:
        plan = build()
        details.update(plan.details)
        render.plan(runtime.console, plan, dry_run=dry_run)
        if dry_run:
            actions.require_checks(plan)  # a dry run that would be refused exits 1 too
            outcome = "dry-run"
            runtime.console.print("dry run: nothing was changed")
            return
        if not confirm():
            raise Refused("not confirmed: nothing was changed")
        done = actions.execute(ctx, plan)
        details.update(plan.details)  # what the steps found out (e.g. reconcile's counts after)
        details.update(durations_s=done.durations, measured_s=done.measured)
        render.outcome(runtime.console, done)
        outcome = "ok"
    except BaseException as error:
        if plan is not None:
            details.update(plan.details)
        outcome = _outcome_of(error)
        details["error"] = str(error) or type(error).__name__
        if isinstance(error, DrctlError) and error.state:
            details["state"] = error.state
        raise
    finally:
        _record(runtime, ctx, identity, Event.now(ctx, identity, command, args, outcome, details))


def _record(runtime: Runtime, ctx: Context, identity: Identity, event: Event) -> None:
    """Runs in `_act`'s finally: nothing here may replace the outcome (and its state) being reported."""
    try:
        results = publish(ctx, identity, event) if event.outcome in PUBLISHED_OUTCOMES else {}
    except Exception as error:  # an unforeseen SDK error; the audit line still gets written
        results = {"*": f"not published: {type(error).__name__}: {error}"}
    try:
        audit: str | None = str(append_audit(runtime.audit_log, event, results))
    except OSError as error:  # the action's outcome stands; the missing audit line must not go unnoticed
        runtime.errors.print(f"[bold red]audit line NOT written[/] to {runtime.audit_log}: {error}")
        audit = None
    render.notified(runtime.console, results, audit)


def _outcome_of(error: BaseException) -> str:
    """`failed` once a change may have started (or on anything unexpected); `refused` when nothing changed."""
    if isinstance(error, OperationFailed) or not isinstance(error, (DrctlError, Unreachable, typer.Abort)):
        return "failed"
    return "refused"


def _open(ctx: typer.Context, target: str | None = None) -> tuple[Runtime, Context]:
    runtime: Runtime = ctx.obj
    return runtime, runtime.context(target)


def _asks(yes: bool, question: str) -> Callable[[], bool]:
    return lambda: yes or typer.confirm(question, default=False)


def _typed(yes: bool, region: str) -> Callable[[], bool]:
    """A failover loses data: the operator types the region's name, a reflex 'y' is not enough."""
    return lambda: (
        yes
        or typer.prompt(f"Type the region name ({region}) to fail over to it", default="", show_default=False).strip()
        == region
    )
