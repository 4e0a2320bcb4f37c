"""Phase 3: Usages that keep the Account while the baseline inside it exists, and the
baseline of a prod account that outlives its claim (plinth.core.protection, docs/deletion.md).

Without the Usages, deleting a claim deletes everything at once, and the Account (with the
ProviderConfig that reaches into it) may go before the resources that need it to be deleted.
"""

from __future__ import annotations

from plinth.api.account import DeletionPolicy
from plinth.builders import crossplane
from plinth.compose.account.context import ACCOUNT, Context, Planned
from plinth.core import protection
from plinth.core.bodies import Body


def build(
    ctx: Context, account: Body, baseline: list[Planned], anchors: list[str]
) -> list[Planned]:
    """One Usage of the Account by each anchor: a baseline resource others depend on; and the
    baseline of a prod account kept on deletion made to outlive the claim with it."""
    protection.keep_baseline(
        [p.body for p in baseline],
        namespaced=ctx.claim.flavor.namespaced,
        environment=ctx.spec.environment.value,
        kept=ctx.spec.deletion_policy is DeletionPolicy.ORPHAN,
    )
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
