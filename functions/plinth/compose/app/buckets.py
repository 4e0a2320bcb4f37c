"""Per bucket and environment an S3 bucket: versioned, encrypted by default, public access
blocked, ownership enforced (no ACLs). Its S3 name carries the account id, so it is globally
unique without a random suffix and stable across renders."""

from __future__ import annotations

from typing import Any

from plinth.api.app import Bucket
from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app.context import Context, Contribution

PARTS = ("versioning", "encryption", "public-access-block", "ownership")


def crn(env: Environment, bucket: Bucket, part: str = "") -> str:
    return "-".join(p for p in ("bucket", env.value, bucket.name, part) if p)


def key(bucket: Bucket) -> str:
    return "BUCKET_" + bucket.name.upper().replace("-", "_")


def bucket_name(ctx: Context, env: Environment, bucket: Bucket) -> str:
    account = ctx.account(env)
    assert account is not None
    return ctx.aws("s3.Bucket", env.value, bucket.name, suffix=f"-{account.id}")


def build(ctx: Context) -> Contribution:
    out = Contribution()
    for env in ctx.spec.environments:
        for bucket in ctx.spec.buckets:
            _one(ctx, env.name, bucket, out)
    return out


def _one(ctx: Context, env: Environment, bucket: Bucket, out: Contribution) -> None:
    account = ctx.account(env)
    if account is None:
        for suffix in ("", *PARTS):
            ctx.out.wait(crn(env, bucket, suffix), ctx.account_wait(env))
        return
    prod = ctx.prod(env)
    name = bucket_name(ctx, env, bucket)
    labels = ctx.labels(env)
    ref = {"bucketRef": {"name": ctx.name(crn(env, bucket))}}

    def part(suffix: str, kind: str, for_provider: dict[str, Any]) -> None:
        ctx.out.add(
            crn(env, bucket, suffix),
            aws.resource(
                ctx.claim,
                "s3",
                kind,
                name=ctx.name(crn(env, bucket, suffix)),
                labels=labels,
                region=account.region,
                provider_config=account.provider_config,
                for_provider=for_provider,
                external_name=name if suffix == "" else None,
                # A prod bucket outlives its claim: removing the YAML never deletes its objects.
                orphan=prod and suffix == "",
            ),
        )

    # forceDestroy stays false: a bucket with objects is never emptied by a deletion.
    part("", "Bucket", {"forceDestroy": False, "tags": ctx.tags(env)})
    part(
        "versioning",
        "BucketVersioning",
        {
            **ref,
            "versioningConfiguration": {"status": "Enabled" if bucket.versioning else "Suspended"},
        },
    )
    part(
        "encryption",
        "BucketServerSideEncryptionConfiguration",
        {
            **ref,
            "rule": [
                {
                    "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"},
                    "bucketKeyEnabled": True,
                }
            ],
        },
    )
    part(
        "public-access-block",
        "BucketPublicAccessBlock",
        {
            **ref,
            "blockPublicAcls": True,
            "blockPublicPolicy": True,
            "ignorePublicAcls": True,
            "restrictPublicBuckets": True,
        },
    )
    part(
        "ownership",
        "BucketOwnershipControls",
        {**ref, "rule": {"objectOwnership": "BucketOwnerEnforced"}},
    )
    k = key(bucket)
    out.config.setdefault(env, {}).update({f"{k}_NAME": name, f"{k}_REGION": account.region})
    arn = f"arn:{ctx.partition}:s3:::{name}"
    out.statements.setdefault(env, []).extend(
        [
            {
                "Effect": "Allow",
                "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
                "Resource": arn,
            },
            {
                "Effect": "Allow",
                "Action": ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"],
                # Object-level actions need an object ARN; /* covers this bucket's objects only.
                "Resource": f"{arn}/*",
            },
        ]
    )
    out.status.append(
        {"kind": "bucket", "name": bucket.name, "environment": env.value, "endpoint": name}
    )
