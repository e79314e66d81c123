"""`drctl reconcile`: the ledger made complete again from DynamoDB after an unplanned failover.

An unplanned Aurora failover gives up the writes the old primary had not replicated, postings
included; the payments themselves survive in the surviving region's DynamoDB replica (minus what
DynamoDB itself had not replicated). Reconcile reads the accepted payments there (from --since on),
asks the ledger which of them it holds, and posts the rest, through the writer, as `ledger_poster`
with an IAM token, with the same code the stream poster runs (functions/ledger/ledger_db.py).
Posting is idempotent: a second run finds nothing missing and posts nothing.

The writer's endpoint is private: run it from inside the VPC (CloudShell VPC environment, a bastion)
or through a tunnel with --db-host/--db-port (the token is still signed for the writer's endpoint).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from core import naming
from drctl import aurora
from drctl.actions import Plan, Step
from drctl.aws import Unreachable
from drctl.context import Context
from drctl.errors import OperationFailed, Refused
from functions.ledger import ledger_db

# The database every cluster of the global database holds (global_resources/secrets.py, DATABASE_NAME;
# drctl does not import the Pulumi program). tests/drctl/test_reconcile.py asserts they agree.
DATABASE = "payments"
ACCEPTED = ledger_db.ACCEPTED
CONNECT_TIMEOUT = 10.0
_deserializer = TypeDeserializer()


@dataclass(frozen=True)
class Target:
    """Where the postings go: the writer (whose endpoint the token is signed for) and where to connect."""

    writer: ledger_db.Writer
    host: str
    port: int


@dataclass
class Comparison:
    region: str
    since: datetime | None
    accepted: dict[str, dict[str, Any]]  # transaction id -> item, from DynamoDB
    in_ledger: set[str]
    unpostable: dict[str, str] = field(default_factory=dict)  # transaction id -> why

    @property
    def missing(self) -> list[str]:
        return sorted(set(self.accepted) - self.in_ledger - set(self.unpostable))


def token_for(ctx: Context, writer: ledger_db.Writer) -> str:
    """generate_db_auth_token is local signing, no call: it works whichever region is down."""
    return ledger_db.iam_token(ctx.clients("rds", writer.region), writer)


def find_writer(ctx: Context, region: str | None) -> ledger_db.Writer:
    topology = aurora.read_topology(ctx, prefer=region)
    writer = topology.writer
    if writer is None:
        raise Refused(
            f"no writer in {topology.describe()}: reconcile once the failover has completed ({ctx.stack.command('status')})"
        )
    answer = ctx.clients.call("rds", writer.region, "describe_db_clusters", DBClusterIdentifier=writer.identifier)
    cluster = answer["DBClusters"][0]
    return ledger_db.Writer(
        writer.identifier, writer.region, cluster["Endpoint"], int(cluster.get("Port") or ledger_db.PORT)
    )


# The acceptance records the payment function writes first (functions/payment_validation/payment_store.py):
# `id` = this prefix + the transaction id, and the whole accepted item. drctl does not import the function.
ACCEPTANCE_PREFIX = "payment#"


def _scan(
    ctx: Context, region: str, table: str, condition: str, names: dict[str, str], values: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {
        "TableName": table,
        "FilterExpression": condition,
        "ConsistentRead": True,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    while True:
        page = ctx.clients.call("dynamodb", region, "scan", **params)
        for raw in page.get("Items", []):
            yield {name: _deserializer.deserialize(value) for name, value in raw.items()}
        if "LastEvaluatedKey" not in page:
            return
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def accepted_payments(ctx: Context, region: str, since: datetime | None) -> Iterator[dict[str, Any]]:
    """Accepted payments of `region`'s replicas, created at or after `since` (consistent reads), from both
    the acceptance records and the transactions table, one item per transaction id.

    The acceptance records decide what was accepted: with dynamodbConsistency "strong" (MRSC) an acknowledged
    acceptance is in every replica, so the ledger's RPO becomes the acceptance table's, 0, even for a payment
    whose transactions item the lost region had not replicated. The transactions table adds nothing new in
    that mode and is read for the eventual mode, where each region's records are its own."""
    condition, names = "#status = :accepted", {"#status": "status"}
    values: dict[str, Any] = {":accepted": {"S": ACCEPTED}}
    if since is not None:
        # created_at is ISO 8601 UTC with milliseconds and "Z" (payment_store.new_transaction): it sorts as text.
        condition += " AND created_at >= :since"
        values[":since"] = {"S": since.isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    namer = ctx.stack.cfg.namer
    seen: set[str] = set()
    acceptance = _scan(
        ctx,
        region,
        namer(naming.IDEMPOTENCY_TABLE),
        f"begins_with(id, :prefix) AND {condition}",
        names,
        {**values, ":prefix": {"S": ACCEPTANCE_PREFIX}},
    )
    for item in acceptance:
        item.pop("id", None)
        seen.add(str(item["transaction_id"]))
        yield item
    for item in _scan(ctx, region, namer(naming.TRANSACTIONS_TABLE), condition, names, values):
        if str(item["transaction_id"]) not in seen:
            yield item


class Session:
    """One ledger_poster connection to the target for the whole command."""

    def __init__(self, ctx: Context, target: Target, token: Callable[[Context, ledger_db.Writer], str]):
        self._open = lambda: ledger_db.connect(
            target.host,
            target.port,
            ledger_db.POSTER_ROLE,
            token(ctx, target.writer),
            DATABASE,
            ledger_db.tls_context(),
            CONNECT_TIMEOUT,
        )
        self.target = target
        self._connection: Any = None

    def connection(self) -> Any:
        if self._connection is None:
            try:
                self._connection = self._open()
            except Exception as error:  # any driver or network error: refuse, naming where
                raise Refused(
                    f"cannot log in to the ledger as {ledger_db.POSTER_ROLE} at {self.target.host}:{self.target.port} "
                    f"(writer {self.target.writer.cluster_identifier}): {ledger_db.describe(error)}. Run from inside "
                    "the VPC or through a tunnel (--db-host/--db-port)"
                ) from error
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            with closing(self._connection):
                self._connection = None


def compare(ctx: Context, session: Session, region: str, since: datetime | None) -> Comparison:
    try:
        items = {str(item["transaction_id"]): item for item in accepted_payments(ctx, region, since)}
    except Unreachable as error:
        raise Refused(f"cannot read the payments tables in {region}: {error}") from error
    comparison = Comparison(region, since, items, ledger_db.posted_ids(session.connection(), items))
    for transaction_id in comparison.missing:
        try:
            ledger_db.payment_from_item(items[transaction_id])
        except ledger_db.NotPostable as error:
            comparison.unpostable[transaction_id] = str(error)
    return comparison


def post_missing(ctx: Context, session: Session, comparison: Comparison, results: dict[str, Any]) -> None:
    connection = session.connection()
    posted = already = 0
    conflicts: list[str] = []
    for transaction_id in comparison.missing:
        try:
            outcome = ledger_db.post(connection, ledger_db.payment_from_item(comparison.accepted[transaction_id]))
        except ledger_db.PostingConflict as error:
            conflicts.append(str(error))
            continue
        except Exception as error:  # a driver or network error: what is posted stays posted
            results.update(posted=posted, already_posted=already)
            raise OperationFailed(
                f"posting {transaction_id} failed after {posted} posting(s): {ledger_db.describe(error)}",
                next_steps=(f"re-run (idempotent): {ctx.stack.command('reconcile')}",),
            ) from error
        posted += outcome == ledger_db.POSTED
        already += outcome == ledger_db.ALREADY_POSTED  # a stream poster got there first
    results.update(posted=posted, already_posted=already, conflicts=conflicts)
    ctx.say(f"  posted {posted}, already posted by a stream poster meanwhile {already}, conflicts {len(conflicts)}")
    for conflict in conflicts:
        ctx.say(f"  CONFLICT (left as the ledger holds it; investigate): {conflict}")
    if conflicts:
        raise OperationFailed(f"{len(conflicts)} transaction(s) conflict with the ledger; the rest is posted")


def count_after(ctx: Context, session: Session, comparison: Comparison, results: dict[str, Any]) -> None:
    held = ledger_db.posted_ids(session.connection(), comparison.accepted)
    results.update(in_ledger_after=len(held), missing_after=len(set(comparison.accepted) - held))
    ctx.say(
        f"  the ledger now holds {len(held)} of the {len(comparison.accepted)} accepted payments "
        f"({len(set(comparison.accepted) - held)} missing)"
    )


def reconcile_plan(
    ctx: Context,
    region: str | None,
    since: datetime | None,
    db_host: str | None,
    db_port: int | None,
    token: Callable[[Context, ledger_db.Writer], str] | None = None,
) -> tuple[Plan, Session]:
    writer = find_writer(ctx, region)
    source = region or writer.region  # by default the surviving region is the writer's
    session = Session(ctx, Target(writer, db_host or writer.host, db_port or writer.port), token or token_for)
    comparison = compare(ctx, session, source, since)
    window = f"since {since.isoformat()}" if since else "all time"
    details: dict[str, Any] = {
        "region": source,
        "since": since.isoformat() if since else None,
        "writer": writer.cluster_identifier,
        "accepted": len(comparison.accepted),
        "in_ledger_before": len(comparison.in_ledger),
        "missing_before": len(comparison.missing),
        "unpostable": comparison.unpostable,
    }
    steps = []
    if comparison.missing:
        steps.append(
            Step(
                f"post {len(comparison.missing)} missing transaction(s) to {writer.cluster_identifier} as {ledger_db.POSTER_ROLE}",
                partial(post_missing, ctx, session, comparison, details),
                changes=True,
            )
        )
    steps.append(Step("count again", partial(count_after, ctx, session, comparison, details), changes=False))
    notes = [
        f"DynamoDB {source}: {len(comparison.accepted)} accepted payment(s) ({window}); ledger: {len(comparison.in_ledger)} of them; "
        f"missing: {len(comparison.missing)}"
    ]
    notes += [f"NOT POSTABLE {tid}: {why}" for tid, why in sorted(comparison.unpostable.items())]
    plan = Plan(
        summary=(
            f"reconcile the ledger on {writer.cluster_identifier} ({writer.region}) with the accepted payments in {source}: "
            + (f"post {len(comparison.missing)}" if comparison.missing else "nothing to post")
        ),
        checks=[],
        steps=steps,
        state=lambda: f"ledger holds {details.get('in_ledger_after', '?')} of {len(comparison.accepted)}",
        next_steps=(f"re-run (idempotent): {ctx.stack.command('reconcile')}",),
        notes=notes,
        details=details,
    )
    return plan, session
