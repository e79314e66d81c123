"""The ledger of record in Aurora PostgreSQL: its migrations, the posting of a payment, the writer.

Shared by the migrator (migrate.py), the stream poster (poster.py) and `drctl reconcile`, so the
three cannot disagree about what a posting is. Needs pg8000 only (boto3 clients are passed in).

A payment becomes one journal entry (its transaction id is the entry's primary key) and two
postings: debit `card_clearing` (the card networks owe us), credit `merchant_payable` (we owe the
merchant), in integer minor units. Posting is idempotent: a transaction already in the ledger is
left as it is, and a different payment under the same id is a conflict, never an overwrite.
docs/data-tier.md, "The ledger".
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pg8000.native

try:  # in the Lambda bundle, the payment function's currency table is copied beside this file
    from payment_money import MINOR_UNITS
except ImportError:  # drctl and the tests import it from the repository
    from functions.payment_validation.payment_money import MINOR_UNITS

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Session-level advisory lock: a second migrator (a retried invocation, an operator) waits for the first.
MIGRATION_LOCK_KEY = 0x6C6564676572  # "ledger"
POSTER_ROLE = "ledger_poster"
ACCEPTED = "ACCEPTED"
PORT = 5432
DEBIT_ACCOUNT, CREDIT_ACCOUNT = "card_clearing", "merchant_payable"
APPLICATION_NAME = "payment-ledger"


class LedgerError(Exception):
    """A ledger operation that cannot go on; the message says what is wrong."""


class MigrationError(LedgerError):
    pass


class NotPostable(LedgerError):
    """The item is not an accepted payment the ledger can post (status, amount, currency)."""


class PostingConflict(LedgerError):
    """The ledger holds a different payment under this transaction id: never overwritten."""


# --- migrations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """`NNNN_<name>.sql` files, versions 1, 2, 3... with no gap or repeat (a gap is a lost file)."""
    files = sorted(p for p in directory.iterdir() if p.suffix == ".sql")
    migrations = []
    for path in files:
        match = MIGRATION_FILE.match(path.name)
        if not match:
            raise MigrationError(f"{path.name}: migration files are named NNNN_<lower_case_name>.sql")
        migrations.append(Migration(int(match[1]), match[2], path.read_text()))
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(
            f"migration versions must run 1, 2, 3... without gaps or repeats; found {versions} in {directory}"
        )
    return migrations


def migrations_hash(migrations: Sequence[Migration]) -> str:
    """What the deployment re-runs the migrator on: every migration's label and text."""
    digest = hashlib.sha256()
    for migration in migrations:
        digest.update(f"{migration.label}\0{migration.checksum}\0".encode())
    return digest.hexdigest()


SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS public.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user
)"""


@dataclass(frozen=True)
class MigrationReport:
    applied: list[str]
    already: list[str]

    def as_dict(self) -> dict[str, list[str]]:
        return {"applied": self.applied, "already": self.already}


def migrate(connection: pg8000.native.Connection, migrations: Sequence[Migration]) -> MigrationReport:
    """Applies what is not applied yet, in order, each in its own transaction with its record in
    schema_migrations. An applied migration whose file changed since is refused: migrations are
    history, a change is a new file."""
    connection.run("SELECT pg_advisory_lock(:key)", key=MIGRATION_LOCK_KEY)
    try:
        connection.run(SCHEMA_MIGRATIONS)
        recorded = {
            int(v): (n, c) for v, n, c in connection.run("SELECT version, name, checksum FROM public.schema_migrations")
        }
        applied, already = [], []
        for migration in migrations:
            if migration.version in recorded:
                name, checksum = recorded[migration.version]
                if checksum != migration.checksum or name != migration.name:
                    raise MigrationError(
                        f"migration {migration.label} was applied as {migration.version:04d}_{name} with checksum {checksum[:12]}, "
                        f"the file now has {migration.checksum[:12]}: never edit an applied migration, add a new one"
                    )
                already.append(migration.label)
                continue
            _apply(connection, migration)
            applied.append(migration.label)
        unknown = sorted(set(recorded) - {m.version for m in migrations})
        if unknown:
            raise MigrationError(
                f"the database has migrations {unknown} that this bundle does not: deploy the newer code"
            )
        return MigrationReport(applied, already)
    finally:
        connection.run("SELECT pg_advisory_unlock(:key)", key=MIGRATION_LOCK_KEY)


def _apply(connection: pg8000.native.Connection, migration: Migration) -> None:
    connection.run("BEGIN")
    try:
        connection.run(migration.sql)  # no parameters: the simple protocol, several statements at once
        connection.run(
            "INSERT INTO public.schema_migrations (version, name, checksum) VALUES (:v, :n, :c)",
            v=migration.version,
            n=migration.name,
            c=migration.checksum,
        )
        connection.run("COMMIT")
    except Exception as error:
        connection.run("ROLLBACK")
        raise MigrationError(f"migration {migration.label} failed and was rolled back: {describe(error)}") from error


# --- payments and postings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Payment:
    transaction_id: str
    merchant_id: str
    currency: str
    amount_minor: int
    accepted_at: datetime
    region: str

    @property
    def postings(self) -> list[tuple[str, str]]:
        return [(DEBIT_ACCOUNT, "debit"), (CREDIT_ACCOUNT, "credit")]


def minor_units(amount: Decimal, currency: str) -> int:
    if currency not in MINOR_UNITS:
        raise NotPostable(f"currency {currency!r} has no known minor unit (ISO 4217)")
    scaled = Decimal(amount).scaleb(MINOR_UNITS[currency])
    if scaled != scaled.to_integral_value():
        raise NotPostable(f"amount {amount} {currency} has more than {MINOR_UNITS[currency]} decimal places")
    return int(scaled)


def payment_from_item(item: Mapping[str, Any]) -> Payment:
    """An accepted transactions-table item (deserialized) as the ledger sees it."""
    if item.get("status") != ACCEPTED:
        raise NotPostable(f"transaction {item.get('transaction_id')} is {item.get('status')}, not {ACCEPTED}")
    try:
        created = datetime.fromisoformat(str(item["created_at"]).replace("Z", "+00:00"))
        return Payment(
            transaction_id=str(item["transaction_id"]),
            merchant_id=str(item["merchant_id"]),
            currency=str(item["currency"]),
            amount_minor=minor_units(Decimal(str(item["amount"])), str(item["currency"])),
            accepted_at=created,
            region=str(item["region"]),
        )
    except (KeyError, ValueError, ArithmeticError) as error:
        raise NotPostable(
            f"transaction {item.get('transaction_id')}: unusable item ({type(error).__name__}: {error})"
        ) from error


POSTED, ALREADY_POSTED = "posted", "already-posted"


def post(connection: pg8000.native.Connection, payment: Payment) -> str:
    """Posts `payment` once: POSTED, or ALREADY_POSTED when the same payment is in the ledger.
    Two posters racing on one id: the second INSERT waits for the first to commit, then does nothing."""
    connection.run("BEGIN")
    try:
        inserted = connection.run(
            "INSERT INTO ledger.journal_entries (transaction_id, merchant_id, currency, amount_minor, accepted_at, recorded_region) "
            "VALUES (CAST(:id AS uuid), :merchant, :currency, :amount, :accepted, :region) "
            "ON CONFLICT (transaction_id) DO NOTHING RETURNING transaction_id",
            id=payment.transaction_id,
            merchant=payment.merchant_id,
            currency=payment.currency,
            amount=payment.amount_minor,
            accepted=payment.accepted_at,
            region=payment.region,
        )
        if inserted:
            for account, side in payment.postings:
                connection.run(
                    "INSERT INTO ledger.postings (transaction_id, account, side, amount_minor, currency) "
                    "VALUES (CAST(:id AS uuid), :account, :side, :amount, :currency)",
                    id=payment.transaction_id,
                    account=account,
                    side=side,
                    amount=payment.amount_minor,
                    currency=payment.currency,
                )
            connection.run("COMMIT")  # the balance check runs here
            return POSTED
        [[merchant, currency, amount]] = connection.run(
            "SELECT merchant_id, currency, amount_minor FROM ledger.journal_entries WHERE transaction_id = CAST(:id AS uuid)",
            id=payment.transaction_id,
        )
        connection.run("COMMIT")
    except Exception:
        _rollback(connection)
        raise
    if (merchant, currency, int(amount)) != (payment.merchant_id, payment.currency, payment.amount_minor):
        raise PostingConflict(
            f"transaction {payment.transaction_id}: the ledger holds {amount} {currency} for {merchant}, "
            f"the payment says {payment.amount_minor} {payment.currency} for {payment.merchant_id}"
        )
    return ALREADY_POSTED


def _rollback(connection: pg8000.native.Connection) -> None:
    with suppress(Exception):  # the connection may be gone; the original error is what matters
        connection.run("ROLLBACK")


def posted_ids(connection: pg8000.native.Connection, transaction_ids: Iterable[str]) -> set[str]:
    """Which of these transactions the ledger holds."""
    ids = sorted(set(transaction_ids))
    if not ids:
        return set()
    rows = connection.run(
        "SELECT transaction_id::text FROM ledger.journal_entries WHERE transaction_id = ANY(CAST(:ids AS uuid[]))",
        ids=ids,
    )
    return {row[0] for row in rows}


def entry_count(connection: pg8000.native.Connection, since: datetime | None = None) -> int:
    [[count]] = connection.run(
        "SELECT count(*) FROM ledger.journal_entries WHERE CAST(:since AS timestamptz) IS NULL OR accepted_at >= :since",
        since=since,
    )
    return int(count)


# --- reaching the writer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Writer:
    """The cluster that is writer now: its own endpoint, in its own region (the IAM token is signed
    for exactly that host and region)."""

    cluster_identifier: str
    region: str
    host: str
    port: int


def locate_writer(global_rds: Any, global_cluster: str, regional_rds: Callable[[str], Any]) -> Writer:
    """The global cluster's writer member, then that cluster's endpoint from its region's API."""
    clusters = global_rds.describe_global_clusters(GlobalClusterIdentifier=global_cluster)["GlobalClusters"]
    members = clusters[0].get("GlobalClusterMembers", []) if clusters else []
    writer_arn = next((m["DBClusterArn"] for m in members if m.get("IsWriter")), None)
    if writer_arn is None:
        raise LedgerError(f"global cluster {global_cluster} has no writer now (a failover in progress?)")
    # arn:aws:rds:<region>:<account>:cluster:<identifier>
    _, _, _, region, _, _, identifier = writer_arn.split(":", 6)
    [cluster] = regional_rds(region).describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
    return Writer(identifier, region, cluster["Endpoint"], int(cluster.get("Port") or PORT))


