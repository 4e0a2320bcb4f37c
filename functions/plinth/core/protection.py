"""The deletion rules, in one place: what deleting a claim, or an edit that drops a resource,
must not destroy without a deliberate step. docs/deletion.md is the table users read;
tests/test_protection.py checks that table against RULES and what the composers produce.

Two mechanisms, one per way a resource goes away:

* Deleting the claim: Crossplane deletes every composed managed resource, and each one's
  deletion policy decides whether the external resource goes too. A protected resource is
  composed without the Delete policy (v2: `managementPolicies` without Delete; legacy:
  `deletionPolicy: Orphan`), so it stays where it is, and re-applying the claim adopts it.
* An edit that drops it: the function would stop returning it, and Crossplane deletes what a
  function stops returning. The composer refuses such an edit (a Fatal result: nothing is
  applied or deleted) while `spec.deletionProtection` is on, naming what would go.

Turning `spec.deletionProtection` off is the deliberate, documented second step: protected
resources are then composed with the Delete policy (and without AWS deletion protection), and
edits may drop them. An AccountClaim has its own step, `deletionPolicy: Delete`: a prod
account kept on deletion keeps its whole baseline (keep_baseline).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from plinth.core.bodies import Body, at
from plinth.core.composition import Composition
from plinth.core.labels import ENVIRONMENT
from plinth.core.tenancy import Refused

# What Crossplane may do to a protected resource in v2: everything but Delete. The same list as
# plinth.builders.common.ORPHAN_POLICIES (a test keeps them equal; builders sit above core).
KEEP_POLICIES = ("Observe", "Create", "Update", "LateInitialize")
ALL_POLICIES = ("*",)
PROD = "prod"
HINT = (
    "deleting prod data or a prod namespace is a deliberate step: set spec.deletionProtection: "
    "false, apply, wait until status.protected is empty, then make the edit (docs/deletion.md); "
    "to rename, add the new one beside the old, move what it holds, then remove the old"
)


class Scope(StrEnum):
    """Which of a claim's resources a rule protects."""

    # Resources labelled with the prod environment.
    PROD = "prod"
    # A resource every environment shares (no environment label), of a claim that has prod.
    WITH_PROD = "with prod"


@dataclass(frozen=True)
class Rule:
    """One kind of resource that holds data or serves production."""

    claim: str  # the claim kind that composes it
    what: str  # as the table in docs/deletion.md names it
    group: str  # the API group's first labels: "rds.aws" is rds.aws.upbound.io and .m.
    kind: str
    manifest_kind: str | None = None  # for provider-kubernetes Objects: the kind they carry
    manifest_names: frozenset[str] = frozenset()  # ... and its names (empty: any)
    scope: Scope = Scope.PROD
    # forProvider fields that would make AWS refuse the deletion once protection is off.
    when_off: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, body: Body) -> bool:
        # The group's first labels and a dot hold no '/': the apiVersion's group begins with
        # them exactly when the apiVersion does.
        if body.get("kind") != self.kind or not str(body.get("apiVersion", "")).startswith(
            self.group + "."
        ):
            return False
        if self.manifest_kind is None:
            return True
        manifest = at(body, "spec", "forProvider", "manifest")
        if at(manifest, "kind") != self.manifest_kind:
            return False
        name = at(manifest, "metadata", "name")
        return not self.manifest_names or name in self.manifest_names


# The NetworkPolicies every tenant namespace always has (plinth.compose.tenant.network_policies):
# kept with the namespace, so what runs in it stays isolated and keeps its DNS and ingress.
# The egress allowances follow the spec and go with the claim (the namespace only gets tighter).
NAMESPACE_POLICIES = frozenset(
    {"default-deny", "allow-same-namespace", "allow-dns", "allow-from-ingress"}
)

TENANT = "TenantClaim"
APP = "AppClaim"

RULES: tuple[Rule, ...] = (
    Rule(TENANT, "namespace", "kubernetes", "Object", manifest_kind="Namespace"),
    Rule(
        TENANT,
        "namespace isolation",
        "kubernetes",
        "Object",
        manifest_kind="NetworkPolicy",
        manifest_names=NAMESPACE_POLICIES,
    ),
    Rule(APP, "database", "rds.aws", "Instance", when_off={"deletionProtection": False}),
    Rule(APP, "bucket", "s3.aws", "Bucket"),
    Rule(APP, "queue", "sqs.aws", "Queue"),
    Rule(APP, "cache", "elasticache.aws", "ReplicationGroup"),
    Rule(APP, "image repository", "ecr.aws", "Repository", scope=Scope.WITH_PROD),
)


def environment_of(body: Body) -> str | None:
    env = at(body, "metadata", "labels", ENVIRONMENT)
    return env if isinstance(env, str) else None


# RULES by claim and kind, in order: a claim asks for the rule of every resource it composes.
_RULES_BY_KIND: dict[tuple[str, str], list[Rule]] = {}
for _rule in RULES:
    _RULES_BY_KIND.setdefault((_rule.claim, _rule.kind), []).append(_rule)


