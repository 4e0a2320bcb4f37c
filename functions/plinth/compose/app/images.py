"""The app's image repository (ECR) and the role its CI assumes through GitHub OIDC, both in the
tenant's home account: one image, promoted through the environments, pulled by the clusters
of every environment.

The CI role can push to this repository only, and only a workflow on this repository's main
or deploy branch can assume it: a fork, another repository or a pull request cannot.
"""

from __future__ import annotations

import json

from plinth.builders import aws
from plinth.compose.account.ci_identity import GITHUB_OIDC_HOST
from plinth.compose.app.context import Context, policy

ECR_REPOSITORY = "ecr-repository"
ECR_LIFECYCLE = "ecr-lifecycle-policy"
ECR_POLICY = "ecr-repository-policy"
CI_ROLE = "ci-role"
# Untagged layers go after a day; the newest 100 tagged images stay for rollbacks.
KEEP_IMAGES = 100


def image_repository(ctx: Context) -> str | None:
    """One image repository per app, in the tenant's home account; every environment's
    clusters pull from it."""
    home = ctx.account(None)
    if home is None:
        return None
    return f"{home.id}.dkr.ecr.{home.region}.amazonaws.com/{ctx.aws('ecr.Repository')}"


def ci_role_arn(ctx: Context) -> str | None:
    home = ctx.account(None)
    return ctx.role_arn(ctx.aws("iam.Role", "ci"), home.id) if home else None


def build(ctx: Context) -> None:
    account = ctx.account(None)
    if account is None:
        for crn in (ECR_REPOSITORY, ECR_LIFECYCLE, CI_ROLE):
            ctx.out.wait(crn, ctx.account_wait(None))
        return
    labels, tags = ctx.labels(), ctx.tags()
    repo = ctx.aws("ecr.Repository")
    ctx.out.add(
        ECR_REPOSITORY,
        aws.resource(
            ctx.claim,
            "ecr",
            "Repository",
            name=ctx.name(ECR_REPOSITORY),
            labels=labels,
            region=account.region,
            external_name=repo,
            provider_config=account.provider_config,
            for_provider={
                "imageScanningConfiguration": {"scanOnPush": True},
                "imageTagMutability": "IMMUTABLE",
                "encryptionConfiguration": [{"encryptionType": "AES256"}],
                "tags": tags,
            },
        ),
    )
    ctx.out.add(
        ECR_LIFECYCLE,
        aws.resource(
            ctx.claim,
            "ecr",
            "LifecyclePolicy",
            name=ctx.name(ECR_LIFECYCLE),
            labels=labels,
            region=account.region,
            provider_config=account.provider_config,
            for_provider={
                "repositoryRef": {"name": ctx.name(ECR_REPOSITORY)},
                "policy": json.dumps(
                    {
                        "rules": [
                            {
                                "rulePriority": 1,
                                "description": "expire untagged images after a day",
                                "selection": {
                                    "tagStatus": "untagged",
                                    "countType": "sinceImagePushed",
                                    "countUnit": "days",
                                    "countNumber": 1,
                                },
                                "action": {"type": "expire"},
                            },
                            {
                                "rulePriority": 2,
                                "description": f"keep the newest {KEEP_IMAGES} images",
                                "selection": {
                                    "tagStatus": "any",
                                    "countType": "imageCountMoreThan",
                                    "countNumber": KEEP_IMAGES,
                                },
                                "action": {"type": "expire"},
                            },
                        ]
                    },
                    sort_keys=True,
                ),
            },
        ),
    )
    _pull_policy(ctx)
    gh = ctx.github
    subject = f"repo:{gh.owner}/{ctx.repo_name}"
    provider_arn = f"arn:{ctx.partition}:iam::{account.id}:oidc-provider/{GITHUB_OIDC_HOST}"
    trust = policy(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": "sts.amazonaws.com"},
                "StringLike": {
                    f"{GITHUB_OIDC_HOST}:sub": [
                        f"{subject}:ref:refs/heads/main",
                        f"{subject}:ref:refs/heads/{gh.deploy_branch}",
                    ]
                },
            },
        }
    )
    repo_arn = ctx.arn(None, "ecr", f"repository/{repo}")
    permissions = policy(
        {
            # GetAuthorizationToken has no resource-level permissions: AWS requires "*".
            "Effect": "Allow",
            "Action": "ecr:GetAuthorizationToken",
            "Resource": "*",
        },
        {
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            "Resource": repo_arn,
        },
    )
    ctx.out.add(
        CI_ROLE,
        aws.resource(
            ctx.claim,
            "iam",
            "Role",
            name=ctx.name(CI_ROLE),
            labels=labels,
            external_name=ctx.aws("iam.Role", "ci"),
            provider_config=account.provider_config,
            for_provider={
                "assumeRolePolicy": trust,
                "description": f"CI of {gh.owner}/{ctx.repo_name}: pushes its image to ECR",
                "maxSessionDuration": 3600,
                "inlinePolicy": [{"name": "push-image", "policy": permissions}],
                "tags": tags,
            },
        ),
    )


def _pull_policy(ctx: Context) -> None:
    """The clusters' nodes live in the platform's accounts: let exactly those accounts pull."""
    account = ctx.account(None)
    assert account is not None
    pullers = sorted(
        {p.cluster.account_id for p in ctx.placements if p.cluster.account_id != account.id}
    )
    if not pullers:
        return  # the clusters share the account: IAM alone lets their nodes pull
    ctx.out.add(
        ECR_POLICY,
        aws.resource(
            ctx.claim,
            "ecr",
            "RepositoryPolicy",
            name=ctx.name(ECR_POLICY),
            labels=ctx.labels(),
            region=account.region,
            provider_config=account.provider_config,
            for_provider={
                "repositoryRef": {"name": ctx.name(ECR_REPOSITORY)},
                "policy": policy(
                    {
                        "Sid": "ClusterNodesPull",
                        "Effect": "Allow",
                        "Principal": {
                            "AWS": [f"arn:{ctx.partition}:iam::{a}:root" for a in pullers]
                        },
                        "Action": [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                        ],
                    }
                ),
            },
        ),
    )
