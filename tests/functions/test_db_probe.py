"""The database probe (functions/db_probe) against real PostgreSQL servers and moto.

PostgreSQL: a TLS-only primary and a streaming standby (tests/functions/pg_server.py), set up as Aurora is:
the database owned by a master user that is not a superuser (CREATEROLE, ADMIN on a stand-in `rds_iam`),
which applies functions/ledger/migrations/0002_probe_role.sql to create `payment_probe`.
IAM authentication: the probe signs a real token with boto3's generate_db_auth_token (locally, as in
Lambda). PostgreSQL cannot check a SigV4 signature, so each token the probe signs becomes the role's
password just before it connects (what RDS's rds_iam check accepts, the local server then accepts): a
probe that sent anything else, or no TLS, would be refused.
AWS: moto in-process for CloudWatch and RDS (no Secrets Manager: the probe reads no secret). RDS holds a global cluster with a
primary cluster in us-east-1 and a secondary in us-east-2, so the probe's real `locate_cluster` runs
against moto's DescribeDBClusters and DescribeGlobalClusters. The endpoints moto invents resolve
nowhere, so each probe's `locate` is wrapped (dependency injection on `prober.locate`): the real
answer is kept and its endpoint mapped to a local server, the writer endpoint to the primary and the
reader endpoint to the standby. An endpoint with no server behind it fails the test.
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import json
import os
import socket
import ssl
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest.mock import patch

import boto3
import pg8000.exceptions
import pg8000.native
import pytest
from botocore.stub import Stubber
from moto import mock_aws
from moto.rds.models import rds_backends
from pg8000.native import literal

from tests.functions.pg_server import PostgresServer, postgres, postgres_standby  # noqa: F401 (fixtures)

APP = Path(__file__).resolve().parents[2] / "functions" / "db_probe" / "app.py"
ACCOUNT = "123456789012"  # moto's default account
PRIMARY, SECONDARY = "us-east-1", "us-east-2"
GLOBAL_CLUSTER = "payment-dr-global"
CLUSTERS = {PRIMARY: "payment-dr-db-us-east-1", SECONDARY: "payment-dr-db-us-east-2"}
NAMESPACE = "PaymentDR/DatabaseProbe"
# The database has its own name here: other test modules may share the session's server.
DATABASE, ROLE, MASTER, MASTER_PASSWORD = "probe_checks", "payment_probe", "payment_admin", "master-password-5e6f"
MIGRATION = Path(__file__).resolve().parents[2] / "functions" / "ledger" / "migrations" / "0002_probe_role.sql"
CONNECT_TIMEOUT = 0.5
_module_ids = itertools.count()
Address = tuple[str, int]


def probe_env(region: str = PRIMARY, **overrides: str) -> dict[str, str]:
    """What the stack passes to the function in `region` (PROBES_PER_INVOCATION 1 unless a test
    is about several)."""
    return {
        "AWS_REGION": region,
        "DB_CLUSTER_IDENTIFIER": CLUSTERS[region],
        "DB_USER": ROLE,
        "DB_NAME": DATABASE,
        "METRIC_NAMESPACE": NAMESPACE,
        "PROBES_PER_INVOCATION": "1",
        "CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
    } | overrides


def load_app(env: Mapping[str, str]) -> ModuleType:
    """A fresh copy of the handler module as a cold start in `env` (it reads its settings at import)."""
    spec = importlib.util.spec_from_file_location(f"db_probe_app_{next(_module_ids)}", APP)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it executes
    with patch.dict(os.environ, env):
        spec.loader.exec_module(module)
    return module


class FakeContext:
    function_name = "payment-db-probe"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:payment-db-probe"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())


@dataclass
class FakeClock:
    """monotonic() and sleep() for the handler: a minute of probes without the minute."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class ProbeFunction:
    """The function deployed in one region, its clock faked and its AWS calls observed."""

    module: ModuleType
    clock: FakeClock
    metric_puts: list[dict[str, Any]]  # PutMetricData parameters, as sent to moto
    tokens: list[str]  # the IAM tokens the probe signed, in order
    located: list[str]  # the (moto) endpoint each probe chose

    def invoke(self) -> list[dict[str, Any]]:
        summary = self.module.lambda_handler({"source": "aws.scheduler"}, FakeContext())
        json.dumps(summary)  # Lambda must be able to serialise what the handler returns
        assert summary["cluster_identifier"] == self.module.settings.cluster_identifier
        return summary["probes"]

    def datums(self, metric: str) -> list[dict[str, Any]]:
        return [datum for put in self.metric_puts for datum in put["MetricData"] if datum["MetricName"] == metric]


