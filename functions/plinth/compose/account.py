"""Compose an AccountClaim: the AWS account, created in the environment's OU."""

from __future__ import annotations

from plinth.api.account import AccountSpec, DeletionPolicy
from plinth.api.base import ApiModel
from plinth.builders import aws
from plinth.builders.common import ProviderConfigRef
from plinth.composition import Claim, Composition, Observed, PlatformIncomplete, Required
from plinth.labels import aws_tags, claim_labels
from plinth.naming import aws_name

ACCOUNT = "account"


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, AccountSpec)
    platform = claim.platform
    if platform.organization is None:
        raise PlatformIncomplete("data.organization (root id and OU per environment)")
    ou = spec.organizational_unit or platform.organization.organizational_units.get(spec.environment)
    if ou is None:
        raise PlatformIncomplete(
            f"data.organization.organizationalUnits.{spec.environment.value}"
        )
    out = Composition(claim)
    labels = claim_labels(claim, team=spec.team, environment=spec.environment.value)
    display = spec.account_name or aws_name("organizations.Account", spec.team, spec.environment)
    out.add(
        ACCOUNT,
        aws.resource(
            claim,
            "organizations",
            "Account",
            name=claim.resource_name("account"),
            labels=labels,
            for_provider={
                "name": display,
                "email": spec.email,
                "parentId": ou,
                "closeOnDeletion": spec.deletion_policy is DeletionPolicy.DELETE,
                "iamUserAccessToBilling": "ALLOW",
                "tags": aws_tags(claim, labels),
            },
            provider_config=ProviderConfigRef(platform.provider_configs.aws_management),
            orphan=spec.deletion_policy is DeletionPolicy.ORPHAN,
        ),
    )
    account_id = observed.get(ACCOUNT, "status", "atProvider", "id")
    if account_id:
        out.status["accountId"] = account_id
    if not observed.ready(ACCOUNT):
        out.phase = "CreatingAccount"
        out.status["message"] = "waiting for AWS Organizations to create the account"
    return out
