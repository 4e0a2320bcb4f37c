"""Readiness gates: when a composed resource counts as ready.

Most managed resources report a Ready condition. A few kinds never do and would keep their
claim unready forever; they count as ready as soon as Crossplane observes them. An Object whose
readiness derives from what it holds counts once its provider derived it (DERIVED_READINESS).
"""

from __future__ import annotations

from typing import Any

from plinth.core.bodies import at

READY_WHEN_OBSERVED_KINDS = frozenset(
    {"ProviderConfig", "ClusterProviderConfig", "Usage", "ClusterUsage"}
)

# provider-kubernetes' Object kinds (both API flavors).
OBJECT_GROUPS = ("kubernetes.crossplane.io", "kubernetes.m.crossplane.io")

# The kinds Plinth composes that take minutes to become Ready once their provider has created
# them: AWS provisions them asynchronously (service, kind; both API flavors). Every other kind
# (Objects, IAM, EKS access entries, S3, SQS, ECR, VPC parts, Config rules, GitHub) is Ready
# within seconds of being created.
SLOW_KINDS = frozenset(
    {
        ("organizations", "Account"),
        ("rds", "Instance"),
        ("elasticache", "ReplicationGroup"),
        ("elasticache", "UserGroup"),
        ("ec2", "NATGateway"),
        ("ec2", "TransitGatewayVPCAttachment"),
    }
)


def slow(api_version: str, kind: str) -> bool:
    """Whether a resource of this kind takes minutes, not seconds, to become Ready."""
    return (api_version.split(".", 1)[0], kind) in SLOW_KINDS


# provider-kubernetes takes its first look at an Object right after creating what it holds,
# before Kyverno, cert-manager, Karpenter or External Secrets can report that Ready, and looks
# again at an Object that is not Ready only every 30 s (WithPollIntervalHook in its object
# controller). So an Object whose readiness derives from what it holds is stated with
# SuccessfulCreate until the provider has created it, then with DeriveFromObject: the changed
# spec makes the provider look again at once, seconds after the create, when the controller
# has usually reported. The annotation records that intent on the Object, so its readiness is
# read from observed state alone (Observed.ready): it counts only once the provider derived
# Ready under the spec that asks for it.
DERIVED_READINESS = "plinth.dev/readiness"
DERIVE_FROM_OBJECT = "DeriveFromObject"
SUCCESSFUL_CREATE = "SuccessfulCreate"


def is_object(body: dict[str, Any]) -> bool:
    """Whether a body is a provider-kubernetes Object (either API flavor)."""
    group = str(body.get("apiVersion", "")).split("/", 1)[0]
    return body.get("kind") == "Object" and group in OBJECT_GROUPS


def stated_policy(body: dict[str, Any]) -> Any:
    """An Object's readiness policy as a body states it (None: the provider's default)."""
    return at(body, "spec", "readiness", "policy")


def derives_readiness(body: dict[str, Any]) -> bool:
    """Whether a desired body is an Object composed with derived readiness."""
    annotations = at(body, "metadata", "annotations")
    return isinstance(annotations, dict) and DERIVED_READINESS in annotations


def before_created(body: dict[str, Any]) -> dict[str, Any]:
    """Such an Object as stated until its provider has created what it holds."""
    return {**body, "spec": {**body["spec"], "readiness": {"policy": SUCCESSFUL_CREATE}}}