def route_to_local(locate: Callable[[], Any], routes: Mapping[str, Address], located: list[str]) -> Callable[[], Any]:
    """The real `locate`, its endpoint then mapped to a local server."""

    def locate_locally() -> Any:
        target = locate()
        located.append(target.host)
        if target.host not in routes:
            pytest.fail(f"the probe chose {target.host}, which has no server behind it")
        host, port = routes[target.host]
        return replace(target, host=host, port=port)

    return locate_locally


def cluster(region: str, identifier: str | None = None) -> dict[str, Any]:
    rds = boto3.client("rds", region_name=region)
    return rds.describe_db_clusters(DBClusterIdentifier=identifier or CLUSTERS[region])["DBClusters"][0]


def described_clusters(region: str) -> set[str]:
    clusters = boto3.client("rds", region_name=region).describe_db_clusters()["DBClusters"]
    return {found["DBClusterIdentifier"] for found in clusters}


def make_writer(region: str) -> None:
    """A global switchover, as DescribeGlobalClusters then reports it. moto has no switchover API,
    so this sets its model directly (moto 5.2)."""
    for member in rds_backends[ACCOUNT][PRIMARY].global_clusters[GLOBAL_CLUSTER].members:
        member.is_writer = member.db_cluster_identifier == CLUSTERS[region]


def create_global_database() -> None:
    """What global_resources/aurora.py creates: a global cluster, a primary and a secondary."""
    engine = {"Engine": "aurora-postgresql", "EngineVersion": "13.23"}
    boto3.client("rds", region_name=PRIMARY).create_global_cluster(GlobalClusterIdentifier=GLOBAL_CLUSTER, **engine)
    common = engine | {"GlobalClusterIdentifier": GLOBAL_CLUSTER, "Port": 5432}
    boto3.client("rds", region_name=PRIMARY).create_db_cluster(
        DBClusterIdentifier=CLUSTERS[PRIMARY], MasterUsername="payment_admin", MasterUserPassword="x" * 16,
        DatabaseName=DATABASE, **common,
    )  # fmt: skip
    boto3.client("rds", region_name=SECONDARY).create_db_cluster(DBClusterIdentifier=CLUSTERS[SECONDARY], **common)


def stored_datapoints(region: str, metric: str, cluster_identifier: str) -> list[dict[str, Any]]:
    """What CloudWatch (moto) holds for the metric, read back through the API."""
    now = datetime.now(UTC)
    return boto3.client("cloudwatch", region_name=region).get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "ClusterIdentifier", "Value": cluster_identifier}],
        StartTime=now - timedelta(minutes=5),
        EndTime=now + timedelta(minutes=5),
        Period=1,
        Statistics=["Minimum", "Maximum", "SampleCount"],
    )["Datapoints"]


