"""The ledger poster (functions/ledger/poster.py) on a real PostgreSQL 15, with RDS and CloudWatch in moto.

moto answers DescribeGlobalClusters/DescribeDBClusters, so the poster's real `locate_writer` runs;
moto's endpoints resolve nowhere, so `open` maps the writer's endpoint to the local primary (the
endpoint it was asked for is asserted). IAM tokens: tests/ledger/conftest.py (`fake_token`).
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from boto3.dynamodb.types import TypeSerializer
from moto import mock_aws

from tests.ledger.conftest import LedgerServers, TokenCall

LEDGER_DIR = Path(__file__).resolve().parents[2] / "functions" / "ledger"
GLOBAL, CLUSTERS = "payment-global-qa", {"us-east-1": "payment-db-us-east-1-qa", "us-east-2": "payment-db-us-east-2-qa"}
_ids = itertools.count()
_serializer = TypeSerializer()


def load(name: str, env: dict[str, str]) -> ModuleType:
    if str(LEDGER_DIR) not in sys.path:
        sys.path.insert(0, str(LEDGER_DIR))
    spec = importlib.util.spec_from_file_location(f"ledger_{name}_{next(_ids)}", LEDGER_DIR / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    with patch.dict(os.environ, env):
        spec.loader.exec_module(module)
    return module


def payment_item(number: int, status: str = "ACCEPTED", amount: str = "10.50") -> dict[str, Any]:
    return {
        "transaction_id": f"00000000-0000-5000-8000-{number:012d}",
        "merchant_id": "merchant-1",
        "amount": Decimal(amount),
        "currency": "USD",
        "card_last4": "4242",
        "card_fingerprint": "f" * 64,
        "status": status,
        "region": "us-east-2",
        "created_at": "2026-03-01T12:00:00.000Z",
        "idempotency_key": "k" * 64,
        "request_id": "r",
    }


def stream_record(item: dict[str, Any], sequence: int, created: float) -> dict[str, Any]:
    return {
        "eventName": "MODIFY",
        "eventSourceARN": "arn:aws:dynamodb:us-east-2:123456789012:table/t/stream/x",
        "dynamodb": {
            "SequenceNumber": str(sequence),
            "ApproximateCreationDateTime": created,
            "NewImage": {k: _serializer.serialize(v) for k, v in item.items()},
        },
    }


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws(), patch.dict(os.environ, {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}):
        boto3.client("rds", "us-east-1").create_global_cluster(
            GlobalClusterIdentifier=GLOBAL, Engine="aurora-postgresql", EngineVersion="13.23"
        )
        for region, cluster in CLUSTERS.items():  # moto makes the first member the writer
            credentials = (
                {"MasterUsername": "payments", "MasterUserPassword": "x" * 12} if region == "us-east-1" else {}
            )
            boto3.client("rds", region).create_db_cluster(
                DBClusterIdentifier=cluster,
                Engine="aurora-postgresql",
                EngineVersion="13.23",
                GlobalClusterIdentifier=GLOBAL,
                **credentials,
            )
        yield


@pytest.fixture
def poster(aws: None, ledger_servers: LedgerServers, database: str, fake_token: Callable[..., str]) -> ModuleType:
    module = load(
        "poster",
        {
            "AWS_REGION": "us-east-2",
            "GLOBAL_CLUSTER_IDENTIFIER": GLOBAL,
            "DB_NAME": database,
            "METRIC_NAMESPACE": "PaymentDR/Ledger",
        },
    )
    writer_endpoint = boto3.client("rds", "us-east-1").describe_db_clusters(DBClusterIdentifier=CLUSTERS["us-east-1"])[
        "DBClusters"
    ][0]["Endpoint"]
    real_open = module.poster.open

    def open_local(writer, password):
        assert writer.host == writer_endpoint and writer.region == "us-east-1"
        return real_open(replace(writer, host="127.0.0.1", port=ledger_servers.primary.port), password)

    module.poster.open = open_local
    # The real iam_token, on an RDS client whose generate_db_auth_token is the stand-in.
    stand_in = type("StandInRds", (), {"generate_db_auth_token": staticmethod(fake_token)})()
    module.poster.token = lambda writer: module.ledger_db.iam_token(stand_in, writer)
    module.poster.clock = lambda: 1_000_100.0
    return module


class FakeContext:
    function_name, memory_limit_in_mb, aws_request_id = "payment-ledger-poster-qa", 256, "req-1"
    invoked_function_arn = "arn:aws:lambda:us-east-2:123456789012:function:payment-ledger-poster-qa"


CONTEXT = FakeContext()


def lag_published() -> tuple[int, float]:
    """How many OldestUnpostedSeconds points were published, and the largest. One period spans the whole
    window: moto cuts periods from StartTime (truncated to the second), so with 60-s periods two points a
    few ms apart could land in two periods."""
    window = timedelta(minutes=5)
    now = datetime.now(UTC)
    metric = {"Namespace": "PaymentDR/Ledger", "MetricName": "OldestUnpostedSeconds"}
    results = boto3.client("cloudwatch", "us-east-2").get_metric_data(
        MetricDataQueries=[
            {
                "Id": stat.lower(),
                "MetricStat": {"Metric": metric, "Period": int(2 * window.total_seconds()), "Stat": stat},
            }
            for stat in ("SampleCount", "Maximum")
        ],
        StartTime=now - window,
        EndTime=now + window,
    )["MetricDataResults"]
    values = {r["Id"]: r["Values"] for r in results}
    assert len(values["samplecount"]) == 1, values  # one period, so one value per statistic
    return int(values["samplecount"][0]), values["maximum"][0]


def ledger_rows(ledger_servers: LedgerServers, database: str) -> list[list[Any]]:
    with closing(ledger_servers.superuser(ledger_servers.primary, database)) as owner:
        return owner.run("SELECT transaction_id::text, amount_minor, posted_by FROM ledger.journal_entries ORDER BY 1")


def test_every_region_posts_the_same_batch_and_the_ledger_holds_it_once(
    poster: ModuleType, ledger_servers: LedgerServers, database: str, token_calls: list[TokenCall]
) -> None:
    batch = [stream_record(payment_item(n), n, 1_000_000.0 + n) for n in (1, 2, 3)]
    assert poster.lambda_handler({"Records": batch}, CONTEXT) == {"batchItemFailures": []}
    # The other regions' posters get the same items from their replicas' streams: nothing more is posted.
    again = load(
        "poster",
        {
            "AWS_REGION": "us-east-2",
            "GLOBAL_CLUSTER_IDENTIFIER": GLOBAL,
            "DB_NAME": database,
            "METRIC_NAMESPACE": "PaymentDR/Ledger",
        },
    )
    again.poster = poster.poster
    assert again.poster.handle(batch) == {"batchItemFailures": []}
    rows = ledger_rows(ledger_servers, database)
    assert [r[1] for r in rows] == [1050, 1050, 1050] and {r[2] for r in rows} == {"ledger_poster"}
    writer = boto3.client("rds", "us-east-1").describe_db_clusters(DBClusterIdentifier=CLUSTERS["us-east-1"])[
        "DBClusters"
    ][0]
    assert token_calls == [(writer["Endpoint"], writer["Port"], "ledger_poster", "us-east-1")]  # one login, reused
    # Both posters publish; 1_000_100 - 1_000_001: the oldest of the batch waited 99 s.
    assert lag_published() == (2, 99.0)


def test_an_unreachable_writer_fails_the_batch_from_its_first_record(
    poster: ModuleType, ledger_servers: LedgerServers, database: str
) -> None:
    def refuse(writer, password):
        raise ConnectionRefusedError("writer down")

    poster.poster.open = refuse
    batch = [stream_record(payment_item(n), 10 + n, 1_000_000.0) for n in (1, 2)]
    assert poster.lambda_handler({"Records": batch}, CONTEXT) == {"batchItemFailures": [{"itemIdentifier": "11"}]}
    assert ledger_rows(ledger_servers, database) == []
    assert lag_published() == (1, 100.0)


def test_a_conflicting_payment_is_reported_and_the_ledger_kept(
    poster: ModuleType, ledger_servers: LedgerServers, database: str
) -> None:
    poster.lambda_handler({"Records": [stream_record(payment_item(1), 1, 1_000_000.0)]}, CONTEXT)
    batch = [
        stream_record(payment_item(2), 2, 1_000_000.0),
        stream_record(payment_item(1, amount="99.00"), 3, 1_000_000.0),
        stream_record(payment_item(4), 4, 1_000_000.0),
    ]
    assert poster.lambda_handler({"Records": batch}, CONTEXT) == {"batchItemFailures": [{"itemIdentifier": "3"}]}
    assert [r[1] for r in ledger_rows(ledger_servers, database)] == [
        1050,
        1050,
    ]  # 1 kept as it was, 2 posted, 4 retried later


def test_a_batch_with_nothing_postable_reports_no_lag(poster: ModuleType) -> None:
    assert poster.lambda_handler({"Records": [stream_record(payment_item(7, status="PENDING"), 7, 1.0)]}, CONTEXT) == {
        "batchItemFailures": []
    }
    assert lag_published() == (1, 0.0)


def test_the_poster_refuses_to_start_without_its_settings() -> None:
    with pytest.raises(RuntimeError, match="GLOBAL_CLUSTER_IDENTIFIER, DB_NAME not set"):
        load(
            "poster",
            {
                "AWS_REGION": "us-east-2",
                "METRIC_NAMESPACE": "PaymentDR/Ledger",
                "GLOBAL_CLUSTER_IDENTIFIER": "",
                "DB_NAME": "",
            },
        )


def test_the_real_token_is_an_rds_connect_presign_for_the_writer() -> None:
    """The production path: boto3's generate_db_auth_token, for ledger_poster on the writer's host and region."""
    from functions.ledger import ledger_db

    rds = boto3.Session(aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret").client("rds", "us-east-2")
    token = ledger_db.iam_token(
        rds, ledger_db.Writer("c", "us-east-1", "c.cluster-x.us-east-1.rds.amazonaws.com", 5432)
    )
    assert token.startswith("c.cluster-x.us-east-1.rds.amazonaws.com:5432/?Action=connect&DBUser=ledger_poster")
    assert "%2Fus-east-1%2Frds-db%2Faws4_request" in token


def test_the_migrator_applies_and_refuses_a_stale_bundle(ledger_servers: LedgerServers) -> None:
    database = ledger_servers.new_database()
    migrate = load("migrate", {})

    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:  # boto3's parameter name
            assert SecretId == "payment-db-master-qa"
            return {
                "SecretString": f'{{"username": "postgres", "password": "{ledger_servers.primary.sandbox.superuser_password}", "dbname": "{database}"}}'
            }

    env = {
        "DB_SECRET_NAME": "payment-db-master-qa",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(ledger_servers.primary.port),
    }
    labels = [m.label for m in migrate.ledger_db.load_migrations()]
    first = migrate.run({"migrations": labels}, env, Secrets())
    assert first == {"host": "127.0.0.1", "applied": labels, "already": []}
    assert migrate.run({"migrations": labels}, env, Secrets())["already"] == labels
    stale = [*labels, "9999_x"]  # the deployment knows a migration this bundle lacks
    with pytest.raises(
        migrate.ledger_db.MigrationError, match=re.escape(f"expects migrations {stale}, this bundle holds {labels}")
    ):
        migrate.run({"migrations": stale}, env, Secrets())