def rule_of(body: Body, claim_kind: str) -> Rule | None:
    """The rule for this kind of resource, whatever its environment."""
    kind = body.get("kind")
    if not isinstance(kind, str):  # observed state may hold anything
        return None
    rules = _RULES_BY_KIND.get((claim_kind, kind))
    if not rules:
        return None
    # What an Object carries, read once for the rules of its kind rather than by each.
    manifest_kind = at(body, "spec", "forProvider", "manifest", "kind")
    return next(
        (r for r in rules if r.manifest_kind in (None, manifest_kind) and r.matches(body)), None
    )


def rule_for(body: Body, claim_kind: str, *, with_prod: bool) -> Rule | None:
    """The rule that protects `body`, a resource composed (or observed) for a claim of
    `claim_kind` (`with_prod`: the claim has a prod environment), or None."""
    rule = rule_of(body, claim_kind)
    if rule is None:
        return None
    env = environment_of(body)
    if rule.scope is Scope.PROD and env == PROD:
        return rule
    if rule.scope is Scope.WITH_PROD and with_prod and env is None:
        return rule
    return None


def deletion_fields(namespaced: bool, keep: bool) -> dict[str, Any]:
    """The spec fields that decide whether deleting a managed resource deletes what it manages."""
    if namespaced:
        return {"managementPolicies": list(KEEP_POLICIES if keep else ALL_POLICIES)}
    return {"deletionPolicy": "Orphan" if keep else "Delete"}


def keeps(body: Body) -> bool:
    """True when deleting this managed resource leaves what it manages in place."""
    if at(body, "spec", "deletionPolicy") == "Orphan":
        return True
    policies = at(body, "spec", "managementPolicies")
    return isinstance(policies, list) and "Delete" not in policies and "*" not in policies


def set_deletion(body: Body, *, namespaced: bool, keep: bool, when_off: Mapping[str, Any]) -> None:
    """Make deleting the managed resource `body` keep (or delete) what it manages."""
    spec = {
        k: v
        for k, v in (body.get("spec") or {}).items()
        if k not in ("managementPolicies", "deletionPolicy")
    }
    spec.update(deletion_fields(namespaced, keep))
    if not keep and when_off:
        spec["forProvider"] = {**(spec.get("forProvider") or {}), **when_off}
    body["spec"] = spec


def keep_baseline(bodies: list[Body], *, namespaced: bool, environment: str, kept: bool) -> None:
    """A prod AWS account that outlives its claim (`kept`: the AccountClaim's
    `deletionPolicy: Orphan`) keeps its baseline too: its network, backups and guardrails serve
    what runs in it, which Plinth cannot see from the account's claim."""
    if environment != PROD or not kept:
        return
    for body in bodies:
        set_deletion(body, namespaced=namespaced, keep=True, when_off={})


def apply(out: Composition, *, on: bool, with_prod: bool) -> None:
    """Give every protected resource `out` composes its deletion policy, and record in the
    status what deleting the claim leaves in place."""
    namespaced = out.claim.flavor.namespaced
    kept = []
    for crn, body in out.resources.items():
        rule = rule_for(body, out.claim.api.kind, with_prod=with_prod)
        if rule is None:
            continue
        set_deletion(body, namespaced=namespaced, keep=on, when_off=rule.when_off)
        if on:
            kept.append(crn)
    for crn in out.pending:
        waiting = out.observed.body(crn)
        if waiting is not None and keeps(waiting):
            kept.append(crn)  # kept as it was while it waits (Composition.desired)
    out.status["protected"] = sorted(kept)


def dropped(out: Composition, *, with_prod: bool) -> list[tuple[str, Rule]]:
    """Protected resources that exist and that `out` no longer plans: what Crossplane would
    delete if the function returned `out`."""
    planned = out.planned()
    gone = []
    for crn in out.observed:
        if crn in planned:
            continue
        rule = rule_for(out.observed.body(crn) or {}, out.claim.api.kind, with_prod=with_prod)
        if rule is not None:
            gone.append((crn, rule))
    return sorted(gone, key=lambda g: g[0])


def guard(out: Composition, *, on: bool, with_prod: bool) -> None:
    """Refuse an edit that would delete a protected resource while protection is on."""
    if not on:
        return
    gone = dropped(out, with_prod=with_prod)
    if not gone:
        return
    shown = ", ".join(f"{crn} ({environment_label(rule)} {rule.what})" for crn, rule in gone[:5])
    more = f" (+{len(gone) - 5} more)" if len(gone) > 5 else ""
    raise Refused(f"the edit would delete {len(gone)} protected resource(s): {shown}{more}; {HINT}")


def environment_label(rule: Rule) -> str:
    return "prod" if rule.scope is Scope.PROD else "shared"


def protect(out: Composition, *, on: bool, with_prod: bool) -> None:
    """The one entry point for composers, once everything is planned: refuse a destructive
    edit, then set the deletion policy of what is protected."""
    guard(out, on=on, with_prod=with_prod)
    apply(out, on=on, with_prod=with_prod)
