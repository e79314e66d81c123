"""Each region's view of the replication links, declared by the global layer (it names the other regions):
the link alarms (``link_alarms``) and the region's dashboard (``dashboard_data``), both built from the tables
in region_factory/monitoring.py, in that region, with that region's provider (given by the caller)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from core import naming
from region_factory import dashboard
from region_factory.monitoring import MonitoringArgs, dashboard_data, declare_alarms, link_alarms


def dashboard_url(region: str, name: str) -> str:
    """The CloudWatch console page of a dashboard (the console's documented `#dashboards:name=` form)."""
    return f"https://console.aws.amazon.com/cloudwatch/home?region={region}#dashboards:name={name}"


class LinkMonitoring(pulumi.ComponentResource):
    """This region's view of the links: replication alarms per other region, and its dashboard."""

    alarms: dict[str, aws.cloudwatch.MetricAlarm]
    dashboard: aws.cloudwatch.Dashboard

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:LinkMonitoring", name, None, opts)
        ctx = args.context
        self.alarms = declare_alarms(ctx, link_alarms(ctx), args.topic_arn, self)
        # Every name in the body is known now, so it is plain JSON (no Output): a preview shows it whole.
        self.dashboard = aws.cloudwatch.Dashboard(
            ctx.logical("dashboard"),
            dashboard_name=ctx.name(naming.DASHBOARD),
            dashboard_body=json.dumps(dashboard.body(dashboard_data(ctx)), sort_keys=True),
            opts=ctx.child_opts(self),
        )
        self.register_outputs({"dashboardName": self.dashboard.dashboard_name})
