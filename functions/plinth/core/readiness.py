"""Readiness gates: when a composed resource counts as ready.

Most managed resources report a Ready condition. A few kinds never do and would keep their
claim unready forever; they count as ready as soon as Crossplane observes them.
"""

from __future__ import annotations

READY_WHEN_OBSERVED_KINDS = frozenset(
    {"ProviderConfig", "ClusterProviderConfig", "Usage", "ClusterUsage"}
)

# provider-kubernetes' Object kinds (both API flavors). An Object reaches its workload cluster
# and reports Ready within seconds of being created, where an AWS resource takes minutes.
OBJECT_GROUPS = ("kubernetes.crossplane.io", "kubernetes.m.crossplane.io")