@contextmanager
def captured_logs(module: ModuleType) -> Iterator[io.StringIO]:
    """Everything the function logs, through its real Powertools handler and formatter."""
    buffer = io.StringIO()
    handler = module.logger.registered_handler
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@contextmanager
def silent_endpoint() -> Iterator[Address]:
    """A port that completes TCP handshakes (the kernel's backlog) and then never says a word."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[:2]


@contextmanager
def plaintext_only_endpoint() -> Iterator[tuple[Address, list[bytes]]]:
    """A server that declines TLS ('N' to SSLRequest) and records what the client sends after that."""
    received: list[bytes] = []
    with socket.create_server(("127.0.0.1", 0)) as server:

        def answer() -> None:
            connection, _ = server.accept()
            with connection:
                connection.settimeout(5)
                connection.recv(8)  # SSLRequest
                connection.sendall(b"N")
                received.append(connection.recv(1024))  # b"" once the client hangs up

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        yield server.getsockname()[:2], received
        thread.join(5)


@dataclass
class Servers:
    primary: PostgresServer
    standby: PostgresServer


def tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def connect(server: PostgresServer, user: str, password: str, database: str = DATABASE) -> pg8000.native.Connection:
    """A TCP (so TLS, SCRAM) session, as a client of the cluster has."""
    host, port = server.address
    return pg8000.native.Connection(
        user, host=host, port=port, password=password, database=database, ssl_context=tls(), timeout=5
    )


def as_master(server: PostgresServer, sql: str) -> None:
    """SQL as the master user, over TLS: simple-query protocol, so a script of several statements runs."""
    with closing(connect(server, MASTER, MASTER_PASSWORD)) as session:
        session.run(sql)


# What an Aurora PostgreSQL 13 database looks like before the migration: PUBLIC may create objects in
# schema public (PostgreSQL 15, the test server, no longer grants it by default) and temporary tables,
# and tables of the application exist, none granted to the probe.
PG13_DEFAULTS = "GRANT CREATE ON SCHEMA public TO PUBLIC"
APPLICATION_TABLES = """
CREATE SCHEMA IF NOT EXISTS ledger;
CREATE TABLE IF NOT EXISTS ledger.journal_entries (transaction_id uuid PRIMARY KEY, amount_minor bigint NOT NULL);
CREATE TABLE IF NOT EXISTS public.merchants (merchant_id text PRIMARY KEY);
INSERT INTO ledger.journal_entries VALUES ('00000000-0000-4000-8000-000000000001', 12550) ON CONFLICT DO NOTHING;
"""


@pytest.fixture(scope="module")
def servers(postgres: PostgresServer, postgres_standby: PostgresServer) -> Servers:  # noqa: F811
    """The database as Aurora sets it up, the migration applied (twice: it is idempotent) by the master
    user, replayed on the standby. `rds_iam` is a stand-in: PostgreSQL has no such role."""
    postgres.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam; END IF; END $$"
    )
    # rds_superuser is not a superuser: CREATEROLE, CREATEDB, owner of the database, ADMIN on rds_iam.
    postgres.execute(f"CREATE ROLE {MASTER} LOGIN CREATEROLE CREATEDB PASSWORD {literal(MASTER_PASSWORD)}")
    postgres.execute(f"GRANT rds_iam TO {MASTER} WITH ADMIN OPTION")
    postgres.execute(f"CREATE DATABASE {DATABASE} OWNER {MASTER}")
    as_master(postgres, PG13_DEFAULTS)
    as_master(postgres, APPLICATION_TABLES)
    for _ in range(2):
        as_master(postgres, MIGRATION.read_text())
    postgres_standby.catch_up(postgres)
    return Servers(postgres, postgres_standby)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh moto account with the global database (and no secret at all: the probe needs none)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", PRIMARY)
    with mock_aws(config={"core": {"reset_boto3_session": False}}):
        create_global_database()
        yield


Deploy = Callable[..., ProbeFunction]


@pytest.fixture
def deploy(aws: None, servers: Servers) -> Deploy:
    """Loads the function for a region. The writer endpoint leads to the primary server, reader
    endpoints to the standby, unless `writer=`/`reader=` say otherwise. A secondary's cluster
    endpoint leads nowhere (as in Aurora, where no writer stands behind it) unless `writer=` is given."""

    def deploy_to(
        region: str = PRIMARY, writer: Address | None = None, reader: Address | None = None, **env: str
    ) -> ProbeFunction:
        module = load_app(probe_env(region, **env))
        function = ProbeFunction(module, FakeClock(), [], [], [])
        module.sleep, module.monotonic = function.clock.sleep, function.clock.monotonic
        identifier = module.settings.cluster_identifier
        described = cluster(region, identifier) if identifier in described_clusters(region) else {}
        routes = {described.get("ReaderEndpoint"): reader or servers.standby.address}
        if identifier != CLUSTERS[SECONDARY] or writer:
            routes[described.get("Endpoint")] = writer or servers.primary.address
        module.prober.locate = route_to_local(module.prober.locate, routes, function.located)
        module.cloudwatch.meta.events.register(
            "provide-client-params.cloudwatch.PutMetricData",
            lambda params, **_: function.metric_puts.append(params),
        )
        module.prober.token_for = accepted_by(servers, module.prober.token_for, function.tokens)
        return function

    return deploy_to


def accepted_by(servers: Servers, sign: Callable[[Any], str], tokens: list[str]) -> Callable[[Any], str]:
    """The probe's real signer; the token it signed then becomes payment_probe's password (on the primary,
    replayed on the standby), standing in for RDS's check of the signature."""

    def sign_and_accept(target: Any) -> str:
        token = sign(target)
        tokens.append(token)
        try:
            servers.primary.execute(f"ALTER ROLE {ROLE} PASSWORD {literal(token)}")
            if (target.host, target.port) == servers.standby.address:
                servers.standby.catch_up(servers.primary)
        except (pg8000.exceptions.InterfaceError, OSError):
            pass  # the primary is down in this test: the probe's own connection fails anyway
        return token

    return sign_and_accept


# --- what the probe measures -----------------------------------------------------------------


