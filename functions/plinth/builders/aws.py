"""provider-upjet-aws managed resources (`*.aws.m.upbound.io` in v2, `*.aws.upbound.io` legacy)."""

from __future__ import annotations

from typing import Any

from plinth.builders.common import ProviderConfigRef, managed
from plinth.core.bodies import Body
from plinth.core.composition import Claim

# Kinds whose forProvider takes a region (all regional upjet-aws kinds do; the global ones
# like IAM and Organizations do not, nor the account-wide S3 settings).
_GLOBAL_SERVICES = {"iam", "organizations", "budgets"}
_GLOBAL_KINDS = {("s3control", "AccountPublicAccessBlock")}

# Kinds whose cluster-scoped (legacy) API stores a newer version with the same object-shaped
# fields as the namespaced v1beta1; their legacy v1beta1 wraps every nested object in a list.
LEGACY_VERSIONS: dict[tuple[str, str], str] = {
    ("ec2", "Route"): "v1beta2",
    ("backup", "Plan"): "v1beta2",
    ("configservice", "ConfigRule"): "v1beta2",
    ("budgets", "Budget"): "v1beta2",
    ("rds", "Instance"): "v1beta3",
    ("elasticache", "ReplicationGroup"): "v1beta2",
    ("elasticache", "User"): "v1beta2",
    ("ecr", "Repository"): "v1beta2",
    ("s3", "Bucket"): "v1beta2",
    ("s3", "BucketVersioning"): "v1beta2",
    ("s3", "BucketServerSideEncryptionConfiguration"): "v1beta2",
    ("s3", "BucketOwnershipControls"): "v1beta2",
}


def partition(region: str) -> str:
    """The ARN partition of a region: aws, aws-cn or aws-us-gov."""
    if region.startswith("cn-"):
        return "aws-cn"
    if "-gov-" in region:
        return "aws-us-gov"
    return "aws"


def version_of(claim: Claim, service: str, kind: str) -> str:
    """The API version of an AWS kind whose schema matches what Plinth writes."""
    if claim.flavor.namespaced:
        return "v1beta1"
    return LEGACY_VERSIONS.get((service, kind), "v1beta1")


def resource(
    claim: Claim,
    service: str,
    kind: str,
    *,
    name: str,
    labels: dict[str, str],
    for_provider: dict[str, Any],
    provider_config: ProviderConfigRef,
    region: str | None = None,
    external_name: str | None = None,
    orphan: bool = False,
    init_provider: dict[str, Any] | None = None,
    version: str | None = None,
) -> Body:
    """An AWS managed resource; `region` is required for regional services."""
    fp = dict(for_provider)
    if service not in _GLOBAL_SERVICES and (service, kind) not in _GLOBAL_KINDS:
        if not region:
            raise ValueError(f"{service}.{kind} {name}: a region is required")
        fp["region"] = region
    spec: dict[str, Any] = {"forProvider": fp}
    if init_provider:
        spec["initProvider"] = init_provider
    return managed(
        claim,
        api_version=claim.flavor.aws_api_version(
            service, version or version_of(claim, service, kind)
        ),
        kind=kind,
        name=name,
        labels=labels,
        spec=spec,
        provider_config=provider_config,
        external_name=external_name,
        orphan=orphan,
    )


def provider_config(
    claim: Claim,
    *,
    name: str,
    labels: dict[str, str],
    role_arn: str,
    credentials: dict[str, Any],
) -> Body:
    """An AWS ProviderConfig that assumes `role_arn` with the platform's own credentials.

    In v2 it is namespaced and lives in the claim's namespace, so only claims in the team's own
    namespace can act in its account: tenancy in AWS follows tenancy in the management cluster.
    """
    group = "aws.m.upbound.io" if claim.flavor.namespaced else "aws.upbound.io"
    meta: dict[str, Any] = {"name": name}
    if claim.flavor.namespaced:
        meta["namespace"] = claim.namespace
    meta["labels"] = labels
    return {
        "apiVersion": f"{group}/v1beta1",
        "kind": "ProviderConfig",
        "metadata": meta,
        "spec": {"credentials": credentials, "assumeRoleChain": [{"roleARN": role_arn}]},
    }
