"""Readiness gates: when a composed resource counts as ready.

Most managed resources report a Ready condition. A few kinds never do and would keep their
claim unready forever; they count as ready as soon as Crossplane observes them.
"""

from __future__ import annotations

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
