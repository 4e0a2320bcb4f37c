"""Render a claim the way Crossplane would, without a cluster.

claim -> composite (v2: the claim is the composite; legacy: derived as Crossplane derives it)
-> RunFunctionRequest -> function (in-process, or a running `plinth serve` over gRPC) ->
desired resources, printed with the metadata Crossplane would add. Requirements are resolved
from the resources the user supplies, in the same loop Crossplane runs.
"""

from __future__ import annotations

import copy
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from plinth.api.catalog import find_claim_api
from plinth.api.flavor import Flavor
from plinth.api.function_input import FunctionInput
from plinth.generators.crossplane import FUNCTION_NAME
from plinth.runtime.function import FunctionRunner
from plinth.runtime.structs import py_to_struct, struct_to_py

Body = dict[str, Any]
CRN_ANNOTATION = "crossplane.io/composition-resource-name"
MAX_ITERATIONS = 5  # Crossplane's own bound on requirement resolution

Call = Callable[[fnv1.RunFunctionRequest], fnv1.RunFunctionResponse]


class RenderError(Exception):
    """The claim cannot be rendered; the message is for the user."""


@dataclass
class Rendered:
    composite: Body
    resources: list[Body]
    results: list[fnv1.Result] = field(default_factory=list)

    @property
    def fatal(self) -> list[str]:
        return [r.message for r in self.results if r.severity == fnv1.SEVERITY_FATAL]

    def documents(self, *, include_results: bool = False) -> list[Body]:
        docs = [self.composite, *self.resources]
        if include_results:
            sev = {fnv1.SEVERITY_FATAL: "Fatal", fnv1.SEVERITY_WARNING: "Warning"}
            docs += [
                {
                    "apiVersion": "render.crossplane.io/v1beta1",
                    "kind": "Result",
                    "severity": sev.get(r.severity, "Normal"),
                    "message": r.message,
                }
                for r in self.results
            ]
        return docs


def legacy_xr_name(claim_name: str, namespace: str) -> str:
    """Crossplane names a claim's composite `<claim>-<random>`; render must be repeatable."""
    return f"{claim_name}-{hashlib.sha256(f'{namespace}/{claim_name}'.encode()).hexdigest()[:5]}"


def to_composite(claim: Body) -> Body:
    """The composite Crossplane would reconcile for `claim` (a v2 XR, legacy claim or XR)."""
    api_version, kind = claim.get("apiVersion", ""), claim.get("kind", "")
    found = find_claim_api(api_version, kind)
    if found is None:
        raise RenderError(
            f"{kind or '<no kind>'} ({api_version or '<no apiVersion>'}) is not a Plinth claim: "
            "expected AccountClaim, TenantClaim or AppClaim"
        )
    api, flavor = found
    xr = copy.deepcopy(claim)
    meta = xr.setdefault("metadata", {})
    if not meta.get("name"):
        raise RenderError(f"{kind} has no metadata.name")
    if flavor is Flavor.V2:
        meta.setdefault("namespace", "default")
        return xr
    if kind == api.legacy_xr_kind:
        return xr
    namespace = meta.get("namespace") or "default"
    name = meta["name"]
    labels = {
        k: v
        for k, v in (meta.get("labels") or {}).items()
        if not k.startswith("argocd.argoproj.io/") and k != "app.kubernetes.io/instance"
    }
    labels.update(
        {
            "crossplane.io/claim-name": name,
            "crossplane.io/claim-namespace": namespace,
            "crossplane.io/composite": legacy_xr_name(name, namespace),
        }
    )
    spec = dict(xr.get("spec") or {})
    spec["claimRef"] = {
        "apiVersion": api_version,
        "kind": kind,
        "name": name,
        "namespace": namespace,
    }
    return {
        "apiVersion": api_version,
        "kind": api.legacy_xr_kind,
        "metadata": {"name": legacy_xr_name(name, namespace), "labels": labels},
        "spec": spec,
    }


def composite_uid(xr: Body) -> str:
    """The uid `crossplane composition render` gives a composite that has none: a SHA-1 UUID of
    its group/version/kind, namespace and name. Rendering with the same uid makes composed
    resources' owner references equal to Crossplane's, and lets rendered resources be handed
    back to `crossplane composition render` as observed ones (it refuses observed resources
    controlled by another uid)."""
    group, _, version = str(xr.get("apiVersion", "")).rpartition("/")
    meta = xr.get("metadata") or {}
    gvk = f"{group}/{version}, Kind={xr.get('kind', '')}"
    key = f"{gvk}\x00{meta.get('namespace', '')}\x00{meta.get('name', '')}"
    return str(uuid.uuid5(uuid.UUID(int=0), key))


def _with_uid(xr: Body) -> Body:
    meta = xr.get("metadata") or {}
    if meta.get("uid"):
        return xr
    return {**xr, "metadata": {**meta, "uid": composite_uid(xr)}}