def test_reachable_writer_reports_reachable_writable_and_latency_at_one_second_resolution(deploy: Deploy) -> None:
    function = deploy()

    [probe] = function.invoke()

    assert probe["reachable"] and probe["writable"] and probe["reason"] is None
    assert probe["latency_ms"] > 0
    assert (probe["endpoint_role"], probe["cluster_status"], probe["published"]) == ("writer", "available", True)
    assert function.located == [cluster(PRIMARY)["Endpoint"]]
    [put] = function.metric_puts
    assert put["Namespace"] == NAMESPACE
    assert {d["MetricName"]: (d["Value"], d["Unit"]) for d in put["MetricData"]} == {
        "DatabaseReachable": (1, "None"),
        "DatabaseWritable": (1, "None"),
        "ProbeLatencyMs": (probe["latency_ms"], "Milliseconds"),
    }
    for datum in put["MetricData"]:
        assert datum["StorageResolution"] == 1
        assert datum["Dimensions"] == [{"Name": "ClusterIdentifier", "Value": CLUSTERS[PRIMARY]}]
        assert datum["Timestamp"].isoformat() == probe["probed_at"]
    for metric in ("DatabaseReachable", "DatabaseWritable"):
        [stored] = stored_datapoints(PRIMARY, metric, CLUSTERS[PRIMARY])
        assert (stored["Minimum"], stored["SampleCount"]) == (1.0, 1.0)


def as_sdk_before_mid_2025(function: ProbeFunction, monkeypatch: pytest.MonkeyPatch) -> None:
    """The function's RDS client as in an SDK whose model lacks DBCluster.GlobalClusterIdentifier:
    the parser then drops the field from responses, as that SDK would."""
    monkeypatch.delitem(function.module.cluster_fields(function.module.rds), "GlobalClusterIdentifier")


@pytest.mark.parametrize("sdk", ["current", "before-mid-2025"])
def test_secondary_region_probes_its_reader_endpoint_and_reports_not_writable(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch, sdk: str
) -> None:
    """A secondary's cluster endpoint has no writer: the probe must use the reader endpoint, where
    the standby answers that it is in recovery. Also with an SDK that does not return the
    cluster's global cluster identifier."""
    function = deploy(SECONDARY)
    if sdk == "before-mid-2025":
        as_sdk_before_mid_2025(function, monkeypatch)
        assert "GlobalClusterIdentifier" not in function.module.rds.describe_db_clusters()["DBClusters"][0]

    [probe] = function.invoke()

    assert function.located == [cluster(SECONDARY)["ReaderEndpoint"]]
    assert (probe["reachable"], probe["writable"], probe["endpoint_role"]) == (True, False, "reader")
    assert {d["MetricName"]: d["Value"] for d in function.metric_puts[0]["MetricData"]} == {
        "DatabaseReachable": 1,
        "DatabaseWritable": 0,
        "ProbeLatencyMs": probe["latency_ms"],
    }


@pytest.mark.parametrize("sdk", ["current", "before-mid-2025"])
def test_cluster_outside_a_global_database_is_probed_as_a_writer(
    deploy: Deploy, monkeypatch: pytest.MonkeyPatch, sdk: str
) -> None:
    standalone = "payment-dr-db-standalone"
    boto3.client("rds", region_name=PRIMARY).create_db_cluster(
        DBClusterIdentifier=standalone, Engine="aurora-postgresql", MasterUsername="payment_admin",
        MasterUserPassword="x" * 16,
    )  # fmt: skip
    function = deploy(DB_CLUSTER_IDENTIFIER=standalone)
    if sdk == "before-mid-2025":
        as_sdk_before_mid_2025(function, monkeypatch)

    [probe] = function.invoke()

    assert function.located == [cluster(PRIMARY, standalone)["Endpoint"]]
    assert (probe["endpoint_role"], probe["reachable"], probe["writable"]) == ("writer", True, True)


def test_switchover_between_probes_moves_the_next_probe_to_the_reader_endpoint(deploy: Deploy) -> None:
    """The cluster's role is read on every probe, so the writer's move is seen at the next one."""
    function = deploy(PROBES_PER_INVOCATION="2")
    function.module.sleep = lambda _seconds: make_writer(SECONDARY)

    first, second = function.invoke()

    assert function.located == [cluster(PRIMARY)["Endpoint"], cluster(PRIMARY)["ReaderEndpoint"]]
    assert (first["endpoint_role"], first["writable"]) == ("writer", True)
    assert (second["endpoint_role"], second["reachable"], second["writable"]) == ("reader", True, False)


def test_writer_whose_server_is_in_recovery_is_not_writable(deploy: Deploy, servers: Servers) -> None:
    """The global database names this cluster the writer, but the server behind its endpoint is still a
    standby (mid-failover): reachable, not writable. The real standby answers pg_is_in_recovery() = true."""
    function = deploy(writer=servers.standby.address)

    [probe] = function.invoke()

    assert (probe["endpoint_role"], probe["reachable"], probe["writable"]) == ("writer", True, False)
    assert [d["Value"] for d in function.datums("DatabaseWritable")] == [0]
    [stored] = stored_datapoints(PRIMARY, "DatabaseWritable", CLUSTERS[PRIMARY])
    assert stored["Maximum"] == 0.0


