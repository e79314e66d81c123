"""A DR stack in moto (server mode, on 127.0.0.1), and drctl run against it through typer's CliRunner.

moto runs as a real HTTP server (`moto_server`, started once per session) and drctl reaches it
through its ordinary boto3 clients, with the endpoint overridden: the same code path as against AWS. What
moto 5.2.5 does not implement (Aurora switchover/failover, DynamoDB global-table replicas) is
simulated per test with botocore's Stubber on the one client concerned; test_moto_gaps.py proves
those gaps, so the stubs can go when moto grows the APIs.
"""

from __future__ import annotations

import functools
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.config import Config
from botocore.stub import Stubber
from rich.console import Console
from typer.testing import CliRunner, Result

from core import naming, routing
from drctl.aws import Clients
from drctl.cli import Runtime, app
from drctl.stack import Stack, load

ACCOUNT = "123456789012"  # moto's default account
SUFFIX = "qa"
DOMAIN = "api.payments.example.com"
ZONE = "payments.example.com"
APIGW_ZONE = "Z1UJRXOUMOOFQ8"  # API Gateway's regional alias zone (any id works in moto)
# Every call that changes something in AWS: none may happen on a refusal or a dry run.
MUTATING = frozenset(
    {
        "SwitchoverGlobalCluster",
        "FailoverGlobalCluster",
        "UpdateHealthCheck",
        "Publish",
        "PutMetricData",
        "UpdateRoutingControlState",
        "UpdateRoutingControlStates",
    }
)
# One attempt, short timeouts: a "lost region" (a closed port) fails at once.
TEST_CONFIG = Config(connect_timeout=1, read_timeout=10, retries={"mode": "standard", "max_attempts": 1})
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class FakeClock:
    """Time moves only when drctl sleeps: waits and RTOs are exact and instant."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class RecordingClients(Clients):
    """Records every API call drctl makes; `lost` regions point at a closed port (a regional outage)."""

    def __init__(self, url: str, lost: frozenset[str] = frozenset(), session: boto3.Session | None = None):
        super().__init__(session or _session(), endpoint_url=url, config=TEST_CONFIG)
        self.lost = lost
        self.calls: list[tuple[str, str, str, dict[str, Any]]] = []
        self._recorded: set[int] = set()

    def endpoint(self, service: str, region: str) -> str | None:
        return dead_endpoint() if region in self.lost and service != "route53" else self.endpoint_url

    def __call__(self, service: str, region: str, endpoint_url: str | None = None) -> Any:
        client = super().__call__(service, region, endpoint_url)
        if id(client) not in self._recorded:
            self._recorded.add(id(client))
            client.meta.events.register(
                "before-parameter-build.*.*",
                lambda model, params, **_: self.calls.append((service, region, model.name, dict(params))),
            )
        return client

    def mutations(self) -> list[tuple[str, str, str]]:
        return [(service, region, operation) for service, region, operation, _ in self.calls if operation in MUTATING]

    def stub(self, service: str, region: str) -> Stubber:
        stubber = Stubber(self(service, region))
        stubber.activate()
        return stubber


def flat(text: str) -> str:
    """Output with table rules dropped and every run of whitespace made one space: layout does not matter."""
    return " ".join(text.replace("│", " ").split())


@functools.cache
def _session() -> boto3.Session:
    """One session for all tests: botocore then loads each service model once."""
    return boto3.Session(**CREDENTIALS)


@functools.cache
def _plain_client(url: str, service: str, region: str) -> Any:
    return _session().client(service, region_name=region, endpoint_url=url, config=TEST_CONFIG)


def dead_endpoint() -> str:
    with socket.socket() as probe:  # a port that was free a moment ago: connections are refused
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """moto_server in its own process: the server does not compete with the tests for the GIL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/").close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"moto_server did not start on {url}") from None
            time.sleep(0.1)
    yield url
    server.kill()  # a throwaway server: no graceful shutdown to wait for
    server.wait(timeout=10)


