"""The labels and AWS tags every composed resource carries.

They let a platform team answer "who owns this?" from either side: `kubectl get -l` in the
management cluster, or Cost Explorer and tag policies in AWS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plinth.core.composition import Claim

MANAGED_BY = "app.kubernetes.io/managed-by"
CLAIM_KIND = "plinth.dev/claim-kind"
CLAIM_NAME = "plinth.dev/claim-name"
CLAIM_NAMESPACE = "plinth.dev/claim-namespace"
TEAM = "plinth.dev/team"
TENANT = "plinth.dev/tenant"
APP = "plinth.dev/app"
ENVIRONMENT = "plinth.dev/environment"

# Metadata a GitOps tool puts on a claim; copying it onto composed resources would make Argo CD
# think it owns them and prune them.
FOREIGN_TRACKING = ("argocd.argoproj.io/tracking-id", "app.kubernetes.io/instance")


def claim_labels(claim: Claim, **extra: str | None) -> dict[str, str]:
    labels = {
        MANAGED_BY: "plinth",
        CLAIM_KIND: claim.api.kind,
        CLAIM_NAME: claim.name,
        CLAIM_NAMESPACE: claim.namespace,
    }
    keys = {"team": TEAM, "tenant": TENANT, "app": APP, "environment": ENVIRONMENT}
    for key, value in extra.items():
        if value:
            labels[keys[key]] = value
    return labels


def aws_tags(claim: Claim, labels: dict[str, str]) -> dict[str, str]:
    """AWS tags: the platform's, then the claim's own, then Plinth's (which win)."""
    tags = dict(claim.platform.tags)
    tags.update(claim.tags)
    tags.update({"managed-by": "plinth"})
    tags.update({k: v for k, v in labels.items() if k != MANAGED_BY})
    return tags