def test_server_accepting_writes_in_a_cluster_that_is_not_the_writer_is_not_writable(
    deploy: Deploy, servers: Servers
) -> None:
    """An old primary back after an unplanned failover may answer as a primary server while the global
    database has another writer: the writer name must not point at it. The real primary answers
    pg_is_in_recovery() = false; the role comes from DescribeGlobalClusters (moto)."""
    function = deploy(SECONDARY, reader=servers.primary.address)

    [probe] = function.invoke()

    assert (probe["endpoint_role"], probe["reachable"], probe["writable"]) == ("reader", True, False)
    assert [d["Value"] for d in function.datums("DatabaseWritable")] == [0]


def test_new_writer_after_failover_reports_writable(deploy: Deploy, servers: Servers) -> None:
    """After the global database's writer moves to the secondary region, its probe reports it writable."""
    make_writer(SECONDARY)
    function = deploy(SECONDARY, writer=servers.primary.address)  # its cluster endpoint now has a writer behind it

    [probe] = function.invoke()

    assert (probe["endpoint_role"], probe["reachable"], probe["writable"]) == ("writer", True, True)
    assert [d["Value"] for d in function.datums("DatabaseWritable")] == [1]


# --- failures publish Reachable 0 and never raise --------------------------------------------


def assert_unreachable(function: ProbeFunction, probe: dict[str, Any], reason: str) -> None:
    assert (probe["reachable"], probe["writable"], probe["latency_ms"]) == (False, False, None)
    assert reason in probe["reason"]
    assert [d["Value"] for d in function.datums("DatabaseReachable")] == [0]
    # Not reached: not known to be writable, nor read-only. No datapoint (the writability alarm treats
    # missing data as breaching), so an unreachable writer never reads as a read-only one, nor the reverse.
    assert function.datums("DatabaseWritable") == []
    assert function.datums("ProbeLatencyMs") == []  # a failure's duration is not a latency


def test_stopped_database_reports_unreachable_within_the_connect_timeout(deploy: Deploy, servers: Servers) -> None:
    """A refused connection fails the probe at once, long before the (here generous) timeout."""
    function = deploy(CONNECT_TIMEOUT_SECONDS="5")

    with servers.primary.stopped():
        started = time.monotonic()
        [probe] = function.invoke()
        elapsed = time.monotonic() - started

    assert_unreachable(function, probe, "ConnectionRefusedError")
    assert elapsed < 5
    [stored] = stored_datapoints(PRIMARY, "DatabaseReachable", CLUSTERS[PRIMARY])
    assert stored["Maximum"] == 0.0


def test_silent_endpoint_fails_the_probe_after_the_connect_timeout(deploy: Deploy) -> None:
    """A black hole (security group drop, hung host) costs one timeout, not the invocation."""
    with silent_endpoint() as address:
        function = deploy(writer=address, CONNECT_TIMEOUT_SECONDS="1")
        started = time.monotonic()
        [probe] = function.invoke()
        elapsed = time.monotonic() - started

    assert_unreachable(function, probe, "TimeoutError")
    assert 0.9 <= elapsed < 3  # one timeout, plus the moto calls of a slow test machine


def test_unresolvable_endpoint_reports_unreachable(deploy: Deploy) -> None:
    function = deploy(writer=("payment-dr-db.cluster-gone.invalid", 5432))

    [probe] = function.invoke()

    assert_unreachable(function, probe, "gaierror")


def test_describe_failure_reports_unreachable(deploy: Deploy) -> None:
    function = deploy(DB_CLUSTER_IDENTIFIER="payment-dr-db-deleted")

    [probe] = function.invoke()

    assert_unreachable(function, probe, "DescribeDBClusters: DBClusterNotFoundFault")
    assert function.located == []
    assert function.datums("DatabaseReachable")[0]["Dimensions"] == [
        {"Name": "ClusterIdentifier", "Value": "payment-dr-db-deleted"}
    ]


def test_the_probe_signs_an_iam_token_for_its_endpoint_and_user_on_every_probe(
    deploy: Deploy, servers: Servers
) -> None:
    function = deploy(PROBES_PER_INVOCATION="2")

    with captured_logs(function.module) as logs:
        probes = function.invoke()

    assert [probe["reachable"] for probe in probes] == [True, True]
    assert len(function.tokens) == 2  # one per probe: a token never outlives its use
    host, port = servers.primary.address
    for token in function.tokens:
        assert token.startswith(f"{host}:{port}/?Action=connect&DBUser={ROLE}&")
        assert "X-Amz-Expires=900" in token and "X-Amz-Signature=" in token
        assert f"%2F{PRIMARY}%2Frds-db%2Faws4_request" in token  # signed for this region's rds-db
        assert token not in logs.getvalue() and "X-Amz-Signature" not in logs.getvalue()


