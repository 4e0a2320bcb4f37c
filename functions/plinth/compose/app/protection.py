"""Prod data outlives mistakes (the rules: plinth.core.protection, docs/deletion.md).

Deleting the claim leaves the prod databases, buckets, queues and caches and the image
repository of an app with prod in place, and an edit that would delete one is refused, until
`spec.deletionProtection` is turned off on purpose. Prod databases also carry RDS deletion
protection, and a Usage ties each prod database and bucket to the app's workload role, so
Crossplane deletes them, if ever, only after the app is gone.
"""

from __future__ import annotations

from plinth.api.base import Environment
from plinth.builders import crossplane
from plinth.compose.app import buckets, databases, identity
from plinth.compose.app.context import Context
from plinth.core import protection as rules


def usage_crn(of: str) -> str:
    return f"usage-{of}"


def protected(ctx: Context) -> list[str]:
    """Composition resource names of the prod data an app keeps."""
    env = Environment.PROD
    if env not in {e.name for e in ctx.spec.environments}:
        return []
    return [databases.crn(env, db) for db in ctx.spec.databases] + [
        buckets.crn(env, b) for b in ctx.spec.buckets
    ]


def build(ctx: Context) -> None:
    """Once every data store is planned: the Usages, then the deletion rules."""
    _usages(ctx)
    with_prod = any(e.name is Environment.PROD for e in ctx.spec.environments)
    rules.protect(ctx.out, on=ctx.spec.deletion_protection, with_prod=with_prod)


def _usages(ctx: Context) -> None:
    guarded = protected(ctx)
    if not guarded:
        return
    by = ctx.out.resources.get(identity.workload_role_crn(ctx, Environment.PROD))
    for of in guarded:
        crn = usage_crn(of)
        body = ctx.out.resources.get(of)
        if body is None or by is None:
            ctx.out.wait(crn, f"waiting for {of} and the workload role")
            continue
        ctx.out.add(
            crn,
            crossplane.usage(
                ctx.claim,
                name=ctx.name(crn),
                labels=ctx.labels(Environment.PROD),
                of=body,
                by=by,
                reason="prod data of an app that still exists",
            ),
        )
