"""Where the app's databases and caches live: subnet groups on the account's private subnets and,
per environment, a security group that admits only that environment's clusters."""

from __future__ import annotations

from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app.context import Context

DB_SUBNET_GROUP = "db-subnet-group"
CACHE_SUBNET_GROUP = "cache-subnet-group"


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
    net, account = ctx.network, ctx.account
    groups = []
    if ctx.spec.databases:
        groups.append((DB_SUBNET_GROUP, "rds"))
    if ctx.spec.caches:
        groups.append((CACHE_SUBNET_GROUP, "elasticache"))
    wanted = [crn for crn, _ in groups] + [
        security_group_crn(e.name) for e in ctx.spec.environments
    ]
    if net is None or account is None:
        for crn in wanted:
            ctx.out.wait(crn, ctx.network_wait or ctx.account_wait)
        return
    labels, tags = ctx.labels(), ctx.tags()
    for crn, service in groups:
        ctx.out.add(
            crn,
            aws.resource(
                ctx.claim,
                service,
                "SubnetGroup",
                name=ctx.name(crn),
                labels=labels,
                region=account.region,
                external_name=ctx.aws(f"{service}.SubnetGroup"),
                provider_config=account.provider_config,
                for_provider={
                    "description": f"private subnets of {ctx.repo_name}",
                    "subnetIds": list(net.subnet_ids),
                    "tags": tags,
                },
            ),
        )
    for env in ctx.spec.environments:
        crn = security_group_crn(env.name)
        ctx.out.add(
            crn,
            aws.resource(
                ctx.claim,
                "ec2",
                "SecurityGroup",
                name=ctx.name(crn),
                labels=ctx.labels(env.name),
                region=account.region,
                provider_config=account.provider_config,
                for_provider={
                    "name": ctx.aws("ec2.SecurityGroup", env.name.value, "data"),
                    "description": f"{ctx.repo_name} {env.name.value} databases and caches: "
                    f"only the {env.name.value} clusters",
                    "vpcId": net.vpc_id,
                    "revokeRulesOnDelete": True,
                    "tags": ctx.tags(env.name),
                },
            ),
        )
        sg = security_group_id(ctx, env.name)
        clusters = {p.cluster.name: p.cluster for p in ctx.placements if p.environment is env.name}
        for cluster in clusters.values():
            if cluster.vpc_cidr is None:
                ctx.out.warnings.append(
                    f"cluster {cluster.name} has no vpcCidr in the platform config: the "
                    f"{env.name.value} databases and caches admit no traffic from it"
                )
                continue
            for port in ports(ctx):
                rule = ingress_crn(env.name, cluster.name, port)
                if sg is None:
                    ctx.out.wait(rule, f"waiting for the {env.name.value} security group")
                    continue
                ctx.out.add(
                    rule,
                    aws.resource(
                        ctx.claim,
                        "ec2",
                        "SecurityGroupIngressRule",
                        name=ctx.name(rule),
                        labels=ctx.labels(env.name),
                        region=account.region,
                        provider_config=account.provider_config,
                        for_provider={
                            "securityGroupId": sg,
                            "cidrIpv4": cluster.vpc_cidr,
                            "ipProtocol": "tcp",
                            "fromPort": port,
                            "toPort": port,
                            "description": f"from cluster {cluster.name}",
                            "tags": ctx.tags(env.name),
                        },
                    ),
                )
