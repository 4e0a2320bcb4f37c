"""Per database and environment an RDS instance: encrypted, in the private subnet group, behind
the environment's security group, its master password generated and kept by RDS in Secrets
Manager (`manageMasterUserPassword`), so no password ever passes through Kubernetes here.

Phases: the instance waits for its subnet group and security group; the app's ExternalSecret and
the workload policy wait for the secret ARN that RDS reports once the instance exists.
"""

from __future__ import annotations

from typing import Any

from plinth.api.app import Database, DatabaseEngine, Size
from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app import network
from plinth.compose.app.context import Context, Contribution

INSTANCE_CLASS = {
    Size.SMALL: "db.t4g.small",
    Size.MEDIUM: "db.m7g.large",
    Size.LARGE: "db.r7g.xlarge",
}
DEFAULT_VERSION = {DatabaseEngine.POSTGRES: "17", DatabaseEngine.MYSQL: "8.4"}
PORT = {DatabaseEngine.POSTGRES: 5432, DatabaseEngine.MYSQL: 3306}
MASTER_USER = "app_admin"
MAX_STORAGE_GB = 16384


def crn(env: Environment, db: Database) -> str:
    return f"database-{env.value}-{db.name}"


def key(db: Database) -> str:
    return "DB_" + db.name.upper().replace("-", "_")


def secret_arn(ctx: Context, env: Environment, db: Database) -> str | None:
    secrets = ctx.at(crn(env, db), "masterUserSecret")
    if isinstance(secrets, list) and secrets and isinstance(secrets[0], dict):
        arn = secrets[0].get("secretArn")
        return arn if isinstance(arn, str) and arn else None
    return None


def build(ctx: Context) -> Contribution:
    out = Contribution()
    for env in ctx.spec.environments:
        for db in ctx.spec.databases:
            _one(ctx, env.name, db, out)
    return out


def _one(ctx: Context, env: Environment, db: Database, out: Contribution) -> None:
    name = crn(env, db)
    account = ctx.account(env)
    sg = network.security_group_id(ctx, env)
    if account is None or ctx.network(env) is None:
        ctx.out.wait(name, ctx.network_wait(env))
        return
    if sg is None:
        ctx.out.wait(name, f"waiting for the subnet group and the {env.value} security group")
        return
    prod = ctx.prod(env)
    identifier = ctx.aws("rds.Instance", env.value, db.name)
    for_provider: dict[str, Any] = {
        "identifier": identifier,
        "engine": db.engine.value,
        "engineVersion": db.version or DEFAULT_VERSION[db.engine],
        "instanceClass": INSTANCE_CLASS[db.size],
        "allocatedStorage": db.storage_gb,
        "storageType": "gp3",
        "storageEncrypted": True,
        "dbName": db.name.replace("-", "_"),
        "username": MASTER_USER,
        "manageMasterUserPassword": True,
        "dbSubnetGroupName": ctx.aws("rds.SubnetGroup"),
        "vpcSecurityGroupIds": [sg],
        "publiclyAccessible": False,
        "multiAz": prod if db.high_availability is None else db.high_availability,
        "backupRetentionPeriod": 30 if prod else 7,
        "copyTagsToSnapshot": True,
        "autoMinorVersionUpgrade": True,
        "deletionProtection": prod,
        "skipFinalSnapshot": not prod,
        # Outside prod, changes land now rather than in the next maintenance window.
        "applyImmediately": not prod,
        "tags": ctx.tags(env),
    }
    if db.storage_gb < MAX_STORAGE_GB:
        # Storage autoscaling up to 4x; AWS wants the ceiling above what is allocated.
        for_provider["maxAllocatedStorage"] = min(db.storage_gb * 4, MAX_STORAGE_GB)
    if prod:
        for_provider["finalSnapshotIdentifier"] = f"{identifier}-final"
    ctx.out.add(
        name,
        aws.resource(
            ctx.claim,
            "rds",
            "Instance",
            name=ctx.name(name),
            labels=ctx.labels(env),
            region=account.region,
            provider_config=account.provider_config,
            for_provider=for_provider,
            # A prod database outlives its claim: removing the YAML never deletes its data.
            orphan=prod,
        ),
        after=(network.db_subnet_group_crn(ctx, env),),
        reason=f"waiting for the subnet group and the {env.value} security group",
    )
    k = key(db)
    host = ctx.at(name, "address")
    config = out.config.setdefault(env, {})
    if isinstance(host, str) and host:
        config[f"{k}_HOST"] = host
    config[f"{k}_PORT"] = str(PORT[db.engine])
    config[f"{k}_NAME"] = for_provider["dbName"]
    config[f"{k}_ENGINE"] = db.engine.value
    arn = secret_arn(ctx, env, db)
    if arn:
        out.secrets.setdefault(env, []).extend(
            {"secretKey": f"{k}_{field.upper()}", "remoteRef": {"key": arn, "property": field}}
            for field in ("username", "password")
        )
        out.statements.setdefault(env, []).append(
            {
                "Effect": "Allow",
                "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
                "Resource": arn,
            }
        )
    out.status.append(
        {
            "kind": "database",
            "name": db.name,
            "environment": env.value,
            **({"endpoint": f"{host}:{PORT[db.engine]}"} if host else {}),
            **({"secret": arn} if arn else {}),
        }
    )


def secrets_pending(ctx: Context, env: Environment) -> list[str]:
    """Databases of `env` whose secret ARN is not reported yet."""
    return [db.name for db in ctx.spec.databases if not secret_arn(ctx, env, db)]
