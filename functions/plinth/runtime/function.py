"""The gRPC edge: RunFunctionRequest in, RunFunctionResponse out.

Everything here is translation and guarding. The composers decide what to compose; this module
parses the request into typed models, asks Crossplane for the resources a claim needs, turns a
composition into desired state with readiness and conditions, and makes sure that no input,
however malformed, crashes the server or makes a previously composed resource disappear.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import marshal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
import pydantic
from crossplane.function import resource as sdk_resource
from crossplane.function import response
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1
from google.protobuf import message as pb_message

from plinth.api.base import ApiModel
from plinth.api.catalog import ClaimApi, find_claim_api
from plinth.api.flavor import FLAVORS, Flavor
from plinth.api.function_input import (
    ENVIRONMENT_CONFIG_API_VERSION,
    PLATFORM_BOOTSTRAP,
    FunctionInput,
)
from plinth.api.platform import PlatformConfig
from plinth.compose import COMPOSERS, REQUIREMENTS
from plinth.compose.accounts import MOVE_HINT
from plinth.core.bodies import Body, at
from plinth.core.composition import (
    Claim,
    Composition,
    Observed,
    PlatformIncomplete,
    Required,
    Requirement,
    condition_of,
    user_spec,
)
from plinth.core.tenancy import Refused, check_declared_team, team_of
from plinth.runtime import wire
from plinth.runtime.cache import DEFAULT_MAX_BYTES, CacheStats, ResponseCache
from plinth.runtime.calls import (
    INTERNAL_ERROR_PREFIX,
    Call,
    current_claim,
    desired_phase,
    ended,
    identify,
)
from plinth.runtime.memo import Memo
from plinth.runtime.structs import (
    StructDecoder,
    StructEncoder,
    struct_kind,
    struct_ready,
    struct_to_py,
    struct_value_at,
)

log = logging.getLogger("plinth")

PLATFORM_REQUIREMENT = "platform"
CONDITION_TYPE = "Provisioned"


class Fatal(Exception):
    """The claim cannot be composed as it is; the message tells the user why."""


@dataclass(frozen=True)
class Ttls:
    """How long Crossplane may wait before calling again, by the claim's state (seconds).

    Crossplane requeues a composite after the TTL of its pipeline's response, and watches the
    composite and what it composes but not the resources a function requires. So: a Ready
    claim waiting on nothing is called rarely (a change to it or to anything it composes
    triggers a call anyway); a claim waiting on a required resource (a tenant's AccountClaim,
    an app's TenantClaim) is called often, so it notices the dependency within seconds.

    A claim with a composed resource not Ready yet that becomes Ready within seconds (an
    Object, an IAM role, an access entry: Observed.settles_in_seconds) is called again within
    seconds too. The watches should call it as soon as the resource is Ready, but the first
    burst of events opens Crossplane's per-XR circuit breaker (an Object changes about five
    times as the provider takes it over, two tokens each, against a burst of 100), which then
    lets one event through per 30 s. The TTL requeue does not go through the breaker, so it
    bounds each of a claim's phases to seconds rather than a minute. While one of them is an
    Object that waits on provider-kubernetes alone (Ready once created, about a second:
    Observed.awaits_provider_kubernetes), the TTL is 2 s: a tenant's phases of namespaces,
    policies and bindings are that, and each would otherwise wait 5 s. A claim waiting only on
    kinds AWS takes minutes to provision (an account, a database, a cache) or on resources its
    provider failed to apply keeps the SDK's minute: calling sooner would not help, and each
    call makes Crossplane apply everything the claim composes again.
    """

    ready: float = 3600.0
    provisioning: float = 60.0
    waiting_on_required: float = 5.0
    settling: float = 5.0
    creating: float = 2.0
    fatal: float = 60.0


TTLS = Ttls()


@dataclass
class Outcome:
    """The pure result of handling one request, before it is written as protobuf."""

    composition: Composition | None = None
    requirements: dict[str, Requirement] = field(default_factory=dict)
    fatal: str | None = None
    # A required resource other than the platform config is missing or not Ready yet.
    waiting_on_required: bool = False


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
    """What is wrong with the Kubernetes object envelope of `body` (types and the API server's
    length limits), if anything.

    The API server guarantees these for what Crossplane reads from it; the function checks
    them anyway, so that a malformed request gets a Fatal result naming the field rather than
    an internal error from deep inside a composer, or a 3 MiB name that every derived name
    is hashed from (40 s of one call, found by `make fuzz`)."""
    if not isinstance(body, dict):
        return f"{what} is not an object"
    for key in ("apiVersion", "kind"):
        if not isinstance(body.get(key, ""), str):
            return f"{what}: {key} must be a string"
    for key in ("metadata", "spec", "status"):
        if not isinstance(body.get(key) or {}, dict):
            return f"{what}: {key} must be an object"
    meta = body.get("metadata") or {}
    for key, limit in (("name", 253), ("namespace", 63), ("uid", 128), ("generateName", 253)):
        if not isinstance(meta.get(key, ""), str):
            return f"{what}: metadata.{key} must be a string"
        if len(meta.get(key, "")) > limit:
            return f"{what}: metadata.{key} is longer than the API server allows ({limit})"
    for key in ("labels", "annotations"):
        values = meta.get(key) or {}
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            return f"{what}: metadata.{key} must map strings to strings"
    labels = meta.get("labels") or {}
    if any(len(k) > 317 or len(v) > 63 for k, v in labels.items()):
        return f"{what}: metadata.labels has a key or value longer than the API server allows"
    if sum(len(k) + len(v) for k, v in (meta.get("annotations") or {}).items()) > 256 * 1024:
        return f"{what}: metadata.annotations are larger than the API server allows (256 KiB)"
    ref = (body.get("spec") or {}).get("claimRef") or {}
    if not isinstance(ref, dict) or not all(isinstance(v, str) for v in ref.values()):
        return f"{what}: spec.claimRef must map strings to strings"
    if any(len(v) > 253 for v in ref.values()):
        return f"{what}: spec.claimRef has a value longer than the API server allows (253)"
    return None


def parse_spec(api: ClaimApi, xr: Body) -> ApiModel:
    raw = user_spec(xr)
    try:
        return api.spec_model.model_validate(raw)
    except pydantic.ValidationError as e:
        raise Fatal(f"invalid {api.kind}: {format_errors('spec', e)}") from None


class PlatformConfigs:
    """Parsed platform configs by content: every call carries the same EnvironmentConfig, and
    validating it is 5% of a small claim's full composition. The key is the data's marshal bytes
    (exact, as plinth.runtime.structs.StructEncoder's); the model is frozen, so sharing it is
    safe; a changed config has other content and is parsed anew."""

    def __init__(self, size: int = 8) -> None:
        self._parsed: Memo[PlatformConfig] = Memo(size, 64 * 2**20)

    def parse(self, data: Body) -> PlatformConfig:
        key = marshal.dumps(data, 4)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = PlatformConfig.model_validate(data)
            self._parsed.put(key, parsed, len(key))
        return parsed


@dataclass
class Memos:
    """What a FunctionRunner remembers between calls, each by exact content: the required
    resources' bodies and the platform configs' models."""

    bodies: StructDecoder = field(default_factory=StructDecoder)
    platforms: PlatformConfigs = field(default_factory=PlatformConfigs)


def parse_platform(
    name: str, found: list[Body] | None, configs: PlatformConfigs | None = None
) -> PlatformConfig:
    if not found:
        raise Fatal(
            f"the platform EnvironmentConfig {name!r} was not found: the platform team must "
            "create it (see examples/platform.yaml in Plinth)"
        )
    data = found[0].get("data") or {}
    try:
        return configs.parse(data) if configs else PlatformConfig.model_validate(data)
    except pydantic.ValidationError as e:
        raise Fatal(f"EnvironmentConfig {name!r} is invalid: {format_errors('data', e)}") from None


def _unsettled(items: list[Body]) -> bool:
    """A required resource (not watched by Crossplane) the claim may still wait on: missing,
    reporting nothing yet, or reporting Ready other than True (a claim still provisioning)."""
    if not items or not items[0].get("status"):
        return True
    ready = condition_of(items[0], "Ready")
    return ready is not None and ready.get("status") != "True"


def platform_requirement(name: str) -> Requirement:
    return Requirement(ENVIRONMENT_CONFIG_API_VERSION, "EnvironmentConfig", name)


def evaluate(
    xr: Body,
    fn_input: Body | None,
    observed: Observed,
    required: Mapping[str, list[Body]],
    platforms: PlatformConfigs | None = None,
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

    requirements: dict[str, Requirement] = {}
    platform_docs = required.get(PLATFORM_BOOTSTRAP) or []
    if not any(at(d, "metadata", "name") == settings.platform_config for d in platform_docs):
        # Not fetched before the call (a Composition without Plinth's step requirements, one
        # naming another config, or the config missing): ask for it, and run again.
        requirements[PLATFORM_REQUIREMENT] = platform_requirement(settings.platform_config)
        if PLATFORM_REQUIREMENT not in required:
            return Outcome(requirements=requirements)
        platform_docs = required[PLATFORM_REQUIREMENT]
    platform = parse_platform(settings.platform_config, platform_docs, platforms)
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
            f"the platform EnvironmentConfig {settings.platform_config!r} lacks {e}, "
            f"which {api.kind} {namespace}/{name} needs; add it to the platform config"
        ) from None
    waiting = bool(composition.pending) and any(
        _unsettled(list(required.get(n) or [])) for n in requirements if n != PLATFORM_REQUIREMENT
    )
    return Outcome(composition=composition, requirements=requirements, waiting_on_required=waiting)


def _moves_message(moves: list[tuple[str, str, str]]) -> str:
    shown = ", ".join(f"{n} ({a} -> {b})" for n, a, b in moves[:5])
    more = f" (+{len(moves) - 5} more)" if len(moves) > 5 else ""
    return f"{len(moves)} AWS resource(s) would move to another account: {shown}{more}. {MOVE_HINT}"


def encode_naive(target: fnv1.Resource, body: Body) -> None:
    """The SDK's own path; kept to prove the fast path produces identical messages."""
    sdk_resource.update(target, body)


def _ttl(seconds: float) -> datetime.timedelta:
    return datetime.timedelta(seconds=seconds)


@dataclass
class Reply:
    """What a response says, before it is protobuf: `write_response` writes it as a message
    (the SDK's path), `response_bytes` as bytes."""

    ttl: float
    requirements: dict[str, Requirement]
    # The composed resources with their readiness, and the composite's status: both empty
    # (None) when nothing is composed yet, only requirements asked for.
    resources: list[tuple[str, Body, bool]] = field(default_factory=list)
    status: Body | None = None
    # Crossplane must not derive the composite's readiness from what is composed so far.
    unready: bool = False
    done: bool = False
    message: str = ""
    warnings: list[str] = field(default_factory=list)


def plan_reply(outcome: Outcome, ttls: Ttls = TTLS) -> Reply:
    """The reply to an outcome: each composed resource's readiness, the TTL (Ttls), the
    composite's status and the Provisioned condition."""
    comp = outcome.composition
    if comp is None:
        return Reply(ttls.provisioning, outcome.requirements)
    resources: list[tuple[str, Body, bool]] = []
    unready: list[str] = []
    settling = False
    # Some settling resource is an Object that waits on provider-kubernetes alone.
    creating = False
    for crn, body in comp.desired().items():
        ready = comp.ready(crn)
        resources.append((crn, body, ready))
        if not ready:
            unready.append(crn)
            if comp.observed.settles_in_seconds(crn, body):
                settling = True
                creating = creating or comp.observed.awaits_provider_kubernetes(crn, body)

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
    if done:
        ttl = ttls.ready
    elif outcome.waiting_on_required:
        ttl = ttls.waiting_on_required
    elif unready and settling:
        ttl = ttls.creating if creating else ttls.settling
    else:
        ttl = ttls.provisioning
    if not done and phase == "Ready":
        phase = "Provisioning"
    status["phase"] = phase
    if message and not done:
        status["message"] = message
    else:
        status.pop("message", None)
    return Reply(
        ttl,
        outcome.requirements,
        resources,
        status,
        # Crossplane derives the composite's Ready from what is composed so far: a claim whose
        # later phases wait (for its account, say) would read Ready, and Argo CD call it
        # Healthy. Readiness set here supersedes the derived one.
        unready=bool(comp.pending),
        done=done,
        message=message or "all resources are ready",
        warnings=list(comp.warnings),
    )


def _head(req: fnv1.RunFunctionRequest, reply: Reply) -> fnv1.RunFunctionResponse:
    """The response but for the composed resources and the composite's status."""
    rsp = response.to(req, _ttl(reply.ttl))
    for name, r in reply.requirements.items():
        sel = rsp.requirements.resources[name]
        sel.api_version = r.api_version
        sel.kind = r.kind
        sel.match_name = r.name
        if r.namespace is not None:
            sel.namespace = r.namespace
    if reply.status is None:
        return rsp
    if reply.unready:
        rsp.desired.composite.ready = fnv1.READY_FALSE
    rsp.conditions.append(
        fnv1.Condition(
            type=CONDITION_TYPE,
            status=fnv1.STATUS_CONDITION_TRUE if reply.done else fnv1.STATUS_CONDITION_FALSE,
            reason="Available" if reply.done else "Waiting",
            message=reply.message,
            target=fnv1.TARGET_COMPOSITE_AND_CLAIM,
        )
    )
    for w in reply.warnings:
        rsp.results.append(
            fnv1.Result(
                severity=fnv1.SEVERITY_WARNING, message=w, target=fnv1.TARGET_COMPOSITE_AND_CLAIM
            )
        )
    return rsp


def write_response(req: fnv1.RunFunctionRequest, reply: Reply) -> fnv1.RunFunctionResponse:
    rsp = _head(req, reply)
    for crn, body, ready in reply.resources:
        target = rsp.desired.resources[crn]
        encode_naive(target, body)
        target.ready = fnv1.READY_TRUE if ready else fnv1.READY_FALSE
    if reply.status is not None:
        encode_naive(rsp.desired.composite, {"status": reply.status})
    return rsp


def response_bytes(req: fnv1.RunFunctionRequest, reply: Reply, encoder: StructEncoder) -> bytes:
    """`write_response(req, reply)` serialized, the composed resources written from their
    encodings (plinth.runtime.wire) rather than through the message."""
    head = _head(req, reply).SerializeToString()
    if reply.status is None:
        return head
    before = req.desired.resources
    desired = wire.Desired()
    desired.composite(encoder.encode({"status": reply.status}))
    for crn, body, ready in reply.resources:
        if before and crn in before:
            # An earlier function in the pipeline composed it too: the SDK merges into it,
            # and an entry written after it would replace it whole.
            merged = fnv1.Resource()
            merged.CopyFrom(before[crn])
            merged.resource.MergeFromString(encoder.encode(body))
            merged.ready = fnv1.READY_TRUE if ready else fnv1.READY_FALSE
            desired.message(crn, merged.SerializeToString())
        else:
            desired.resource(encoder.entry(crn, body), ready)
    return head + desired.bytes()


def fatal_response(
    req: fnv1.RunFunctionRequest, message: str, ttls: Ttls = TTLS
) -> fnv1.RunFunctionResponse:
    # A Fatal result stops the pipeline before Crossplane applies or deletes anything, so
    # nothing composed earlier is lost while the user fixes the claim.
    rsp = response.to(req, _ttl(ttls.fatal))
    rsp.results.append(
        fnv1.Result(
            severity=fnv1.SEVERITY_FATAL,
            message=message,
            reason="InvalidClaim",
            target=fnv1.TARGET_COMPOSITE_AND_CLAIM,
        )
    )
    return rsp


Written = TypeVar("Written")


def respond(
    req: fnv1.RunFunctionRequest,
    write: Callable[[Reply], Written],
    *,
    ttls: Ttls = TTLS,
    memos: Memos | None = None,
    fast: bool = True,
) -> Written | fnv1.RunFunctionResponse:
    """Handle one request: what `write` makes of the reply, or the Fatal response. Never
    raises: every failure, `write`'s included, becomes a Fatal result.

    `fast=False` is the naive path the fast one is proven equal to: observed resources
    converted whole when read, and with no `memos`, the required resources converted and the
    platform config validated every call.
    """
    if not fast:
        memos = None
    try:
        xr = struct_to_py(req.observed.composite.resource)
        fn_input = struct_to_py(req.input) if req.HasField("input") else None
        observed = Observed(
            {k: v.resource for k, v in req.observed.resources.items()},
            to_body=struct_to_py,
            ready_of=struct_ready if fast else None,
            kind_of=struct_kind if fast else None,
            composite=xr,
            value_at=struct_value_at if fast else None,
        )
        to_required = memos.bodies.decode if memos else struct_to_py
        required = {
            name: [to_required(item.resource) for item in res.items]
            for name, res in req.required_resources.items()
        }
        problems = [envelope_error(xr, "the composite")] + [
            envelope_error(item, f"required resource {name!r}")
            for name, items in required.items()
            for item in items
        ]
        if problem := next((p for p in problems if p), None):
            raise Fatal(f"malformed request: {problem}")
        outcome = evaluate(xr, fn_input, observed, required, memos.platforms if memos else None)
        return write(plan_reply(outcome, ttls))
    except Fatal as e:
        return fatal_response(req, str(e), ttls)
    except Exception as e:  # a bug must not take the server down or delete anything
        fields = req.observed.composite.resource.fields
        kind = fields["kind"].string_value if "kind" in fields else "<no kind>"
        log.exception("internal error composing %s", kind)
        return fatal_response(req, f"{INTERNAL_ERROR_PREFIX}: {type(e).__name__}: {e}", ttls)


def run_function(
    req: fnv1.RunFunctionRequest, *, ttls: Ttls = TTLS, fast: bool = True
) -> fnv1.RunFunctionResponse:
    """Handle one request as a message (`respond`, written by `write_response`)."""
    return respond(req, lambda reply: write_response(req, reply), ttls=ttls, fast=fast)


def run_naive(req: fnv1.RunFunctionRequest, ttls: Ttls = TTLS) -> fnv1.RunFunctionResponse:
    """The SDK's naive path: what the fast path must equal, message for message."""
    return run_function(req, ttls=ttls, fast=False)


def replied(who: Call, req: fnv1.RunFunctionRequest, reply: Reply) -> Call:
    """`ended(who, rsp)` for the response `response_bytes` wrote, read from the reply."""
    before = req.desired.resources
    composed = len(
        {*before, *(crn for crn, _, _ in reply.resources)} if before else reply.resources
    )
    return dataclasses.replace(
        who,
        resources=composed,
        desired_phase=desired_phase(req.desired) if reply.status is None else reply.status["phase"],
        requirements=len(reply.requirements),
    )


Recorder = Callable[[bytes, bytes, bool], None]


def _too_large(size: int, limit: int) -> str:
    return (
        f"the response would be {size / 2**20:.1f} MiB, over function-plinth's "
        f"--max-send-message-size of {limit / 2**20:.0f} MiB: the claim composes too much, or "
        "its observed resources carry very large values"
    )


class FunctionRunner(grpcv1.FunctionRunnerServiceServicer):
    """The function-plinth gRPC servicer.

    Identical requests get the identical response bytes back (plinth.runtime.cache): the
    composers are pure, so a reconcile that changes nothing costs a lookup, and the server
    hands the bytes to gRPC without parsing the request or serializing the response. On a
    miss, the required resources are converted and the platform config is parsed once per
    distinct content (Memos), and each desired resource's encoding is reused when an equal
    body was encoded before and written into the response's bytes as it is
    (plinth.runtime.wire).

    Whatever arrives gets a response: bytes that are not a RunFunctionRequest, a composer
    that raises, and a response over `max_response_bytes` (which gRPC would fail with
    RESOURCE_EXHAUSTED and no word on why) each get a Fatal result that says so.
    """

    def __init__(
        self,
        *,
        cache_bytes: int = DEFAULT_MAX_BYTES,
        encoder_size: int = 8192,
        ttls: Ttls = TTLS,
        recorder: Recorder | None = None,
        cache_size: int | None = None,
        max_response_bytes: int | None = None,
    ) -> None:
        # cache_size: the entry count this cache had before it was bounded by bytes; only
        # 0 (no cache) still means something.
        self.cache = ResponseCache(0 if cache_size == 0 else cache_bytes)
        self._encoder = StructEncoder(encoder_size)
        self._memos = Memos()
        self._ttls = ttls
        self.recorder = recorder
        self.max_response_bytes = max_response_bytes

    def compose(
        self, req: fnv1.RunFunctionRequest
    ) -> tuple[bytes, Reply | fnv1.RunFunctionResponse]:
        """One request composed, never from the cache: the serialized response, and the reply
        it was written from (or the Fatal response it is)."""
        answer = respond(
            req,
            lambda reply: (response_bytes(req, reply, self._encoder), reply),
            ttls=self._ttls,
            memos=self._memos,
        )
        if isinstance(answer, fnv1.RunFunctionResponse):
            return answer.SerializeToString(), answer
        return answer

    def answer(self, request: bytes) -> tuple[bytes, Call, bool]:
        """The serialized response for a serialized request, what the call was about, and
        whether the cache answered it: what the server calls."""
        found = self.cache.find(request) if self.cache.max_bytes else None
        if found is not None:
            out, call = found
        else:
            out, call, cacheable = self._miss(request)
            if cacheable and self.cache.max_bytes:
                self.cache.put(request, out, call)
        if self.recorder is not None:
            self.recorder(request, out, found is not None)
        return out, call, found is not None

    def _miss(self, request: bytes) -> tuple[bytes, Call, bool]:
        req = fnv1.RunFunctionRequest()
        try:
            req.ParseFromString(request)
        except (pb_message.DecodeError, RecursionError) as e:
            message = (
                f"function-plinth cannot read the RunFunctionRequest ({len(request)} bytes): "
                f"{e}. A request Crossplane sends is always readable; check what else calls "
                "the function"
            )
            rsp = fatal_response(fnv1.RunFunctionRequest(), message, self._ttls)
            return rsp.SerializeToString(), Call(outcome="error", message=message), False
        who = identify(req)
        token = current_claim.set(who.claim_fields())
        try:
            try:
                out, written = self.compose(req)
                call = (
                    ended(who, written)
                    if isinstance(written, fnv1.RunFunctionResponse)
                    else replied(who, req, written)
                )
            except Exception as e:  # respond guards itself; this guards the guard
                log.exception("internal error composing the claim")
                rsp = fatal_response(
                    req, f"{INTERNAL_ERROR_PREFIX}: {type(e).__name__}: {e}", self._ttls
                )
                out, call = rsp.SerializeToString(), ended(who, rsp)
            if self.max_response_bytes and len(out) > self.max_response_bytes:
                rsp = fatal_response(req, _too_large(len(out), self.max_response_bytes), self._ttls)
                out, call = rsp.SerializeToString(), ended(who, rsp)
            return out, call, True
        finally:
            current_claim.reset(token)

    def run_bytes(self, request: bytes) -> bytes:
        """A serialized response for a serialized request."""
        return self.answer(request)[0]

    def run(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        return fnv1.RunFunctionResponse.FromString(self.run_bytes(req.SerializeToString()))

    def stats(self) -> CacheStats:
        return self.cache.stats()

    async def RunFunction(  # noqa: N802 - the gRPC method name
        self, req: fnv1.RunFunctionRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> fnv1.RunFunctionResponse:
        return self.run(req)
