"""Compose a TenantClaim: the team's namespaces on every cluster of its environments, isolated
(network policies, quotas, Pod Security), reachable (RBAC, EKS access, IAM roles) and
deliverable (an Argo CD AppProject).

Where each part is built: namespaces.py, quotas.py, network_policies.py, rbac.py,
certificates.py, appproject.py and access.py (IAM roles, EKS access entries).
"""

from __future__ import annotations

from typing import Any

from plinth.api.base import ApiModel
from plinth.api.catalog import ACCOUNT
from plinth.api.tenant import MemberRole, TenantSpec, namespace_names
from plinth.builders.common import ProviderConfigRef
from plinth.compose.tenant import (
    access,
    appproject,
    certificates,
    network_policies,
    quotas,
    rbac,
)
from plinth.compose.tenant import namespaces as namespaces_
from plinth.compose.tenant.context import Account, Context, Placement
from plinth.composition import Claim, Composition, Observed, Required, Requirement

ACCOUNT_REQUIREMENT = "account"


def namespaces_of(spec: TenantSpec, env_index: int) -> list[str]:
    """The tenant's namespaces in one environment (the AppClaim composer uses them too)."""
    return namespace_names(spec, env_index)


def requirements(claim: Claim, spec: ApiModel, required: Required) -> dict[str, Requirement]:
    assert isinstance(spec, TenantSpec)
    if spec.account.claim_name is None:
        return {}
    return {
        ACCOUNT_REQUIREMENT: Requirement(
            api_version=ACCOUNT.api_version(claim.flavor.flavor),
            kind=ACCOUNT.kind,
            name=spec.account.claim_name,
            namespace=claim.namespace,
        )
    }


def _account(claim: Claim, spec: TenantSpec, required: Required) -> Account | str:
    """The team's account, or why it is not known yet."""
    ref = spec.account
    if ref.account_id is not None:
        assert ref.provider_config is not None  # the model and the XRD require it
        return Account(
            ref.account_id, ProviderConfigRef(ref.provider_config, kind="ProviderConfig")
        )
    where = f"AccountClaim {ref.claim_name!r} in namespace {claim.namespace!r}"
    found = required.get(ACCOUNT_REQUIREMENT)
    if not found:
        return f"waiting for {where}: it does not exist yet"
    body: dict[str, Any] = found[0]
    if (body.get("metadata") or {}).get("namespace") != claim.namespace:
        return (
            f"{where} is not in this namespace; a tenant may only use its own namespace's account"
        )
    status = body.get("status") or {}
    account_id, pc = status.get("accountId"), ref.provider_config or status.get("providerConfig")
    if not account_id or not pc:
        return f"waiting for {where} to report its account id and ProviderConfig"
    return Account(str(account_id), ProviderConfigRef(str(pc), kind="ProviderConfig"))


def _shared_account_warning(claim: Claim, spec: TenantSpec, required: Required) -> str | None:
    """Dev and prod never share an account: say so when a tenant's environments outgrow the
    environment its AccountClaim was vended for."""
    found = required.get(ACCOUNT_REQUIREMENT) or []
    if spec.account.claim_name is None or not found:
        return None
    vended_for = ((found[0].get("spec") or {}).get("environment")) or ""
    others = sorted(e.name.value for e in spec.environments if e.name.value != vended_for)
    if not vended_for or not others:
        return None
    return (
        f"AccountClaim {spec.account.claim_name!r} is a {vended_for} account, but this tenant "
        f"also runs {', '.join(others)} in it: dev and prod should not share an account "
        "(a TenantClaim has one account today; see docs/tenant.md)"
    )


def _placements(claim: Claim, spec: TenantSpec, out: Composition) -> list[Placement]:
    platform = claim.platform
    placements = []
    for i, env in enumerate(spec.environments):
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
            placements.append(Placement(env.name, cluster, tuple(namespaces_of(spec, i))))
    return placements


def _levels(spec: TenantSpec) -> tuple[MemberRole, ...]:
    used = {m.role for m in spec.members} or {MemberRole.EDIT}
    return tuple(lvl for lvl in MemberRole if lvl in used)


def compose(claim: Claim, spec: ApiModel, observed: Observed, required: Required) -> Composition:
    assert isinstance(spec, TenantSpec)
    out = Composition(claim)
    account = _account(claim, spec, required)
    ctx = Context(
        claim=claim,
        spec=spec,
        observed=observed,
        out=out,
        placements=_placements(claim, spec, out),
        account=account if isinstance(account, Account) else None,
        account_wait=account if isinstance(account, str) else None,
        levels=_levels(spec),
    )
    if shared := _shared_account_warning(claim, spec, required):
        out.warnings.append(shared)
    reserved = set(claim.platform.reserved_namespaces)
    for p in ctx.placements:
        for ns in p.namespaces:
            if ns in reserved:
                # The platform reserves more than the XRD knows; keep what exists, add nothing.
                reason = f"namespace {ns!r} is reserved by the platform; choose another name"
                out.wait(namespaces_.namespace_crn(p, ns), reason)
                out.warnings.append(reason)
                continue
            namespaces_.build(ctx, p, ns)
            network_policies.build(ctx, p, ns)
            quotas.build(ctx, p, ns)
            rbac.build(ctx, p, ns)
            certificates.build(ctx, p, ns)
    appproject.build(ctx)
    access.build(ctx)
    _status(ctx)
    return out


def _status(ctx: Context) -> None:
    out = ctx.out
    arns = access.role_arns(ctx)
    out.status["namespaces"] = [
        {
            "environment": p.environment.value,
            "cluster": p.cluster.name,
            "region": p.cluster.region,
            "namespace": ns,
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
                for lvl, arn in arns.items()
            ],
        }
        for p in ctx.placements
    ]
    if ctx.account is not None:
        out.status["accountId"] = ctx.account.id
        missing = access.missing_endpoints(ctx)
        if missing:
            out.warnings.append(
                "no access commands for cluster(s) "
                + ", ".join(missing)
                + ": the platform config lacks their endpoint and certificateAuthorityData"
            )
    if ctx.account_wait is not None:
        out.phase = "WaitingForAccount"
        out.status["message"] = ctx.account_wait