def stack_config(regions: tuple[str, ...]) -> dict[str, Any]:
    return {
        "environmentSuffix": SUFFIX,
        "primaryRegion": regions[0],
        "secondaryRegions": list(regions[1:]),
        "domainName": DOMAIN,
        "hostedZoneName": ZONE,
        "alertEmails": ["oncall@example.com"],
        "auroraEngineVersion": "13.23",
        "replicationLagThresholdMs": 1000,
    }


def write_config(path: Path, values: dict[str, Any]) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "config": {
                    "pulumi:disable-default-providers": ["aws"],
                    **{f"payment-dr:{k}": v for k, v in values.items()},
                }
            }
        )
    )
    return path


@dataclass
class World:
    """The stack's resources in moto, and helpers to run drctl against them."""

    url: str
    stack: Stack
    config_file: Path
    audit_log: Path
    clients: RecordingClients
    clock: FakeClock = field(default_factory=FakeClock)
    queues: dict[str, str] = field(default_factory=dict)  # region -> SQS queue subscribed to the failover topic
    checks: dict[tuple[str, str], str] = field(default_factory=dict)  # (kind, region) -> health check id

    @property
    def regions(self) -> tuple[str, ...]:
        return self.stack.regions

    def aws(self, service: str, region: str = "us-east-1") -> Any:
        """A plain client for fixtures and assertions, not recorded."""
        return _plain_client(self.url, service, region)

    def invoke(self, *args: str, input: str | None = None, clients: Clients | None = None) -> Result:
        runtime = Runtime(
            clients or self.clients,
            self.clock,
            Console(width=250, no_color=True),
            Console(stderr=True, width=250, no_color=True),
        )
        selection = ["--config-file", str(self.config_file), "--audit-log", str(self.audit_log)]
        return CliRunner().invoke(app, [*selection, *args], obj=runtime, input=input)

    def arn(self, region: str) -> str:
        return f"arn:aws:rds:{region}:{ACCOUNT}:cluster:{self.stack.cluster(region)}"

    def put_metric(self, region: str, namespace: str, name: str, dimensions: dict[str, str], value: float) -> None:
        self.put_metrics(region, namespace, [(name, dimensions, value)])

    def put_metrics(self, region: str, namespace: str, points: list[tuple[str, dict[str, str], float]]) -> None:
        now = datetime.now(UTC)
        self.aws("cloudwatch", region).put_metric_data(
            Namespace=namespace,
            MetricData=[
                {
                    "MetricName": name,
                    "Value": value,
                    "Timestamp": now,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                }
                for name, dimensions, value in points
            ],
        )

    def set_lag(self, region: str, milliseconds: float, metric: str = "AuroraGlobalDBReplicationLag") -> None:
        self.put_metric(region, "AWS/RDS", metric, {"DBClusterIdentifier": self.stack.cluster(region)}, milliseconds)

    def set_region_health(self, region: str, healthy: bool) -> None:
        self.put_metric(
            "us-east-1",
            "AWS/Route53",
            "HealthCheckStatus",
            {"HealthCheckId": self.checks[("region", region)]},
            float(healthy),
        )

    def set_hold(self, held: str, holder: str, state: str) -> None:
        """moto never evaluates alarms: a test sets the state CloudWatch would reach."""
        self.aws("cloudwatch", holder).set_alarm_state(
            AlarmName=self.stack.hold_alarm(held), StateValue=state, StateReason="test"
        )

    def held_out(self, held: str, holder: str) -> list[float]:
        """Every RegionHeldOut datapoint of `held` published in `holder` in the last hour, oldest first."""
        now = datetime.now(UTC)
        answer = self.aws("cloudwatch", holder).get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "h",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": routing.ROUTING_NAMESPACE,
                            "MetricName": routing.HELD_OUT_METRIC,
                            "Dimensions": [{"Name": routing.HELD_OUT_DIMENSION, "Value": held}],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - timedelta(hours=1),
            EndTime=now + timedelta(minutes=5),
            ScanBy="TimestampAscending",
        )
        return list(answer["MetricDataResults"][0]["Values"])

    def flags(self, region: str) -> tuple[bool, bool]:
        config = self.aws("route53").get_health_check(HealthCheckId=self.checks[("region", region)])["HealthCheck"][
            "HealthCheckConfig"
        ]
        return config["Disabled"], config["Inverted"]

    def messages(self, region: str) -> list[dict[str, Any]]:
        answer = self.aws("sqs", region).receive_message(
            QueueUrl=self.queues[region], MaxNumberOfMessages=10, WaitTimeSeconds=0
        )
        return [json.loads(json.loads(m["Body"])["Message"]) for m in answer.get("Messages", [])]

    def audit(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit_log.read_text().splitlines()] if self.audit_log.exists() else []

    def global_clusters(
        self,
        writer: str,
        status: str = "available",
        operation: str | None = None,
        members: tuple[str, ...] | None = None,
    ) -> dict[str, Any]:
        """A DescribeGlobalClusters answer, for Stubber."""
        cluster: dict[str, Any] = {
            "GlobalClusterIdentifier": self.stack.global_cluster,
            "Status": status,
            "Engine": "aurora-postgresql",
            "GlobalClusterMembers": [
                {"DBClusterArn": self.arn(r), "IsWriter": r == writer} for r in members or self.regions
            ],
        }
        if operation:
            cluster["FailoverState"] = {"Status": operation, "ToDbClusterArn": self.arn(self.regions[1])}
        return {"GlobalClusters": [cluster]}

    def db_cluster(self, region: str, status: str = "available") -> dict[str, Any]:
        return {"DBClusters": [{"DBClusterIdentifier": self.stack.cluster(region), "Status": status}]}

    def stub_global_tables(self) -> list[Stubber]:
        """Global-table replicas as DescribeTable reports them (moto has none: test_moto_gaps.py)."""
        stubs = []
        for region in self.regions:
            stub = self.clients.stub("dynamodb", region)
            for table in self.stack.tables:
                replicas = [
                    {"RegionName": other, "ReplicaStatus": "ACTIVE"} for other in self.regions if other != region
                ]
                stub.add_response(
                    "describe_table",
                    {"Table": {"TableName": table, "TableStatus": "ACTIVE", "Replicas": replicas}},
                    {"TableName": table},
                )
            stubs.append(stub)
        return stubs


