"""The pure core of composition: what a composer receives and what it returns.

A composer is a pure function `(Claim, spec, Observed, Required) -> Composition`. It never
touches protobuf, gRPC or YAML; the function edge (`plinth.runtime.function`) turns its result into a
RunFunctionResponse. Two ideas carry the "nothing lost" guarantee:

* A composer lists every resource the spec implies. Those whose inputs are not observed yet
  are *pending* (with the reason), not silently left out.
* The edge keeps an observed resource that is pending, as it was, instead of dropping it:
  Crossplane deletes whatever a function stops returning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from plinth.api.base import ApiModel
from plinth.api.catalog import ClaimApi
from plinth.api.flavor import FlavorInfo
from plinth.api.platform import PlatformConfig
from plinth.core.bodies import Body, at
from plinth.core.naming import DNS_LABEL_MAX, dns_label
from plinth.core.readiness import (
    DERIVE_FROM_OBJECT,
    DERIVED_READINESS,
    READY_WHEN_OBSERVED_KINDS,
    SUCCESSFUL_CREATE,
    before_created,
    derives_readiness,
    is_object,
    slow,
    stated_policy,
)
from plinth.core.tenancy import Team

# Fields Crossplane itself puts in a composite's spec; they are not part of our APIs.
CROSSPLANE_SPEC_FIELDS = frozenset(
    {
        "crossplane",
        "claimRef",
        "compositionRef",
        "compositionRevisionRef",
        "compositionRevisionSelector",
        "compositionSelector",
        "compositionUpdatePolicy",
        "compositeDeletePolicy",
        "environmentConfigRefs",
        "publishConnectionDetailsTo",
        "resourceRef",
        "resourceRefs",
        "writeConnectionSecretToRef",
    }
)


def user_spec(body: Body) -> Body:
    """A composite's or claim's spec without what Crossplane adds (`spec.crossplane` in v2):
    what the user wrote, which is what our models validate. Required claims arrive with it."""
    return {k: v for k, v in (body.get("spec") or {}).items() if k not in CROSSPLANE_SPEC_FIELDS}


def condition_of(body: Body, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind` in a resource's status, if it reports one."""
    return condition_in(at(body, "status", "conditions"), kind)


def condition_in(conditions: Any, kind: str) -> dict[str, Any] | None:
    """The condition of type `kind` in a `status.conditions` value, if it holds one."""
    # Observed state is what the API server stored; a malformed one has no conditions.
    items = conditions if isinstance(conditions, list) else []
    return next((c for c in items if isinstance(c, dict) and c.get("type") == kind), None)


class PlatformIncomplete(ValueError):
    """The platform EnvironmentConfig lacks a fact this claim needs; the message names it."""


@dataclass(frozen=True)
class Claim:
    """The claim being composed, in flavor-neutral terms.

    For v2 the composite *is* the claim. For legacy, `name` and `namespace` are the claim's
    (from the labels Crossplane puts on the composite), so names and labels are the same in
    both flavors. `team` is derived from the namespace (plinth.core.tenancy), never from the spec.
    """

    api: ClaimApi
    flavor: FlavorInfo
    name: str
    namespace: str
    xr_name: str
    platform: PlatformConfig
    team: Team
    tags: Mapping[str, str] = field(default_factory=dict)

    def resource_name(self, *parts: str, max_len: int = DNS_LABEL_MAX) -> str:
        """The metadata.name of a composed resource: unique per claim, stable, a DNS label.

        Legacy managed resources are cluster-scoped, so their names begin with the claim's
        team (unique across teams, see plinth.core.tenancy); v2 ones live in the claim's namespace.
        """
        prefix = (self.name,) if self.flavor.namespaced else (self.team.name, self.name)
        return dns_label(*prefix, *parts, max_len=max_len)

    def shared_name(self, *parts: str, max_len: int = DNS_LABEL_MAX) -> str:
        """A name in a place every team shares (the argocd namespace, a platform account, a
        GitHub organization): `<team>-...`, so it never equals another team's. A first part
        that already is the team's (`payments-api` of team payments) is not prefixed twice."""
        if parts and self.team.owns_name(parts[0]):
            return dns_label(*parts, max_len=max_len)
        return dns_label(self.team.name, *parts, max_len=max_len)


