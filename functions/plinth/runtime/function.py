"""The gRPC edge: RunFunctionRequest in, RunFunctionResponse out.

Everything here is translation and guarding. The composers decide what to compose; this module
parses the request into typed models, asks Crossplane for the resources a claim needs, turns a
composition into desired state with readiness and conditions, and makes sure that no input,
however malformed, crashes the server or makes a previously composed resource disappear.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import grpc
import pydantic
from crossplane.function import resource as sdk_resource
from crossplane.function import response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from plinth.api.base import ApiModel
from plinth.api.catalog import ClaimApi, find_claim_api
from plinth.api.flavor import FLAVORS, Flavor
from plinth.api.function_input import FunctionInput
from plinth.api.platform import PlatformConfig
from plinth.compose import COMPOSERS, REQUIREMENTS
from plinth.compose.accounts import MOVE_HINT
from plinth.core.composition import (
    Body,
    Claim,
    Composition,
    Observed,
    PlatformIncomplete,
    Required,
    Requirement,
    user_spec,
)
from plinth.core.tenancy import Refused, check_declared_team, team_of
from plinth.runtime.structs import StructEncoder, struct_kind, struct_ready, struct_to_py

log = logging.getLogger("plinth")

PLATFORM_REQUIREMENT = "platform"
CONDITION_TYPE = "Provisioned"


class Fatal(Exception):
    """The claim cannot be composed as it is; the message tells the user why."""


@dataclass
class Outcome:
    """The pure result of handling one request, before it is written as protobuf."""

    composition: Composition | None = None
    requirements: dict[str, Requirement] = field(default_factory=dict)
    fatal: str | None = None


def format_errors(prefix: str, err: pydantic.ValidationError) -> str:
    parts = []
    for e in err.errors(include_url=False):
        loc = ".".join(str(p) for p in e["loc"])
        where = f"{prefix}.{loc}" if loc else prefix
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def claim_identity(xr: Body, flavor: Flavor) -> tuple[str, str]:
    """The claim's name and namespace, whichever flavor carried it."""
    meta = xr.get("metadata") or {}
    if flavor is Flavor.V2:
        return meta.get("name", ""), meta.get("namespace", "")
    # Crossplane writes both spec.claimRef and these labels from the claim itself; the claim's
    # namespace is the tenancy boundary, so take it from what only Crossplane writes.
    ref = (xr.get("spec") or {}).get("claimRef") or {}
    labels = meta.get("labels") or {}
    return (
        ref.get("name") or labels.get("crossplane.io/claim-name") or meta.get("name", ""),
        ref.get("namespace") or labels.get("crossplane.io/claim-namespace", ""),
    )


def envelope_error(body: Any, what: str) -> str | None:
    """What is wrong with the Kubernetes object envelope of `body` (types only), if anything.

    The API server guarantees these shapes for what Crossplane reads from it; the function
    checks them anyway, so that a malformed request gets a Fatal result naming the field
    rather than an internal error from deep inside a composer."""
    if not isinstance(body, dict):
        return f"{what} is not an object"
    for key in ("apiVersion", "kind"):
        if not isinstance(body.get(key, ""), str):
            return f"{what}: {key} must be a string"
    for key in ("metadata", "spec", "status"):
        if not isinstance(body.get(key) or {}, dict):
            return f"{what}: {key} must be an object"
    meta = body.get("metadata") or {}
    for key in ("name", "namespace", "uid", "generateName"):
        if not isinstance(meta.get(key, ""), str):
            return f"{what}: metadata.{key} must be a string"
    for key in ("labels", "annotations"):
        values = meta.get(key) or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return f"{what}: metadata.{key} must map strings to strings"
    ref = (body.get("spec") or {}).get("claimRef") or {}
    if not isinstance(ref, dict) or not all(isinstance(v, str) for v in ref.values()):
        return f"{what}: spec.claimRef must map strings to strings"
    return None


def parse_spec(api: ClaimApi, xr: Body) -> ApiModel:
    raw = user_spec(xr)
    try:
        return api.spec_model.model_validate(raw)
    except pydantic.ValidationError as e:
        raise Fatal(f"invalid {api.kind}: {format_errors('spec', e)}") from None


def parse_platform(name: str, found: list[Body] | None) -> PlatformConfig:
    if not found:
        raise Fatal(
            f"the platform EnvironmentConfig {name!r} was not found: the platform team must "
            "create it (see examples/platform.yaml in Plinth)"
        )
    try:
        return PlatformConfig.model_validate(found[0].get("data") or {})
    except pydantic.ValidationError as e:
        raise Fatal(f"EnvironmentConfig {name!r} is invalid: {format_errors('data', e)}") from None