def bare_world(url: str, directory: Path, regions: tuple[str, ...]) -> World:
    """An empty moto account and the stack's config file: for tests that need no resources."""
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST")).close()
    config_file = write_config(directory / "Pulumi.qa.yaml", stack_config(regions))
    return World(url, load(None, config_file), config_file, directory / "audit.jsonl", RecordingClients(url))


def build_world(
    url: str,
    directory: Path,
    regions: tuple[str, ...],
    writer: str | None = None,
    lag_ms: float | None = 120,
    data: bool = False,
) -> World:
    """The stack deployed in moto; `writer` other than the first region: as after a failover.

    Tables and buckets only with `data`: only `status` reads them, and every request counts.
    """
    world = bare_world(url, directory, regions)
    writer = writer or regions[0]
    create_aurora(world, writer)
    if data:
        _tables(world)
        _buckets(world)
    _topics(world)
    _hold_alarms(world)
    _dns(world)
    for region in regions:
        if region != writer and lag_ms is not None:
            world.set_lag(region, lag_ms)
    for region in regions:
        world.set_region_health(region, True)
    return world


TWO_REGIONS = ("us-east-1", "us-east-2")
# Three regions: the failover records form a chain (PRIMARY, then a nested pair).
THREE_REGIONS = ("us-east-1", "us-east-2", "us-west-2")


@pytest.fixture
def make_world(moto_url: str, tmp_path: Path) -> Callable[..., World]:
    return functools.partial(build_world, moto_url, tmp_path)


@pytest.fixture
def world(make_world: Callable[..., World]) -> World:
    return make_world(TWO_REGIONS)


