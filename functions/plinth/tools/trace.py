"""Why a claim is where it is: `plinth trace`'s engine.

The core, `build_trace`, is a pure function from recorded objects (the claim, its composite,
what it composed, the installed providers and functions, as `kubectl get -o json` prints them)
to a `Trace`: the claim's phase and conditions, the tree of composed resources with their
Synced and Ready conditions, and the one thing holding the claim back with what to do about it.
`trace` reads those objects from a live cluster with kubectl, honouring kubeconfig as kubectl
does ($KUBECONFIG, --context).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from plinth.api.catalog import find_claim_api
from plinth.api.flavor import Flavor

Body = dict[str, Any]
CRN_ANNOTATION = "crossplane.io/composition-resource-name"
COMPOSITE_LABEL = "crossplane.io/composite"
FATAL_MARK = "returned a fatal result"
# What Plinth's function writes when a claim reaches for what another team owns.
REFUSED_MARK = " refused: "

CauseKind = Literal[
    "fatal",
    "refused",
    "circuit-open",
    "function-unhealthy",
    "provider-unhealthy",
    "reconcile-error",
    "waiting-for-account",
    "waiting-for-tenant",
    "resource-error",
    "resource-missing",
    "resource-unready",
    "waiting",
]


class TraceError(Exception):
    """The claim cannot be read; the message is for the user."""


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="forbid")


class Condition(_Model):
    type: str
    status: str
    reason: str = ""
    message: str = ""


class Resource(_Model):
    """A composed resource, or the claim's composite, as observed."""

    api_version: str = Field(alias="apiVersion")
    kind: str
    name: str
    namespace: str | None = None
    resource_name: str | None = Field(
        default=None, alias="resourceName", description="crossplane.io/composition-resource-name"
    )
    makes: str | None = Field(
        default=None, description="What a provider-kubernetes Object carries (its manifest kind)."
    )
    found: bool = True
    synced: Condition | None = None
    ready: Condition | None = None

    @property
    def ref(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"

    @property
    def is_ready(self) -> bool:
        return self.ready is not None and self.ready.status == "True"

    @property
    def is_synced(self) -> bool:
        return self.synced is None or self.synced.status == "True"


class Cause(_Model):
    """What holds the claim back, why, and what to do next."""

    kind: CauseKind
    resource: str | None = Field(default=None, description="kind/[namespace/]name, if one")
    why: str
    next: str


class Trace(_Model):
    api_version: str = Field(alias="apiVersion")
    kind: str
    namespace: str
    name: str
    phase: str | None = None
    message: str | None = None
    ready: bool = False
    conditions: list[Condition] = Field(default_factory=list)
    composite: Resource | None = Field(
        default=None, description="The composite a legacy claim is bound to (v2: the claim)."
    )
    resources: list[Resource] = Field(default_factory=list)
    cause: Cause | None = None

    def to_dict(self) -> Body:
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


# --- reading recorded objects ---------------------------------------------------------------


def _meta(body: Body) -> Body:
    m = body.get("metadata")
    return m if isinstance(m, dict) else {}


def _conditions(body: Body) -> list[Condition]:
    out = []
    for c in (body.get("status") or {}).get("conditions") or []:
        if isinstance(c, dict) and c.get("type"):
            out.append(
                Condition(
                    type=str(c["type"]),
                    status=str(c.get("status", "Unknown")),
                    reason=str(c.get("reason", "")),
                    message=str(c.get("message", "")),
                )
            )
    return out


def _condition(body: Body, kind: str) -> Condition | None:
    return next((c for c in _conditions(body) if c.type == kind), None)


def _group(api_version: str) -> str:
    return api_version.rsplit("/", 1)[0] if "/" in api_version else ""


def _resource(body: Body) -> Resource:
    meta = _meta(body)
    manifest = ((body.get("spec") or {}).get("forProvider") or {}).get("manifest")
    makes = manifest.get("kind") if isinstance(manifest, dict) else None
    return Resource(
        api_version=str(body.get("apiVersion", "")),
        kind=str(body.get("kind", "")),
        name=str(meta.get("name", "")),
        namespace=meta.get("namespace"),
        resource_name=(meta.get("annotations") or {}).get(CRN_ANNOTATION),
        makes=str(makes) if makes else None,
        synced=_condition(body, "Synced"),
        ready=_condition(body, "Ready"),
    )


def resource_refs(composite: Body) -> list[Body]:
    """The composite's references to what it composed: spec.crossplane.resourceRefs (v2),
    spec.resourceRefs (legacy)."""
    spec = composite.get("spec") or {}
    refs = (spec.get("crossplane") or {}).get("resourceRefs") or spec.get("resourceRefs") or []
    return [r for r in refs if isinstance(r, dict)]


def _same(body: Body, api_version: str, kind: str, name: str, namespace: str | None) -> bool:
    meta = _meta(body)
    return (
        body.get("apiVersion") == api_version
        and body.get("kind") == kind
        and meta.get("name") == name
        and (namespace is None or meta.get("namespace") in (None, namespace))
    )


CLAIM_KINDS = ("AccountClaim", "TenantClaim", "AppClaim")
CLAIM_GROUPS = ("platform.plinth.dev", "claims.plinth.dev")


def claim_kind(kind: str) -> tuple[str, str | None]:
    """(Kind, group or None) of what a user types: tenantclaim, TenantClaims, tc is not one;
    tenantclaims.claims.plinth.dev names the legacy flavor's."""
    base, _, group = kind.partition(".")
    lowered = base.lower()
    for k in CLAIM_KINDS:
        if lowered in (k.lower(), f"{k.lower()}s"):
            if group and group not in CLAIM_GROUPS:
                break
            return k, group or None
    raise TraceError(
        f"{kind}: not a Plinth claim kind (AccountClaim, TenantClaim or AppClaim, optionally "
        f"with its group: {' or '.join(CLAIM_GROUPS)})"
    )


def find_claim(objects: Iterable[Body], kind: str, namespace: str, name: str) -> Body | None:
    want, group = claim_kind(kind)
    for body in objects:
        if body.get("kind") != want:
            continue
        if group and _group(str(body.get("apiVersion", ""))) != group:
            continue
        if find_claim_api(str(body.get("apiVersion", "")), want) is None:
            continue
        meta = _meta(body)
        if meta.get("name") == name and meta.get("namespace", "default") == namespace:
            return body
    return None


def composite_of(claim: Body, objects: Iterable[Body]) -> Body | None:
    """The composite a claim is reconciled as: itself (v2), else its spec.resourceRef."""
    found = find_claim_api(str(claim.get("apiVersion", "")), str(claim.get("kind", "")))
    if found is None:
        return None
    api, flavor = found
    if flavor is Flavor.V2 or claim.get("kind") == api.legacy_xr_kind:
        return claim
    ref = (claim.get("spec") or {}).get("resourceRef") or {}
    if not ref.get("name"):
        return None
    for body in objects:
        if _same(body, str(ref.get("apiVersion", "")), str(ref.get("kind", "")), ref["name"], None):
            return body
    return None


def composed_of(composite: Body, objects: Iterable[Body]) -> tuple[list[Body], list[Body]]:
    """(found, missing refs): what the composite references, in its order, and the references
    with nothing behind them. Without references yet, whatever carries its composite label."""
    objects = list(objects)
    refs = resource_refs(composite)
    xr_name = _meta(composite).get("name")
    xr_ns = _meta(composite).get("namespace")
    if not refs:
        found = [
            b
            for b in objects
            if (_meta(b).get("labels") or {}).get(COMPOSITE_LABEL) == xr_name
            and b is not composite
            and find_claim_api(str(b.get("apiVersion", "")), str(b.get("kind", ""))) is None
        ]
        return found, []
    found, missing = [], []
    for ref in refs:
        ns = ref.get("namespace") or xr_ns
        body = next(
            (
                b
                for b in objects
                if _same(
                    b, str(ref.get("apiVersion")), str(ref.get("kind")), str(ref.get("name")), ns
                )
            ),
            None,
        )
        if body is None:
            missing.append(ref)
        else:
            found.append(body)
    return found, missing


# --- providers ------------------------------------------------------------------------------


def provider_package(api_version: str) -> str:
    """The package that serves a managed resource's group, e.g. s3.aws.m.upbound.io:
    provider-aws-s3; kubernetes.m.crossplane.io: provider-kubernetes."""
    group = _group(api_version)
    labels = group.split(".")
    if ".aws." in f".{group}." and labels[0] != "aws":
        return f"provider-aws-{labels[0]}"
    if ".github." in f".{group}.":
        return "provider-upjet-github"
    if labels[0] == "kubernetes":
        return "provider-kubernetes"
    return ""


def _package_name(pkg: Body) -> str:
    ref = str((pkg.get("spec") or {}).get("package", ""))
    return ref.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


def _healthy(pkg: Body) -> tuple[bool, str]:
    for kind in ("Installed", "Healthy"):
        c = _condition(pkg, kind)
        if c is None or c.status != "True":
            detail = f"{c.reason}: {c.message}" if c and c.message else (c.reason if c else "")
            return False, f"{kind} is not True" + (f" ({detail})" if detail else "")
    return True, ""


def _packages(objects: Iterable[Body], kind: str) -> list[Body]:
    return [
        b
        for b in objects
        if b.get("kind") == kind and _group(str(b.get("apiVersion", ""))) == "pkg.crossplane.io"
    ]


# --- the trace ------------------------------------------------------------------------------


def build_trace(objects: Iterable[Body], kind: str, namespace: str, name: str) -> Trace:
    objects = list(objects)
    claim = find_claim(objects, kind, namespace, name)
    if claim is None:
        raise TraceError(f"{kind} {namespace}/{name} not found")
    composite = composite_of(claim, objects)
    found, missing = composed_of(composite, objects) if composite is not None else ([], [])
    status = claim.get("status") or {}
    resources = [_resource(b) for b in found] + [
        Resource(
            api_version=str(r.get("apiVersion", "")),
            kind=str(r.get("kind", "")),
            name=str(r.get("name", "")),
            namespace=r.get("namespace") or _meta(composite or {}).get("namespace"),
            found=False,
        )
        for r in missing
    ]
    ready = _condition(claim, "Ready")
    trace = Trace(
        api_version=str(claim.get("apiVersion", "")),
        kind=str(claim.get("kind", "")),
        namespace=namespace,
        name=name,
        phase=status.get("phase"),
        message=status.get("message"),
        ready=ready is not None and ready.status == "True",
        conditions=_conditions(claim),
        composite=_resource(composite)
        if composite is not None and composite is not claim
        else None,
        resources=resources,
    )
    trace.cause = _cause(trace, claim, composite, objects)
    return trace


def _dependency_cause(trace: Trace, claim: Body, objects: list[Body]) -> Cause | None:
    """A claim that waits for another claim (a tenant for its AccountClaim, an app for its
    TenantClaim): that claim is what holds it back, whatever else is slow meanwhile."""
    phase = trace.phase or ""
    if trace.kind == "AccountClaim" or not (
        phase in WAITING_FOR_ACCOUNT or phase == "WaitingForTenant"
    ):
        return None
    kind = "AccountClaim" if phase in WAITING_FOR_ACCOUNT else "TenantClaim"
    name = waited_for(claim)
    why = trace.message or f"waiting for its {kind}"
    other = find_claim(objects, kind, trace.namespace, name) if name else None
    if other is not None:
        st = other.get("status") or {}
        why += f"; {kind} {name} is {st.get('phase') or 'not ready'}"
        why += f": {st['message']}" if st.get("message") else ""
    elif name:
        why += f"; no {kind} {name} in namespace {trace.namespace}"
    return Cause(
        kind="waiting-for-account" if kind == "AccountClaim" else "waiting-for-tenant",
        resource=f"{kind}/{trace.namespace}/{name}" if name else None,
        why=why,
        next=f"plinth trace {kind.lower()}/{name} -n {trace.namespace}"
        if other is not None
        else f"create the {kind} {name or ''} in {trace.namespace}, or fix the claim's "
        "reference to it".replace("  ", " "),
    )


def _cause(trace: Trace, claim: Body, composite: Body | None, objects: list[Body]) -> Cause | None:
    conditions = {c.type: c for c in trace.conditions}
    if composite is not None and composite is not claim:
        conditions.update({c.type: c for c in _conditions(composite)})
    synced = conditions.get("Synced")
    what = f"{trace.kind} {trace.namespace}/{trace.name}"
    if synced is not None and synced.status == "False" and FATAL_MARK in synced.message:
        message = synced.message.split(FATAL_MARK, 1)[1].lstrip(": ")
        if REFUSED_MARK in message:
            return Cause(
                kind="refused",
                why=f"the function refused the claim: {message}",
                next="change the claim so it asks only for what its team owns (the message "
                "names the owner); nothing it composed before is deleted meanwhile",
            )
        return Cause(
            kind="fatal",
            why=f"the function returned a Fatal result: {message}",
            next="fix the claim as the message says (`plinth validate --render` checks it "
            "offline); Crossplane keeps what it composed before meanwhile",
        )
    for fn in _packages(objects, "Function"):
        ok, detail = _healthy(fn)
        if not ok and "plinth" in _package_name(fn):
            return Cause(
                kind="function-unhealthy",
                resource=f"Function/{_meta(fn).get('name')}",
                why=f"function-plinth is not healthy: {detail}",
                next="kubectl describe function "
                f"{_meta(fn).get('name')}; check its package revision and pod in "
                "crossplane-system",
            )
    responsive = conditions.get("Responsive")
    waiting = _dependency_cause(trace, claim, objects)
    if waiting is not None and (synced is None or synced.status != "False"):
        # Waiting is the cause; an open breaker only slows noticing that the wait is over.
        if responsive is not None and responsive.status == "False":
            waiting.why += (
                "; Crossplane's watch circuit breaker is open for it too, so it notices "
                "changes only every 30 s or so until the breaker closes"
            )
        return waiting
    # A Ready claim's breaker (opened by its first burst of events, closed after Crossplane's
    # cooldown) holds nothing back; it shows among the conditions.
    if responsive is not None and responsive.status == "False" and not trace.ready:
        return Cause(
            kind="circuit-open",
            why=f"Crossplane's watch circuit breaker is open for this composite "
            f"({responsive.reason}): {responsive.message}",
            next="something keeps changing a composed resource (two controllers fighting over "
            "it, e.g. Argo CD syncing what Crossplane composes): find it with `kubectl get "
            "events` and stop it; the breaker closes by itself and reconciles resume",
        )
    if synced is not None and synced.status == "False":
        return Cause(
            kind="reconcile-error",
            why=f"Crossplane cannot reconcile {what}: {synced.reason}: {synced.message}",
            next=f"kubectl describe {trace.kind.lower()} {trace.name} -n {trace.namespace} "
            "(the events say more)",
        )
    if trace.ready:
        return None
    if provider := _provider_cause(trace, objects):
        return provider
    phase = trace.phase or ""
    if phase in WAITING_FOR_ACCOUNT and trace.kind == "AccountClaim":
        hint = next((r for r in trace.resources if not r.is_ready), None)
        return Cause(
            kind="waiting-for-account",
            resource=hint.ref if hint else None,
            why=trace.message or f"{phase}: the AWS account is not ready yet",
            next="AWS Organizations takes minutes to create an account; if it takes longer, "
            "look at the Account's conditions"
            + (f": kubectl describe {_kubectl_kind(hint)} {hint.name}" if hint else ""),
        )
    for r in trace.resources:
        if not r.found:
            return Cause(
                kind="resource-missing",
                resource=r.ref,
                why=f"{r.ref} is referenced by the composite but does not exist (yet)",
                next="Crossplane creates it on its next reconcile; if it stays missing, "
                f"kubectl describe {trace.kind.lower()} {trace.name} -n {trace.namespace}",
            )
    for r in trace.resources:
        if r.synced is not None and r.synced.status == "False":
            return Cause(
                kind="resource-error",
                resource=r.ref,
                why=f"{r.ref} cannot be synced: {r.synced.reason}: {r.synced.message}",
                next=_next_for_error(r),
            )
    for r in trace.resources:
        if not r.is_ready:
            reason = (
                f" ({r.ready.reason}{': ' + r.ready.message if r.ready.message else ''})"
                if r.ready
                else ""
            )
            return Cause(
                kind="resource-unready",
                resource=r.ref,
                why=f"{r.ref} is not ready yet{reason}",
                next="wait: the provider is creating it (databases and caches take minutes); "
                f"if it stays unready, kubectl describe {_kubectl_kind(r)} {r.name}"
                + (f" -n {r.namespace}" if r.namespace else ""),
            )
    return Cause(
        kind="waiting",
        why=trace.message or f"{what} is not ready ({phase or 'no phase yet'})",
        next=f"kubectl describe {trace.kind.lower()} {trace.name} -n {trace.namespace}",
    )


WAITING_FOR_ACCOUNT = ("WaitingForAccount", "CreatingAccount", "ConnectingAccount")
_QUOTED_CLAIM = re.compile(r"(?:AccountClaim|TenantClaim) '([^']+)'")


def waited_for(claim: Body) -> str | None:
    """The claim a waiting claim waits for: named in its message (the function names the one
    it waits for), else its spec (account.claimName, tenant)."""
    status = claim.get("status") or {}
    if m := _QUOTED_CLAIM.search(str(status.get("message") or "")):
        return m.group(1)
    spec = claim.get("spec") or {}
    if status.get("phase") == "WaitingForTenant":
        return str(spec["tenant"]) if spec.get("tenant") else None
    name = (spec.get("account") or {}).get("claimName")
    return str(name) if name else None


def _kubectl_kind(r: Resource) -> str:
    return f"{r.kind.lower()}.{_group(r.api_version)}" if _group(r.api_version) else r.kind.lower()


def _next_for_error(r: Resource) -> str:
    message = r.synced.message if r.synced else ""
    describe = f"kubectl describe {_kubectl_kind(r)} {r.name}" + (
        f" -n {r.namespace}" if r.namespace else ""
    )
    if "ProviderConfig" in message or "providerconfig" in message.lower():
        return f"its ProviderConfig is missing or not ready: check it, then {describe}"
    if "AccessDenied" in message or "not authorized" in message:
        return f"the provider's credentials may not do this (AWS denied it): {describe}"
    return describe


def _provider_cause(trace: Trace, objects: list[Body]) -> Cause | None:
    """An unhealthy provider serving what is not ready or not found."""
    providers = {_package_name(p): p for p in _packages(objects, "Provider")}
    for r in trace.resources:
        if r.is_ready and r.is_synced:
            continue
        package = provider_package(r.api_version)
        if not package:
            continue
        provider = providers.get(package)
        if provider is None:
            if providers and not r.found:
                return Cause(
                    kind="provider-unhealthy",
                    resource=r.ref,
                    why=f"no {package} is installed to serve {r.ref}",
                    next="install the Configuration's dependencies: kubectl get "
                    "configurationrevisions (the package manager installs them)",
                )
            continue
        ok, detail = _healthy(provider)
        if not ok:
            pname = _meta(provider).get("name")
            return Cause(
                kind="provider-unhealthy",
                resource=f"Provider/{pname}",
                why=f"{package}, which serves {r.ref}, is not ready: {detail}",
                next=f"kubectl describe provider {pname}; kubectl get pods -n crossplane-system",
            )
    return None


# --- printing -------------------------------------------------------------------------------


def _cond(c: Condition | None) -> str:
    if c is None:
        return "-"
    return c.status + (f" ({c.reason})" if c.reason else "")


def _short(c: Condition | None) -> str:
    if c is None:
        return "-"
    return c.status if c.status == "True" else f"{c.status} ({c.reason})" if c.reason else c.status


def _rows(resources: list[Resource]) -> list[list[str]]:
    return [
        [
            r.resource_name or "-",
            r.kind + (f" ({r.makes})" if r.makes else ""),
            r.name,
            "NOT FOUND" if not r.found else _short(r.synced),
            "" if not r.found else _short(r.ready),
        ]
        for r in resources
    ]


def format_text(trace: Trace) -> str:
    conds = {c.type: c for c in trace.conditions}
    head = f"{trace.kind} {trace.namespace}/{trace.name}"
    lines = [
        f"{head}  phase: {trace.phase or '-'}  Synced: {_cond(conds.get('Synced'))}  "
        f"Ready: {_cond(conds.get('Ready'))}"
    ]
    if trace.message:
        lines.append(f"  {trace.message}")
    for c in trace.conditions:
        if c.type in ("Synced", "Ready") or c.status == "True" or c.message == trace.message:
            continue
        lines.append(f"  {c.type}: {c.status} ({c.reason}) {c.message}".rstrip())
    if trace.composite is not None:
        x = trace.composite
        lines.append(
            f"  composite: {x.kind} {x.name}  Synced: {_cond(x.synced)}  Ready: {_cond(x.ready)}"
        )
    rows = [["RESOURCE", "KIND", "NAME", "SYNCED", "READY"], *_rows(trace.resources)]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for i, (row, r) in enumerate(zip(rows, [None, *trace.resources], strict=True)):
        last = i == len(rows) - 1
        branch = "   " if i == 0 else "└─ " if last else "├─ "
        lines.append(
            (branch + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True))).rstrip()
        )
        if r is None:
            continue
        bad = r.synced if r.synced and r.synced.status == "False" else None
        if bad is None and r.ready and r.ready.status != "True" and r.ready.message:
            bad = r.ready
        if bad is not None and bad.message:
            lines.append(f"{'   ' if last else '│  '}   {bad.message}")
    if trace.cause is not None:
        cause = trace.cause
        lines.append("")
        lines.append(f"held back by: {cause.resource or head} [{cause.kind}]")
        lines.append(f"  why:  {cause.why}")
        lines.append(f"  next: {cause.next}")
    elif trace.ready:
        lines.append("")
        lines.append(f"{head} is Ready: nothing holds it back")
    return "\n".join(lines) + "\n"