class Observed:
    """The composed resources Crossplane observed, by composition-resource-name.

    Bodies are converted lazily: a composer usually reads a few status fields of a few
    resources, and converting every observed resource would dominate the function's cost.
    """

    def __init__(
        self,
        resources: Mapping[str, Any],
        to_body: Callable[[Any], Body] | None = None,
        ready_of: Callable[[Any], bool] | None = None,
        kind_of: Callable[[Any], str] | None = None,
        composite: Body | None = None,
        value_at: Callable[[Any, tuple[str, ...]], Any] | None = None,
    ):
        # The composite as Crossplane observed it: its status says what was composed before.
        self.composite: Body = composite or {}
        self._raw = resources
        self._to_body = to_body
        self._ready_of = ready_of
        self._kind_of = kind_of
        self._value_at = value_at
        self._bodies: dict[str, Body] = {}
        # Composers and the edge ask each resource's readiness more than once per call.
        self._ready: dict[str, bool] = {}

    @classmethod
    def of(cls, bodies: Mapping[str, Body]) -> Observed:
        return cls(bodies)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def body(self, name: str) -> Body | None:
        if name not in self._raw:
            return None
        if name not in self._bodies:
            raw = self._raw[name]
            self._bodies[name] = self._to_body(raw) if self._to_body else raw
        return self._bodies[name]

    def get(self, name: str, *path: str) -> Any:
        """A field of an observed resource, e.g. `get("account", "status", "atProvider", "id")`."""
        if self._value_at is not None and name not in self._bodies and name in self._raw:
            # One field of a resource not converted yet: read it where it is.
            return self._value_at(self._raw[name], path)
        return at(self.body(name), *path)

    def condition(self, name: str, kind: str) -> dict[str, Any] | None:
        # Only the conditions, read in place: converting the whole body of every unready
        # resource would cost more than the rest of a call.
        return condition_in(self.get(name, "status", "conditions"), kind)

    def ready(self, name: str) -> bool:
        """The one readiness rule: observed, and either Ready=True or of a kind that never
        reports readiness (plinth.core.readiness) and so counts as ready once it exists. An
        Object composed with derived readiness counts once its provider derived Ready under
        the spec that asks for it (`derived`)."""
        known = self._ready.get(name)
        if known is None:
            known = self._ready[name] = self._is_ready(name)
        return known

    def _is_ready(self, name: str) -> bool:
        if name not in self._raw:
            return False
        raw = self._raw[name]
        if name not in self._bodies and self._ready_of is not None and self._kind_of is not None:
            # Readiness of every resource is read on every call; skip converting whole bodies.
            kind: Any = self._kind_of(raw)
            if kind in READY_WHEN_OBSERVED_KINDS:
                return True
            if not self._ready_of(raw):
                return False
        else:
            body = self.body(name) or {}
            kind = body.get("kind")
            if isinstance(kind, str) and kind in READY_WHEN_OBSERVED_KINDS:
                return True
            c = condition_of(body, "Ready")
            if c is None or c.get("status") != "True":
                return False
        return kind != "Object" or self.derived(name)

    def derived(self, name: str) -> bool:
        """Whether an Object's Ready is what Plinth asked for. One composed with derived
        readiness (plinth.core.readiness.DERIVED_READINESS) reports Ready on create first,
        then, stated with DeriveFromObject, Ready as its provider derived it: that counts once
        the provider has reconciled the spec that asks for it (Synced's observedGeneration)."""
        if self.get(name, "metadata", "annotations", DERIVED_READINESS) is None:
            return True
        if not self._derives(name):
            return False
        synced = self.condition(name, "Synced") or {}
        reconciled = synced.get("observedGeneration")
        generation = self.get(name, "metadata", "generation")
        return not (
            isinstance(reconciled, int) and isinstance(generation, int) and reconciled < generation
        )

    def created(self, name: str) -> bool:
        """Whether an Object's provider has created what it holds: it reported Ready on
        create, or it is stated with derived readiness already (it was before)."""
        if name not in self._raw:
            return False
        if self._derives(name):
            return True
        c = self.condition(name, "Ready")
        return c is not None and c.get("status") == "True"

    def settles_in_seconds(self, name: str, desired: Body) -> bool:
        """An unready resource likely to be Ready within seconds: not of a kind AWS takes
        minutes to provision (plinth.core.readiness.SLOW_KINDS), and not one its provider failed
        to apply (a kind its cluster lacks, a reference that does not resolve): calling sooner
        would not help those."""
        if slow(str(desired.get("apiVersion", "")), str(desired.get("kind", ""))):
            return False
        synced = self.condition(name, "Synced")
        return synced is None or synced.get("status") != "False"

    def awaits_provider_kubernetes(self, name: str, desired: Body) -> bool:
        """An unready Object whose readiness waits on provider-kubernetes alone, which creates
        or looks again at an Object within about a second: stated Ready on create, or
        restated to derive its readiness and not looked at since (still SuccessfulCreate).
        One deriving its readiness from another controller (Kyverno, cert-manager, an Argo CD
        Application's health) may take longer."""
        if not is_object(desired):
            return False
        if stated_policy(desired) in (None, SUCCESSFUL_CREATE):
            return True
        return derives_readiness(desired) and not self._derives(name)

    def _derives(self, name: str) -> bool:
        """Whether an observed Object is stated with DeriveFromObject."""
        return bool(self.get(name, "spec", "readiness", "policy") == DERIVE_FROM_OBJECT)