@pytest.fixture
def bare(moto_url: str, tmp_path: Path) -> World:
    return bare_world(moto_url, tmp_path, TWO_REGIONS)


def create_aurora(world: World, writer: str) -> None:
    # moto makes the first cluster to join a global cluster its writer.
    world.aws("rds").create_global_cluster(
        GlobalClusterIdentifier=world.stack.global_cluster,
        Engine="aurora-postgresql",
        EngineVersion="13.23",
        StorageEncrypted=True,
    )
    for region in sorted(world.regions, key=lambda r: r != writer):
        credentials = (
            {"MasterUsername": "payments", "MasterUserPassword": "not-a-real-password"} if region == writer else {}
        )
        world.aws("rds", region).create_db_cluster(
            DBClusterIdentifier=world.stack.cluster(region),
            Engine="aurora-postgresql",
            EngineVersion="13.23",
            GlobalClusterIdentifier=world.stack.global_cluster,
            **credentials,
        )


def _tables(world: World) -> None:
    # moto has no global-table replicas: each region gets its own table of the same name.
    for region in world.regions:
        for table in world.stack.tables:
            world.aws("dynamodb", region).create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            )
        world.put_metrics(
            region,
            "AWS/DynamoDB",
            [
                ("ReplicationLatency", {"TableName": table, "ReceivingRegion": receiver}, 850)
                for receiver in world.regions
                if receiver != region
                for table in world.stack.tables
            ],
        )


def _buckets(world: World) -> None:
    for region in world.regions:
        s3 = world.aws("s3", region)
        for bucket in world.stack.buckets(region):
            s3.create_bucket(
                Bucket=bucket,
                **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
            )
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for region in world.regions:
        for index, bucket in enumerate(world.stack.buckets(region)):
            rules = [
                {
                    "ID": f"to-{other}",
                    "Priority": number,
                    "Status": "Enabled",
                    "Filter": {},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{world.stack.buckets(other)[index]}"},
                }
                for number, other in enumerate((r for r in world.regions if r != region), 1)
            ]
            world.aws("s3", region).put_bucket_replication(
                Bucket=bucket,
                ReplicationConfiguration={"Role": f"arn:aws:iam::{ACCOUNT}:role/replication", "Rules": rules},
            )
            world.put_metrics(
                region,
                "AWS/S3",
                [
                    (
                        metric,
                        {
                            "SourceBucket": bucket,
                            "DestinationBucket": rule["Destination"]["Bucket"].rsplit(":", 1)[-1],
                            "RuleId": rule["ID"],
                        },
                        value,
                    )
                    for rule in rules
                    for metric, value in (
                        ("ReplicationLatency", 4),
                        ("OperationsPendingReplication", 0),
                        ("OperationsFailedReplication", 0),
                    )
                ],
            )


def _hold_alarms(world: World) -> None:
    """The hold alarms as the program makes them (core/routing.py): one per held region in each holder region."""
    for held in world.regions:
        for holder in world.stack.holders(held):
            world.aws("cloudwatch", holder).put_metric_alarm(
                AlarmName=world.stack.hold_alarm(held),
                Namespace=routing.ROUTING_NAMESPACE,
                MetricName=routing.HELD_OUT_METRIC,
                Dimensions=[{"Name": routing.HELD_OUT_DIMENSION, "Value": held}],
                Statistic=routing.HOLD_STATISTIC,
                Period=routing.HOLD_PERIOD_SECONDS,
                EvaluationPeriods=1,
                Threshold=routing.HOLD_THRESHOLD,
                ComparisonOperator="GreaterThanOrEqualToThreshold",
                TreatMissingData="ignore",
            )


def _topics(world: World) -> None:
    for region in world.regions:
        topic = world.aws("sns", region).create_topic(Name=world.stack.topic)["TopicArn"]
        queue = world.aws("sqs", region).create_queue(QueueName=f"failover-events-{region}")["QueueUrl"]
        queue_arn = world.aws("sqs", region).get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        world.aws("sns", region).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        world.queues[region] = queue


