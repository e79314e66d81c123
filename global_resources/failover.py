"""Route 53 failover: the health checks per region, the routing holds, the API's failover records, and a
private failover name for the database writer. docs/failover.md explains it for operators; core/routing.py
is the contract (names, metrics, semantics) this module shares with the canary, drctl and the simulation.

Per region (keyed ``(region, kind)`` in ``health_checks``; tag Name ``payment-health-<kind>-<region>-<suffix>``,
which is how drctl finds them):

- ``api``: HTTPS on the region's own execute-api host and the stage's /health path (not the failover
  name, which would test whichever region DNS points at). /health answers 200 only when the region can
  take payments (docs/payment-validation.md). API Gateway alias records with Evaluate Target Health only
  catch API Gateway outages, hence our own check
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/dns-failover.html).
- ``db``: CLOUDWATCH_METRIC on the region's probe reachability alarm (region_factory/probe.py): Route 53's
  checkers cannot reach Aurora's private endpoints. No data counts as unhealthy. It pages and feeds drctl;
  it routes nothing: a probe outage must never move payments.
- ``writer``: CLOUDWATCH_METRIC on the probe's writability alarm: guards the database writer's private name.
- ``region``: CALCULATED, healthy only when every child is: the region's ``api`` check and one ``hold``
  check per other region (and, with routingControl "arc", the region's routing-control check). The public
  records use it.

Holds (``hold_checks``/``hold_alarms``, keyed ``(held, holder)``): in every other region X, the alarm
``payment-routing-hold-<R>-<suffix>`` on ``RegionHeldOut{Region=R}``; R's hold check in X watches it
(Name ``payment-health-hold-<R>-<X>-<suffix>``). The canaries and drctl set holds with CloudWatch alone, so
Route 53's data plane acts on them with its control plane down; a hold lives in the holder region, so an
outage of R cannot erase the hold that keeps traffic away from R. A hold is a link between two regions and
is declared here with the holder's provider: adding a region only adds alarms and checks, and adds children
to each existing ``region`` check (tests/infra/test_symmetry.py).

Records: the primary region's API custom domain is PRIMARY for ``domainName``; SECONDARY is an alias to
the nested name ``failover-1-<suffix>.<domainName>``, whose PRIMARY is the next region and whose
SECONDARY aliases ``failover-2-...``, and so on; the last level has only a PRIMARY. Every region record
carries its region's ``region`` check and Evaluate Target Health. With two regions this resolves exactly
like a PRIMARY/SECONDARY pair (one extra alias hop inside Route 53, free and invisible to clients), and
it keeps a rule of this stack: adding a region only adds records, never changes one that exists
(tests/infra/test_symmetry.py). Route 53 refuses an alias to a name that has no records yet, so level k's
SECONDARY depends on level k+1's records: the first ``pulumi up`` creates the chain from its end.

Role swap: health checks are keyed and named by region and do not change; the records are keyed by
their place in the chain and point that place at ``cfg.regions`` in config order, so swapping
primaryRegion updates the records in place (a set-identifier change is one DELETE+CREATE batch per
record, and no two records of one name ever share a set identifier or a failover type).

Only A records: the regional API Gateway custom domains are IPv4-only (no dualstack endpoint,
region_factory/api.py); an AAAA alias would answer nothing. Add AAAA when the domains go dualstack.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import naming, routing
from core.config import StackConfig
from core.providers import Providers
from global_resources.arc import RoutingControls, RoutingControlsArgs
from region_factory import SharedInputs
from region_factory.alarms import AlarmSpec, declare_alarm
from region_factory.outputs import RegionalOutputs

API, DB, WRITER, REGION, HOLD = routing.API, routing.DB, routing.WRITER, routing.REGION, routing.HOLD
KINDS = routing.REGION_CHECK_KINDS
HTTPS = 443
# Operators force a failover by inverting or disabling a check (drctl dns, docs/runbook.md); `pulumi up`
# during an incident must not undo that.
OPERATOR_OVERRIDES = ["invert_healthcheck", "disabled"]
WRITER_LABEL = "writer"
# A hold that was never set has no data: LastKnownStatus then reports healthy ("For new health checks that
# have no last known status, the default status for the health check is healthy", Route 53 API reference,
# HealthCheckConfig InsufficientDataHealthStatus,
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html), and a hold that was
# set stays set if its alarm ever loses its data.
HOLD_INSUFFICIENT_DATA = "LastKnownStatus"
# What the missing-data setting of the hold alarm means: "ignore: the current alarm state is maintained"
# (CloudWatch User Guide, "Configuring how CloudWatch alarms treat missing data",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
# One datapoint of 1 holds the region out until a datapoint of 0 releases it, and nobody has to keep
# publishing; "breaching" would hold every region out while nobody publishes, "notBreaching" would release
# a hold one minute after it was set.
HOLD_MISSING_DATA = "ignore"


def chain_names(cfg: StackConfig) -> list[str]:
    """The DNS name of each level of the failover chain: level 0 is domainName itself."""
    return [cfg.domain_name] + [
        f"{cfg.namer.qualified(naming.FAILOVER_CHAIN_LABEL, str(level))}.{cfg.domain_name}"
        for level in range(1, len(cfg.regions))
    ]


def db_zone_name(cfg: StackConfig) -> str:
    return f"{cfg.namer(naming.DB_PRIVATE_ZONE_LABEL)}.{naming.PRIVATE_ZONE_PARENT}"


def db_writer_name(cfg: StackConfig) -> str:
    return f"{WRITER_LABEL}.{db_zone_name(cfg)}"


def hold_alarm_name(cfg: StackConfig, held: str) -> str:
    """The hold alarm on ``held``: the same name in every holder region (alarms are regional)."""
    return cfg.namer.qualified(naming.ROUTING_HOLD_ALARM, routing.hold_qualifier(held))


def hold_check_name(cfg: StackConfig, held: str, holder: str) -> str:
    return cfg.namer.qualified(naming.HEALTH_CHECK, routing.hold_qualifier(held), holder)


def holders(cfg: StackConfig, held: str) -> list[str]:
    """Every other region, by name (not by role: a role swap must not reorder a check's children)."""
    return sorted(region for region in cfg.region_names if region != held)


@dataclass(frozen=True, kw_only=True)
class FailoverArgs:
    cfg: StackConfig
    providers: Providers  # the global one (Route 53) and each region's (its hold alarms)
    regions: Mapping[str, RegionalOutputs]
    shared: SharedInputs  # the public hosted zone
    cluster_endpoints: Mapping[str, pulumi.Input[str]]  # region -> its Aurora cluster endpoint (the writer name)
    ready_switchover: Sequence[pulumi.Resource] = ()  # records change after the planned switchover


class Failover(pulumi.ComponentResource):
    health_checks: dict[tuple[str, str], aws.route53.HealthCheck]
    # (held region, holder region) -> the hold alarm in the holder region, and the check that watches it.
    hold_alarms: dict[tuple[str, str], aws.cloudwatch.MetricAlarm]
    hold_checks: dict[tuple[str, str], aws.route53.HealthCheck]
    routing_controls: RoutingControls | None
    # (name, failover type) -> record, for the API chain and the database writer name.
    api_records: dict[tuple[str, str], aws.route53.Record]
    db_zone: aws.route53.Zone
    db_records: dict[str, aws.route53.Record]
    # (DNS name, region it serves as PRIMARY) for each level of the chain; the writer's private name.
    chain: list[tuple[str, str]]
    db_writer_name: str

    def __init__(self, name: str, args: FailoverArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:Failover", name, None, opts)
        cfg = self.cfg = args.cfg
        providers = self.providers = args.providers
        self.regions = args.regions
        # The planned switchover, so records follow the database's roles, never lead them.
        self.after = list(args.ready_switchover)
        self.opts = pulumi.ResourceOptions(parent=self, provider=providers.global_, depends_on=self.after)
        self.chain = list(zip(chain_names(cfg), cfg.region_names, strict=True))
        self.db_writer_name = db_writer_name(cfg)
        self.health_checks, self.hold_alarms, self.hold_checks = {}, {}, {}
        self.routing_controls = (
            RoutingControls(
                "routing-controls",
                RoutingControlsArgs(cfg=cfg, providers=providers),
                pulumi.ResourceOptions(parent=self),
            )
            if cfg.routing_control == routing.ROUTING_CONTROL_ARC
            else None
        )
        for region in cfg.region_names:
            self._health_checks(region)
        self.api_records = self._api_chain(args.shared.hosted_zone_id)
        self.db_zone = self._db_zone()
        self.db_records = self._db_writer(args.cluster_endpoints)
        self.register_outputs(
            {
                "healthCheckIds": {
                    f"{region}/{kind}": check.id for (region, kind), check in self.health_checks.items()
                },
                "holdCheckIds": {f"{held}/{holder}": check.id for (held, holder), check in self.hold_checks.items()},
                "dbPrivateZoneId": self.db_zone.zone_id,
            }
        )

    def _check(self, logical: str, name: str, **args) -> aws.route53.HealthCheck:
        return aws.route53.HealthCheck(
            logical,
            tags={"Name": name},
            **args,
            opts=pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(ignore_changes=OPERATOR_OVERRIDES)),
        )

    def _region_check(self, region: str, kind: str, **args) -> aws.route53.HealthCheck:
        check = self._check(
            f"health-{kind}-{region}", self.cfg.namer.qualified(naming.HEALTH_CHECK, kind, region), **args
        )
        self.health_checks[(region, kind)] = check
        return check

    def _health_checks(self, region: str) -> None:
        cfg = self.cfg
        stack = self.regions[region]
        api = self._region_check(
            region,
            API,
            type="HTTPS",
            fqdn=stack.health_check_fqdn,
            port=HTTPS,
            resource_path=stack.health_check_path,
            enable_sni=True,  # API Gateway serves by SNI; without it the TLS handshake fails
            # 10 or 30 s; Route 53 cannot change it on an existing check (a change replaces the check).
            request_interval=cfg.health_check_interval_seconds,
            failure_threshold=cfg.health_check_failure_threshold,
            measure_latency=True,
        )
        self._region_check(
            region,
            DB,
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=stack.probe_alarm_name,
            cloudwatch_alarm_region=region,
            # A probe alarm without data is a probe that is not reporting: not healthy.
            insufficient_data_health_status="Unhealthy",
        )
        self._region_check(
            region,
            WRITER,
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=stack.probe_writable_alarm_name,
            cloudwatch_alarm_region=region,
            # Not known to accept writes: the writer name must not point here.
            insufficient_data_health_status="Unhealthy",
        )
        children = [api] + [self._hold(region, holder) for holder in holders(cfg, region)]
        if self.routing_controls:
            children.append(self._routing_control_check(region))
        # Threshold = every child: any hold (or the routing control off) takes the region out of rotation.
        self._region_check(
            region,
            REGION,
            type="CALCULATED",
            child_healthchecks=[child.id for child in children],
            child_health_threshold=len(children),
        )

    def _hold(self, held: str, holder: str) -> aws.route53.HealthCheck:
        """The alarm in ``holder`` that holds ``held`` out of rotation, and the check Route 53 reads it with."""
        cfg = self.cfg
        topic_arn = self.regions[holder].failover_topic_arn
        alarm = declare_alarm(
            AlarmSpec(
                key=routing.hold_qualifier(held),
                description=(
                    f"Region {held} held out of rotation (set from {holder}): traffic that left {held} stays away until "
                    f"`drctl failback` or `drctl dns --release` publishes {routing.HELD_OUT_METRIC}=0. docs/failover.md"
                ),
                namespace=routing.ROUTING_NAMESPACE,
                metric=routing.HELD_OUT_METRIC,
                dimensions={routing.HELD_OUT_DIMENSION: held},
                statistic=routing.HOLD_STATISTIC,
                period=routing.HOLD_PERIOD_SECONDS,
                comparison="GreaterThanOrEqualToThreshold",
                threshold=routing.HOLD_THRESHOLD,
                missing_data=HOLD_MISSING_DATA,
            ),
            logical=f"hold-{held}-in-{holder}",
            name=hold_alarm_name(cfg, held),
            # Pages "region held out" (and released) in the holder region, which is up when it holds.
            topic_arn=topic_arn,
            opts=pulumi.ResourceOptions(parent=self, provider=self.providers.for_region(holder)),
        )
        check = self._check(
            f"health-hold-{held}-{holder}",
            hold_check_name(cfg, held, holder),
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=alarm.name,
            cloudwatch_alarm_region=holder,
            insufficient_data_health_status=HOLD_INSUFFICIENT_DATA,
        )
        self.hold_alarms[(held, holder)] = alarm
        self.hold_checks[(held, holder)] = check
        return check

    def _routing_control_check(self, region: str) -> aws.route53.HealthCheck:
        assert self.routing_controls is not None
        return self._region_check(
            region,
            routing.ARC,
            type="RECOVERY_CONTROL",
            routing_control_arn=self.routing_controls.controls[region].arn,
        )

    def _api_chain(self, zone_id: pulumi.Input[str]) -> dict[tuple[str, str], aws.route53.Record]:
        """Level k: PRIMARY -> region k's API domain; SECONDARY -> level k+1 (module docstring). Built from the
        last level up, so that each SECONDARY can depend on the records of the name it aliases."""
        names = chain_names(self.cfg)
        records: dict[tuple[str, str], aws.route53.Record] = {}
        below: list[aws.route53.Record] = []  # the records of level k+1
        for level, region in reversed(list(enumerate(self.cfg.region_names))):
            stack = self.regions[region]
            level_records = []
            if below:
                nested = names[level + 1]
                records[(names[level], "SECONDARY")] = secondary = self._failover_record(
                    f"dns-api-{level}-secondary",
                    zone_id,
                    names[level],
                    "A",
                    "SECONDARY",
                    nested.split(".", 1)[0],
                    # Healthy while any region further down the chain is: the nested name's own records decide.
                    aliases=[aws.route53.RecordAliasArgs(name=nested, zone_id=zone_id, evaluate_target_health=True)],
                    # Route 53 rejects an alias to a name without records: create (and update) the next level first.
                    depends_on=below,
                )
                level_records.append(secondary)
            records[(names[level], "PRIMARY")] = primary = self._failover_record(
                f"dns-api-{level}-primary",
                zone_id,
                names[level],
                "A",
                "PRIMARY",
                region,
                health_check_id=self.health_checks[(region, REGION)].id,
                aliases=[
                    aws.route53.RecordAliasArgs(
                        name=stack.api_domain_name,
                        zone_id=stack.api_domain_zone_id,
                        evaluate_target_health=True,
                    )
                ],
            )
            below = [primary, *level_records]
        # In chain order, as readers expect (level 0 first).
        return {
            key: records[key] for name in names for key in ((name, "PRIMARY"), (name, "SECONDARY")) if key in records
        }

    def _failover_record(
        self,
        logical: str,
        zone_id: pulumi.Input[str],
        name: str,
        type_: str,
        failover: str,
        set_identifier: str,
        depends_on: list[pulumi.Resource] | None = None,
        **args,
    ) -> aws.route53.Record:
        return aws.route53.Record(
            logical,
            zone_id=zone_id,
            name=name,
            type=type_,
            set_identifier=set_identifier,
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=failover)],
            **args,
            opts=pulumi.ResourceOptions(
                parent=self, provider=self.providers.global_, depends_on=[*self.after, *(depends_on or [])]
            ),
        )

    def _db_zone(self) -> aws.route53.Zone:
        """A private zone every region's VPC resolves. Created with the data home region's VPC, which
        never follows primaryRegion; the others are separate associations, so a new region only adds one
        (the zone ignores `vpcs` changes, as the provider asks when associations are separate)."""
        cfg = self.cfg
        home = cfg.data_home_region
        zone = aws.route53.Zone(
            "db-private-zone",
            name=db_zone_name(cfg),
            comment=f"payment-dr {cfg.environment_suffix}: database writer failover name (docs/failover.md)",
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=self.regions[home].vpc_id, vpc_region=home)],
            opts=pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(ignore_changes=["vpcs"])),
        )
        for region in sorted(cfg.region_names):
            if region != home:
                aws.route53.ZoneAssociation(
                    f"db-private-zone-{region}",
                    zone_id=zone.zone_id,
                    vpc_id=self.regions[region].vpc_id,
                    vpc_region=region,
                    opts=self.opts,
                )
        return zone

    def _db_writer(self, cluster_endpoints: Mapping[str, pulumi.Input[str]]) -> dict[str, aws.route53.Record]:
        """writer.<zone>: PRIMARY -> the primary region's cluster endpoint, SECONDARY -> the next region's,
        each guarded by its region's `writer` check: healthy only while the probe finds that cluster the
        global database's writer and accepting writes, so after an unplanned failover and the old primary's
        return the name stays on the new writer. (With both unhealthy, Route 53 still answers rather than go
        silent: docs/failover.md.) Set identifiers carry the slot and the region, so that a role swap changes
        each record in one batch without ever colliding with the other record's identifier.

        Prefer the global writer endpoint (exported as auroraGlobalWriterEndpoint): Aurora moves it to the
        new writer on switchover and failover, and its name is on the cluster's TLS certificate. This
        CNAME breaks TLS verify-full (docs/failover.md), and while no cluster is the writer (a lost primary,
        before `drctl failover`) there is nothing writable for it to name."""
        cfg = self.cfg
        records = {}
        for slot, spec in (("PRIMARY", cfg.primary), ("SECONDARY", cfg.secondaries[0])):
            records[slot] = self._failover_record(
                f"dns-db-writer-{slot.lower()}",
                self.db_zone.zone_id,
                db_writer_name(cfg),
                "CNAME",
                slot,
                f"{slot.lower()}-{spec.name}",
                ttl=cfg.dns_ttl_seconds,
                records=[cluster_endpoints[spec.name]],
                health_check_id=self.health_checks[(spec.name, WRITER)].id,
            )
        return records
