"""Evaluates the real Pulumi program under the SDK's mock runtime: real program, fake cloud.

The offline plan and the tests share this engine. It records every resource registration
with what a reviewer of `pulumi preview` checks: type, logical name, inputs, provider (and so
region), parent, dependencies and resource options. Values only AWS can know are returned
as recognisable placeholders (``MOCK_ACCOUNT_ID``, ``<computed ...>``), never as plausible data.
"""

from __future__ import annotations

import json
import runpy
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parent.parent
PROGRAM = ROOT / "__main__.py"
PROJECT = "payment-dr"
MOCK_ACCOUNT_ID = "000000000000"
MOCK_ZONE_ID = "Z00000000000000000000"
# The hosted zone of API Gateway's regional endpoints (one per region in AWS) for alias records.
MOCK_APIGATEWAY_ZONE_ID = "Z0000000000APIGATEWAY"
COMPUTED = "<computed>"


@dataclass
class ResourceRecord:
    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    custom: bool
    provider_urn: str | None
    parent_urn: str | None
    dependencies: list[str]
    ignore_changes: list[str]
    protect: bool
    delete_before_replace: bool
    region: str | None = None
    # The URNs this resource was known by (its `aliases`, resolved as the engine resolves them): a
    # moved resource keeps its state under the new URN instead of being replaced.
    aliases: list[str] = field(default_factory=list)