def test_a_rejected_token_fails_that_probe_and_the_next_one_signs_afresh(deploy: Deploy, servers: Servers) -> None:
    function = deploy(PROBES_PER_INVOCATION="2")
    sign = function.module.prober.token_for
    calls = iter([True, False])

    def reject_first(target: Any) -> str:
        token = sign(target)
        if next(calls):
            servers.primary.execute(f"ALTER ROLE {ROLE} PASSWORD 'not-the-token'")
        return token

    function.module.prober.token_for = reject_first

    rejected, accepted = function.invoke()

    assert not rejected["reachable"] and rejected["reason"].startswith(
        "PostgreSQL 28P01: password authentication failed"
    )
    assert accepted["reachable"] and accepted["writable"]


def test_no_credentials_to_sign_with_reports_unreachable(deploy: Deploy, monkeypatch: pytest.MonkeyPatch) -> None:
    """An execution role whose credentials cannot be found: the token cannot be signed, the probe fails."""
    function = deploy()
    monkeypatch.setattr(function.module.rds._request_signer, "_credentials", None)

    [probe] = function.invoke()

    assert_unreachable(function, probe, "NoCredentialsError")


# --- payment_probe can do its job and nothing more ---------------------------------------------


@pytest.fixture
def probe_session(servers: Servers) -> Iterator[pg8000.native.Connection]:
    servers.primary.execute(f"ALTER ROLE {ROLE} PASSWORD 'probe-session-test'")
    with closing(connect(servers.primary, ROLE, "probe-session-test")) as session:
        yield session


def refused(session: pg8000.native.Connection, sql: str) -> str:
    """The SQLSTATE of the error `sql` raises. `rw:` first turns the role's read-only default off for the
    session (which it may do): what refuses the statement is then its privileges, not that default."""
    if sql.startswith("rw:"):
        session.run("SET default_transaction_read_only = off")
        sql = sql.removeprefix("rw:")
    with pytest.raises(pg8000.exceptions.DatabaseError) as raised:
        session.run(sql)
    return raised.value.args[0]["C"]


def test_payment_probe_runs_the_probes_query(probe_session: pg8000.native.Connection) -> None:
    assert probe_session.run("SELECT pg_is_in_recovery()") == [[False]]
    assert probe_session.run("SELECT current_user, current_setting('statement_timeout')") == [[ROLE, "5s"]]


@pytest.mark.parametrize(
    ("sql", "sqlstate"),
    [
        ("SELECT * FROM ledger.journal_entries", "42501"),  # no USAGE on the schema
        ("SELECT * FROM public.merchants", "42501"),
        ("INSERT INTO public.merchants VALUES ('m-1')", "25006"),  # read-only by default, and no INSERT grant
        ("rw:INSERT INTO public.merchants VALUES ('m-1')", "42501"),
        ("rw:CREATE TABLE public.probe_owned (x int)", "42501"),
        ("rw:CREATE TEMPORARY TABLE probe_scratch (x int)", "42501"),
        ("rw:CREATE SCHEMA probe_owned", "42501"),
        ("rw:CREATE ROLE probe_friend", "42501"),
        ("rw:CREATE DATABASE probe_owned", "42501"),
        (f"SET ROLE {MASTER}", "42501"),
        ("SELECT pg_read_file('PG_VERSION')", "42501"),
        ("SELECT pg_reload_conf()", "42501"),
    ],
    ids=[
        "read-ledger",
        "read-public",
        "write",
        "write-read-write",
        "create-table",
        "create-temp-table",
        "create-schema",
        "create-role",
        "create-database",
        "set-role",
        "read-server-file",
        "reload-config",
    ],
)
def test_payment_probe_can_do_nothing_else(probe_session: pg8000.native.Connection, sql: str, sqlstate: str) -> None:
    assert refused(probe_session, sql) == sqlstate


def test_payment_probe_has_no_attribute_or_membership_beyond_login_and_rds_iam(servers: Servers) -> None:
    as_master(servers.primary, MIGRATION.read_text())  # as deployed: the role has no password at all
    [[*attributes, memberships, password_set]] = servers.primary.execute(f"""
        SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin,
               ARRAY(SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid WHERE m.member = a.oid)::text,
               rolpassword IS NOT NULL
          FROM pg_authid a WHERE rolname = {literal(ROLE)}""")
    assert (attributes, memberships, password_set) == ([False, False, False, False, False, True], "{rds_iam}", False)
    with pytest.raises(pg8000.exceptions.DatabaseError) as raised:  # no password: only a token can log it in
        connect(servers.primary, ROLE, "")
    assert raised.value.args[0]["C"] == "28P01"


