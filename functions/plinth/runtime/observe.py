"""The serving edge around the FunctionRunner: reading requests, metrics and structured logs.

`FunctionRunner` decides what a request composes. This module is what sits between it and the
wire, so that whatever arrives gets a RunFunctionResponse back:

* requests are received as bytes and parsed here: bytes that are not a RunFunctionRequest
  (invalid UTF-8 in a string, nesting deeper than protobuf's limit, a corrupt wire format) get
  a Fatal result saying so, where the generated servicer would fail the call with UNKNOWN;
* every call is counted and timed per claim kind and outcome (`plinth.runtime.metrics`);
* every log line about a call is one JSON object naming the claim (kind, namespace, name) and
  its phase, including the lines the function itself logs while composing it.
"""

from __future__ import annotations

import contextvars
import datetime
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import IO, Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import message as pb_message

from plinth.runtime.function import fatal_response
from plinth.runtime.metrics import CacheStats, Metrics, read_stats

log = logging.getLogger("plinth.serve")

SERVICES = (
    "apiextensions.fn.proto.v1.FunctionRunnerService",
    # v1beta1 is wire-identical to v1 (the SDK converts between them by re-serializing), so
    # the same handler answers both.
    "apiextensions.fn.proto.v1beta1.FunctionRunnerService",
)
# run_function's message for an exception it caught: an internal error, not the claim's fault.
INTERNAL_ERROR_PREFIX = "internal error in function-plinth"
LEGACY_KINDS = frozenset({"XAccount", "XTenant", "XApp"})
LOG_LEVELS = ("debug", "info", "warning", "error")
# Kubernetes names are at most 253 characters; hostile input may be megabytes.
MAX_FIELD = 253
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class Identity:
    kind: str = ""
    namespace: str = ""
    name: str = ""
    phase: str = ""

    def fields(self) -> dict[str, str]:
        return {
            "kind": self.kind or "<none>",
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase or "<none>",
        }


_claim: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "plinth_claim", default=None
)


def _sub(fields: Any, key: str) -> Any:
    """The Struct under `key`, or None when absent or of another type."""
    v = fields.get(key) if fields is not None else None
    if v is None or v.WhichOneof("kind") != "struct_value":
        return None
    return v.struct_value.fields


def _text(fields: Any, key: str) -> str:
    v = fields.get(key) if fields is not None else None
    if v is None or v.WhichOneof("kind") != "string_value":
        return ""
    return str(v.string_value[:MAX_FIELD])


def identify(req: fnv1.RunFunctionRequest) -> Identity:
    """The claim a request is about, read from the Struct without converting it; the same
    identity the function derives (plinth.runtime.function.claim_identity)."""
    xr = req.observed.composite.resource.fields
    kind = _text(xr, "kind")
    meta = _sub(xr, "metadata")
    name, namespace = _text(meta, "name"), _text(meta, "namespace")
    if kind in LEGACY_KINDS:
        ref = _sub(_sub(xr, "spec"), "claimRef")
        labels = _sub(meta, "labels")
        name = _text(ref, "name") or _text(labels, "crossplane.io/claim-name") or name
        namespace = _text(ref, "namespace") or _text(labels, "crossplane.io/claim-namespace")
    return Identity(kind, namespace, name, _text(_sub(xr, "status"), "phase"))


def outcome_of(rsp: fnv1.RunFunctionResponse) -> tuple[str, str]:
    """ok, fatal (the claim cannot be composed as it is) or error (a bug), and the message."""
    for r in rsp.results:
        if r.severity == fnv1.SEVERITY_FATAL:
            kind = "error" if r.message.startswith(INTERNAL_ERROR_PREFIX) else "fatal"
            return kind, r.message
    return "ok", ""


def desired_phase(rsp: fnv1.RunFunctionResponse) -> str:
    status = _sub(rsp.desired.composite.resource.fields, "status")
    return _text(status, "phase")


class CacheProbe:
    """The response cache's figures: its own stats() where it has one, else counted here."""

    def __init__(self, runner: Any) -> None:
        self._stats: Callable[[], Any] | None = None
        for owner in (runner, *(getattr(runner, a, None) for a in ("cache", "_cache"))):
            fn = getattr(owner, "stats", None)
            if callable(fn):
                self._stats = fn
                break
        cache = getattr(runner, "_responses", None)
        self._cache: Mapping[bytes, fnv1.RunFunctionResponse] | None = (
            cache if self._stats is None and isinstance(cache, Mapping) else None
        )
        self.hits = 0
        self.misses = 0

    @property
    def counting(self) -> bool:
        """Whether hits must be counted per call (a cache without stats())."""
        return self._cache is not None

    def count(self, req: fnv1.RunFunctionRequest) -> bool:
        """Whether the runner will answer `req` from its cache; the key is its bytes."""
        hit = self._cache is not None and req.SerializeToString() in self._cache
        if hit:
            self.hits += 1
        else:
            self.misses += 1
        return hit

    def read(self) -> CacheStats | None:
        if self._stats is not None:
            return read_stats(self._stats())
        if self._cache is None:
            return None
        items = list(self._cache.items())
        return CacheStats(
            hits=self.hits,
            misses=self.misses,
            bytes=sum(len(k) + v.ByteSize() for k, v in items),
            entries=len(items),
        )


