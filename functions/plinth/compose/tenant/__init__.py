"""Compose a TenantClaim: the team's namespaces on every cluster of its environments, isolated
(network policies, quotas, Pod Security), reachable (RBAC, EKS access, IAM roles) and
deliverable (an Argo CD AppProject).

Where each part is built: namespaces.py, quotas.py, network_policies.py, rbac.py,
certificates.py, appproject.py, access.py (IAM roles, EKS access entries), capacity.py
(dedicated Karpenter node pools) and guardrails.py (Kyverno policies). The claim's overrides
(plinth.core.overrides) are applied last, as in every claim.
"""

from __future__ import annotations

from plinth.api.base import ApiModel
from plinth.api.tenant import MemberRole, TenantSpec, namespace_names
from plinth.compose import accounts
from plinth.compose.tenant import (
    access,
    appproject,
    capacity,
    certificates,
    guardrails,
    network_policies,
    quotas,
    rbac,
)
from plinth.compose.tenant import namespaces as namespaces_
from plinth.compose.tenant.context import Context, Placement
from plinth.core import overrides
from plinth.core.composition import Claim, Composition, Observed, Required, Requirement
from plinth.core.tenancy import check_host


def requirements(claim: Claim, spec: ApiModel, required: Required) -> dict[str, Requirement]:
    assert isinstance(spec, TenantSpec)
    return accounts.requirements(claim, spec, required)


def _placements(claim: Claim, spec: TenantSpec, out: Composition) -> list[Placement]:
    platform = claim.platform
    placements = []
    for env in spec.environments:
        clusters = platform.clusters_for(env.name)
        if env.clusters:
            known = {c.name for c in clusters}
            for name in env.clusters:
                if name not in known:
                    out.warnings.append(
                        f"environment {env.name.value}: the platform has no {env.name.value} "
                        f"cluster named {name!r}"
                    )
            clusters = [c for c in clusters if c.name in env.clusters]
        if not clusters:
            out.warnings.append(f"the platform has no cluster for environment {env.name.value}")
        for cluster in clusters:
            placements.append(
                Placement(env.name, cluster, tuple(namespace_names(claim.team.name, env)))
            )
    return placements


def _levels(spec: TenantSpec) -> tuple[MemberRole, ...]:
    used = {m.role for m in spec.members} or {MemberRole.EDIT}
    return tuple(lvl for lvl in MemberRole if lvl in used)


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, TenantSpec)
    out = Composition(claim, observed)
    if spec.certificate is not None:
        check_host(claim.platform, claim.team, spec.certificate.domain, "certificate.domain")
    ctx = Context(
        claim=claim,
        spec=spec,
        observed=observed,
        out=out,
        placements=_placements(claim, spec, out),
        accounts=accounts.plan(
            claim, spec, required, accounts.previous_accounts(observed.composite.get("status"))
        ),
        levels=_levels(spec),
    )
    reserved = set(claim.platform.reserved_namespaces)
    # What is planned for each namespace and each cluster: its readiness is what an app waits
    # for before delivering into the namespace (status.namespaces[].ready).
    planned: dict[tuple[str, str], frozenset[str]] = {}
    for p in ctx.placements:
        for ns in p.namespaces:
            before = out.planned()
            if ns in reserved or ns.startswith("kube-"):
                # The platform reserves more than the XRD knows; keep what exists, add nothing.
                reason = f"namespace {ns!r} is reserved by the platform; choose another name"
                out.wait(namespaces_.namespace_crn(p, ns), reason)
                out.warnings.append(reason)
            else:
                namespaces_.build(ctx, p, ns)
                network_policies.build(ctx, p, ns)
                quotas.build(ctx, p, ns)
                rbac.build(ctx, p, ns)
                certificates.build(ctx, p, ns)
            planned[(p.cluster.name, ns)] = frozenset(out.planned() - before)
    capacity.check(ctx)
    for p in ctx.placements:
        before = out.planned()
        capacity.build(ctx, p)
        guardrails.build(ctx, p)
        planned[(p.cluster.name, "")] = frozenset(out.planned() - before)
    appproject.build(ctx)
    access.build(ctx)
    namespaces_.protect(ctx)
    _status(ctx, planned)
    overrides.apply(out, spec.overrides)
    return out


def _delivers(out: Composition, planned: frozenset[str]) -> bool:
    """Everything planned is composed, none of it waits, and all of it is Ready."""
    return all(crn not in out.pending and out.ready(crn) for crn in planned)


def _status(ctx: Context, planned: dict[tuple[str, str], frozenset[str]]) -> None:
    out = ctx.out
    # An app may deliver into a namespace once it is isolated and bound (everything planned for
    # it), the tenant's guardrails and node pools on its cluster are in place, and the
    # AppProject exists: not only once the whole tenant is Ready, which also waits for the IAM
    # roles and EKS access entries people use, one AWS step after another.
    project = _delivers(out, frozenset({appproject.CRN}))
    out.status["namespaces"] = [
        {
            "environment": p.environment.value,
            "cluster": p.cluster.name,
            "region": p.cluster.region,
            "namespace": ns,
            "ready": project
            and _delivers(out, planned[(p.cluster.name, ns)])
            and _delivers(out, planned[(p.cluster.name, "")]),
        }
        for p in ctx.placements
        for ns in p.namespaces
    ]
    out.status["clusters"] = [
        {
            "environment": p.environment.value,
            "cluster": p.cluster.name,
            "region": p.cluster.region,
            "namespaces": list(p.namespaces),
            "access": [
                {"role": lvl.value, "roleArn": arn, "commands": access.commands(ctx, p, lvl, arn)}
                for lvl, arn in access.role_arns(ctx, p.environment).items()
            ],
        }
        for p in ctx.placements
    ]
    known = {e.name: ctx.accounts.of(e.name) for e in ctx.spec.environments}
    out.status["accounts"] = [
        {"environment": env.value, "accountId": a.id} for env, a in known.items() if a is not None
    ]
    if (home := ctx.accounts.of(None)) is not None:
        out.status["accountId"] = home.id
    if any(a is not None for a in known.values()):
        missing = access.missing_endpoints(ctx)
        if missing:
            out.warnings.append(
                "no access commands for cluster(s) "
                + ", ".join(missing)
                + ": the platform config lacks their endpoint and certificateAuthorityData"
            )
    waits = [ctx.accounts.wait(e.name) for e in ctx.spec.environments]
    if wait := next((w for w in waits if w), ""):
        out.phase = "WaitingForAccount"
        out.status["message"] = wait