def test_the_migration_refuses_to_leave_a_gap(servers: Servers) -> None:
    """Run by a role that cannot revoke PUBLIC's CREATE on schema public (as a master that does not own
    it would be), the migration fails instead of leaving payment_probe able to create objects."""
    outsider, password = "migration_outsider", "outsider-password-1a2b"
    servers.primary.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {literal(outsider)}) THEN "
        f"CREATE ROLE {outsider} LOGIN CREATEROLE PASSWORD {literal(password)}; END IF; END $$"
    )
    servers.primary.execute(f"GRANT rds_iam TO {outsider} WITH ADMIN OPTION")
    as_master(servers.primary, f"GRANT CONNECT ON DATABASE {DATABASE} TO {outsider}; {PG13_DEFAULTS}")
    try:
        with (
            closing(connect(servers.primary, outsider, password)) as session,
            pytest.raises(pg8000.exceptions.DatabaseError) as raised,
        ):
            session.run(MIGRATION.read_text())
        assert "payment_probe can still create objects in schema public" in raised.value.args[0]["M"]
    finally:
        as_master(servers.primary, MIGRATION.read_text())  # the owner closes the gap again
    [[can_create]] = servers.primary.execute(f"SELECT has_schema_privilege({literal(ROLE)}, 'public', 'CREATE')")
    assert can_create is False


# --- TLS -------------------------------------------------------------------------------------


def test_require_mode_never_falls_back_to_plaintext(deploy: Deploy) -> None:
    with plaintext_only_endpoint() as (address, received_after_refusal):
        function = deploy(writer=address)
        [probe] = function.invoke()

    assert_unreachable(function, probe, "Server refuses SSL")
    assert received_after_refusal == [b""]  # hung up: no startup message, no user name in the clear


@pytest.mark.parametrize("trusted", ["server", "other"])
def test_verify_full_checks_the_certificate_against_the_bundle(deploy: Deploy, servers: Servers, trusted: str) -> None:
    primary = servers.primary
    bundle = primary.certificate if trusted == "server" else primary.sandbox.make_certificate("other")[0]
    function = deploy(DB_SSL_MODE="verify-full", DB_CA_BUNDLE=str(bundle))

    [probe] = function.invoke()

    if trusted == "server":
        assert probe["reachable"] and probe["writable"]
    else:
        assert_unreachable(function, probe, "CERTIFICATE_VERIFY_FAILED")


# --- several probes per invocation -----------------------------------------------------------


@pytest.mark.parametrize(("probe_seconds", "sleeps"), [(0, [10, 10, 10]), (4, [6, 6, 6]), (12, [0, 0, 0])])
def test_probes_keep_to_a_fixed_grid_of_intervals(deploy: Deploy, probe_seconds: float, sleeps: list[float]) -> None:
    """One probe per PROBE_INTERVAL_SECONDS from the first, however long each takes (late ones do
    not wait), so each 10-second alarm period gets its datapoint."""
    function = deploy(PROBES_PER_INVOCATION="4")
    locate = function.module.prober.locate

    def slow_locate() -> Any:
        function.clock.now += probe_seconds
        return locate()

    function.module.prober.locate = slow_locate

    probes = function.invoke()

    assert function.clock.sleeps == sleeps
    assert [probe["reachable"] for probe in probes] == [True] * 4
    assert len(function.datums("DatabaseReachable")) == 4
    stored = stored_datapoints(PRIMARY, "DatabaseReachable", CLUSTERS[PRIMARY])
    assert sum(point["SampleCount"] for point in stored) == 4


def test_failed_publish_is_logged_and_the_probes_go_on(deploy: Deploy) -> None:
    """A datapoint that never arrives is breaching for the alarm; the invocation must not die of it."""
    function = deploy(PROBES_PER_INVOCATION="2")

    with Stubber(function.module.cloudwatch) as cloudwatch, captured_logs(function.module) as logs:
        for _ in range(2):
            cloudwatch.add_client_error("put_metric_data", "Throttling", http_status_code=400)
        probes = function.invoke()

    assert [(probe["reachable"], probe["published"]) for probe in probes] == [(True, False), (True, False)]
    assert logs.getvalue().count('"reason":"PutMetricData: Throttling"') == 2


