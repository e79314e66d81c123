"""`drctl reconcile` after an unplanned failover: the promoted standby lacks the last postings, the
surviving region's DynamoDB (moto) has the payments, reconcile posts what is missing, once.

PostgreSQL: a primary and a streaming standby of its own (promoting it would break the shared pair).
The standby is cut off from the primary's WAL before the last postings, then promoted, as Aurora's
managed failover promotes a secondary that had not received the primary's last writes. moto holds
the global cluster (us-east-2 is the writer now) and us-east-2's transactions table. The writer's
endpoint is reached through --db-host/--db-port (a tunnel, as an operator outside the VPC would);
the IAM token is tests/ledger/conftest.py's stand-in (`fake_token`), asserted to be asked for the
writer's endpoint and region.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import closing, suppress
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer
from pg8000.native import identifier, literal

from core import naming
from drctl import ledger
from functions.ledger import ledger_db
from tests.drctl.conftest import TWO_REGIONS, World, flat
from tests.functions.pg_server import HOST, SUPERUSER, PostgresServer, Sandbox, start_primary, start_standby
from tests.ledger.conftest import POSTER_PASSWORD, TokenCall, fake_token, token_calls  # noqa: F401 (fixtures)

_serializer = TypeSerializer()


@dataclass
class Pair:
    primary: PostgresServer
    standby: PostgresServer

    def poster(self, server: PostgresServer) -> Any:
        return ledger_db.connect(
            HOST, server.port, ledger_db.POSTER_ROLE, POSTER_PASSWORD, ledger.DATABASE, ledger_db.tls_context()
        )

    def entries(self, server: PostgresServer) -> list[str]:
        with closing(self.poster(server)) as connection:
            return [
                row[0] for row in connection.run("SELECT transaction_id::text FROM ledger.journal_entries ORDER BY 1")
            ]


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    sandbox = Sandbox.create()
    try:
        primary = start_primary(sandbox)
        primary.execute("CREATE ROLE rds_iam")  # Aurora's role; a stand-in here
        primary.execute(f"CREATE DATABASE {identifier(ledger.DATABASE)}")
        with closing(
            ledger_db.connect(
                HOST, primary.port, SUPERUSER, sandbox.superuser_password, ledger.DATABASE, ledger_db.tls_context()
            )
        ) as master:
            ledger_db.migrate(master, ledger_db.load_migrations())
        primary.execute(f"ALTER ROLE {ledger_db.POSTER_ROLE} PASSWORD {literal(POSTER_PASSWORD)}")
        standby = start_standby(primary)
        yield Pair(primary, standby)
        for server in (standby, primary):
            with suppress(BaseException):  # the lost primary is already down
                server.stop("immediate")
    finally:
        shutil.rmtree(sandbox.root, ignore_errors=True)


def item(number: int, status: str = "ACCEPTED", created: str = "2026-03-01T12:00:00.000Z") -> dict[str, Any]:
    return {
        "transaction_id": f"00000000-0000-5000-8000-{number:012d}",
        "merchant_id": "merchant-1",
        "amount": Decimal("25.00"),
        "currency": "EUR",
        "card_last4": "4242",
        "card_fingerprint": "f" * 64,
        "status": status,
        "region": "us-east-1",
        "created_at": created,
        "idempotency_key": "k" * 64,
        "request_id": f"r-{number}",
    }


def transactions_table(
    world: World, region: str, items: list[dict[str, Any]], accepted_only: list[dict[str, Any]] = ()
) -> None:
    """The region's transactions table holds `items`; its acceptance table (the idempotency table) holds the
    acceptance record of every ACCEPTED one plus `accepted_only`: payments whose transactions item the lost
    region had not replicated, while the acceptance, MRSC in strong mode, was acknowledged by a quorum."""
    dynamodb = world.aws("dynamodb", region)
    namer = world.stack.cfg.namer
    for table, key in ((namer(naming.TRANSACTIONS_TABLE), "transaction_id"), (namer(naming.IDEMPOTENCY_TABLE), "id")):
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        )
    for entry in items:
        dynamodb.put_item(
            TableName=namer(naming.TRANSACTIONS_TABLE), Item={k: _serializer.serialize(v) for k, v in entry.items()}
        )
    for entry in [*[i for i in items if i["status"] == "ACCEPTED"], *accepted_only]:
        record = entry | {"id": ledger.ACCEPTANCE_PREFIX + entry["transaction_id"]}
        dynamodb.put_item(
            TableName=namer(naming.IDEMPOTENCY_TABLE), Item={k: _serializer.serialize(v) for k, v in record.items()}
        )
    # An item of another kind in the same table (a Powertools-era idempotency record) is not a payment.
    dynamodb.put_item(
        TableName=namer(naming.IDEMPOTENCY_TABLE), Item={"id": {"S": "other#1"}, "status": {"S": "ACCEPTED"}}
    )


def cut_off_and_promote(pair: Pair, post_on_primary: Callable[[], None]) -> None:
    """The standby stops receiving WAL, the primary writes on, the standby is promoted: the unreplicated writes are lost."""
    pair.standby.catch_up(pair.primary)
    pair.standby.execute("ALTER SYSTEM SET primary_conninfo = ''")
    pair.standby.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + 10
    while pair.standby.execute("SELECT count(*) FROM pg_stat_wal_receiver")[0][0]:
        assert time.monotonic() < deadline, "the standby's WAL receiver did not stop"
        time.sleep(0.05)
    post_on_primary()
    pair.standby.execute("SELECT pg_promote()")
    pair.primary.stop("immediate")  # the old primary's region is lost


def test_reconcile_after_a_failover_completes_the_ledger_once(
    make_world: Callable[..., World],
    pair: Pair,
    monkeypatch: pytest.MonkeyPatch,
    fake_token: Callable[..., str],  # noqa: F811 (a fixture imported from tests/ledger/conftest.py)
    token_calls: list[TokenCall],  # noqa: F811
) -> None:
    world = make_world(TWO_REGIONS, writer="us-east-2")
    payments = [item(n) for n in range(1, 6)]
    early = item(9, created="2026-02-01T00:00:00.000Z")  # accepted before --since: not looked at
    unreplicated = item(
        7
    )  # acknowledged in the lost region: its acceptance record survived, its transactions item did not
    transactions_table(world, "us-east-2", [*payments, item(6, status="PENDING"), early], accepted_only=[unreplicated])

    with closing(pair.poster(pair.primary)) as poster:
        for payment in payments[:3]:
            ledger_db.post(poster, ledger_db.payment_from_item(payment))

        def last_postings() -> None:
            for payment in [*payments[3:], unreplicated]:
                ledger_db.post(poster, ledger_db.payment_from_item(payment))

        cut_off_and_promote(pair, last_postings)
    ids = [p["transaction_id"] for p in [*payments, unreplicated]]
    assert pair.entries(pair.standby) == ids[:3]  # the new writer lacks the last three postings

    stand_in = type("StandInRds", (), {"generate_db_auth_token": staticmethod(fake_token)})()
    monkeypatch.setattr(ledger, "token_for", lambda ctx, writer: ledger_db.iam_token(stand_in, writer))
    tunnel = ["--db-host", "127.0.0.1", "--db-port", str(pair.standby.port)]
    since = ["--since", "2026-03-01T00:00:00Z"]

    dry = world.invoke("reconcile", *since, *tunnel, "--dry-run")
    assert dry.exit_code == 0, dry.output
    out = flat(dry.stdout)
    assert (
        "DynamoDB us-east-2: 6 accepted payment(s) (since 2026-03-01T00:00:00+00:00); ledger: 3 of them; missing: 3"
        in out
    )
    assert "1. [change] post 3 missing transaction(s) to payment-db-us-east-2-qa as ledger_poster" in out
    assert pair.entries(pair.standby) == ids[:3]

    first = world.invoke("reconcile", *since, *tunnel, "--yes")
    assert first.exit_code == 0, first.output
    assert "posted 3, already posted by a stream poster meanwhile 0, conflicts 0" in flat(first.stdout)
    assert "the ledger now holds 6 of the 6 accepted payments (0 missing)" in flat(first.stdout)
    assert pair.entries(pair.standby) == ids

    second = world.invoke("reconcile", *since, *tunnel, "--yes")
    assert second.exit_code == 0, second.output
    assert "nothing to post" in flat(second.stdout) and "missing: 0" in flat(second.stdout)
    assert pair.entries(pair.standby) == ids

    audit = [line for line in world.audit() if line["command"] == "reconcile"]
    assert [line["outcome"] for line in audit] == ["dry-run", "ok", "ok"]
    assert (audit[1]["details"]["region"], audit[1]["details"]["writer"]) == ("us-east-2", "payment-db-us-east-2-qa")
    assert {
        k: audit[1]["details"][k]
        for k in ("accepted", "in_ledger_before", "missing_before", "posted", "in_ledger_after", "missing_after")
    } == {
        "accepted": 6,
        "in_ledger_before": 3,
        "missing_before": 3,
        "posted": 3,
        "in_ledger_after": 6,
        "missing_after": 0,
    }
    assert audit[2]["details"]["missing_before"] == 0 and "posted" not in audit[2]["details"]
    notices = [m for m in world.messages("us-east-2") if m["command"] == "reconcile"]
    assert [m["outcome"] for m in notices] == ["ok", "ok"] and notices[0]["details"]["posted"] == 3
    writer = world.aws("rds", "us-east-2").describe_db_clusters(DBClusterIdentifier=world.stack.cluster("us-east-2"))[
        "DBClusters"
    ][0]
    assert set(token_calls) == {(writer["Endpoint"], writer["Port"], "ledger_poster", "us-east-2")}


def test_reconcile_names_why_it_cannot_log_in(make_world: Callable[..., World]) -> None:
    world = make_world(TWO_REGIONS, writer="us-east-2")
    transactions_table(world, "us-east-2", [item(1)])
    closed = ["--db-host", "127.0.0.1", "--db-port", "1"]
    result = world.invoke("reconcile", *closed, "--yes")
    assert result.exit_code == 1
    assert "cannot log in to the ledger as ledger_poster at 127.0.0.1:1 (writer payment-db-us-east-2-qa)" in flat(
        result.stderr
    )
    assert "Run from inside the VPC or through a tunnel" in flat(result.stderr)
    assert world.audit()[-1]["outcome"] == "refused"


def test_bad_since_is_a_usage_error(bare: World) -> None:
    result = bare.invoke("reconcile", "--since", "yesterday")
    assert result.exit_code == 2
    assert "--since 'yesterday': not an ISO 8601 time" in result.stderr


def test_the_database_name_is_the_programs() -> None:
    from global_resources.secrets import DATABASE_NAME

    assert ledger.DATABASE == DATABASE_NAME


def test_the_acceptance_prefix_is_the_payment_functions() -> None:
    """drctl does not import the function (its modules import each other as Lambda's top level): read it."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "functions" / "payment_validation" / "payment_store.py"
    [value] = [
        node.value.value
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign)
        and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["ACCEPTANCE_PREFIX"]
    ]
    assert value == ledger.ACCEPTANCE_PREFIX