def platform_requirement(name: str) -> Requirement:
    return Requirement("apiextensions.crossplane.io/v1beta1", "EnvironmentConfig", name)


def evaluate(
    xr: Body,
    fn_input: Body | None,
    observed: Observed,
    required: Mapping[str, list[Body]],
) -> Outcome:
    """Decide the outcome of one request. Pure: no protobuf, no I/O."""
    api_version, kind = xr.get("apiVersion", ""), xr.get("kind", "")
    found = find_claim_api(api_version, kind)
    if found is None:
        raise Fatal(
            f"function-plinth cannot compose {kind or '<no kind>'} ({api_version or '<no apiVersion>'}): "
            "it composes AccountClaim, TenantClaim and AppClaim (platform.plinth.dev) and "
            "XAccount, XTenant and XApp (claims.plinth.dev)"
        )
    api, flavor = found
    try:
        settings = FunctionInput.model_validate(fn_input or {})
    except pydantic.ValidationError as e:
        raise Fatal(f"invalid function input: {format_errors('input', e)}") from None
    spec = parse_spec(api, xr)
    name, namespace = claim_identity(xr, flavor)

    requirements = {PLATFORM_REQUIREMENT: platform_requirement(settings.platform_config)}
    if PLATFORM_REQUIREMENT not in required:
        # First call of the pipeline: ask Crossplane for the platform facts, then run again.
        return Outcome(requirements=requirements)
    platform = parse_platform(settings.platform_config, required[PLATFORM_REQUIREMENT])
    try:
        # The namespace is the tenancy boundary: the team, and with it every name in a shared
        # place, is derived from it (plinth.core.tenancy), never taken from the spec.
        team = team_of(platform, namespace)
        check_declared_team(platform, team, getattr(spec, "team", None))
        claim = Claim(
            api=api,
            flavor=FLAVORS[flavor],
            name=name,
            namespace=namespace,
            xr_name=(xr.get("metadata") or {}).get("name", ""),
            platform=platform,
            team=team,
            tags=getattr(spec, "tags", None) or {},
        )
        extra = REQUIREMENTS.get(api.noun)
        if extra is not None:
            # A requirement may depend on what an earlier one returned (an app's tenant names
            # its account), so Crossplane calls again until every requirement is resolved.
            requirements.update(extra(claim, spec, Required(required)))
            if any(n not in required for n in requirements):
                return Outcome(requirements=requirements)
        composition = COMPOSERS[api.noun](claim, spec, observed, Required(required))
        if moves := composition.account_moves():
            raise Refused(_moves_message(moves))
    except Refused as e:
        raise Fatal(f"{api.kind} {namespace}/{name} refused: {e}") from None
    except PlatformIncomplete as e:
        raise Fatal(
            f"the platform EnvironmentConfig {settings.platform_config!r} lacks {e} "
            f"needed to compose a {api.kind}"
        ) from None
    return Outcome(composition=composition, requirements=requirements)


def _moves_message(moves: list[tuple[str, str, str]]) -> str:
    shown = ", ".join(f"{n} ({a} -> {b})" for n, a, b in moves[:5])
    more = f" (+{len(moves) - 5} more)" if len(moves) > 5 else ""
    return f"{len(moves)} AWS resource(s) would move to another account: {shown}{more}. {MOVE_HINT}"


Encode = Callable[[fnv1.Resource, Body], None]


def encode_naive(target: fnv1.Resource, body: Body) -> None:
    """The SDK's own path; kept to prove the fast path produces identical messages."""
    sdk_resource.update(target, body)


def fast_encoder(encoder: StructEncoder) -> Encode:
    def encode(target: fnv1.Resource, body: Body) -> None:
        target.resource.MergeFromString(encoder.encode(body))

    return encode