@dataclass
class Evaluation:
    resources: list[ResourceRecord]
    outputs: dict[str, Any]
    invokes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, predicate: Callable[[ResourceRecord], bool] = lambda r: True) -> ResourceRecord:
        found = [r for r in self.of_type(type_) if predicate(r)]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_}, found {len(found)}: {[r.name for r in found]}")
        return found[0]

    def by_urn(self, urn: str) -> ResourceRecord:
        return next(r for r in self.resources if r.urn == urn)

    def by_output(self, key: str, value: Any, type_: str | None = None) -> ResourceRecord:
        """The resource (of `type_`, if given) whose (mocked) output `key` equals `value`: follows wiring back.

        Exactly one must match: an ambiguous lookup would pass or fail with registration order.
        """
        [record] = [r for r in self.resources if r.outputs.get(key) == value and type_ in (None, r.type)]
        return record

    def ancestors(self, record: ResourceRecord) -> list[ResourceRecord]:
        """The components a resource sits in, innermost first."""
        by_urn = {r.urn: r for r in self.resources}
        chain = []
        parent = by_urn.get(record.parent_urn or "")
        while parent is not None:
            chain.append(parent)
            parent = by_urn.get(parent.parent_urn or "")
        return chain

    def in_component(self, component_type: str) -> list[ResourceRecord]:
        return [r for r in self.managed if any(a.type == component_type for a in self.ancestors(r))]

    def in_region(self, region: str) -> list[ResourceRecord]:
        return [r for r in self.resources if r.region == region]

    @property
    def managed(self) -> list[ResourceRecord]:
        """Resources a `pulumi up` would create in AWS (no providers, no components)."""
        return [r for r in self.resources if r.custom and not r.type.startswith("pulumi:providers:")]


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, computed: Callable[[pulumi_mocks.MockResourceArgs, str | None], dict[str, Any]]):
        self.computed = computed
        self.invokes: list[tuple[str, dict[str, Any]]] = []
        self.regions: dict[str, str] = {}

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        region = args.inputs.get("region") or self.regions.get(_provider_urn(args.provider))
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-id", dict(args.inputs)
        if not args.custom:
            return "", dict(args.inputs)  # components have no id in the real engine either
        resource_id = args.resource_id or mock_id(args.typ, args.name)
        return resource_id, {**args.inputs, **self.computed(args, region)}

    def call(self, args: pulumi_mocks.MockCallArgs):
        self.invokes.append((args.token, dict(args.args)))
        region = self.regions.get(_provider_urn(args.provider))
        return mock_invoke(args.token, args.args, region)


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks):
        super().__init__(mocks)
        self.records: list[ResourceRecord] = []

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        """URNs as the real engine makes them: the whole chain of parent types, none for the stack.

        The SDK's mock keeps only the immediate parent's type, which would hide URN collisions
        between components of different kinds that a real `pulumi up` rejects.
        """
        qualified = type_
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != "pulumi:pulumi:Stack":
                qualified = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), qualified, name])

    def _alias_urn(self, request, alias) -> str:
        """An alias as the engine resolves it: a URN as given, or a spec's name/type/parent over the resource's own."""
        if alias.urn:
            return alias.urn
        spec = alias.spec
        parent = "" if spec.noParent else (spec.parentUrn or request.parent)
        return self.make_urn(parent, spec.type or request.type, spec.name or request.name)

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        registration = self.resources[response.urn]
        inputs = _known(pulumi.runtime.rpc.deserialize_properties(request.object))
        provider_urn = _provider_urn(request.provider) or None
        record = ResourceRecord(
            urn=response.urn,
            type=request.type,
            name=request.name,
            inputs=inputs,
            outputs={"id": registration.id, **registration.state},
            custom=request.custom,
            provider_urn=provider_urn,
            parent_urn=request.parent or None,
            dependencies=list(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            protect=request.protect,
            delete_before_replace=request.deleteBeforeReplace,
            aliases=[self._alias_urn(request, alias) for alias in request.aliases],
        )
        if request.type.startswith("pulumi:providers:"):
            # Provider config arrives JSON-encoded, as the engine would pass it to the plugin.
            record.inputs = {k: _decode(v) for k, v in inputs.items()}
            self.mocks.regions[response.urn] = inputs.get("region")
            record.region = inputs.get("region")
        else:
            record.region = inputs.get("region") or self.mocks.regions.get(provider_urn or "")
        self.records.append(record)
        return response


def _known(value: Any) -> Any:
    """Values the engine cannot know until apply become the COMPUTED marker, never a guess."""
    if isinstance(value, dict):
        return {k: _known(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_known(v) for v in value]
    if isinstance(value, pulumi.output.Unknown):
        return COMPUTED
    # Code assets (Lambda packages) as plain data naming what they hold; the engine never reads them.
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {k: _known(v) for k, v in sorted(value.assets.items())}}
    if isinstance(value, (pulumi.Asset, pulumi.Archive)):
        return {
            type(value).__name__: getattr(value, "path", None)
            or getattr(value, "uri", None)
            or getattr(value, "text", None)
        }
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "{[":
        return json.loads(value)
    return value


def _provider_urn(reference: str | None) -> str:
    """Provider references are `<urn>::<id>`."""
    return (reference or "").rpartition("::")[0]


def _arn(service: str, region: str | None, resource: str) -> str:
    return f"arn:aws:{service}:{region or ''}:{MOCK_ACCOUNT_ID}:{resource}"


def mock_id(type_: str, logical_name: str) -> str:
    """A placeholder id, unique per resource as AWS ids are: "<logical name>-<type>-id".

    Logical names repeat across types (a subnet and its route table), so a bare "<name>-id" would
    let a route table's id pass for the subnet's and hide miswiring.
    """
    return f"{logical_name}-{type_.split(':')[-1].lower()}-id"


def computed_outputs(args: pulumi_mocks.MockResourceArgs, region: str | None) -> dict[str, Any]:
    """Outputs AWS would compute, as placeholders that name their resource."""
    service = args.typ.split(":")[1].split("/")[0]
    name = args.inputs.get("name") or args.name
    outputs: dict[str, Any] = {}
    if args.typ not in _WITHOUT_ARN:
        outputs["arn"] = _arn(service, region, f"{args.typ.split(':')[-1].lower()}/{name}")
    extra = _TYPE_OUTPUTS.get(args.typ)
    if extra:
        outputs.update(extra(args.inputs, name, region))
    return outputs


# Types AWS gives no ARN (failover records share a name, so a made-up ARN would not even be unique).
_WITHOUT_ARN = frozenset({"aws:route53/record:Record"})

_TYPE_OUTPUTS: dict[str, Callable[[dict[str, Any], str, str | None], dict[str, Any]]] = {
    "aws:cloudwatch/logGroup:LogGroup": lambda i, n, r: {"arn": _arn("logs", r, f"log-group:{n}")},
    "aws:iam/role:Role": lambda i, n, r: {"arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:role/{n}", "name": n},
    "aws:kms/key:Key": lambda i, n, r: {"keyId": f"{n}-key-id", "arn": _arn("kms", r, f"key/{n}-key-id")},
    "aws:sns/topic:Topic": lambda i, n, r: {"arn": _arn("sns", r, n)},
    # Data tier. Endpoints carry the mock account id so they cannot be mistaken for real hosts.
    "aws:s3/bucket:Bucket": lambda i, n, r: {"arn": f"arn:aws:s3:::{i['bucket']}", "bucket": i["bucket"]},
    "aws:secretsmanager/secret:Secret": lambda i, n, r: {"arn": _arn("secretsmanager", r, f"secret:{n}-000000")},
    "aws:rds/globalCluster:GlobalCluster": lambda i, n, r: {
        "arn": f"arn:aws:rds::{MOCK_ACCOUNT_ID}:global-cluster:{i['globalClusterIdentifier']}",
        "endpoint": f"{i['globalClusterIdentifier']}.global-{MOCK_ACCOUNT_ID}.global.rds.amazonaws.com",
    },
    "aws:rds/cluster:Cluster": lambda i, n, r: {
        "arn": _arn("rds", r, f"cluster:{i['clusterIdentifier']}"),
        "endpoint": f"{i['clusterIdentifier']}.cluster-{MOCK_ACCOUNT_ID}.{r}.rds.amazonaws.com",
        "readerEndpoint": f"{i['clusterIdentifier']}.cluster-ro-{MOCK_ACCOUNT_ID}.{r}.rds.amazonaws.com",
        # AWS's is "cluster-" and upper-case characters; this one names its cluster.
        "clusterResourceId": f"cluster-MOCK{i['clusterIdentifier'].upper()}",
    },
    "aws:dynamodb/table:Table": lambda i, n, r: {
        "arn": _arn("dynamodb", r, f"table/{i['name']}"),
        "streamArn": _arn("dynamodb", r, f"table/{i['name']}/stream/mock-label"),
        "replicas": [
            {**replica, "streamArn": _arn("dynamodb", replica["regionName"], f"table/{i['name']}/stream/mock-label")}
            for replica in i.get("replicas") or []
        ],
    },
    "aws:rds/clusterInstance:ClusterInstance": lambda i, n, r: {"arn": _arn("rds", r, f"db:{i['identifier']}")},
    "aws:rds/clusterParameterGroup:ClusterParameterGroup": lambda i, n, r: {"arn": _arn("rds", r, f"cluster-pg:{n}")},
    "aws:rds/subnetGroup:SubnetGroup": lambda i, n, r: {"arn": _arn("rds", r, f"subgrp:{n}")},
    # A random id is only known once created; zeros mark the placeholder.
    "random:index/randomId:RandomId": lambda i, n, r: {"hex": "0" * 2 * int(i["byteLength"])},
    # Payment service (docs/service.md). Ids AWS generates are mock ids; zeros mark ACM's tokens.
    "aws:lambda/function:Function": lambda i, n, r: {
        "arn": _arn("lambda", r, f"function:{n}"),
        "invokeArn": f"arn:aws:apigateway:{r}:lambda:path/2015-03-31/functions/{_arn('lambda', r, f'function:{n}')}/invocations",
    },
    "aws:sqs/queue:Queue": lambda i, n, r: {
        "arn": _arn("sqs", r, n),
        "url": f"https://sqs.{r}.amazonaws.com/{MOCK_ACCOUNT_ID}/{n}",
    },
    "aws:apigateway/restApi:RestApi": lambda i, n, r: {
        "arn": f"arn:aws:apigateway:{r}::/restapis/{mock_id('aws:apigateway/restApi:RestApi', n)}",
        "executionArn": _arn("execute-api", r, mock_id("aws:apigateway/restApi:RestApi", n)),
        "rootResourceId": f"{n}-root-id",
    },
    # ACM gives one validation CNAME per domain and account, the same in every region.
    "aws:acm/certificate:Certificate": lambda i, n, r: {
        "arn": _arn("acm", r, f"certificate/{n}-id"),
        "domainValidationOptions": [
            {
                "domainName": i["domainName"],
                "resourceRecordName": f"_{'0' * 32}.{i['domainName']}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{'0' * 32}.mock.acm-validations.aws.",
            }
        ],
    },
    "aws:route53/record:Record": lambda i, n, r: {"fqdn": str(i.get("name", n)).rstrip(".")},
    "aws:apigateway/domainName:DomainName": lambda i, n, r: {
        "arn": f"arn:aws:apigateway:{r}::/domainnames/{i['domainName']}",
        "regionalDomainName": f"d-{MOCK_ACCOUNT_ID}.execute-api.{r}.amazonaws.com",
        "regionalZoneId": MOCK_APIGATEWAY_ZONE_ID,
    },
    # Failover (docs/failover.md): the probe's build, alarm and schedule, Route 53 health checks and zones.
    # The probe bundle exists only once `pulumi up` has run the build: unknown, as in a real first preview.
    "command:local:Command": lambda i, n, r: {"archive": rpc.UNKNOWN, "stdout": rpc.UNKNOWN, "stderr": rpc.UNKNOWN},
    "aws:cloudwatch/metricAlarm:MetricAlarm": lambda i, n, r: {"arn": _arn("cloudwatch", r, f"alarm:{n}")},
    "aws:cloudwatch/eventRule:EventRule": lambda i, n, r: {"arn": _arn("events", r, f"rule/{n}")},
    # Global: a health check's id is its mock id (it has no name), a zone's "<zone name>-zone-id".
    "aws:route53/healthCheck:HealthCheck": lambda i, n, r: {
        "arn": f"arn:aws:route53:::healthcheck/{mock_id('aws:route53/healthCheck:HealthCheck', n)}"
    },
    "aws:route53/zone:Zone": lambda i, n, r: {
        "zoneId": f"{n}-zone-id",
        "arn": f"arn:aws:route53:::hostedzone/{n}-zone-id",
        "nameServers": [],
    },
    "aws:iam/policy:Policy": lambda i, n, r: {"arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:policy/{n}"},
}

# Aurora PostgreSQL versions AWS no longer offers for new clusters: DescribeDBEngineVersions (without
# IncludeAll) does not list them, so `aws.rds.get_engine_version` answers "not found". This models
# what the real check answers as far as the sources go: of 13.x, cfn-lint's deprecated-version data
# (src/cfnlint/data/schemas/extensions/aws_rds_dbcluster/engine_version_deprecated.json, 2026-08)
# leaves only 13.9 and 13.23; 13.7 (the spec's version) is among the deprecated ones
# (docs/aws-facts.md, "Aurora engine versions"). Any version not listed is answered as available: the offline
# plan cannot know better, `pulumi up` asks AWS.
DEPRECATED_ENGINE_VERSIONS = {
    "aurora-postgresql": frozenset(
        [
            "13.3",
            "13.4",
            "13.5",
            "13.6",
            "13.7",
            "13.8",
            "13.10",
            "13.11",
            "13.12",
            "13.13",
            "13.14",
            "13.15",
            "13.16",
            "13.18",
            "13.20",
            "13.21",
            "13.22",
        ]
    ),
}


def _engine_version(args: dict[str, Any], region: str | None) -> Any:
    engine, version = args.get("engine"), args.get("version")
    if version in DEPRECATED_ENGINE_VERSIONS.get(engine, ()) and not args.get("includeAll"):
        # The provider's own error text (terraform-provider-aws data source rds_engine_version).
        return {}, [
            (
                "version",
                f"no RDS engine versions found: {{Engine: {engine}, EngineVersion: {version}}} (offline plan: deprecated, {region})",
            )
        ]
    major = str(version).split(".")[0]
    return {
        "engine": engine,
        "version": version,
        "versionActual": version,
        "status": "available",
        "parameterGroupFamily": f"{engine}{major}",
        "supportsGlobalDatabases": True,
        "id": version,
    }


def mock_invoke(token: str, args: dict[str, Any], region: str | None) -> dict[str, Any]:
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        return {
            "accountId": MOCK_ACCOUNT_ID,
            "arn": f"arn:aws:iam::{MOCK_ACCOUNT_ID}:user/offline-plan",
            "userId": "offline-plan",
            "id": MOCK_ACCOUNT_ID,
        }
    if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
        names = [f"{region}{letter}" for letter in "abc"]
        return {"names": names, "zoneIds": [f"{region}-az{i}" for i in (1, 2, 3)], "id": region, "groupNames": [region]}
    if token == "aws:route53/getZone:getZone":
        # The zone exists only in the real account: a placeholder id that cannot be mistaken for one.
        return {
            "zoneId": MOCK_ZONE_ID,
            "name": args.get("name"),
            "id": MOCK_ZONE_ID,
            "nameServers": [],
            "privateZone": False,
        }
    if token == "aws:rds/getEngineVersion:getEngineVersion":
        return _engine_version(args, region)
    raise NotImplementedError(f"the offline engine has no mock for invoke {token}: add one in plan/engine.py")


def _config_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def evaluate(
    raw_config: Mapping[str, Any],
    *,
    stack: str = "dev",
    preview: bool = True,
    records: list[ResourceRecord] | None = None,
) -> Evaluation:
    """Runs __main__.py once under the mock engine with the given config (keys without namespace).

    ``records``, when given, is filled as resources register, so a caller still sees what was
    declared when the program fails part way.
    """
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    mocks = _Mocks(computed_outputs)
    monitor = _RecordingMonitor(mocks)
    if records is not None:
        monitor.records = records
    pulumi.runtime.set_all_config({f"{PROJECT}:{k}": _config_value(v) for k, v in raw_config.items()})
    pulumi_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=monitor)
    _sync_await(run_pulumi_func(lambda: runpy.run_path(str(PROGRAM), run_name="__main__")))
    exported = pulumi.runtime.settings.get_root_resource().outputs
    outputs = _sync_await(pulumi.Output.from_input(exported).future())
    return Evaluation(resources=monitor.records, outputs=outputs or {}, invokes=mocks.invokes)


def stack_config(path: Path) -> dict[str, Any]:
    """The `payment-dr:` keys of a Pulumi.<stack>.yaml file, without the namespace."""
    import yaml

    document = yaml.safe_load(path.read_text()) or {}
    prefix = f"{PROJECT}:"
    return {k[len(prefix) :]: v for k, v in (document.get("config") or {}).items() if k.startswith(prefix)}
