"""Small synthetic stacks for the outage simulation: the routing contract of core/routing.py (api + hold
checks under a CALCULATED region check, hold alarms with missing data ignored, a canary per region, a writer
record on writability) and, for contrast, the design issue 13 replaces (region = api AND db probe)."""

from __future__ import annotations

import json
from typing import Any

from core import routing
from plan.engine import Evaluation, ResourceRecord
from tests.plan.helpers import evaluation, provider, record

HC = "aws:route53/healthCheck:HealthCheck"
RECORD = "aws:route53/record:Record"
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DOMAIN = "aws:apigateway/domainName:DomainName"
SUFFIX = "dev"
ZONE = "Z-PUBLIC"
PRIVATE_ZONE = "Z-PRIVATE"
PUBLIC = "api.example.com"
WRITER = "writer.db.internal"


def check_id(kind: str, region: str, holder: str | None = None) -> str:
    return f"health-{kind}-{region}{'-' + holder if holder else ''}-id"


def _check(
    on: ResourceRecord, kind: str, region: str, inputs: dict[str, Any], holder: str | None = None
) -> ResourceRecord:
    name = f"payment-health-{kind}-{region}-{holder + '-' if holder else ''}{SUFFIX}"
    return record(HC, check_id(kind, region, holder)[:-3], {**inputs, "tags": {"Name": name}}, on=on)


def _alarm(
    on: ResourceRecord,
    name: str,
    namespace: str,
    metric: str,
    dims: dict[str, str],
    *,
    statistic: str,
    comparison: str,
    threshold: float,
    missing: str,
    topic: str,
    period: int = 60,
    evaluations: int = 1,
) -> ResourceRecord:
    return record(
        ALARM,
        f"{name}-{on.region}",
        {
            "name": name,
            "namespace": namespace,
            "metricName": metric,
            "dimensions": dims,
            "statistic": statistic,
            "period": period,
            "evaluationPeriods": evaluations,
            "datapointsToAlarm": evaluations,
            "comparisonOperator": comparison,
            "threshold": threshold,
            "treatMissingData": missing,
            "alarmActions": [topic],
            "okActions": [topic],
        },
        on=on,
    )