def _matches(sel: fnv1.ResourceSelector, body: Body) -> bool:
    if body.get("apiVersion") != sel.api_version or body.get("kind") != sel.kind:
        return False
    meta = body.get("metadata") or {}
    if sel.HasField("namespace") and meta.get("namespace", "default") != sel.namespace:
        return False
    if sel.WhichOneof("match") == "match_name":
        return bool(meta.get("name") == sel.match_name)
    labels = meta.get("labels") or {}
    return all(labels.get(k) == v for k, v in sel.match_labels.labels.items())


def _as_matched(sel: fnv1.ResourceSelector, body: Body) -> Body:
    """A namespaced resource given without a namespace lives in `default`, as kubectl applies
    it; hand it over with the namespace it was matched in, as the API server would return it."""
    if not sel.HasField("namespace") or (body.get("metadata") or {}).get("namespace"):
        return body
    return {**body, "metadata": {**(body.get("metadata") or {}), "namespace": sel.namespace}}


def build_request(
    xr: Body,
    *,
    observed: Iterable[Body] = (),
    required: dict[str, list[Body]] | None = None,
    fn_input: Body | None = None,
    context: Body | None = None,
    tag: str = "",
) -> fnv1.RunFunctionRequest:
    req = fnv1.RunFunctionRequest()
    req.meta.tag = tag
    req.observed.composite.resource.CopyFrom(py_to_struct(xr))
    for body in observed:
        crn = ((body.get("metadata") or {}).get("annotations") or {}).get(CRN_ANNOTATION)
        if crn:
            req.observed.resources[crn].resource.CopyFrom(py_to_struct(body))
    for name, items in (required or {}).items():
        res = req.required_resources[name]
        for item in items:
            res.items.add().resource.CopyFrom(py_to_struct(item))
    if fn_input is not None:
        req.input.CopyFrom(py_to_struct(fn_input))
    if context:
        req.context.CopyFrom(py_to_struct(context))
    return req


