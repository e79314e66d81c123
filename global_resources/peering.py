"""Cross-region VPC peering, full mesh, with routes both ways and DNS resolution over peering.

Every pair of regions is peered, not only primary-secondary, so that after a failover the new
primary still reaches every other region. Cross-region peering cannot be auto-accepted by the
requester (https://github.com/hashicorp/terraform-provider-aws/issues/6706): an accepter resource in the peer region
accepts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import pulumi
import pulumi_aws as aws

from core import naming
from core.config import StackConfig
from region_factory.outputs import RegionalOutputs


@dataclass(frozen=True, kw_only=True)
class VpcPeeringArgs:
    cfg: StackConfig
    requester: RegionalOutputs
    accepter: RegionalOutputs


class VpcPeering(pulumi.ComponentResource):
    connection: aws.ec2.VpcPeeringConnection
    accepter: aws.ec2.VpcPeeringConnectionAccepter

    def __init__(self, name: str, args: VpcPeeringArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:global:VpcPeering", name, None, opts)
        requester, accepter = args.requester, args.accepter
        pair = f"{requester.region}-{accepter.region}"
        name = args.cfg.namer.qualified(naming.VPC_PEERING, pair)
        self.connection = aws.ec2.VpcPeeringConnection(
            f"peering-{pair}",
            vpc_id=requester.vpc_id,
            peer_vpc_id=accepter.vpc_id,
            peer_region=accepter.region,
            tags={"Name": name},
            opts=requester.context.opts(self),
        )
        self.accepter = aws.ec2.VpcPeeringConnectionAccepter(
            f"peering-{pair}-accept",
            vpc_peering_connection_id=self.connection.id,
            auto_accept=True,
            tags={"Name": name},
            opts=accepter.context.opts(self),
        )
        # DNS options can only be set once the connection is active, hence the accepter's id.
        aws.ec2.PeeringConnectionOptions(
            f"peering-{pair}-requester-dns",
            vpc_peering_connection_id=self.accepter.id,
            requester=aws.ec2.PeeringConnectionOptionsRequesterArgs(allow_remote_vpc_dns_resolution=True),
            opts=requester.context.opts(self),
        )
        aws.ec2.PeeringConnectionOptions(
            f"peering-{pair}-accepter-dns",
            vpc_peering_connection_id=self.accepter.id,
            accepter=aws.ec2.PeeringConnectionOptionsAccepterArgs(allow_remote_vpc_dns_resolution=True),
            opts=accepter.context.opts(self),
        )
        self._routes(requester, accepter)
        self._routes(accepter, requester)
        self.register_outputs({"peeringConnectionId": self.connection.id})

    def _routes(self, local: RegionalOutputs, remote: RegionalOutputs) -> None:
        for index, table_id in enumerate(local.private_route_table_ids):
            aws.ec2.Route(
                f"peering-{local.region}-to-{remote.region}-{index}",
                route_table_id=table_id,
                destination_cidr_block=remote.cidr,
                vpc_peering_connection_id=self.accepter.id,
                opts=local.context.opts(self),
            )


def peer_all(cfg: StackConfig, regions: list[RegionalOutputs], parent: pulumi.Resource) -> list[VpcPeering]:
    # Pairs are ordered by region name, not by DR role, so that swapping the primary in config
    # (a planned switchover) never replaces a peering connection.
    ordered = sorted(regions, key=lambda stack: stack.region)
    return [
        VpcPeering(
            f"peering-{a.region}-{b.region}",
            VpcPeeringArgs(cfg=cfg, requester=a, accepter=b),
            pulumi.ResourceOptions(parent=parent),
        )
        for a, b in combinations(ordered, 2)
    ]
