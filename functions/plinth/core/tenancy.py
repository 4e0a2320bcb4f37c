"""The tenancy boundary: a claim acts for the team of its management namespace, and no other.

Kubernetes RBAC lets a team write claims only in its own management namespace, so the
namespace is the one fact about a claim that no team can choose. Everything else a claim may
reach in a shared place is derived from it:

* its team: the one the platform lists for the namespace in `data.teams`, else the namespace
  itself when its name has no '-';
* every name Plinth derives in a shared place is `<team>` or begins with `<team>-` (namespaces
  on the workload clusters, IAM roles, S3 buckets, ECR and GitHub repositories, Argo CD
  objects, legacy cluster-scoped resources). Team names are prefix-free (no team's name
  followed by '-' begins another's), so two teams never derive the same name;
* hosts and certificates: under `<team>.<platform domain>` or a domain listed for the team;
* CIDRs on the shared transit gateway: inside the networks listed for the team.

A claim that reaches for what another team owns is refused with a message naming the owner.
docs/security.md is the threat model; tests/test_isolation.py proves the rules.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from plinth.api.platform import DEFAULT_RESERVED_NAMESPACES, PlatformConfig, within

TEAM_NAME_MAX = 30


class Refused(Exception):
    """The claim reaches for something its team does not own; the message names the owner."""


@dataclass(frozen=True)
class Team:
    """The team a claim acts for, with what the platform lets it use."""

    name: str
    namespace: str
    domains: tuple[str, ...] = ()
    networks: tuple[ipaddress.IPv4Network, ...] = ()

    def owns_name(self, name: str) -> bool:
        """True when `name` is one this team may derive: `<team>` or `<team>-...`."""
        return name == self.name or name.startswith(self.name + "-")


def _registered(platform: PlatformConfig) -> dict[str, str]:
    """Registered team name -> its management namespace."""
    return {t.name: t.management_namespace for t in platform.teams}


def owner_namespace(platform: PlatformConfig, team: str) -> str | None:
    """The management namespace that acts for `team`, or None when no namespace can."""
    registered = _registered(platform)
    if team in registered:
        return registered[team]
    if "-" in team or team in registered.values():
        return None
    return team


def describe(platform: PlatformConfig, team: str) -> str:
    namespace = owner_namespace(platform, team)
    if namespace is None:
        return f"team {team!r} (which no management namespace acts for)"
    return f"team {team!r} (management namespace {namespace!r})"


def team_of(platform: PlatformConfig, namespace: str) -> Team:
    """The team whose claims live in `namespace`; Refused when the namespace is no team's."""
    domain = platform.domain
    for t in platform.teams:
        if t.management_namespace == namespace:
            own = (f"{t.name}.{domain}",) if domain else ()
            return Team(
                t.name,
                namespace,
                own + tuple(t.domains),
                t.ip_networks,
            )
    hint = "the platform team lists it in data.teams of the platform EnvironmentConfig"
    if not namespace:
        raise Refused(
            "the composite has no claim namespace: Plinth composes claims in a team's namespace "
            "(a legacy composite created without a claim acts for no team)"
        )
    registered = _registered(platform)
    if namespace in registered:
        raise Refused(
            f"team {namespace!r} is registered to management namespace "
            f"{registered[namespace]!r}; claims in namespace {namespace!r} act for no team: {hint}"
        )
    reserved = set(platform.reserved_namespaces) | set(DEFAULT_RESERVED_NAMESPACES)
    if namespace in reserved or namespace.startswith("kube-"):
        raise Refused(
            f"namespace {namespace!r} is reserved for the platform: claims belong in a team's namespace"
        )
    if "-" in namespace or len(namespace) > TEAM_NAME_MAX:
        raise Refused(
            f"management namespace {namespace!r} is not a team's: a namespace is its team's name "
            f"only without '-' and within {TEAM_NAME_MAX} characters (so that <team>-<suffix> "
            f"names of two teams never collide); {hint}"
        )
    for name, ns in registered.items():
        if name.startswith(namespace + "-"):
            raise Refused(
                f"team {namespace!r} would begin the name of team {name!r} (management namespace "
                f"{ns!r}), so names derived for the two could collide; {hint} under another name"
            )
    return Team(namespace, namespace, (f"{namespace}.{domain}",) if domain else ())


def check_declared_team(platform: PlatformConfig, team: Team, declared: str | None) -> None:
    """`spec.team`, where a claim states it, must be the team of its namespace."""
    if declared is None or declared == team.name:
        return
    raise Refused(
        f"spec.team: {describe(platform, declared)} is not the team of namespace "
        f"{team.namespace!r}; claims in {team.namespace!r} act for team {team.name!r} "
        "(leave spec.team out, or set it to that)"
    )


def owner_of_name(platform: PlatformConfig, name: str) -> str:
    """The team whose derived names include `name`."""
    for t in platform.teams:
        if name == t.name or name.startswith(t.name + "-"):
            return t.name
    return name.split("-", 1)[0]


def check_name(platform: PlatformConfig, team: Team, name: str, what: str) -> None:
    if team.owns_name(name):
        return
    raise Refused(
        f"{what} {name!r} belongs to {describe(platform, owner_of_name(platform, name))}; "
        f"team {team.name!r} may use {team.name!r} and names beginning with '{team.name}-'"
    )


def owner_of_host(platform: PlatformConfig, host: str) -> str | None:
    for t in platform.teams:
        if any(within(host, d) for d in t.domains):
            return t.name
    domain = platform.domain
    if domain and host != domain and within(host, domain):
        return host[: -len(domain) - 1].rsplit(".", 1)[-1]
    return None


def check_host(platform: PlatformConfig, team: Team, host: str, what: str) -> None:
    """A host or certificate domain must lie within the team's domains."""
    if any(within(host, d) for d in team.domains):
        return
    owner = owner_of_host(platform, host)
    if owner is not None and owner != team.name:
        raise Refused(f"{what} {host!r} belongs to {describe(platform, owner)}")
    allowed = ", ".join(team.domains) or "none: the platform config has no base domain"
    raise Refused(
        f"{what} {host!r} is outside the domains of team {team.name!r} ({allowed}); the "
        "platform team adds domains in data.teams[].domains"
    )


def check_network(platform: PlatformConfig, team: Team, cidr: str, what: str) -> None:
    """A CIDR on the shared transit gateway must lie within the team's networks."""
    net = ipaddress.IPv4Network(cidr, strict=False)
    if any(net.subnet_of(n) for n in team.networks):
        return
    for t in platform.teams:
        if t.name == team.name:
            continue
        for other in t.networks:
            if net.overlaps(ipaddress.IPv4Network(other, strict=False)):
                raise Refused(
                    f"{what} {cidr} overlaps network {other} of {describe(platform, t.name)}"
                )
    allowed = ", ".join(str(n) for n in team.networks) or "none yet"
    raise Refused(
        f"{what} {cidr} is outside the networks the platform allocated to team {team.name!r} "
        f"({allowed}): every VPC on the shared transit gateway needs a range no other team "
        "uses; the platform team allocates them in data.teams[].networks"
    )
