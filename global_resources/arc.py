"""Optional Route 53 Application Recovery Controller routing controls (config ``routingControl: arc``).

One control panel on the team's existing cluster (``arcClusterArn``: the stack never creates a cluster, which
is billed by the hour whether it is used or not, docs/failover.md "Cost"), and one routing control per region.
global_resources/failover.py adds a RECOVERY_CONTROL health check per region as one more child of the
region's ``region`` check: a routing control turned off takes its region out of rotation, next to the
CloudWatch holds (which stay). ARC's data plane (the cluster's five regional endpoints) sets a control with
Route 53's control plane down.

The recovery-control configuration API is served from us-west-2 only ("you must specify the US West (Oregon)
Region when you work with ... recovery control configuration resources", ARC API reference,
https://docs.aws.amazon.com/recovery-cluster/latest/api/what-is-recovery-control.html): the controls are
declared with ``providers.arc``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import naming
from core.config import StackConfig
from core.providers import Providers


@dataclass(frozen=True, kw_only=True)
class RoutingControlsArgs:
    cfg: StackConfig
    providers: Providers  # the ARC control plane's (providers.arc)


class RoutingControls(pulumi.ComponentResource):
    control_panel: aws.route53recoverycontrol.ControlPanel
    controls: dict[str, aws.route53recoverycontrol.RoutingControl]

    def __init__(self, name: str, args: RoutingControlsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:RoutingControls", name, None, opts)
        cfg, providers = args.cfg, args.providers
        if providers.arc is None or not cfg.arc_cluster_arn:
            raise ValueError("routingControl=arc needs arcClusterArn and the ARC provider (core/providers.py)")
        opts = pulumi.ResourceOptions(parent=self, provider=providers.arc)
        self.control_panel = aws.route53recoverycontrol.ControlPanel(
            "arc-control-panel",
            cluster_arn=cfg.arc_cluster_arn,
            name=cfg.namer(naming.ARC_CONTROL_PANEL),
            opts=opts,
        )
        # Sorted by name: the controls do not depend on which region is primary.
        self.controls = {
            region: aws.route53recoverycontrol.RoutingControl(
                f"arc-routing-control-{region}",
                cluster_arn=cfg.arc_cluster_arn,
                control_panel_arn=self.control_panel.arn,
                name=cfg.namer(naming.ARC_ROUTING_CONTROL, region),
                opts=opts,
            )
            for region in sorted(cfg.region_names)
        }
        self.register_outputs(
            {
                "controlPanelArn": self.control_panel.arn,
                "routingControlArns": {region: control.arn for region, control in self.controls.items()},
            }
        )
