"""Prod data outlives mistakes: prod databases and buckets are orphaned on deletion (their
managed resources lack the Delete policy), databases also carry deletion protection, and a
Usage ties each of them to the app's workload role, so Crossplane deletes them, if ever, only
after the app is gone."""

from __future__ import annotations

from plinth.api.base import Environment
from plinth.builders import crossplane
from plinth.compose.app import buckets, databases, identity
from plinth.compose.app.context import Context


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