AWS_GROUPS = (".aws.upbound.io", ".aws.m.upbound.io")


def retained_body(body: Body) -> Body:
    """An observed resource, reduced to what a function may state as desired."""
    meta = body.get("metadata") or {}
    kept_meta = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    out: Body = {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": kept_meta,
    }
    if "spec" in body:
        out["spec"] = body["spec"]
    return out


@dataclass
class Composition:
    """What a composer returns: desired resources, what is pending and why, and the status.

    The one gate API: `add(name, body, after=...)` composes `body` once the resources it waits
    for are ready (Observed.ready), `wait(name, reason)` declares a resource whose inputs are
    not known yet. Either way a pending resource that already exists stays as it was
    (`desired()`): Crossplane deletes what a function stops returning.
    """

    claim: Claim
    observed: Observed
    resources: dict[str, Body] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    phase: str = "Ready"
    warnings: list[str] = field(default_factory=list)

    def add(self, name: str, body: Body, *, after: Iterable[str] = (), reason: str = "") -> None:
        """Compose `body` as `name`, once every resource in `after` is ready; until then it
        is pending with `reason` (default: which of them it waits for)."""
        if name in self.resources:
            raise ValueError(f"composition resource name {name!r} used twice")
        waiting = [a for a in after if not self.observed.ready(a)]
        if waiting:
            self.pending[name] = reason or f"waiting for {', '.join(waiting)} to become ready"
            return
        self.resources[name] = body
        self.pending.pop(name, None)

    def wait(self, name: str, reason: str) -> None:
        """Declare a resource the spec implies but whose inputs are not known yet."""
        if name not in self.resources:
            self.pending[name] = reason

    def ready(self, name: str) -> bool:
        return self.observed.ready(name)

    def planned(self) -> set[str]:
        return set(self.resources) | set(self.pending)

    def account_moves(self) -> list[tuple[str, str, str]]:
        """(resource, from, to): AWS resources that exist and would now be composed through
        another team-account ProviderConfig, i.e. created anew in another account (and deleted
        here). Plinth refuses those: moving an environment is a deliberate step (docs/tenant.md).
        The platform's own ProviderConfigs (the clusters' accounts) are not team accounts."""
        platform = self.claim.platform
        shared = {c.aws_provider_config for c in platform.clusters}
        shared.add(platform.provider_configs.aws_management)
        out = []
        for name, body in self.resources.items():
            if not str(body.get("apiVersion", "")).split("/")[0].endswith(AWS_GROUPS):
                continue
            before = self.observed.get(name, "spec", "providerConfigRef", "name")
            after = ((body.get("spec") or {}).get("providerConfigRef") or {}).get("name")
            if not isinstance(before, str):  # absent, or not a name (malformed observed state)
                continue
            if before and after and before != after and before not in shared:
                out.append((name, str(before), str(after)))
        return out

    def desired(self) -> dict[str, Body]:
        """What to return to Crossplane: the composed resources, and every pending one that
        already exists, kept as it is. An Object composed with derived readiness is stated
        with SuccessfulCreate until its provider has created what it holds
        (plinth.core.readiness)."""
        out = {
            name: body
            if not derives_readiness(body) or self.observed.created(name)
            else before_created(body)
            for name, body in self.resources.items()
        }
        for name in self.pending:
            body = self.observed.body(name)
            if body is not None:
                out[name] = retained_body(body)
        return out


@dataclass(frozen=True)
class Requirement:
    """A resource the composer needs Crossplane to fetch (a required resource)."""

    api_version: str
    kind: str
    name: str
    namespace: str | None = None


@dataclass(frozen=True)
class Required:
    """Required resources Crossplane resolved, by requirement name (None: not resolved yet)."""

    resources: Mapping[str, list[Body]] = field(default_factory=dict)

    def get(self, name: str) -> list[Body] | None:
        return self.resources.get(name)


Composer = Callable[[Claim, ApiModel, Observed, Required], Composition]
RequirementsOf = Callable[[Claim, ApiModel, Required], dict[str, Requirement]]
