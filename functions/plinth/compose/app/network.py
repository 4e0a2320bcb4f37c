"""Where the app's databases and caches live: in each account its environments use, subnet
groups on that account's private subnets, and per environment a security group that admits
only that environment's clusters."""

from __future__ import annotations

from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app.context import Context
from plinth.core.tenancy import Refused

DB_SUBNET_GROUP = "db-subnet-group"
CACHE_SUBNET_GROUP = "cache-subnet-group"


def db_subnet_group_crn(ctx: Context, env: Environment) -> str:
    """One per account (the home account's keeps its name of old)."""
    return DB_SUBNET_GROUP + ctx.suffix(env)


def cache_subnet_group_crn(ctx: Context, env: Environment) -> str:
    return CACHE_SUBNET_GROUP + ctx.suffix(env)


def security_group_crn(env: Environment) -> str:
    return f"security-group-{env.value}"


def ingress_crn(env: Environment, cluster: str, port: int) -> str:
    return f"security-group-{env.value}-from-{cluster}-{port}"


def ports(ctx: Context) -> list[int]:
    found = {5432 if d.engine.value == "postgres" else 3306 for d in ctx.spec.databases}
    if ctx.spec.caches:
        found.add(6379)
    return sorted(found)


def security_group_id(ctx: Context, env: Environment) -> str | None:
    if not ctx.ready(security_group_crn(env)):
        return None
    value = ctx.at(security_group_crn(env), "id")
    return value if isinstance(value, str) and value else None


def build(ctx: Context) -> None:
    if not ctx.spec.databases and not ctx.spec.caches:
        return
    envs = [e.name for e in ctx.spec.environments]
    groups: list[tuple[str, str]] = []
    if ctx.spec.databases:
        groups.append((DB_SUBNET_GROUP, "rds"))
    if ctx.spec.caches:
        groups.append((CACHE_SUBNET_GROUP, "elasticache"))
    by_account = ctx.accounts.groups(envs) if ctx.accounts is not None else {"": envs}
    for members in by_account.values():
        first = members[0]
        net, account = ctx.network(first), ctx.account(first)
        networks = {ctx.network(e) for e in members}
        if len(networks) > 1 and account is not None:
            raise Refused(
                f"environments {', '.join(e.value for e in members)} share an account but name "
                "different networks: their databases and caches share one subnet group per "
                "account, so give them one network"
            )
        for base, service in groups:
            crn = base + ctx.suffix(first)
            if net is None or account is None:
                ctx.out.wait(crn, ctx.network_wait(first))
                continue
            ctx.out.add(
                crn,
                aws.resource(
                    ctx.claim,
                    service,
                    "SubnetGroup",
                    name=ctx.name(crn),
                    labels=ctx.labels(),
                    region=account.region,
                    external_name=ctx.aws(f"{service}.SubnetGroup"),
                    provider_config=account.provider_config,
                    for_provider={
                        "description": f"private subnets of {ctx.repo_name}",
                        "subnetIds": list(net.subnet_ids),
                        "tags": ctx.tags(),
                    },
                ),
            )
    for env in envs:
        _security_group(ctx, env)


def _security_group(ctx: Context, env: Environment) -> None:
    crn = security_group_crn(env)
    net, account = ctx.network(env), ctx.account(env)
    if net is None or account is None:
        ctx.out.wait(crn, ctx.network_wait(env))
        return
    ctx.out.add(
        crn,
        aws.resource(
            ctx.claim,
            "ec2",
            "SecurityGroup",
            name=ctx.name(crn),
            labels=ctx.labels(env),
            region=account.region,
            provider_config=account.provider_config,
            for_provider={
                "name": ctx.aws("ec2.SecurityGroup", env.value, "data"),
                "description": f"{ctx.repo_name} {env.value} databases and caches: "
                f"only the {env.value} clusters",
                "vpcId": net.vpc_id,
                "revokeRulesOnDelete": True,
                "tags": ctx.tags(env),
            },
        ),
    )
    sg = security_group_id(ctx, env)
    clusters = {p.cluster.name: p.cluster for p in ctx.placements if p.environment is env}
    for cluster in clusters.values():
        if cluster.vpc_cidr is None:
            ctx.out.warnings.append(
                f"cluster {cluster.name} has no vpcCidr in the platform config: the "
                f"{env.value} databases and caches admit no traffic from it"
            )
            continue
        for port in ports(ctx):
            rule = ingress_crn(env, cluster.name, port)
            if sg is None:
                ctx.out.wait(rule, f"waiting for the {env.value} security group")
                continue
            ctx.out.add(
                rule,
                aws.resource(
                    ctx.claim,
                    "ec2",
                    "SecurityGroupIngressRule",
                    name=ctx.name(rule),
                    labels=ctx.labels(env),
                    region=account.region,
                    provider_config=account.provider_config,
                    for_provider={
                        "securityGroupId": sg,
                        "cidrIpv4": cluster.vpc_cidr,
                        "ipProtocol": "tcp",
                        "fromPort": port,
                        "toPort": port,
                        "description": f"from cluster {cluster.name}",
                        "tags": ctx.tags(env),
                    },
                ),
            )