def iam_token(rds: Any, writer: Writer, user: str = POSTER_ROLE) -> str:
    """A 15-minute IAM authentication token for `user` on the writer (AuroraUserGuide,
    UsingWithRDS.IAMDBAuth.Connecting.html): a SigV4 presigned `connect` request, made locally."""
    return rds.generate_db_auth_token(DBHostname=writer.host, Port=writer.port, DBUsername=user, Region=writer.region)


def tls_context(verify: bool = False, ca_bundle: str | None = None) -> ssl.SSLContext:
    """TLS is mandatory (the clusters set rds.force_ssl, and an IAM token must not travel in clear);
    unverified by default as the probe does (docs/db-probe.md, "TLS"), verify-full with a CA bundle."""
    context = ssl.create_default_context(cafile=ca_bundle)
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(
    host: str, port: int, user: str, password: str, database: str, tls: ssl.SSLContext | bool, timeout: float = 10
) -> pg8000.native.Connection:
    return pg8000.native.Connection(
        user=user,
        password=password,
        database=database,
        host=host,
        port=port,
        ssl_context=tls,
        timeout=timeout,
        application_name=APPLICATION_NAME,
    )


def describe(error: BaseException) -> str:
    """A driver error as SQLSTATE and message (never a parameter value or a password)."""
    if error.args and isinstance(error.args[0], dict):
        fields = error.args[0]
        return f"PostgreSQL {fields.get('C', '?')}: {fields.get('M', '')}"
    return f"{type(error).__name__}: {error}"
