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
