"""The stack's policy rules, as plain functions over a resource's type and properties.

Two callers run them: the policy pack (``__main__.py`` next to this file, under
``pulumi preview --policy-pack policy``) and the offline plan (``plan/policies.py``, over the
records of the mock engine). This module imports neither Pulumi nor pulumi-aws: the pack runs in
its own virtualenv with only pulumi-policy installed.

Properties are pulumi-aws input names in camelCase. A value only known after apply is ``UNKNOWN``.
A rule never reports a value it cannot know yet (the pack runs again with known values during
``pulumi up``), but a property set to an unknown value counts as set: the ARN of a KMS key that is
being created is still a KMS key.

Resource rules are ``check(type_, props, *, name, config) -> [message]``; stack rules are
``check(resources, config) -> [(urn or None, message)]``. Every message names the resource and
what is wrong with it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

# What the offline engine records for a value only known after apply (plan/engine.py COMPUTED);
# the pack turns pulumi-policy's unknown sentinels into the same marker.
UNKNOWN = "<computed>"

REQUIRED_TAGS = ("Environment", "Region", "DR-Role")
SUFFIX_CONFIG = "environmentSuffix"
# The same alphabet the stack's config accepts for environmentSuffix (core/naming.py SUFFIX_PATTERN).
SUFFIX_SCHEMA = {
    "type": "string",
    "pattern": r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$|^[a-z]$",
    "description": "The stack's environmentSuffix: every physical name must carry it",
}
POSTGRES_PORT = 5432
LAG_METRIC = "AuroraGlobalDBReplicationLag"
MAX_LAG_MS = 1000  # the spec: alarm when Aurora replication lag exceeds 1 second (the metric is in ms)

BUCKET = "aws:s3/bucket:Bucket"
BUCKET_TYPES = frozenset({BUCKET, "aws:s3/bucketV2:BucketV2"})
VERSIONING_TYPES = frozenset(
    {"aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"}
)
SSE_TYPES = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    }
)
REPLICATION_TYPES = frozenset({"aws:s3/bucketReplicationConfig:BucketReplicationConfig"})
LOGGING_TYPES = frozenset({"aws:s3/bucketLogging:BucketLogging", "aws:s3/bucketLoggingV2:BucketLoggingV2"})
# S3 delivers server access logs only into buckets whose default encryption is SSE-S3
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/enable-server-access-logging.html).
ACCESS_LOG_ALGORITHM = "AES256"
METRIC_ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
RDS_CLUSTER = "aws:rds/cluster:Cluster"
TABLE = "aws:dynamodb/table:Table"
TABLE_REPLICA = "aws:dynamodb/tableReplica:TableReplica"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")

# Properties that hold a physical name. DNS names (records, zones, custom domains) are the
# operators' domain and cannot carry the suffix, so `domainName` is not one of them and Route 53
# records and zones are exempt.
NAME_PROPERTIES = (
    "name",
    "namePrefix",
    "bucket",
    "bucketPrefix",
    "functionName",
    "clusterIdentifier",
    "identifier",
    "globalClusterIdentifier",
    "finalSnapshotIdentifier",
    "alarmName",
    "dashboardName",
    "stageName",
)
NAME_EXEMPT_TYPES = frozenset({"aws:route53/record:Record", "aws:route53/zone:Zone"})
# Names AWS fixes (an HTTP API's auto-deployed stage is always `$default`).
RESERVED_NAMES = frozenset({"$default"})


@dataclass(frozen=True)
class Resource:
    """What a stack rule sees of one resource."""

    urn: str
    type: str
    name: str
    props: Mapping[str, Any]
    region: str | None = None
    dependencies: frozenset[str] = frozenset()
    # Per property: the URNs of the resources its value came from.
    property_dependencies: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def refs(self, prop: str, types: Iterable[str], index: Mapping[str, Resource]) -> list[Resource]:
        """The resources of the given types that property `prop` was built from."""
        wanted = set(types)
        found = (index.get(urn) for urn in sorted(self.property_dependencies.get(prop, ())))
        return [r for r in found if r is not None and r.type in wanted]


ResourceCheck = Callable[..., list[str]]
StackViolation = tuple[str | None, str]
StackCheck = Callable[[Sequence[Resource], Mapping[str, Any]], list[StackViolation]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    check: ResourceCheck
    config_schema: Mapping[str, Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck


# --- helpers --------------------------------------------------------------------------------


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value == UNKNOWN


def is_set(value: Any) -> bool:
    """Set to something (an unknown value counts: it is a reference still to be resolved)."""
    return value not in (None, "", [], {})


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _decoded(value: Any) -> Any:
    """Provider configuration arrives JSON-encoded (objects as strings)."""
    if isinstance(value, str) and value.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _label(type_: str, name: str) -> str:
    return f"{type_.rsplit(':', 1)[-1]} '{name}'"


def merge_default_tags(props: Mapping[str, Any], provider_props: Mapping[str, Any]) -> dict[str, Any]:
    """The props with ``tagsAll`` as pulumi-aws computes it before Check: the provider's
    ``defaultTags.tags``, then the resource's own ``tags``, minus ``ignoreTags`` keys and prefixes
    (pulumi/pulumi-aws provider/tags.go, applyTags). Unknown inputs make the result unknown."""
    default_tags = _dict(_decoded(provider_props.get("defaultTags"))).get("tags")
    ignore = _dict(_decoded(provider_props.get("ignoreTags")))
    own = props.get("tags")
    if is_unknown(default_tags) or is_unknown(own) or any(is_unknown(v) for v in _dict(own).values()):
        return {**props, "tagsAll": UNKNOWN}
    merged = {**_dict(default_tags), **_dict(own)}
    keys = set(_list(ignore.get("keys")))
    prefixes = tuple(_list(ignore.get("keyPrefixes")))
    merged = {k: v for k, v in merged.items() if k not in keys and not (prefixes and k.startswith(prefixes))}
    return {**props, "tagsAll": merged}


def policy_documents(props: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(where, parsed document) for every IAM policy document among the properties."""
    candidates = [("policy", props.get("policy")), ("assumeRolePolicy", props.get("assumeRolePolicy"))]
    for index, inline in enumerate(_list(props.get("inlinePolicies"))):
        candidates.append((f"inlinePolicies[{index}]", _dict(inline).get("policy")))
    documents = []
    for where, text in candidates:
        if not isinstance(text, str) or is_unknown(text):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, Mapping) and "Statement" in document:
            documents.append((where, document))
    return documents


