"""Crossplane's own kinds that a composition may compose (deletion protection)."""

from __future__ import annotations

from typing import Any

from plinth.builders.common import metadata
from plinth.core.bodies import Body
from plinth.core.composition import Claim

PROTECTION_API_VERSION = "protection.crossplane.io/v1beta1"


def _ref(body: Body) -> dict[str, Any]:
    return {
        "apiVersion": body["apiVersion"],
        "kind": body["kind"],
        "resourceRef": {"name": body["metadata"]["name"]},
    }


def usage(
    claim: Claim,
    *,
    name: str,
    labels: dict[str, str],
    of: Body,
    by: Body,
    reason: str | None = None,
) -> Body:
    """A Usage (ClusterUsage in legacy) that blocks deleting `of` while `by` exists.

    `replayDeletion` re-issues a deletion of `of` that was blocked, once `by` is gone, so a
    deleted claim still converges without waiting for garbage collection's backoff.
    """
    spec: dict[str, Any] = {"of": _ref(of), "by": _ref(by), "replayDeletion": True}
    if reason:
        spec["reason"] = reason
    return {
        "apiVersion": PROTECTION_API_VERSION,
        "kind": claim.flavor.usage_kind,
        "metadata": metadata(claim, name, labels),
        "spec": spec,
    }