def _composed_metadata(xr: Body, crn: str, body: Body) -> Body:
    """Add what Crossplane adds to a composed resource: its name annotation, labels, owner."""
    out = copy.deepcopy(body)
    meta = out.setdefault("metadata", {})
    xr_meta = xr.get("metadata") or {}
    meta.setdefault("annotations", {})[CRN_ANNOTATION] = crn
    labels = meta.setdefault("labels", {})
    labels["crossplane.io/composite"] = xr_meta.get("name", "")
    for key in ("crossplane.io/claim-name", "crossplane.io/claim-namespace"):
        if key in (xr_meta.get("labels") or {}):
            labels[key] = xr_meta["labels"][key]
    if not meta.get("name"):
        meta["generateName"] = f"{xr_meta.get('name', '')}-"
    meta["ownerReferences"] = [
        {
            "apiVersion": xr.get("apiVersion", ""),
            "kind": xr.get("kind", ""),
            "name": xr_meta.get("name", ""),
            "uid": xr_meta.get("uid", ""),
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    return out


def _first_n_and_more(names: list[str], n: int = 3) -> str:
    """crossplane-runtime's StableNAndSomeMore(DefaultFirstN, names), which words the composite's
    "Unready resources" message: sorted, the first three, then how many more."""
    names = sorted(names)
    if len(names) > n:
        return f"{', '.join(names[:n])}, and {len(names) - n} more"
    if len(names) == n:
        return f"{', '.join(names[: n - 1])}, and {names[n - 1]}"
    return ", ".join(names)


def _status_of(c: fnv1.Condition) -> str:
    return {fnv1.STATUS_CONDITION_TRUE: "True", fnv1.STATUS_CONDITION_FALSE: "False"}.get(
        c.status, "Unknown"
    )


def render(
    xr: Body,
    call: Call | None = None,
    *,
    observed: Iterable[Body] = (),
    extra_resources: Iterable[Body] = (),
    fn_input: Body | None = None,
    context: Body | None = None,
    include_full_xr: bool = False,
    bootstrap: Body | None = None,
) -> Rendered:
    """Run the function pipeline for `xr` as Crossplane does, resolving requirements locally.

    `bootstrap` is a Composition step's `requirements`: what Crossplane fetches before the
    first call and hands to every call. As Crossplane (xfn.FetchingFunctionRunner), the loop
    ends when a call's requirements equal the previous call's, or the first call states none.
    """
    call = call or FunctionRunner(cache_size=0).run
    # The function sees the composite with its uid, as in a cluster; -x prints it as given, as
    # `crossplane composition render -x` does.
    given, xr = xr, _with_uid(xr)
    observed = list(observed)
    extra = list(extra_resources)

    def fetch(selectors: Mapping[str, fnv1.ResourceSelector]) -> dict[str, list[Body]]:
        return {
            name: [_as_matched(sel, b) for b in extra if _matches(sel, b)]
            for name, sel in selectors.items()
        }

    fetched = fetch(bootstrap_selectors(bootstrap))
    required: dict[str, list[Body]] = dict(fetched)
    previous: fnv1.Requirements | None = None
    rsp = fnv1.RunFunctionResponse()
    for _ in range(MAX_ITERATIONS):
        req = build_request(
            xr, observed=observed, required=required, fn_input=fn_input, context=context
        )
        rsp = call(req)
        if any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results):
            break
        if previous is None and not rsp.HasField("requirements"):
            break
        if previous is not None and rsp.requirements == previous:
            break
        previous = rsp.requirements
        required = fetched | fetch(rsp.requirements.resources)
    else:
        raise RenderError(f"requirements did not stabilize after {MAX_ITERATIONS} calls")
    return _assemble(given, xr, rsp, include_full_xr=include_full_xr)


def bootstrap_selectors(requirements: Body | None) -> dict[str, fnv1.ResourceSelector]:
    """A Composition step's `requirements.requiredResources`, as the selectors Crossplane
    fetches them with."""
    out: dict[str, fnv1.ResourceSelector] = {}
    for r in (requirements or {}).get("requiredResources") or []:
        sel = fnv1.ResourceSelector(api_version=r["apiVersion"], kind=r["kind"])
        if r.get("namespace") is not None:
            sel.namespace = r["namespace"]
        if r.get("matchLabels"):
            sel.match_labels.labels.update(r["matchLabels"])
        elif r.get("name") is not None:
            sel.match_name = r["name"]
        else:
            sel.match_labels.SetInParent()  # no match: every resource of the kind
        out[r["requirementName"]] = sel
    return out


def _assemble(
    given: Body, xr: Body, rsp: fnv1.RunFunctionResponse, *, include_full_xr: bool
) -> Rendered:
    xr_meta = xr.get("metadata") or {}
    composite: Body = {"apiVersion": xr.get("apiVersion"), "kind": xr.get("kind")}
    if include_full_xr:
        composite = copy.deepcopy(given)
    else:
        composite["metadata"] = {k: xr_meta[k] for k in ("name", "namespace") if k in xr_meta}
    desired_xr = struct_to_py(rsp.desired.composite.resource)
    status = dict(composite.get("status") or {})
    status.update(desired_xr.get("status") or {})
    conditions = [
        {
            "type": c.type,
            "status": _status_of(c),
            "reason": c.reason,
            **({"message": c.message} if c.HasField("message") else {}),
        }
        for c in rsp.conditions
    ]
    resources = []
    unready = []
    for crn in sorted(rsp.desired.resources):
        r = rsp.desired.resources[crn]
        resources.append(_composed_metadata(xr, crn, struct_to_py(r.resource)))
        if r.ready != fnv1.READY_TRUE:
            unready.append(crn)
    fatal = any(r.severity == fnv1.SEVERITY_FATAL for r in rsp.results)
    if not fatal:
        ready: Body = {"type": "Ready", "status": "True", "reason": "Available"}
        if unready:
            ready = {
                "type": "Ready",
                "status": "False",
                "reason": "Creating",
                "message": f"Unready resources: {_first_n_and_more(unready)}",
            }
        # As Crossplane's reconciler: readiness the function sets on the composite itself
        # supersedes the readiness derived from composed resources, and carries no message.
        if rsp.desired.composite.ready == fnv1.READY_TRUE:
            ready = {"type": "Ready", "status": "True", "reason": "Available"}
        elif rsp.desired.composite.ready == fnv1.READY_FALSE:
            ready = {"type": "Ready", "status": "False", "reason": "Creating"}
        conditions.insert(0, ready)
    status["conditions"] = conditions
    composite["status"] = status
    return Rendered(composite=composite, resources=resources, results=list(rsp.results))


def grpc_call(endpoint: str, *, tls_certs_dir: str | None = None, timeout: float = 30.0) -> Call:
    """A call that sends requests to a running function server."""
    import grpc
    from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

    if tls_certs_dir:
        from pathlib import Path

        d = Path(tls_certs_dir)
        creds = grpc.ssl_channel_credentials(
            root_certificates=(d / "ca.crt").read_bytes(),
            private_key=(d / "tls.key").read_bytes(),
            certificate_chain=(d / "tls.crt").read_bytes(),
        )
        channel = grpc.secure_channel(endpoint, creds)
    else:
        channel = grpc.insecure_channel(endpoint)
    stub = grpcv1.FunctionRunnerServiceStub(channel)  # type: ignore[no-untyped-call]

    def call(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        try:
            rsp: fnv1.RunFunctionResponse = stub.RunFunction(req, timeout=timeout)
        except grpc.RpcError as e:
            raise RenderError(
                f"cannot reach the function at {endpoint}: {e.details() or e.code()}"
            ) from None
        return rsp

    return call


def _plinth_step(composition: Body) -> Body:
    for step in (composition.get("spec") or {}).get("pipeline") or []:
        if (step.get("functionRef") or {}).get("name") == FUNCTION_NAME:
            return dict(step)
    raise RenderError(f"the Composition has no step that calls {FUNCTION_NAME}")


def step_input(composition: Body | None) -> Body | None:
    """The input of the Plinth step of a Composition (the only step it has)."""
    if not composition:
        return None
    value = _plinth_step(composition).get("input")
    return value if isinstance(value, dict) else None


def step_requirements(composition: Body | None) -> Body | None:
    """The `requirements` of the Plinth step of a Composition; without a Composition, those
    of the one Plinth generates."""
    if not composition:
        return FunctionInput().step_requirements()
    value = _plinth_step(composition).get("requirements")
    return value if isinstance(value, dict) else None