# --- configuration ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def app() -> ModuleType:
    """The module, loaded once with a valid environment, for its load_settings."""
    return load_app(probe_env())


REQUIRED = ("AWS_REGION", "DB_CLUSTER_IDENTIFIER", "DB_USER", "DB_NAME", "METRIC_NAMESPACE")


def test_defaults(app: ModuleType) -> None:
    settings = app.load_settings({name: probe_env()[name] for name in REQUIRED})

    assert (settings.probe_interval_seconds, settings.probes_per_invocation) == (10, 6)
    assert (settings.connect_timeout_seconds, settings.ssl_mode, settings.ca_bundle) == (3, "require", None)
    assert settings.storage_resolution == 1


def test_standard_resolution_is_a_setting(app: ModuleType) -> None:
    """For a Route 53 health check that refuses alarms on high-resolution metrics (docs/db-probe.md)."""
    settings = app.load_settings(probe_env(METRIC_STORAGE_RESOLUTION="60"))
    result = app.ProbeResult(probed_at=datetime.now(UTC), reachable=True, writable=True, latency_ms=2.5)

    data = app.metric_data(result, settings.cluster_identifier, settings.storage_resolution)

    assert [datum["StorageResolution"] for datum in data] == [60, 60, 60]


@pytest.mark.parametrize("name", REQUIRED)
def test_missing_variable_is_named(app: ModuleType, name: str) -> None:
    env = probe_env()
    del env[name]

    with pytest.raises(app.ConfigurationError, match=f"^Invalid configuration: {name} is not set$"):
        app.load_settings(env)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PROBE_INTERVAL_SECONDS": "ten"}, "PROBE_INTERVAL_SECONDS must be a number from 1 to 60, got 'ten'"),
        ({"PROBE_INTERVAL_SECONDS": "0"}, "PROBE_INTERVAL_SECONDS must be a number from 1 to 60, got '0'"),
        ({"PROBE_INTERVAL_SECONDS": "nan"}, "PROBE_INTERVAL_SECONDS must be a number from 1 to 60, got 'nan'"),
        ({"PROBES_PER_INVOCATION": "2.5"}, "PROBES_PER_INVOCATION must be a whole number from 1 to 60, got '2.5'"),
        ({"PROBES_PER_INVOCATION": "7"}, "fit in the 60-second schedule (the last probe starts 60 s after the first)"),
        ({"CONNECT_TIMEOUT_SECONDS": "12"}, "CONNECT_TIMEOUT_SECONDS must be a number from 0.1 to 10, got '12'"),
        ({"DB_SSL_MODE": "prefer"}, "DB_SSL_MODE must be one of require, verify-full, got 'prefer'"),
        # The token is a password: it never crosses the network in clear.
        ({"DB_SSL_MODE": "disable"}, "DB_SSL_MODE must be one of require, verify-full, got 'disable'"),
        (
            {"DB_SSL_MODE": "verify-full"},
            "DB_CA_BUNDLE must name a readable CA bundle file with DB_SSL_MODE=verify-full",
        ),
        ({"DB_SSL_MODE": "verify-full", "DB_CA_BUNDLE": "/nowhere/rds.pem"}, "got '/nowhere/rds.pem'"),
        ({"METRIC_NAMESPACE": "AWS/RDS"}, "METRIC_NAMESPACE must not start with 'AWS/' (reserved), got 'AWS/RDS'"),
        ({"METRIC_STORAGE_RESOLUTION": "10"}, "METRIC_STORAGE_RESOLUTION must be one of 1, 60, got '10'"),
        ({"METRIC_STORAGE_RESOLUTION": "high"}, "METRIC_STORAGE_RESOLUTION must be one of 1, 60, got 'high'"),
    ],
)
def test_invalid_value_is_named(app: ModuleType, overrides: dict[str, str], message: str) -> None:
    with pytest.raises(app.ConfigurationError) as raised:
        app.load_settings(probe_env(**overrides))

    assert message in str(raised.value)


def test_every_problem_is_listed_at_once(app: ModuleType) -> None:
    with pytest.raises(app.ConfigurationError) as raised:
        app.load_settings({"PROBES_PER_INVOCATION": "0", "DB_SSL_MODE": "off"})

    for name in (*REQUIRED, "PROBES_PER_INVOCATION", "DB_SSL_MODE"):
        assert name in str(raised.value)


def test_cold_start_fails_on_a_missing_variable() -> None:
    """Lambda reports an init error naming the variable; with no datapoints the alarm breaches."""
    env = probe_env()
    del env["DB_USER"]

    with pytest.raises(Exception, match="DB_USER is not set") as raised:
        load_app(env)

    assert type(raised.value).__name__ == "ConfigurationError"
