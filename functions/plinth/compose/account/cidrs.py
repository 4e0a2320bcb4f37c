"""The subnet layout: which CIDR each tier gets in each availability zone.

The VPC is cut into quarters. The first three quarters are the private subnets of zones a, b
and c (workloads need the most addresses). The last quarter is cut into eighths: public
subnets take the first three, isolated subnets the three starting at the fifth.

A subnet's CIDR depends only on the VPC CIDR, its tier and its zone, never on which other
tiers or zones exist: adding a tier or a third zone later never moves an existing subnet
(moving one would make AWS replace it, and everything in it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from plinth.api.account import Tier

DEFAULT_VPC_CIDR = "10.0.0.0/16"
ZONE_LETTERS = "abc"

# (extra prefix bits, index of the block) per tier and zone index.
_PRIVATE_BITS = 2
_SMALL_BITS = 5
_PUBLIC_FIRST = 24  # /+5 blocks 24..26 = the first three eighths of the last quarter
_ISOLATED_FIRST = 28  # blocks 28..30 = the fifth to seventh eighths of the last quarter


@dataclass(frozen=True)
class Subnet:
    tier: Tier
    zone: str  # the zone letter: a, b, c
    cidr: str

    @property
    def key(self) -> str:
        return f"{self.tier.value}-{self.zone}"


def subnet_cidr(vpc_cidr: str, tier: Tier, zone_index: int) -> str:
    return _subnet(ipaddress.IPv4Network(vpc_cidr), tier, zone_index)


def _subnet(vpc: ipaddress.IPv4Network, tier: Tier, zone_index: int) -> str:
    if not 0 <= zone_index < len(ZONE_LETTERS):
        raise ValueError(f"zone index {zone_index} is out of range 0..{len(ZONE_LETTERS) - 1}")
    if tier is Tier.PRIVATE:
        bits, index = _PRIVATE_BITS, zone_index
    elif tier is Tier.PUBLIC:
        bits, index = _SMALL_BITS, _PUBLIC_FIRST + zone_index
    else:
        bits, index = _SMALL_BITS, _ISOLATED_FIRST + zone_index
    size = vpc.num_addresses >> bits
    start = int(vpc.network_address) + index * size
    # A multiple of its size past the VPC's own start: a network address, as the VPC's is.
    return f"{ipaddress.IPv4Address(start)}/{vpc.prefixlen + bits}"


def layout(vpc_cidr: str, tiers: list[Tier], zones: int) -> list[Subnet]:
    """Every subnet of the VPC, ordered by tier (as listed) then zone."""
    vpc = ipaddress.IPv4Network(vpc_cidr)
    return [
        Subnet(tier, ZONE_LETTERS[z], _subnet(vpc, tier, z)) for tier in tiers for z in range(zones)
    ]
