"""Phase 3: Usages that keep the Account while the baseline inside it exists.

Without them, deleting a claim deletes everything at once, and the Account (with the
ProviderConfig that reaches into it) may go before the resources that need it to be deleted.
"""

from __future__ import annotations

from plinth.builders import crossplane
from plinth.compose.account.context import ACCOUNT, Context, Planned
from plinth.core.composition import Body


def build(
    ctx: Context, account: Body, baseline: list[Planned], anchors: list[str]
) -> list[Planned]:
    """One Usage of the Account by each anchor: a baseline resource others depend on."""
    by_crn = {p.crn: p.body for p in baseline}
    out = []
    for anchor in anchors:
        if anchor not in by_crn:
            continue
        crn = f"usage-{ACCOUNT}-by-{anchor}"
        body = crossplane.usage(
            ctx.claim,
            name=ctx.name(crn),
            labels=ctx.labels,
            of=account,
            by=by_crn[anchor],
            reason="the account's baseline is still being deleted",
        )
        out.append(Planned(crn, body))
    return out
