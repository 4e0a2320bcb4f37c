"""Phase 3: the VPC, its subnets, gateways and routes, and the transit gateway attachment."""

from __future__ import annotations

from typing import Any

from plinth.api.account import NatMode, Tier
from plinth.builders import aws
from plinth.compose.account.cidrs import DEFAULT_VPC_CIDR, ZONE_LETTERS, layout
from plinth.compose.account.context import Context, Planned
from plinth.core.bodies import Body
from plinth.core.composition import PlatformIncomplete
from plinth.core.tenancy import check_network

VPC = "vpc"
INTERNET_GATEWAY = "internet-gateway"
TGW_ATTACHMENT = "tgw-attachment"
ANYWHERE = "0.0.0.0/0"

# Subnet tags the AWS Load Balancer Controller reads to place load balancers.
_ELB_ROLE = {
    Tier.PUBLIC: {"kubernetes.io/role/elb": "1"},
    Tier.PRIVATE: {"kubernetes.io/role/internal-elb": "1"},
    Tier.ISOLATED: {},
}


def subnet_crn(tier: Tier, zone: str) -> str:
    return f"subnet-{tier.value}-{zone}"


def vpc_cidr(ctx: Context) -> str:
    return ctx.spec.network.cidr or DEFAULT_VPC_CIDR


def _cidr_slug(cidr: str) -> str:
    return cidr.replace(".", "-").replace("/", "-")


class _Builder:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.out: list[Planned] = []

    def add(
        self,
        crn: str,
        service: str,
        kind: str,
        for_provider: dict[str, Any],
        *,
        tagged: bool = True,
        after: tuple[str, ...] = (),
        after_reason: str = "",
        tags: dict[str, str] | None = None,
    ) -> Body:
        ctx = self.ctx
        fp = dict(for_provider)
        if tagged:
            fp["tags"] = ctx.tags(f"{ctx.claim.name}-{crn}", **(tags or {}))
        body = aws.resource(
            ctx.claim,
            service,
            kind,
            name=ctx.name(crn),
            labels=ctx.labels,
            region=ctx.region,
            for_provider=fp,
            provider_config=ctx.account_provider_config,
        )
        self.out.append(Planned(crn, body, after, after_reason))
        return body

    def route(
        self, crn: str, table: str, destination: str, target: dict[str, Any], **kw: Any
    ) -> None:
        fp = {"routeTableIdRef": self.ctx.ref(table), "destinationCidrBlock": destination, **target}
        self.add(crn, "ec2", "Route", fp, tagged=False, **kw)

    def associate(self, crn: str, table: str, subnet: str) -> None:
        fp = {"routeTableIdRef": self.ctx.ref(table), "subnetIdRef": self.ctx.ref(subnet)}
        self.add(crn, "ec2", "RouteTableAssociation", fp, tagged=False)


def build(ctx: Context) -> list[Planned]:
    net = ctx.spec.network
    b = _Builder(ctx)
    cidr = vpc_cidr(ctx)
    vpc_ref = {"vpcIdRef": ctx.ref(VPC)}
    b.add(
        VPC, "ec2", "VPC", {"cidrBlock": cidr, "enableDnsSupport": True, "enableDnsHostnames": True}
    )

    subnets = layout(cidr, list(net.tiers), net.availability_zones)
    zones = ZONE_LETTERS[: net.availability_zones]
    for s in subnets:
        b.add(
            subnet_crn(s.tier, s.zone),
            "ec2",
            "Subnet",
            {
                **vpc_ref,
                "cidrBlock": s.cidr,
                "availabilityZone": f"{ctx.region}{s.zone}",
                # Public subnets hold load balancers and NAT gateways; an instance that needs
                # a public address asks for one explicitly.
                "mapPublicIpOnLaunch": False,
            },
            tags={"plinth.dev/tier": s.tier.value, **_ELB_ROLE[s.tier]},
        )

    if Tier.PUBLIC in net.tiers:
        b.add(INTERNET_GATEWAY, "ec2", "InternetGateway", dict(vpc_ref))
        b.add("route-table-public", "ec2", "RouteTable", dict(vpc_ref))
        b.route(
            "route-public-internet",
            "route-table-public",
            ANYWHERE,
            {"gatewayIdRef": ctx.ref(INTERNET_GATEWAY)},
        )
        for z in zones:
            b.associate(f"rta-public-{z}", "route-table-public", subnet_crn(Tier.PUBLIC, z))

    nat = ctx.nat_mode
    nat_zones = {NatMode.NONE: "", NatMode.SINGLE: zones[:1], NatMode.PER_AZ: zones}[nat]
    for z in nat_zones:
        b.add(f"eip-nat-{z}", "ec2", "EIP", {"domain": "vpc"})
        b.add(
            f"nat-{z}",
            "ec2",
            "NATGateway",
            {
                "connectivityType": "public",
                "allocationIdRef": ctx.ref(f"eip-nat-{z}"),
                "subnetIdRef": ctx.ref(subnet_crn(Tier.PUBLIC, z)),
            },
        )

    if Tier.PRIVATE in net.tiers:
        for z in zones:
            # One table per zone whatever the NAT mode, so switching modes changes routes only.
            table = f"route-table-private-{z}"
            b.add(table, "ec2", "RouteTable", dict(vpc_ref))
            b.associate(f"rta-private-{z}", table, subnet_crn(Tier.PRIVATE, z))
            if nat_zones:
                gw = z if z in nat_zones else nat_zones[0]
                b.route(
                    f"route-private-{z}-internet",
                    table,
                    ANYWHERE,
                    {"natGatewayIdRef": ctx.ref(f"nat-{gw}")},
                )

    if Tier.ISOLATED in net.tiers:
        b.add("route-table-isolated", "ec2", "RouteTable", dict(vpc_ref))
        for z in zones:
            b.associate(f"rta-isolated-{z}", "route-table-isolated", subnet_crn(Tier.ISOLATED, z))

    if net.attach_transit_gateway:
        _transit_gateway(ctx, b, zones)
    return b.out


def _transit_gateway(ctx: Context, b: _Builder, zones: str) -> None:
    tgw = ctx.platform.transit_gateway
    if tgw is None:
        raise PlatformIncomplete("data.transitGateway (spec.network.attachTransitGateway is true)")
    if tgw.region != ctx.region:
        raise PlatformIncomplete(
            f"a transit gateway in {ctx.region} (data.transitGateway is in {tgw.region}; "
            "an account attaches only in the transit gateway's region)"
        )
    # Every team's VPCs route through the one gateway: a range another team uses (or a more
    # specific one inside it) would take that team's traffic.
    check_network(ctx.platform, ctx.claim.team, vpc_cidr(ctx), "network.cidr")
    b.add(
        TGW_ATTACHMENT,
        "ec2",
        "TransitGatewayVPCAttachment",
        {
            "transitGatewayId": tgw.id,
            "vpcIdRef": ctx.ref(VPC),
            "subnetIdRefs": [ctx.ref(subnet_crn(Tier.PRIVATE, z)) for z in zones],
            "dnsSupport": "enable",
        },
    )
    for z in zones:
        for dest in tgw.routes:
            b.route(
                f"route-private-{z}-tgw-{_cidr_slug(dest)}",
                f"route-table-private-{z}",
                dest,
                {"transitGatewayId": tgw.id},
                # AWS rejects a route to a transit gateway the VPC is not attached to yet.
                after=(TGW_ATTACHMENT,),
                after_reason="waiting for the transit gateway attachment to become available "
                "(the network team's account may have to accept it)",
            )