def stack(
    regions: list[str], *, contract: bool = True, interval: int = 10, threshold: int = 3, **canary_env: str
) -> Evaluation:
    """The chain `regions` (primary first). ``contract=False``: the replaced design (no holds, no canary,
    region = api AND db, writer record on the db checks)."""
    glob = provider("us-east-1", "global")
    providers = {r: provider(r, "primary" if i == 0 else "secondary") for i, r in enumerate(regions)}
    resources: list[ResourceRecord] = [glob, *providers.values()]
    for region, on in providers.items():
        topic = f"arn:aws:sns:{region}:000000000000:payment-failover-events-{SUFFIX}"
        cluster = f"payment-db-{region}-{SUFFIX}"
        resources += [
            record(
                "aws:sns/topic:Topic",
                f"topic-{region}",
                {"name": f"payment-failover-events-{SUFFIX}"},
                on=on,
                outputs={"arn": topic},
            ),
            record(
                DOMAIN,
                f"domain-{region}",
                {"domainName": PUBLIC},
                on=on,
                outputs={"regionalDomainName": f"d-1.execute-api.{region}.amazonaws.com"},
            ),
            record(
                "aws:rds/cluster:Cluster",
                f"aurora-{region}",
                {"clusterIdentifier": cluster},
                on=on,
                outputs={"endpoint": f"{cluster}.cluster-0.{region}.rds.amazonaws.com"},
            ),
            record(
                "aws:lambda/function:Function",
                f"probe-{region}",
                {
                    "name": f"payment-db-probe-{SUFFIX}",
                    "environment": {
                        "variables": {
                            "METRIC_NAMESPACE": "PaymentDR/DatabaseProbe",
                            "PROBE_INTERVAL_SECONDS": "10",
                            "DB_CLUSTER_IDENTIFIER": cluster,
                        }
                    },
                },
                on=on,
            ),
            _alarm(
                on,
                f"payment-db-reachable-{SUFFIX}",
                "PaymentDR/DatabaseProbe",
                "DatabaseReachable",
                {"ClusterIdentifier": cluster},
                statistic="Average",
                comparison="LessThanThreshold",
                threshold=0.5833,
                missing="breaching",
                topic=topic,
            ),
            _check(
                glob,
                "api",
                region,
                {
                    "type": "HTTPS",
                    "fqdn": f"api-{region}.execute-api.{region}.amazonaws.com",
                    "requestInterval": interval,
                    "failureThreshold": threshold,
                },
            ),
            _check(
                glob,
                "db",
                region,
                {
                    "type": "CLOUDWATCH_METRIC",
                    "cloudwatchAlarmName": f"payment-db-reachable-{SUFFIX}",
                    "cloudwatchAlarmRegion": region,
                    "insufficientDataHealthStatus": "Unhealthy",
                },
            ),
        ]
        if not contract:
            resources.append(
                _check(
                    glob,
                    "region",
                    region,
                    {
                        "type": "CALCULATED",
                        "childHealthThreshold": 2,
                        "childHealthchecks": [check_id("api", region), check_id("db", region)],
                    },
                )
            )
            continue
        holds = [h for h in regions if h != region]
        resources += [
            _alarm(
                on,
                f"payment-db-writable-{SUFFIX}",
                "PaymentDR/DatabaseProbe",
                routing.WRITABLE_METRIC,
                {"ClusterIdentifier": cluster},
                statistic="Maximum",
                comparison="LessThanThreshold",
                threshold=1,
                missing="breaching",
                topic=topic,
            ),
            _check(
                glob,
                "writer",
                region,
                {
                    "type": "CLOUDWATCH_METRIC",
                    "cloudwatchAlarmName": f"payment-db-writable-{SUFFIX}",
                    "cloudwatchAlarmRegion": region,
                    "insufficientDataHealthStatus": "Unhealthy",
                },
            ),
            record(
                "aws:lambda/function:Function",
                f"canary-{region}",
                {
                    "name": f"payment-canary-{SUFFIX}",
                    "environment": {
                        "variables": {
                            "CANARY_NAMESPACE": routing.CANARY_NAMESPACE,
                            "INTERVAL_SECONDS": str(routing.CANARY_INTERVAL_SECONDS),
                            "ROUNDS": "6",
                            "CHAIN": ",".join(regions),
                            "FAILURE_THRESHOLD": str(threshold),
                            "TARGETS": json.dumps(
                                {t: f"https://{t}/health" for t in (*regions, routing.PUBLIC_TARGET)}
                            ),
                            "ROUTING_NAMESPACE": routing.ROUTING_NAMESPACE,
                            "CLOUDWATCH_ALARMS": json.dumps({r: f"payment-db-reachable-{SUFFIX}" for r in regions}),
                            **canary_env,
                        }
                    },
                },
                on=on,
            ),
            *[
                _alarm(
                    on,
                    f"payment-canary-{target}-{SUFFIX}",
                    routing.CANARY_NAMESPACE,
                    routing.CANARY_METRIC,
                    {routing.CANARY_DIMENSION: target},
                    statistic="Minimum",
                    comparison="LessThanThreshold",
                    threshold=1,
                    missing="breaching",
                    topic=topic,
                )
                for target in (*holds, routing.PUBLIC_TARGET, *map(routing.cloudwatch_target, holds))
            ],
        ]
        for held in holds:  # the holds of the *other* regions live here, in `region`
            resources += [
                _alarm(
                    on,
                    f"payment-routing-hold-{held}-{SUFFIX}",
                    routing.ROUTING_NAMESPACE,
                    routing.HELD_OUT_METRIC,
                    {routing.HELD_OUT_DIMENSION: held},
                    statistic="Maximum",
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=routing.HELD,
                    missing="ignore",
                    topic=topic,
                ),
                _check(
                    glob,
                    "hold",
                    held,
                    {
                        "type": "CLOUDWATCH_METRIC",
                        "cloudwatchAlarmName": f"payment-routing-hold-{held}-{SUFFIX}",
                        "cloudwatchAlarmRegion": region,
                        "insufficientDataHealthStatus": "LastKnownStatus",
                    },
                    holder=region,
                ),
            ]
    if contract:
        for region in regions:
            children = [check_id("api", region)] + [
                check_id("hold", region, holder) for holder in regions if holder != region
            ]
            resources.append(
                _check(
                    glob,
                    "region",
                    region,
                    {"type": "CALCULATED", "childHealthchecks": children, "childHealthThreshold": len(children)},
                )
            )
    names = [PUBLIC] + [f"failover-{level}.{PUBLIC}" for level in range(1, len(regions))]
    for level, region in enumerate(regions):
        resources.append(
            record(
                RECORD,
                f"dns-{level}-primary",
                {
                    "zoneId": ZONE,
                    "name": names[level],
                    "type": "A",
                    "setIdentifier": region,
                    "failoverRoutingPolicies": [{"type": "PRIMARY"}],
                    "healthCheckId": check_id("region", region),
                    "aliases": [
                        {
                            "name": f"d-1.execute-api.{region}.amazonaws.com",
                            "zoneId": "Z-APIGW",
                            "evaluateTargetHealth": True,
                        }
                    ],
                },
                on=glob,
            )
        )
        if level + 1 < len(regions):
            resources.append(
                record(
                    RECORD,
                    f"dns-{level}-secondary",
                    {
                        "zoneId": ZONE,
                        "name": names[level],
                        "type": "A",
                        "setIdentifier": f"failover-{level + 1}",
                        "failoverRoutingPolicies": [{"type": "SECONDARY"}],
                        "aliases": [{"name": names[level + 1], "zoneId": ZONE, "evaluateTargetHealth": True}],
                    },
                    on=glob,
                )
            )
    guard = "writer" if contract else "db"
    for slot, region in (("PRIMARY", regions[0]), ("SECONDARY", regions[1])):
        resources.append(
            record(
                RECORD,
                f"dns-writer-{slot.lower()}",
                {
                    "zoneId": PRIVATE_ZONE,
                    "name": WRITER,
                    "type": "CNAME",
                    "ttl": 60,
                    "setIdentifier": f"{slot.lower()}-{region}",
                    "failoverRoutingPolicies": [{"type": slot}],
                    "healthCheckId": check_id(guard, region),
                    "records": [f"payment-db-{region}-{SUFFIX}.cluster-0.{region}.rds.amazonaws.com"],
                },
                on=glob,
            )
        )
    return evaluation(*resources)