def metrics(props: Mapping[str, Any]) -> set[tuple[Any, str]]:
    """(namespace, metric name) of what an alarm watches: its own metric and those of its metric queries."""
    found = {(props.get("namespace"), props.get("metricName"))}
    for query in _list(props.get("metricQueries")):
        metric = _dict(_dict(query).get("metric"))
        found.add((metric.get("namespace"), metric.get("metricName")))
    return {(namespace, name) for namespace, name in found if isinstance(name, str)}


def metric_names(props: Mapping[str, Any]) -> set[str]:
    return {name for _, name in metrics(props)}


# --- resource rules ----------------------------------------------------------------------------


def required_tags(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """Environment, Region and DR-Role on every taggable resource, counting provider default tags.

    ``tagsAll`` is what AWS gets (pulumi-aws fills it from the provider's default tags before the
    pack sees the resource); a resource with neither ``tags`` nor ``tagsAll`` is not taggable.
    """
    if "tagsAll" in props:
        tags = props["tagsAll"]
    elif "tags" in props:
        tags = props["tags"]
    else:
        return []
    if is_unknown(tags):
        return []
    tags = _dict(tags)
    missing = [key for key in REQUIRED_TAGS if not is_set(tags.get(key))]
    if not missing:
        return []
    return [
        f"{_label(type_, name)} is missing tag(s) {', '.join(missing)} (it has: {', '.join(sorted(tags)) or 'none'}); "
        "set them as default tags on the resource's provider (core/providers.py)"
    ]


def _suffix_token(suffix: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(suffix)}(?![a-z0-9])")


def names_carry_suffix(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """Every physical name contains the stack's environmentSuffix as a whole word (`-dev`, not `devices`)."""
    if type_ in NAME_EXEMPT_TYPES:
        return []
    suffix = (config or {}).get(SUFFIX_CONFIG)
    if not isinstance(suffix, str) or not suffix:
        return [
            f"{_label(type_, name)}: no {SUFFIX_CONFIG} to check names against; set it in the policy pack "
            f"config (--policy-pack-config) or as payment-dr:{SUFFIX_CONFIG} in the stack config"
        ]
    token = _suffix_token(suffix)
    # A property that refers to another resource (a bucket setting's `bucket`, an instance's
    # `clusterIdentifier`) holds that resource's name, which is checked on that resource; in a
    # preview of new resources such references are unknown.
    names = [(p, props.get(p)) for p in NAME_PROPERTIES] + [("tags.Name", _dict(props.get("tags")).get("Name"))]
    problems = []
    for prop, value in names:
        if not isinstance(value, str) or not value or is_unknown(value) or value in RESERVED_NAMES:
            continue
        if not token.search(value):
            problems.append(
                f"{_label(type_, name)}: {prop} '{value}' does not contain the environment suffix '{suffix}' "
                "(names are built as <base>-<suffix> by core/naming.py)"
            )
    return problems


def _require(label: str, props: Mapping[str, Any], prop: str, why: str) -> list[str]:
    return [] if is_set(props.get(prop)) else [f"{label}: {prop} is not set: {why}"]


def kms_encryption(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """Storage encrypted with a customer-managed KMS key: S3 default encryption, DynamoDB tables and
    their replicas, Aurora clusters, SNS topics, SQS queues, secrets and their replicas, log groups."""
    label = _label(type_, name)
    problems: list[str] = []
    if type_ in SSE_TYPES:
        # Which algorithm a bucket must use depends on whether it receives access logs: a stack rule
        # (buckets-encrypted-with-kms) decides. Here: a KMS rule names the region's key.
        rules = _list(props.get("rules"))
        if not rules:
            problems.append(f"{label}: no encryption rule")
        for index, rule in enumerate(rules):
            default = _dict(_dict(rule).get("applyServerSideEncryptionByDefault"))
            if default.get("sseAlgorithm") in KMS_ALGORITHMS and not is_set(default.get("kmsMasterKeyId")):
                problems.append(
                    f"{label}: rules[{index}] has no kmsMasterKeyId: objects would use the AWS-managed aws/s3 key, not the region's key"
                )
    elif type_ == TABLE:
        sse = _dict(props.get("serverSideEncryption"))
        if sse.get("enabled") is not True and not is_unknown(sse.get("enabled")):
            problems.append(f"{label}: serverSideEncryption.enabled is not true: the table would use an AWS-owned key")
        elif not is_set(sse.get("kmsKeyArn")):
            problems.append(
                f"{label}: serverSideEncryption.kmsKeyArn is not set: the table would use the AWS-managed key"
            )
        for replica in _list(props.get("replicas")):
            replica = _dict(replica)
            if not is_set(replica.get("kmsKeyArn")):
                problems.append(
                    f"{label}: the replica in {replica.get('regionName', '?')} has no kmsKeyArn (each replica needs its own region's key)"
                )
    elif type_ == TABLE_REPLICA:
        problems += _require(label, props, "kmsKeyArn", "the replica needs a key in its own region")
    elif type_ in (RDS_CLUSTER, "aws:rds/instance:Instance"):
        if props.get("storageEncrypted") is not True and not is_unknown(props.get("storageEncrypted")):
            problems.append(f"{label}: storageEncrypted is not true")
        problems += _require(
            label,
            props,
            "kmsKeyId",
            "storage would use the AWS-managed aws/rds key (an encrypted "
            "secondary needs its own region's key, "
            "https://github.com/hashicorp/terraform-provider-aws/issues/13715)",
        )
    elif type_ == "aws:rds/globalCluster:GlobalCluster":
        if (
            props.get("storageEncrypted") is not True
            and not is_unknown(props.get("storageEncrypted"))
            and not is_set(props.get("sourceDbClusterIdentifier"))
        ):
            problems.append(f"{label}: storageEncrypted is not true")
    elif type_ == TOPIC:
        problems += _require(label, props, "kmsMasterKeyId", "the topic must be encrypted with the region's KMS key")
    elif type_ == "aws:sqs/queue:Queue":
        problems += _require(
            label,
            props,
            "kmsMasterKeyId",
            "the queue must be encrypted with the region's KMS key (not SQS-managed SSE)",
        )
    elif type_ == "aws:cloudwatch/logGroup:LogGroup":
        problems += _require(label, props, "kmsKeyId", "the log group must be encrypted with the region's KMS key")
    elif type_ == "aws:secretsmanager/secret:Secret":
        problems += _require(label, props, "kmsKeyId", "the secret would use the AWS-managed aws/secretsmanager key")
        for replica in _list(props.get("replicas")):
            replica = _dict(replica)
            if not is_set(replica.get("kmsKeyId")):
                problems.append(f"{label}: the replica in {replica.get('region', '?')} has no kmsKeyId")
    return problems


def pitr_on_every_replica(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """Point-in-time recovery on every DynamoDB table and every one of its replicas."""
    label = _label(type_, name)
    problems = []
    if type_ == TABLE:
        enabled = _dict(props.get("pointInTimeRecovery")).get("enabled")
        if enabled is not True and not is_unknown(enabled):
            problems.append(f"{label}: pointInTimeRecovery.enabled is not true")
        for replica in _list(props.get("replicas")):
            replica = _dict(replica)
            if replica.get("pointInTimeRecovery") is not True and not is_unknown(replica.get("pointInTimeRecovery")):
                problems.append(
                    f"{label}: the replica in {replica.get('regionName', '?')} has pointInTimeRecovery off "
                    "(turning it on later recreates the replica, "
                    "https://github.com/hashicorp/terraform-provider-aws/issues/29222)"
                )
    elif (
        type_ == TABLE_REPLICA
        and props.get("pointInTimeRecovery") is not True
        and not is_unknown(props.get("pointInTimeRecovery"))
    ):
        problems.append(f"{label}: pointInTimeRecovery is not true")
    return problems


def _open_to_world(cidrs: Iterable[Any]) -> list[str]:
    return [c for c in cidrs if c in ("0.0.0.0/0", "::/0")]


def _covers_port(protocol: Any, from_port: Any, to_port: Any, port: int) -> bool:
    if str(protocol).lower() in ("-1", "all"):
        return True
    if str(protocol).lower() not in ("tcp", "6"):
        return False
    if is_unknown(from_port) or is_unknown(to_port) or from_port is None or to_port is None:
        return False
    return int(from_port) <= port <= int(to_port)


def no_public_database(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """No publicly accessible database instance, and no ingress from anywhere on PostgreSQL's port."""
    label = _label(type_, name)
    if type_.startswith("aws:rds/") and props.get("publiclyAccessible") is True:
        return [f"{label}: publiclyAccessible is true: the database must only be reachable inside the VPCs"]
    rules: list[tuple[str, Mapping[str, Any], list[Any]]] = []
    if type_ == "aws:ec2/securityGroup:SecurityGroup":
        for index, rule in enumerate(_list(props.get("ingress"))):
            rule = _dict(rule)
            rules.append((f"ingress[{index}]", rule, _list(rule.get("cidrBlocks")) + _list(rule.get("ipv6CidrBlocks"))))
    elif type_ == "aws:ec2/securityGroupRule:SecurityGroupRule" and props.get("type") == "ingress":
        rules.append(("rule", props, _list(props.get("cidrBlocks")) + _list(props.get("ipv6CidrBlocks"))))
    elif type_ == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        normalised = {**props, "protocol": props.get("ipProtocol")}
        rules.append(("rule", normalised, [props.get("cidrIpv4"), props.get("cidrIpv6")]))
    problems = []
    for where, rule, cidrs in rules:
        world = _open_to_world(cidrs)
        if world and _covers_port(rule.get("protocol"), rule.get("fromPort"), rule.get("toPort"), POSTGRES_PORT):
            problems.append(
                f"{label}: {where} allows {', '.join(world)} on port {POSTGRES_PORT} (PostgreSQL): "
                "only the peered VPCs' CIDRs and the stack's security groups may reach the database"
            )
    return problems


def _wildcard(value: Any) -> bool:
    return any(item == "*" for item in _list(value))


def no_wildcard_iam(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """No Allow statement with Action "*" on Resource "*" in any IAM or resource policy."""
    problems = []
    for where, document in policy_documents(props):
        for index, statement in enumerate(_list(document.get("Statement"))):
            statement = _dict(statement)
            if (
                statement.get("Effect", "Allow") == "Allow"
                and _wildcard(statement.get("Action"))
                and _wildcard(statement.get("Resource"))
            ):
                sid = f" ({statement['Sid']})" if statement.get("Sid") else ""
                problems.append(
                    f'{_label(type_, name)}: {where} statement {index}{sid} allows Action "*" on Resource "*": '
                    "least privilege means named actions on the stack's ARNs (core/iam.py)"
                )
    return problems


# --- stack rules ---------------------------------------------------------------------------------


def _index(resources: Sequence[Resource]) -> dict[str, Resource]:
    return {r.urn: r for r in resources}


def _stack_label(resource: Resource) -> str:
    return _label(resource.type, resource.name)


def _physical(resource: Resource, prop: str) -> str:
    """The physical name when known, with the logical name Pulumi shows."""
    value = resource.props.get(prop)
    return f"'{value}' ({resource.name})" if isinstance(value, str) and not is_unknown(value) else f"'{resource.name}'"


def _log_targets(resources: Sequence[Resource], index: Mapping[str, Resource]) -> dict[str, Resource]:
    """Buckets that receive server access logs, by URN."""
    return {
        b.urn: b
        for logging in resources
        if logging.type in LOGGING_TYPES
        for b in logging.refs("targetBucket", BUCKET_TYPES, index)
    }


def buckets_encrypted_with_kms(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[StackViolation]:
    """Every bucket has a default-encryption configuration with the region's KMS key (without one S3
    encrypts with SSE-S3, a key nobody here controls), except server access log targets, which must use
    SSE-S3: S3 does not deliver access logs into an SSE-KMS bucket, so the trail would silently stop."""
    index = _index(resources)
    log_targets = _log_targets(resources, index)
    configured: set[str] = set()
    problems: list[StackViolation] = []
    for sse in resources:
        if sse.type not in SSE_TYPES:
            continue
        for bucket in sse.refs("bucket", BUCKET_TYPES, index):
            configured.add(bucket.urn)
            for position, rule in enumerate(_list(sse.props.get("rules"))):
                algorithm = _dict(_dict(rule).get("applyServerSideEncryptionByDefault")).get("sseAlgorithm")
                if is_unknown(algorithm):
                    continue
                if bucket.urn in log_targets and algorithm != ACCESS_LOG_ALGORITHM:
                    problems.append(
                        (
                            sse.urn,
                            f"{_stack_label(sse)}: rules[{position}] sseAlgorithm is {algorithm!r} on "
                            f"{_stack_label(bucket)}, which receives server access logs: S3 delivers them "
                            f"only into {ACCESS_LOG_ALGORITHM} (SSE-S3) buckets",
                        )
                    )
                elif bucket.urn not in log_targets and algorithm not in KMS_ALGORITHMS:
                    problems.append(
                        (
                            sse.urn,
                            f"{_stack_label(sse)}: rules[{position}] sseAlgorithm is {algorithm!r}, not aws:kms "
                            f"(SSE-S3 keys are not ours to control), on {_stack_label(bucket)}",
                        )
                    )
    for bucket in resources:
        if bucket.type not in BUCKET_TYPES or bucket.urn in configured:
            continue
        inline = _list(_dict(bucket.props.get("serverSideEncryptionConfiguration")).get("rules"))
        if inline:
            continue  # the deprecated inline form; kms-encryption does not read it, so say so
        problems.append(
            (
                bucket.urn,
                f"{_stack_label(bucket)} has no BucketServerSideEncryptionConfiguration: "
                "S3 would encrypt it with SSE-S3 instead of the region's KMS key",
            )
        )
    return problems


def bucket_access_logging(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[StackViolation]:
    """Every bucket that does not itself hold access logs (the receipts and audit buckets) has S3 server
    access logging into a log bucket of this stack in its own region (S3 requires the same region), with a
    prefix, and that log bucket does not log to itself (an endless loop of log records)."""
    index = _index(resources)
    log_targets = _log_targets(resources, index)
    logged: dict[str, list[Resource]] = {}
    for logging in resources:
        if logging.type in LOGGING_TYPES:
            for bucket in logging.refs("bucket", BUCKET_TYPES, index):
                logged.setdefault(bucket.urn, []).append(logging)
    problems: list[StackViolation] = []
    for bucket in resources:
        if bucket.type not in BUCKET_TYPES:
            continue
        label = _stack_label(bucket)
        if bucket.urn in log_targets:
            if bucket.urn in logged:
                problems.append(
                    (
                        bucket.urn,
                        f"{label} receives server access logs and logs its own requests too: "
                        "every delivery would log another (S3 advises against it)",
                    )
                )
            continue
        configurations = logged.get(bucket.urn, [])
        if not configurations:
            problems.append(
                (
                    bucket.urn,
                    f"{label} has no BucketLogging: requests to its objects (receipts, audit "
                    "records) leave no access trail",
                )
            )
        for logging in configurations:
            targets = logging.refs("targetBucket", BUCKET_TYPES, index)
            if not targets:
                problems.append((logging.urn, f"{_stack_label(logging)}: targetBucket is not a bucket of this stack"))
            for target in targets:
                if target.region != bucket.region:
                    problems.append(
                        (
                            logging.urn,
                            f"{_stack_label(logging)}: logs {label} ({bucket.region}) into "
                            f"{_stack_label(target)} in {target.region}: S3 delivers only within a region",
                        )
                    )
            if not is_set(logging.props.get("targetPrefix")):
                problems.append(
                    (logging.urn, f"{_stack_label(logging)}: no targetPrefix: each bucket's logs need their own prefix")
                )
    return problems


def versioning_before_replication(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[StackViolation]:
    """A BucketReplicationConfig depends on an enabled BucketVersioning of its source bucket and of
    every destination bucket in the stack: S3 refuses replication until both sides are versioned,
    and without the dependency Pulumi may create them in either order."""
    index = _index(resources)
    versionings: dict[str, list[Resource]] = {}
    for versioning in resources:
        if versioning.type in VERSIONING_TYPES:
            for bucket in versioning.refs("bucket", BUCKET_TYPES, index):
                versionings.setdefault(bucket.urn, []).append(versioning)
    problems: list[StackViolation] = []
    for replication in resources:
        if replication.type not in REPLICATION_TYPES:
            continue
        label = _stack_label(replication)
        sources = replication.refs("bucket", BUCKET_TYPES, index)
        if not sources:
            problems.append(
                (
                    replication.urn,
                    f"{label}: its bucket is not a bucket of this stack, so its versioning cannot be checked",
                )
            )
        for role, buckets in (("source", sources), ("destination", replication.refs("rules", BUCKET_TYPES, index))):
            for bucket in buckets:
                candidates = versionings.get(bucket.urn, [])
                enabled = [
                    v
                    for v in candidates
                    if _dict(v.props.get("versioningConfiguration")).get("status") in ("Enabled", UNKNOWN)
                ]
                if not enabled:
                    problems.append(
                        (replication.urn, f"{label}: {role} bucket '{bucket.name}' has no enabled BucketVersioning")
                    )
                elif not any(v.urn in replication.dependencies for v in enabled):
                    problems.append(
                        (
                            replication.urn,
                            f"{label}: does not depend on the versioning of its {role} bucket "
                            f"'{bucket.name}' ({enabled[0].name}): add it to depends_on",
                        )
                    )
    return problems


def _sns_action(alarm: Resource, index: Mapping[str, Resource]) -> bool:
    actions = _list(alarm.props.get("alarmActions"))
    if any(isinstance(a, str) and a.startswith("arn:aws:sns:") for a in actions):
        return True
    return bool(alarm.refs("alarmActions", [TOPIC], index))


def lag_alarm(resources: Sequence[Resource], config: Mapping[str, Any]) -> list[StackViolation]:
    """An alarm on AuroraGlobalDBReplicationLag at <= 1000 ms with an SNS action, in every region
    that holds a member cluster of the global database (the roles swap on switchover, so every
    region needs one); a stack without any such alarm fails too."""
    index = _index(resources)
    alarms = [r for r in resources if r.type == METRIC_ALARM and LAG_METRIC in metric_names(r.props)]
    problems: list[StackViolation] = []
    good_regions = set()
    for alarm in alarms:
        label = _stack_label(alarm)
        threshold = alarm.props.get("threshold")
        operator = alarm.props.get("comparisonOperator")
        wrong = []
        if not is_unknown(threshold) and (not isinstance(threshold, (int, float)) or threshold > MAX_LAG_MS):
            wrong.append(f"threshold is {threshold!r} ms; it must be at most {MAX_LAG_MS} ms (1 second)")
        if not is_unknown(operator) and operator not in ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold"):
            wrong.append(f"comparisonOperator is {operator!r}: a lag alarm fires when lag rises above the threshold")
        if not _sns_action(alarm, index):
            wrong.append("no alarmActions publish to an SNS topic")
        if wrong:
            problems.append((alarm.urn, f"{label} (on {LAG_METRIC}): " + "; ".join(wrong)))
        else:
            good_regions.add(alarm.region)
    members = [r for r in resources if r.type == RDS_CLUSTER and is_set(r.props.get("globalClusterIdentifier"))]
    for region in sorted({m.region for m in members if m.region not in good_regions}, key=str):
        clusters = ", ".join(sorted(_physical(m, "clusterIdentifier") for m in members if m.region == region))
        problems.append(
            (
                None,
                f"no alarm on {LAG_METRIC} at <= {MAX_LAG_MS} ms with an SNS action in {region} "
                f"(Aurora cluster {clusters} is a global database member there)",
            )
        )
    if not alarms and not members:
        problems.append((None, f"the stack has no alarm on {LAG_METRIC} (threshold <= {MAX_LAG_MS} ms, SNS action)"))
    return problems


def aurora_iam_auth(
    type_: str, props: Mapping[str, Any], *, name: str = "resource", config: Mapping[str, Any] | None = None
) -> list[str]:
    """IAM database authentication on every Aurora cluster: application logins use short-lived IAM
    tokens and their own database roles, never a stored password (docs/db-probe.md)."""
    if type_ != RDS_CLUSTER:
        return []
    enabled = props.get("iamDatabaseAuthenticationEnabled")
    if enabled is True or is_unknown(enabled):
        return []
    return [
        f"{_label(type_, name)}: iamDatabaseAuthenticationEnabled is {enabled!r}: application logins (the probe, "
        "the ledger poster) need IAM database authentication"
    ]


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "required-tags",
        "Every taggable resource has Environment, Region and DR-Role tags (provider default tags count).",
        required_tags,
    ),
    ResourceRule(
        "names-carry-suffix",
        "Every physical name contains the stack's environmentSuffix.",
        names_carry_suffix,
        config_schema={SUFFIX_CONFIG: SUFFIX_SCHEMA},
    ),
    ResourceRule(
        "kms-encryption",
        "Storage (S3, DynamoDB, Aurora, SNS, SQS, Secrets Manager, CloudWatch Logs) is encrypted with a customer-managed KMS key.",
        kms_encryption,
    ),
    ResourceRule(
        "pitr-on-every-replica",
        "DynamoDB point-in-time recovery is on for every table and every replica.",
        pitr_on_every_replica,
    ),
    ResourceRule(
        "no-public-database",
        "No publicly accessible database and no 0.0.0.0/0 or ::/0 ingress on PostgreSQL's port.",
        no_public_database,
    ),
    ResourceRule("no-wildcard-iam", 'No policy statement allows Action "*" on Resource "*".', no_wildcard_iam),
    ResourceRule("aurora-iam-auth", "IAM database authentication is on for every Aurora cluster.", aurora_iam_auth),
)
STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "buckets-encrypted-with-kms",
        "Every S3 bucket has default encryption with a KMS key; server access log targets SSE-S3, the only kind S3 delivers logs into.",
        buckets_encrypted_with_kms,
    ),
    StackRule(
        "bucket-access-logging",
        "Every S3 bucket other than an access-log target has server access logging into a log bucket in its region, which does not log itself.",
        bucket_access_logging,
    ),
    StackRule(
        "versioning-before-replication",
        "Every S3 replication configuration depends on enabled versioning of its source and destination buckets.",
        versioning_before_replication,
    ),
    StackRule(
        "replication-lag-alarm",
        "An AuroraGlobalDBReplicationLag alarm at <= 1000 ms with an SNS action exists in every region with a member cluster.",
        lag_alarm,
    ),
)