def _dns(world: World) -> None:
    route53 = world.aws("route53")
    zone = route53.create_hosted_zone(Name=ZONE, CallerReference="zone")["HostedZone"]["Id"].rsplit("/", 1)[-1]
    for region in world.regions:
        api = _check(
            world,
            "api",
            region,
            {
                "Type": "HTTPS",
                "FullyQualifiedDomainName": f"api-{region}.{ZONE}",
                "ResourcePath": "/health",
                "Port": 443,
                "RequestInterval": 10,
                "FailureThreshold": 3,
            },
        )
        _check(
            world,
            "db",
            region,
            {
                "Type": "CLOUDWATCH_METRIC",
                "InsufficientDataHealthStatus": "Unhealthy",
                "AlarmIdentifier": {"Region": region, "Name": f"payment-db-reachable-{region}-{SUFFIX}"},
            },
        )
        _check(
            world,
            "writer",
            region,
            {
                "Type": "CLOUDWATCH_METRIC",
                "InsufficientDataHealthStatus": "Unhealthy",
                "AlarmIdentifier": {"Region": region, "Name": f"payment-db-writable-{SUFFIX}"},
            },
        )
        # The routing check (core/routing.py): the api check and one hold check per holder region.
        hold_checks = [
            world.aws("route53").create_health_check(
                CallerReference=f"hold-{region}-{holder}",
                HealthCheckConfig={
                    "Type": "CLOUDWATCH_METRIC",
                    "InsufficientDataHealthStatus": "LastKnownStatus",
                    "AlarmIdentifier": {"Region": holder, "Name": world.stack.hold_alarm(region)},
                },
            )["HealthCheck"]["Id"]
            for holder in world.stack.holders(region)
        ]
        _check(
            world,
            "region",
            region,
            {"Type": "CALCULATED", "ChildHealthChecks": [api, *hold_checks], "HealthThreshold": 1 + len(hold_checks)},
        )
    changes = []
    names = [DOMAIN] + [
        f"{world.stack.cfg.namer.qualified(naming.FAILOVER_CHAIN_LABEL, str(level))}.{DOMAIN}"
        for level in range(1, len(world.regions) - 1)
    ]
    # Level n: PRIMARY = region n; SECONDARY = the last region, or an alias to level n + 1.
    for level, name in enumerate(names):
        region, nested = world.regions[level], names[level + 1] if level + 1 < len(names) else None
        secondary = world.regions[level + 1]
        changes.append(
            _record(
                name,
                region,
                "PRIMARY",
                world.checks[("region", region)],
                f"d-{region}.execute-api.{region}.amazonaws.com",
                APIGW_ZONE,
            )
        )
        if nested:
            changes.append(_record(name, f"chain-{level + 1}", "SECONDARY", None, nested, zone))
        else:
            changes.append(
                _record(
                    name,
                    secondary,
                    "SECONDARY",
                    world.checks[("region", secondary)],
                    f"d-{secondary}.execute-api.{secondary}.amazonaws.com",
                    APIGW_ZONE,
                )
            )
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})


def _check(world: World, kind: str, region: str, config: dict[str, Any]) -> str:
    route53 = world.aws("route53")
    check_id = route53.create_health_check(CallerReference=f"{kind}-{region}", HealthCheckConfig=config)["HealthCheck"][
        "Id"
    ]
    route53.change_tags_for_resource(
        ResourceType="healthcheck",
        ResourceId=check_id,
        AddTags=[{"Key": "Name", "Value": world.stack.health_check(kind, region)}],
    )
    world.checks[(kind, region)] = check_id
    return check_id


def _record(name: str, identifier: str, role: str, check: str | None, target: str, target_zone: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Name": name,
        "Type": "A",
        "SetIdentifier": identifier,
        "Failover": role,
        "AliasTarget": {"HostedZoneId": target_zone, "DNSName": target, "EvaluateTargetHealth": check is None},
    }
    if check:
        record["HealthCheckId"] = check
    return {"Action": "CREATE", "ResourceRecordSet": record}
