"""Per cache and environment an ElastiCache replication group in the private subnets, encrypted in
transit and at rest, that admits the app through IAM authentication.

IAM authentication instead of an auth token: the app signs a short-lived token with its own
Pod Identity role (`elasticache:Connect`), so there is no password to generate, store, rotate or
pass through any cluster. The user group holds the app's IAM user and a disabled `default`
user (ElastiCache requires a user named default in every group).

Phases: the user group waits for its users; the replication group for the user group, the
subnet group and the environment's security group.
"""

from __future__ import annotations

from plinth.api.app import Cache, CacheEngine, Size
from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app import network
from plinth.compose.app.context import Context, Contribution

NODE_TYPE = {
    Size.SMALL: "cache.t4g.small",
    Size.MEDIUM: "cache.m7g.large",
    Size.LARGE: "cache.r7g.xlarge",
}
ENGINE_VERSION = {CacheEngine.VALKEY: "8.0", CacheEngine.REDIS: "7.1"}
PORT = 6379


def crn(env: Environment, cache: Cache, part: str = "") -> str:
    return "-".join(p for p in ("cache", env.value, cache.name, part) if p)


def key(cache: Cache) -> str:
    return "CACHE_" + cache.name.upper().replace("-", "_")


def user_id(ctx: Context, env: Environment, cache: Cache, default: bool = False) -> str:
    return ctx.aws("elasticache.User", env.value, cache.name, "default" if default else "app")


def group_id(ctx: Context, env: Environment, cache: Cache) -> str:
    return ctx.aws("elasticache.UserGroup", env.value, cache.name)


def build(ctx: Context) -> Contribution:
    out = Contribution()
    for env in ctx.spec.environments:
        for cache in ctx.spec.caches:
            _one(ctx, env.name, cache, out)
    return out


def _one(ctx: Context, env: Environment, cache: Cache, out: Contribution) -> None:
    account = ctx.account(env)
    parts = ("user", "default-user", "user-group", "")
    if account is None or ctx.network(env) is None:
        for part in parts:
            ctx.out.wait(crn(env, cache, part), ctx.network_wait(env))
        return
    labels, tags = ctx.labels(env), ctx.tags(env)
    engine = cache.engine.value

    def add(
        part: str,
        kind: str,
        external: str,
        for_provider: dict[str, object],
        after: tuple[str, ...] = (),
        reason: str = "",
    ) -> None:
        ctx.out.add(
            crn(env, cache, part),
            aws.resource(
                ctx.claim,
                "elasticache",
                kind,
                name=ctx.name(crn(env, cache, part)),
                labels=labels,
                region=account.region,
                external_name=external,
                provider_config=account.provider_config,
                for_provider={**for_provider, "tags": tags},
            ),
            after=after,
            reason=reason,
        )

    app_user = user_id(ctx, env, cache)
    add(
        "user",
        "User",
        app_user,
        {
            # IAM authentication requires the user name to equal the user id.
            "userName": app_user,
            "engine": engine,
            "accessString": "on ~* +@all -@dangerous",
            "authenticationMode": {"type": "iam"},
        },
    )
    default_user = user_id(ctx, env, cache, default=True)
    add(
        "default-user",
        "User",
        default_user,
        {
            "userName": "default",
            "engine": engine,
            # Disabled: the default user exists only because every user group needs one.
            "accessString": "off -@all",
            "authenticationMode": {"type": "no-password-required"},
        },
    )
    group = group_id(ctx, env, cache)
    add(
        "user-group",
        "UserGroup",
        group,
        {"engine": engine, "userIds": [default_user, app_user]},
        after=(crn(env, cache, "user"), crn(env, cache, "default-user")),
        reason="waiting for the cache users",
    )
    sg = network.security_group_id(ctx, env)
    prod = ctx.prod(env)
    replication_group = ctx.aws("elasticache.ReplicationGroup", env.value, cache.name)
    waiting = (
        f"waiting for the cache user group, the subnet group and the {env.value} security group"
    )
    if sg is None:
        ctx.out.wait(crn(env, cache), waiting)
    else:
        add(
            "",
            "ReplicationGroup",
            replication_group,
            {
                "description": f"{ctx.repo_name} {env.value} cache {cache.name}",
                "engine": engine,
                "engineVersion": ENGINE_VERSION[cache.engine],
                "nodeType": NODE_TYPE[cache.size],
                "port": PORT,
                # Prod gets a replica in another zone and automatic failover.
                "numCacheClusters": 2 if prod else 1,
                "automaticFailoverEnabled": prod,
                "multiAzEnabled": prod,
                # Upjet types these two as strings (the Terraform schema does).
                "atRestEncryptionEnabled": "true",
                "transitEncryptionEnabled": True,
                "userGroupIds": [group],
                "subnetGroupName": ctx.aws("elasticache.SubnetGroup"),
                "securityGroupIds": [sg],
                "snapshotRetentionLimit": 7 if prod else 0,
                "autoMinorVersionUpgrade": "true",
                "applyImmediately": not prod,
            },
            after=(crn(env, cache, "user-group"), network.cache_subnet_group_crn(ctx, env)),
            reason=waiting,
        )
    k = key(cache)
    host = ctx.at(crn(env, cache), "primaryEndpointAddress")
    config = out.config.setdefault(env, {})
    if isinstance(host, str) and host:
        config[f"{k}_HOST"] = host
    config.update({f"{k}_PORT": str(PORT), f"{k}_USER": app_user, f"{k}_TLS": "true"})
    out.statements.setdefault(env, []).append(
        {
            "Effect": "Allow",
            "Action": "elasticache:Connect",
            "Resource": [
                ctx.arn(env, "elasticache", f"replicationgroup:{replication_group}"),
                ctx.arn(env, "elasticache", f"user:{app_user}"),
            ],
        }
    )
    out.status.append(
        {
            "kind": "cache",
            "name": cache.name,
            "environment": env.value,
            **({"endpoint": f"{host}:{PORT}"} if isinstance(host, str) and host else {}),
        }
    )
