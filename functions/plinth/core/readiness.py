"""Readiness gates: when a composed resource counts as ready.

Most managed resources report a Ready condition. A few kinds never do and would keep their
claim unready forever; they count as ready as soon as Crossplane observes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

READY_WHEN_OBSERVED_KINDS = frozenset(
    {"ProviderConfig", "ClusterProviderConfig", "Usage", "ClusterUsage"}
)

# provider-kubernetes' Object kinds (both API flavors). An Object reaches its workload cluster
# and reports Ready within seconds of being created, where an AWS resource takes minutes.
OBJECT_GROUPS = ("kubernetes.crossplane.io", "kubernetes.m.crossplane.io")


def settles_in_seconds(body: Mapping[str, Any], synced: Mapping[str, Any] | None) -> bool:
    """An unready composed resource likely to be Ready within seconds: a provider-kubernetes
    Object its provider has not failed to apply (`synced`: its observed Synced condition). One
    stuck on an error (a kind its cluster lacks, say) is not: calling sooner would not help."""
    if str(body.get("apiVersion", "")).split("/")[0] not in OBJECT_GROUPS:
        return False
    return synced is None or synced.get("status") != "False"