# --- a live cluster -------------------------------------------------------------------------


class Kubectl:
    """`kubectl get -o json` with kubectl's own kubeconfig habits."""

    def __init__(self, kubeconfig: str | Path | None = None, context: str | None = None) -> None:
        self.args: list[str] = []
        if kubeconfig:
            self.args += ["--kubeconfig", str(kubeconfig)]
        if context:
            self.args += ["--context", context]

    def get(self, *args: str, missing_ok: bool = True) -> list[Body]:
        """The objects `kubectl get ARGS` returns; none when the kind is not served or the
        object does not exist (and `missing_ok`)."""
        try:
            r = subprocess.run(
                ["kubectl", *self.args, "get", *args, "-o", "json"],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            raise TraceError(f"cannot run kubectl: {e}") from None
        if r.returncode != 0:
            err = r.stderr.strip()
            benign = ("NotFound", "not found", "doesn't have a resource type", "Forbidden")
            if missing_ok and any(m in err for m in benign):
                return []
            raise TraceError(f"kubectl get {' '.join(args)}: {err}")
        data = json.loads(r.stdout or "{}")
        if data.get("kind", "").endswith("List"):
            return [i for i in data.get("items") or [] if isinstance(i, dict)]
        return [data] if data else []


def _plural(kind: str) -> str:
    kind = kind.lower()
    return kind if kind.endswith("s") else f"{kind}s"


def read_objects(kube: Kubectl, kind: str, namespace: str, name: str) -> list[Body]:
    """What `build_trace` needs from a cluster: the claim (whichever flavor's group serves it,
    unless `kind` names one), its composite, what it composed, the providers and functions."""
    base, group = claim_kind(kind)
    objects: list[Body] = []
    for g in [group] if group else CLAIM_GROUPS:
        objects = kube.get(f"{_plural(base)}.{g}", name, "-n", namespace)
        if objects:
            break
    if not objects:
        raise TraceError(f"{kind} {namespace}/{name} not found")
    claim = objects[0]
    ref = (claim.get("spec") or {}).get("resourceRef") or {}
    composite = claim
    if ref.get("name"):
        xr_group = _group(str(ref.get("apiVersion", "")))
        found = kube.get(f"{_plural(str(ref.get('kind')))}.{xr_group}", str(ref["name"]))
        objects += found
        composite = found[0] if found else claim
    xr_name = str(_meta(composite).get("name", ""))
    kinds = {
        (str(r.get("apiVersion", "")), str(r.get("kind", ""))) for r in resource_refs(composite)
    }
    for api_version, k in sorted(kinds):
        group_, _, version = api_version.rpartition("/")
        target = f"{k}.{version}.{group_}" if group_ else k
        objects += kube.get(target, "-A", "-l", f"{COMPOSITE_LABEL}={xr_name}")
    if name_ := waited_for(claim):
        other = (
            "TenantClaim"
            if (claim.get("status") or {}).get("phase") == "WaitingForTenant"
            else "AccountClaim"
        )
        objects += kube.get(
            f"{_plural(other)}.{_group(str(claim.get('apiVersion', '')))}", name_, "-n", namespace
        )
    objects += kube.get("providers.pkg.crossplane.io")
    objects += kube.get("functions.pkg.crossplane.io")
    return objects


def trace(
    kubeconfig: str | Path | None,
    kind: str,
    namespace: str,
    name: str,
    *,
    context: str | None = None,
) -> Trace:
    """The trace of a live claim: `kind` is AccountClaim, TenantClaim or AppClaim (any case,
    plural, or with its group: tenantclaims.claims.plinth.dev); `kubeconfig` None follows
    kubectl ($KUBECONFIG, ~/.kube/config)."""
    kube = Kubectl(kubeconfig, context)
    return build_trace(read_objects(kube, kind, namespace, name), kind, namespace, name)


def watch(
    read: Callable[[], Trace],
    emit: Callable[[Trace], None],
    *,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    polls: int | None = None,
) -> None:
    """Emit the trace, then again whenever it changes (as `kubectl get -w` prints only news);
    `polls` bounds the loop (None: until interrupted)."""
    last: Body | None = None
    n = 0
    while polls is None or n < polls:
        n += 1
        current = read()
        as_dict = current.to_dict()
        if as_dict != last:
            emit(current)
            last = as_dict
        if polls is None or n < polls:
            sleep(interval)
