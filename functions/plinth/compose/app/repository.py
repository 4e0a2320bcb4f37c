"""The app's GitHub repository: created from the service template, main protected, and the
Actions variables its pipeline reads (see templates/service/.github/workflows/build.yaml)."""

from __future__ import annotations

from plinth.builders import github
from plinth.builders.common import ProviderConfigRef
from plinth.compose.app.context import Context

REPOSITORY = "repository"
BRANCH_PROTECTION = "branch-protection-main"
# The CI job's name in the template's workflow; main accepts only commits that passed it.
REQUIRED_CHECK = "build"


def variable_crn(name: str) -> str:
    return f"actions-variable-{name.lower().replace('_', '-')}"


def url(ctx: Context) -> str:
    return f"https://github.com/{ctx.github.owner}/{ctx.repo_name}"


def build(ctx: Context, variables: dict[str, str | None]) -> None:
    """`variables`: name -> value, or None while the value is not known yet."""
    platform = ctx.claim.platform
    gh = ctx.github
    pc = ProviderConfigRef(platform.provider_configs.github)
    labels = ctx.labels()
    template_owner, template_repo = (
        ctx.spec.repository.template.split("/", 1)
        if ctx.spec.repository.template
        else (gh.template_owner or gh.owner, gh.template_repository)
    )
    ctx.out.add(
        REPOSITORY,
        github.resource(
            ctx.claim,
            "repo",
            "Repository",
            name=ctx.name(REPOSITORY),
            labels=labels,
            external_name=ctx.repo_name,
            provider_config=pc,
            for_provider={
                "name": ctx.repo_name,
                "description": f"{ctx.claim.name}: service of team {ctx.team} (Plinth AppClaim "
                f"{ctx.claim.namespace}/{ctx.claim.name})",
                "visibility": ctx.spec.repository.visibility.value,
                "template": [{"owner": template_owner, "repository": template_repo}],
                "hasIssues": True,
                "hasWiki": False,
                "deleteBranchOnMerge": True,
                "allowMergeCommit": False,
                "vulnerabilityAlerts": True,
                # Removing the claim archives the repository instead of deleting its history.
                "archiveOnDestroy": True,
                "topics": ["plinth", f"team-{ctx.team}"],
            },
        ),
    )
    ctx.out.add(
        BRANCH_PROTECTION,
        github.resource(
            ctx.claim,
            "repo",
            "BranchProtection",
            name=ctx.name(BRANCH_PROTECTION),
            labels=labels,
            provider_config=pc,
            for_provider={
                "repositoryIdRef": {"name": ctx.name(REPOSITORY)},
                "pattern": "main",
                "enforceAdmins": True,
                "allowsDeletions": False,
                "allowsForcePushes": False,
                "requiredLinearHistory": True,
                "requireConversationResolution": True,
                "requiredPullRequestReviews": [
                    {
                        "requiredApprovingReviewCount": ctx.spec.repository.required_approvals,
                        "dismissStaleReviews": True,
                    }
                ],
                "requiredStatusChecks": [{"strict": True, "contexts": [REQUIRED_CHECK]}],
            },
        ),
    )
    for var, value in variables.items():
        crn = variable_crn(var)
        if value is None:
            ctx.out.wait(crn, ctx.account_wait(None) or f"waiting for the value of {var}")
            continue
        ctx.out.add(
            crn,
            github.resource(
                ctx.claim,
                "actions",
                "ActionsVariable",
                name=ctx.name(crn),
                labels=labels,
                provider_config=pc,
                for_provider={
                    "repositoryRef": {"name": ctx.name(REPOSITORY)},
                    "variableName": var,
                    "value": value,
                },
            ),
        )