def _too_large(size: int, limit: int) -> str:
    return (
        f"the response would be {size / 2**20:.1f} MiB, over function-plinth's "
        f"--max-send-message-size of {limit / 2**20:.0f} MiB: the claim composes too much, or "
        "its observed resources carry very large values"
    )


class Observed:
    """A FunctionRunner (anything with `run(req) -> rsp`) served from raw request bytes, with
    metrics and logs. Never raises: every call gets a RunFunctionResponse."""

    def __init__(
        self, runner: Any, *, metrics: bool = True, max_response_bytes: int | None = None
    ) -> None:
        self.runner = runner
        self.max_response_bytes = max_response_bytes
        self.cache = CacheProbe(runner)
        self.metrics = Metrics(self.cache.read) if metrics else None

    def answer(self, data: bytes) -> fnv1.RunFunctionResponse:
        began = time.perf_counter()
        req = fnv1.RunFunctionRequest()
        try:
            req.ParseFromString(data)
        except (pb_message.DecodeError, RecursionError) as e:
            return self._unreadable(data, e, began)
        who = identify(req)
        token = _claim.set(who.fields())
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            hit = (
                self.cache.count(req) if self.metrics is not None and self.cache.counting else None
            )
            try:
                rsp: fnv1.RunFunctionResponse = self.runner.run(req)
            except Exception as e:  # the runner guards itself; this guards the guard
                log.exception("internal error composing the claim")
                rsp = fatal_response(req, f"{INTERNAL_ERROR_PREFIX}: {type(e).__name__}: {e}")
            if self.max_response_bytes and (size := rsp.ByteSize()) > self.max_response_bytes:
                # gRPC would fail the call with RESOURCE_EXHAUSTED and no word on why.
                rsp = fatal_response(req, _too_large(size, self.max_response_bytes))
            self._record(who, rsp, time.perf_counter() - began, hit)
            return rsp
        finally:
            if self.metrics is not None:
                self.metrics.in_flight.dec()
            _claim.reset(token)

    def _record(
        self, who: Identity, rsp: fnv1.RunFunctionResponse, seconds: float, hit: bool | None
    ) -> None:
        try:
            outcome, message = outcome_of(rsp)
            resources = len(rsp.desired.resources) if outcome == "ok" else None
            if self.metrics is not None:
                self.metrics.observe(who.kind, outcome, seconds, resources)
            fields: dict[str, Any] = {
                "outcome": outcome,
                "duration_ms": round(seconds * 1e3, 3),
                "resources": resources,
                "desired_phase": desired_phase(rsp) or None,
                "requirements": len(rsp.requirements.resources) or None,
            }
            if hit is not None:
                fields["cache_hit"] = hit
            if outcome == "ok":
                log.debug("RunFunction", extra={"fields": fields})
            else:
                fields["message"] = message[:MAX_MESSAGE]
                level = logging.INFO if outcome == "fatal" else logging.ERROR
                log.log(level, "RunFunction returned a Fatal result", extra={"fields": fields})
        except Exception:  # observing must never cost the caller its response
            log.exception("cannot record a RunFunction call")

    def _unreadable(self, data: bytes, err: Exception, began: float) -> fnv1.RunFunctionResponse:
        message = (
            f"function-plinth cannot read the RunFunctionRequest ({len(data)} bytes): {err}. "
            "A request Crossplane sends is always readable; check what else calls the function"
        )
        rsp = fatal_response(fnv1.RunFunctionRequest(), message)
        if self.metrics is not None:
            self.metrics.observe("", "error", time.perf_counter() - began, None)
        log.error(
            "unreadable RunFunctionRequest",
            extra={"fields": {"outcome": "error", "bytes": len(data), "message": str(err)}},
        )
        return rsp

    async def RunFunction(  # noqa: N802 - the gRPC method name
        self, data: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> fnv1.RunFunctionResponse:
        return self.answer(data)


def add_to_server(server: grpc.aio.Server, observed: Observed) -> None:
    """Serve `observed` as RunFunction of both FunctionRunnerService versions. Requests arrive
    as bytes (no deserializer) so that unreadable ones are answered too."""
    handler = grpc.unary_unary_rpc_method_handler(
        observed.RunFunction,
        request_deserializer=None,
        response_serializer=fnv1.RunFunctionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        tuple(grpc.method_handlers_generic_handler(s, {"RunFunction": handler}) for s in SERVICES)
    )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the claim being composed (kind,
    namespace, name, phase) when the line concerns one, then the line's own fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        claim = _claim.get()
        if claim is not None:
            out.update(claim)
        extra = getattr(record, "fields", None)
        if isinstance(extra, Mapping):
            out.update({k: v for k, v in extra.items() if v is not None})
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "info", stream: IO[str] | None = None) -> None:
    """JSON lines on stderr at `level` for every logger (Plinth's, gRPC's, the SDK's)."""
    if level not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(getattr(logging, level.upper()))