def write_response(
    req: fnv1.RunFunctionRequest, outcome: Outcome, encode: Encode
) -> fnv1.RunFunctionResponse:
    rsp = response.to(req)
    for name, r in outcome.requirements.items():
        sel = rsp.requirements.resources[name]
        sel.api_version = r.api_version
        sel.kind = r.kind
        sel.match_name = r.name
        if r.namespace is not None:
            sel.namespace = r.namespace
    comp = outcome.composition
    if comp is None:
        return rsp
    unready: list[str] = []
    for crn, body in comp.desired().items():
        target = rsp.desired.resources[crn]
        encode(target, body)
        if comp.ready(crn):
            target.ready = fnv1.READY_TRUE
        else:
            target.ready = fnv1.READY_FALSE
            unready.append(crn)

    status = dict(comp.status)
    message = status.get("message")
    phase = comp.phase
    if comp.pending and not message:
        message = next(iter(comp.pending.values()))
    if unready and not message:
        shown = ", ".join(sorted(unready)[:5])
        more = f" (+{len(unready) - 5} more)" if len(unready) > 5 else ""
        message = f"waiting for {len(unready)} resource(s) to become ready: {shown}{more}"
    done = not unready and not comp.pending
    if not done and phase == "Ready":
        phase = "Provisioning"
    status["phase"] = phase
    if message and not done:
        status["message"] = message
    else:
        status.pop("message", None)
    encode(rsp.desired.composite, {"status": status})
    if comp.pending:
        # Crossplane derives the composite's Ready from what is composed so far: a claim whose
        # later phases wait (for its account, say) would read Ready, and Argo CD call it
        # Healthy. Readiness set here supersedes the derived one.
        rsp.desired.composite.ready = fnv1.READY_FALSE
    rsp.conditions.append(
        fnv1.Condition(
            type=CONDITION_TYPE,
            status=fnv1.STATUS_CONDITION_TRUE if done else fnv1.STATUS_CONDITION_FALSE,
            reason="Available" if done else "Waiting",
            message=message or "all resources are ready",
            target=fnv1.TARGET_COMPOSITE_AND_CLAIM,
        )
    )
    for w in comp.warnings:
        rsp.results.append(
            fnv1.Result(
                severity=fnv1.SEVERITY_WARNING, message=w, target=fnv1.TARGET_COMPOSITE_AND_CLAIM
            )
        )
    return rsp


def fatal_response(req: fnv1.RunFunctionRequest, message: str) -> fnv1.RunFunctionResponse:
    # A Fatal result stops the pipeline before Crossplane applies or deletes anything, so
    # nothing composed earlier is lost while the user fixes the claim.
    rsp = response.to(req)
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_FATAL,
            message=message,
            reason="InvalidClaim",
            target=fnv1.TARGET_COMPOSITE_AND_CLAIM,
        )
    )
    return rsp


def run_function(
    req: fnv1.RunFunctionRequest, encode: Encode = encode_naive
) -> fnv1.RunFunctionResponse:
    """Handle one request. Never raises: every failure becomes a Fatal result."""
    try:
        xr = struct_to_py(req.observed.composite.resource)
        fn_input = struct_to_py(req.input) if req.HasField("input") else None
        observed = Observed(
            {k: v.resource for k, v in req.observed.resources.items()},
            to_body=struct_to_py,
            ready_of=struct_ready,
            kind_of=struct_kind,
            composite=xr,
        )
        required = {
            name: [struct_to_py(item.resource) for item in res.items]
            for name, res in req.required_resources.items()
        }
        problems = [envelope_error(xr, "the composite")] + [
            envelope_error(item, f"required resource {name!r}")
            for name, items in required.items()
            for item in items
        ]
        if problem := next((p for p in problems if p), None):
            raise Fatal(f"malformed request: {problem}")
        outcome = evaluate(xr, fn_input, observed, required)
        return write_response(req, outcome, encode)
    except Fatal as e:
        return fatal_response(req, str(e))
    except Exception as e:  # a bug must not take the server down or delete anything
        fields = req.observed.composite.resource.fields
        kind = fields["kind"].string_value if "kind" in fields else "<no kind>"
        log.exception("internal error composing %s", kind)
        return fatal_response(req, f"internal error in function-plinth: {type(e).__name__}: {e}")


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The function-plinth gRPC servicer.

    Identical requests get the identical response object back: the composers are pure, so a
    reconcile that changes nothing costs a serialization and a dictionary lookup. The cache key
    is the request's serialized bytes, so a hit is exact, never a guess.
    """

    def __init__(self, *, cache_size: int = 256, encoder_size: int = 8192) -> None:
        self._responses: OrderedDict[bytes, fnv1.RunFunctionResponse] = OrderedDict()
        self._cache_size = cache_size
        self._encode = fast_encoder(StructEncoder(encoder_size))

    def run(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        key = req.SerializeToString()
        hit = self._responses.get(key)
        if hit is not None:
            self._responses.move_to_end(key)
            return hit
        rsp = run_function(req, self._encode)
        if self._cache_size:
            self._responses[key] = rsp
            if len(self._responses) > self._cache_size:
                self._responses.popitem(last=False)
        return rsp

    async def RunFunction(  # noqa: N802 - the gRPC method name
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> fnv1.RunFunctionResponse:
        return self.run(req)
