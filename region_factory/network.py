"""The regional network: VPC, private and public subnets in three AZs, NAT, endpoints, flow logs."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from core import iam, naming
from core.config import NatMode
from region_factory.context import RegionContext

AZ_COUNT = 3


@dataclass(frozen=True)
class SubnetPlan:
    az: str
    private_cidr: str
    public_cidr: str


def plan_subnets(vpc_cidr: str, azs: list[str]) -> list[SubnetPlan]:
    """Private /20s from the bottom of a /16 (scaled for smaller VPCs), public /24s from the top."""
    vpc = ipaddress.ip_network(vpc_cidr)
    private = list(vpc.subnets(new_prefix=vpc.prefixlen + 4))
    public = list(vpc.subnets(new_prefix=vpc.prefixlen + 8))[-AZ_COUNT:]
    return [SubnetPlan(az, str(private[i]), str(public[i])) for i, az in enumerate(azs[:AZ_COUNT])]


def availability_zones(ctx: RegionContext) -> list[str]:
    zones = aws.get_availability_zones(
        state="available",
        filters=[aws.GetAvailabilityZonesFilterArgs(name="opt-in-status", values=["opt-in-not-required"])],
        opts=pulumi.InvokeOptions(provider=ctx.provider),
    )
    names = sorted(zones.names)
    if len(names) < AZ_COUNT:
        raise ValueError(
            f"{ctx.region} offers {len(names)} availability zones to this account ({', '.join(names)}); "
            f"the stack needs {AZ_COUNT}: choose another region in primaryRegion/secondaryRegions"
        )
    return names[:AZ_COUNT]


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    context: RegionContext
    kms_key_arn: pulumi.Input[str]  # encrypts the flow-log group


class Network(pulumi.ComponentResource):
    vpc: aws.ec2.Vpc
    subnet_plan: list[SubnetPlan]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_tables: list[aws.ec2.RouteTable]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("payment-dr:region:Network", name, None, opts)
        ctx = self.ctx = args.context
        self.subnet_plan = plan_subnets(ctx.spec.cidr, availability_zones(ctx))
        self.vpc = aws.ec2.Vpc(
            ctx.logical("vpc"),
            cidr_block=ctx.spec.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": ctx.name(naming.VPC)},
            opts=ctx.child_opts(self),
        )
        igw = aws.ec2.InternetGateway(
            ctx.logical("igw"),
            vpc_id=self.vpc.id,
            tags={"Name": ctx.name(naming.VPC, "igw")},
            opts=ctx.child_opts(self),
        )
        public_subnets = [self._public_subnet(p, igw) for p in self.subnet_plan]
        nat_ids = self._nat_gateways(public_subnets)
        private = [self._private_subnet(p, nat_ids[i % len(nat_ids)]) for i, p in enumerate(self.subnet_plan)]
        self.private_subnet_ids = [subnet.id for subnet, _ in private]
        self.private_route_tables = [table for _, table in private]
        self._gateway_endpoints()
        self._flow_logs(args.kms_key_arn)
        self.register_outputs({"vpcId": self.vpc.id, "privateSubnetIds": self.private_subnet_ids})

    def _public_subnet(self, plan: SubnetPlan, igw: aws.ec2.InternetGateway) -> aws.ec2.Subnet:
        ctx = self.ctx
        subnet = aws.ec2.Subnet(
            ctx.logical(f"public-{plan.az}"),
            vpc_id=self.vpc.id,
            cidr_block=plan.public_cidr,
            availability_zone=plan.az,
            map_public_ip_on_launch=False,
            tags={"Name": ctx.name(naming.PUBLIC_SUBNET, plan.az), "Tier": "public"},
            opts=ctx.child_opts(self),
        )
        table = aws.ec2.RouteTable(
            ctx.logical(f"public-{plan.az}"),
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={"Name": ctx.name(naming.PUBLIC_SUBNET, plan.az)},
            opts=ctx.child_opts(self),
        )
        aws.ec2.RouteTableAssociation(
            ctx.logical(f"public-{plan.az}"), subnet_id=subnet.id, route_table_id=table.id, opts=ctx.child_opts(self)
        )
        return subnet

    def _nat_gateways(self, public_subnets: list[aws.ec2.Subnet]) -> list[pulumi.Output[str]]:
        """One NAT per AZ keeps an AZ failure from cutting the others off; `single` is for test stacks."""
        ctx = self.ctx
        count = AZ_COUNT if ctx.cfg.nat_mode is NatMode.PER_AZ else 1
        ids = []
        for plan, subnet in list(zip(self.subnet_plan, public_subnets, strict=True))[:count]:
            eip = aws.ec2.Eip(
                ctx.logical(f"nat-{plan.az}"),
                domain="vpc",
                tags={"Name": ctx.name(naming.NAT_GATEWAY, plan.az)},
                opts=ctx.child_opts(self),
            )
            nat = aws.ec2.NatGateway(
                ctx.logical(f"nat-{plan.az}"),
                allocation_id=eip.id,
                subnet_id=subnet.id,
                tags={"Name": ctx.name(naming.NAT_GATEWAY, plan.az)},
                opts=ctx.child_opts(self),
            )
            ids.append(nat.id)
        return ids

    def _private_subnet(
        self, plan: SubnetPlan, nat_id: pulumi.Output[str]
    ) -> tuple[aws.ec2.Subnet, aws.ec2.RouteTable]:
        ctx = self.ctx
        subnet = aws.ec2.Subnet(
            ctx.logical(f"private-{plan.az}"),
            vpc_id=self.vpc.id,
            cidr_block=plan.private_cidr,
            availability_zone=plan.az,
            tags={"Name": ctx.name(naming.PRIVATE_SUBNET, plan.az), "Tier": "private"},
            opts=ctx.child_opts(self),
        )
        # Routes are separate resources (not inline) so that peering can add its routes later.
        table = aws.ec2.RouteTable(
            ctx.logical(f"private-{plan.az}"),
            vpc_id=self.vpc.id,
            tags={"Name": ctx.name(naming.PRIVATE_SUBNET, plan.az)},
            opts=ctx.child_opts(self),
        )
        aws.ec2.Route(
            ctx.logical(f"private-{plan.az}-default"),
            route_table_id=table.id,
            destination_cidr_block="0.0.0.0/0",
            nat_gateway_id=nat_id,
            opts=ctx.child_opts(self),
        )
        aws.ec2.RouteTableAssociation(
            ctx.logical(f"private-{plan.az}"), subnet_id=subnet.id, route_table_id=table.id, opts=ctx.child_opts(self)
        )
        return subnet, table

    def _gateway_endpoints(self) -> None:
        """S3 and DynamoDB traffic (receipts, audit logs, transactions) stays off the NAT: free and one hop fewer."""
        ctx = self.ctx
        for service in ("s3", "dynamodb"):
            aws.ec2.VpcEndpoint(
                ctx.logical(f"endpoint-{service}"),
                vpc_id=self.vpc.id,
                service_name=f"com.amazonaws.{ctx.region}.{service}",
                vpc_endpoint_type="Gateway",
                route_table_ids=[t.id for t in self.private_route_tables],
                tags={"Name": ctx.name(naming.VPC, f"{service}-endpoint")},
                opts=ctx.child_opts(self),
            )

    def _flow_logs(self, kms_key_arn: pulumi.Input[str]) -> None:
        ctx = self.ctx
        log_group = ctx.log_group("flow-logs", f"/aws/vpc/{ctx.name(naming.FLOW_LOGS)}", kms_key_arn, self)
        role = aws.iam.Role(
            ctx.logical("flow-logs"),
            name=ctx.name(naming.FLOW_LOGS_ROLE),
            assume_role_policy=iam.service_trust(
                "vpc-flow-logs.amazonaws.com", ctx.account_id, ctx.arn("ec2", "vpc-flow-log/*")
            ),
            opts=ctx.child_opts(self),
        )
        aws.iam.RolePolicy(
            ctx.logical("flow-logs"),
            role=role.id,
            policy=iam.document(
                iam.statement(
                    ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    [log_group.arn, log_group.arn.apply(lambda arn: f"{arn}:*")],
                ),
                # The flow-logs guide lists DescribeLogGroups among the role's minimum; without it delivery
                # can fail with an access error while the flow log itself is created. It lists groups, so
                # it cannot name one: read-only, on this account's groups in this region.
                iam.statement(["logs:DescribeLogGroups"], [ctx.arn("logs", "log-group:*")]),
            ),
            opts=ctx.child_opts(self),
        )
        aws.ec2.FlowLog(
            ctx.logical("flow-logs"),
            vpc_id=self.vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=log_group.arn,
            iam_role_arn=role.arn,
            max_aggregation_interval=60,
            tags={"Name": ctx.name(naming.FLOW_LOGS)},
            opts=ctx.child_opts(self),
        )
