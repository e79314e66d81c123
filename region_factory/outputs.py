"""The one record a regional stack publishes: what the global layer may use of a region.

The global layer (global_resources/) links regions through this record only, never through a regional
component's attributes, so a reader sees in one place what crosses the boundary and a regional component
can change inside without the links noticing. ``RegionalStack`` fills it and publishes it with
``register_outputs`` (camelCase keys, ``published()``).

Values are the regional resources' Outputs themselves (not copies): a global resource that uses one
depends on the resource that produced it, as before. ``ready_*`` fields are resources to wait for where AWS
needs an order that no value carries (S3 refuses replication until both buckets are versioned).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import pulumi

from region_factory.context import RegionContext


@dataclass(frozen=True, kw_only=True)
class RegionalOutputs:
    # How to declare a resource in this region (config, region spec, provider, names); data, not a resource.
    context: RegionContext
    # --- network ---
    vpc_id: pulumi.Output[str]
    cidr: str
    availability_zones: tuple[str, ...]  # the private subnets' AZs, in subnet order
    private_subnet_ids: tuple[pulumi.Output[str], ...]
    private_route_table_ids: tuple[pulumi.Output[str], ...]
    # --- the region's customer managed key (storage, logs, topics, secrets' replicas, Aurora) ---
    kms_key_arn: pulumi.Output[str]
    # --- what the region's Aurora cluster needs (region_factory/database.py) ---
    db_subnet_group_name: pulumi.Output[str]
    db_security_group_id: pulumi.Output[str]
    db_parameter_group_name: pulumi.Output[str]
    db_monitoring_role_arn: pulumi.Output[str]
    # --- buckets, by kind (storage.KINDS) ---
    bucket_names: Mapping[str, pulumi.Output[str]]
    bucket_arns: Mapping[str, pulumi.Output[str]]
    ready_bucket_versionings: tuple[pulumi.Resource, ...]  # in storage.KINDS order
    # --- payment API: its function, REST API and stage (operators' smoke tests), its regional domain
    # (failover alias target) and the /health it answers on ---
    function_name: pulumi.Output[str]
    rest_api_id: pulumi.Output[str]
    api_stage_name: pulumi.Output[str]
    api_domain_name: pulumi.Output[str]
    api_domain_zone_id: pulumi.Output[str]
    health_check_fqdn: pulumi.Input[str]
    health_check_path: pulumi.Input[str]
    # --- database probe: its role (granted a login per cluster) and the alarms Route 53 reads ---
    probe_role_id: pulumi.Output[str]
    probe_alarm_name: pulumi.Output[str]
    probe_writable_alarm_name: pulumi.Output[str]
    # --- the region's failover topic (alarms, probe, drctl notices) ---
    failover_topic_arn: pulumi.Output[str]
    # --- ledger poster: what its stream mapping, login grants and egress need ---
    ledger_role_id: pulumi.Output[str]
    ledger_security_group_id: pulumi.Output[str]
    ledger_function_arn: pulumi.Output[str]
    ledger_failure_queue_arn: pulumi.Output[str]
    ledger_bundle: pulumi.Output[Any]  # the ledger code archive (the migrator runs the same code)
    ready_ledger_role_policy: pulumi.Resource  # the poster may read the stream once this exists

    @property
    def region(self) -> str:
        return self.context.region

    def published(self) -> dict[str, Any]:
        """The record as the stack's outputs (camelCase), without the context and the ordering-only resources."""
        values = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "context" and not f.name.startswith("ready_")
        }
        return {"region": self.region, **{_camel(k): _plain(v) for k, v in values.items()}}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value
