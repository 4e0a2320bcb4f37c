"""Status fields every claim reports, besides the conditions Crossplane manages."""

from __future__ import annotations

from pydantic import Field

from plinth.api.base import ApiModel


class ClaimStatus(ApiModel):
    """What `kubectl get` shows: the phase and, while not done, what the claim waits for."""

    phase: str | None = Field(default=None, description="Where the claim is in its lifecycle.")
    message: str | None = Field(
        default=None, description="What the claim is waiting for, in plain words."
    )


class ProtectedStatus(ClaimStatus):
    """The status of a claim whose prod resources outlive it (docs/deletion.md)."""

    protected: list[str] = Field(
        default_factory=list,
        description="Composed resources (composition resource names) that deleting the claim "
        "leaves in place; empty once spec.deletionProtection is false (docs/deletion.md).",
    )
