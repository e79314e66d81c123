"""Route 53 failover: three health checks per region, the API's failover records, and a private
failover name for the database writer. docs/failover.md explains it for operators.

Per region (keyed ``(region, kind)`` in ``health_checks``; tag Name ``payment-health-<kind>-<region>-<suffix>``,
which is how drctl finds them):

- ``api``: HTTPS on the region's own execute-api host and the stage's /health path (not the failover
  name, which would test whichever region DNS points at). /health answers 200 only when the region can
  take payments (docs/payment-validation.md). API Gateway alias records with Evaluate Target Health only
  catch API Gateway outages, hence our own check (https://docs.aws.amazon.com/apigateway/latest/developerguide/dns-failover.html).
- ``db``: CLOUDWATCH_METRIC on the region's probe alarm (region_factory/probe.py): Route 53's checkers
  cannot reach Aurora's private endpoints. No data counts as unhealthy.
- ``region``: CALCULATED, healthy only when both children are (threshold 2 of 2). The records use it.

Worst-case detection with the defaults (interval 10 s, threshold 3): the api check turns unhealthy
about 10 s x 3 = 30 s after the region stops answering (plus up to one interval before the first failed
check; Route 53 needs more than 18 % of its checkers to agree, docs/aws-facts.md). The db check follows the probe
alarm: at least 3 failed probes within one 60-second alarm period, so at worst ~2 periods (the outage
begins late in one minute and fills the next) plus CloudWatch's evaluation and Route 53 reading the
alarm state: about 2-3 minutes. Then resolvers keep the old answer for up to the record's TTL.

Records: the primary region's API custom domain is PRIMARY for ``domainName``; SECONDARY is an alias to
the nested name ``failover-1-<suffix>.<domainName>``, whose PRIMARY is the next region and whose
SECONDARY aliases ``failover-2-...``, and so on; the last level has only a PRIMARY. Every region record
carries its region's ``region`` check and Evaluate Target Health. With two regions this resolves exactly
like a PRIMARY/SECONDARY pair (one extra alias hop inside Route 53, free and invisible to clients), and
it keeps a rule of this stack: adding a region only adds records, never changes one that exists
(tests/infra/test_symmetry.py).

Role swap: health checks are keyed and named by region and do not change; the records are keyed by
their place in the chain and point that place at ``cfg.regions`` in config order, so swapping
primaryRegion updates the records in place (a set-identifier change is one DELETE+CREATE batch per
record, and no two records of one name ever share a set identifier or a failover type).

Only A records: the regional API Gateway custom domains are IPv4-only (no dualstack endpoint,
region_factory/api.py); an AAAA alias would answer nothing. Add AAAA when the domains go dualstack.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from core import naming
from core.config import StackConfig
from core.providers import Providers
from global_resources.aurora import AuroraGlobalDatabase
from region_factory import RegionalStack, SharedInputs

API, DB, REGION = "api", "db", "region"
KINDS = (API, DB, REGION)
HTTPS = 443
# Operators force a failover by inverting or disabling a check (drctl dns, docs/runbook.md); `pulumi up`
# during an incident must not undo that.
OPERATOR_OVERRIDES = ["invert_healthcheck", "disabled"]
WRITER_LABEL = "writer"


def chain_names(cfg: StackConfig) -> list[str]:
    """The DNS name of each level of the failover chain: level 0 is domainName itself."""
    return [cfg.domain_name] + [
        f"{cfg.namer.qualified(naming.FAILOVER_CHAIN_LABEL, str(level))}.{cfg.domain_name}" for level in range(1, len(cfg.regions))
    ]


def db_zone_name(cfg: StackConfig) -> str:
    return f"{cfg.namer(naming.DB_PRIVATE_ZONE_LABEL)}.{naming.PRIVATE_ZONE_PARENT}"


def db_writer_name(cfg: StackConfig) -> str:
    return f"{WRITER_LABEL}.{db_zone_name(cfg)}"


class Failover(pulumi.ComponentResource):
    health_checks: dict[tuple[str, str], aws.route53.HealthCheck]
    # (name, failover type) -> record, for the API chain and the database writer name.
    api_records: dict[tuple[str, str], aws.route53.Record]
    db_zone: aws.route53.Zone
    db_records: dict[str, aws.route53.Record]
    # (DNS name, region it serves as PRIMARY) for each level of the chain; the writer's private name.
    chain: list[tuple[str, str]]
    db_writer_name: str

    def __init__(
        self, cfg: StackConfig, providers: Providers, regions: dict[str, RegionalStack], aurora: AuroraGlobalDatabase,
        shared: SharedInputs, parent: pulumi.Resource, after: list[pulumi.Resource] | None = None,
    ):
        super().__init__("payment-dr:global:Failover", "failover", None, pulumi.ResourceOptions(parent=parent))
        self.cfg = cfg
        self.regions = regions
        # `after`: the planned switchover, so records follow the database's roles, never lead them.
        self.opts = pulumi.ResourceOptions(parent=self, provider=providers.global_, depends_on=after or [])
        self.chain = list(zip(chain_names(cfg), cfg.region_names))
        self.db_writer_name = db_writer_name(cfg)
        self.health_checks = {}
        for region in cfg.region_names:
            self._health_checks(region)
        self.api_records = self._api_chain(shared.hosted_zone_id)
        self.db_zone = self._db_zone()
        self.db_records = self._db_writer(aurora)
        self.register_outputs({
            "healthCheckIds": {f"{region}/{kind}": check.id for (region, kind), check in self.health_checks.items()},
            "dbPrivateZoneId": self.db_zone.zone_id,
        })

    def _check(self, region: str, kind: str, **args) -> aws.route53.HealthCheck:
        check = aws.route53.HealthCheck(
            f"health-{kind}-{region}",
            tags={"Name": self.cfg.namer.qualified(naming.HEALTH_CHECK, kind, region)},
            **args,
            opts=pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(ignore_changes=OPERATOR_OVERRIDES)),
        )
        self.health_checks[(region, kind)] = check
        return check

    def _health_checks(self, region: str) -> None:
        cfg = self.cfg
        stack = self.regions[region]
        api = self._check(
            region, API,
            type="HTTPS",
            fqdn=stack.service.health_check_fqdn,
            port=HTTPS,
            resource_path=stack.service.health_check_path,
            enable_sni=True,  # API Gateway serves by SNI; without it the TLS handshake fails
            # 10 or 30 s; Route 53 cannot change it on an existing check (a change replaces the check).
            request_interval=cfg.health_check_interval_seconds,
            failure_threshold=cfg.health_check_failure_threshold,
            measure_latency=True,
        )
        db = self._check(
            region, DB,
            type="CLOUDWATCH_METRIC",
            cloudwatch_alarm_name=stack.probe.alarm.name,
            cloudwatch_alarm_region=region,
            # A probe alarm without data is a probe that is not reporting: not healthy.
            insufficient_data_health_status="Unhealthy",
        )
        self._check(region, REGION, type="CALCULATED", child_healthchecks=[api.id, db.id], child_health_threshold=2)

    def _api_chain(self, zone_id: pulumi.Input[str]) -> dict[tuple[str, str], aws.route53.Record]:
        """Level k: PRIMARY -> region k's API domain; SECONDARY -> level k+1 (module docstring)."""
        names = chain_names(self.cfg)
        records = {}
        for level, region in enumerate(self.cfg.region_names):
            domain = self.regions[region].service.domain
            records[(names[level], "PRIMARY")] = self._failover_record(
                f"dns-api-{level}-primary", zone_id, names[level], "A", "PRIMARY", region,
                health_check_id=self.health_checks[(region, REGION)].id,
                aliases=[aws.route53.RecordAliasArgs(
                    name=domain.regional_domain_name, zone_id=domain.regional_zone_id, evaluate_target_health=True,
                )],
            )
            if level + 1 < len(names):
                nested = names[level + 1]
                records[(names[level], "SECONDARY")] = self._failover_record(
                    f"dns-api-{level}-secondary", zone_id, names[level], "A", "SECONDARY", nested.split(".", 1)[0],
                    # Healthy while any region further down the chain is: the nested name's own records decide.
                    aliases=[aws.route53.RecordAliasArgs(name=nested, zone_id=zone_id, evaluate_target_health=True)],
                )
        return records

    def _failover_record(self, logical: str, zone_id: pulumi.Input[str], name: str, type_: str, failover: str,
                         set_identifier: str, **args) -> aws.route53.Record:
        return aws.route53.Record(
            logical,
            zone_id=zone_id,
            name=name,
            type=type_,
            set_identifier=set_identifier,
            failover_routing_policies=[aws.route53.RecordFailoverRoutingPolicyArgs(type=failover)],
            **args,
            opts=self.opts,
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
            vpcs=[aws.route53.ZoneVpcArgs(vpc_id=self.regions[home].network.vpc.id, vpc_region=home)],
            opts=pulumi.ResourceOptions.merge(self.opts, pulumi.ResourceOptions(ignore_changes=["vpcs"])),
        )
        for region in sorted(cfg.region_names):
            if region != home:
                aws.route53.ZoneAssociation(
                    f"db-private-zone-{region}",
                    zone_id=zone.zone_id,
                    vpc_id=self.regions[region].network.vpc.id,
                    vpc_region=region,
                    opts=self.opts,
                )
        return zone

    def _db_writer(self, aurora: AuroraGlobalDatabase) -> dict[str, aws.route53.Record]:
        """writer.<zone>: PRIMARY -> the primary region's cluster endpoint, SECONDARY -> the next region's,
        each guarded by its region's db check. Set identifiers carry the slot and the region, so that a role
        swap changes each record in one batch without ever colliding with the other record's identifier.

        Prefer the global writer endpoint (exported as auroraGlobalWriterEndpoint): Aurora moves it to the
        new writer on switchover and failover, and its name is on the cluster's TLS certificate. This
        CNAME breaks TLS verify-full (docs/aws-facts.md, Aurora Global Database) and, on a failed primary, points at
        a cluster that stays read-only until the global database fails over (drctl failover)."""
        cfg = self.cfg
        records = {}
        for slot, spec in (("PRIMARY", cfg.primary), ("SECONDARY", cfg.secondaries[0])):
            records[slot] = self._failover_record(
                f"dns-db-writer-{slot.lower()}", self.db_zone.zone_id, db_writer_name(cfg), "CNAME", slot,
                f"{slot.lower()}-{spec.name}",
                ttl=cfg.dns_ttl_seconds,
                records=[aurora.clusters[spec.name].endpoint],
                health_check_id=self.health_checks[(spec.name, DB)].id,
            )
        return records
