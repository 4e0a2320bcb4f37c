"""The serving edge around the FunctionRunner: metrics and structured logs per call.

`FunctionRunner.answer` decides what a request composes (and answers whatever arrives with a
response). This module is what sits between it and the wire:

* requests are received as bytes (no deserializer), so that the runner can answer bytes that
  are not a RunFunctionRequest with a Fatal result, where the generated servicer would fail
  the call with UNKNOWN, and a cache hit is never parsed;
* every call is counted and timed per claim kind and outcome (`plinth.runtime.metrics`);
* every log line about a call is one JSON object naming the claim (kind, namespace, name) and
  its phase, including the lines the function itself logs while composing it.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import IO, Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from plinth.runtime.calls import Call, current_claim
from plinth.runtime.function import FunctionRunner
from plinth.runtime.metrics import Metrics

log = logging.getLogger("plinth.serve")

SERVICES = (
    "apiextensions.fn.proto.v1.FunctionRunnerService",
    # v1beta1 is wire-identical to v1 (the SDK converts between them by re-serializing), so
    # the same handler answers both: Crossplane before v1.17 calls v1beta1.
    "apiextensions.fn.proto.v1beta1.FunctionRunnerService",
)
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_MESSAGE = 2000


class Observed:
    """A FunctionRunner served from raw request bytes, with metrics and logs. Never raises:
    every call gets a response."""

    def __init__(self, runner: FunctionRunner, *, metrics: bool = True) -> None:
        self.runner = runner
        self.metrics = Metrics(runner.stats) if metrics else None

    def answer_bytes(self, data: bytes) -> bytes:
        began = time.perf_counter()
        if self.metrics is not None:
            self.metrics.in_flight.inc()
        try:
            out, call, hit = self.runner.answer(data)
            self._record(call, time.perf_counter() - began, hit)
            return out
        finally:
            if self.metrics is not None:
                self.metrics.in_flight.dec()

    def answer(self, data: bytes) -> fnv1.RunFunctionResponse:
        """`answer_bytes`, parsed: for tests and in-process callers."""
        return fnv1.RunFunctionResponse.FromString(self.answer_bytes(data))

    def _record(self, call: Call, seconds: float, hit: bool) -> None:
        try:
            if self.metrics is not None:
                self.metrics.observe(call.kind, call.outcome, seconds, call.resources)
            if call.outcome == "ok" and not log.isEnabledFor(logging.DEBUG):
                return
            fields: dict[str, Any] = {
                **call.claim_fields(),
                "outcome": call.outcome,
                "duration_ms": round(seconds * 1e3, 3),
                "resources": call.resources,
                "desired_phase": call.desired_phase or None,
                "requirements": call.requirements or None,
                "cache_hit": hit,
            }
            if call.outcome == "ok":
                log.debug("RunFunction", extra={"fields": fields})
            elif not call.kind and not call.name:
                fields["message"] = call.message[:MAX_MESSAGE]
                log.error("unreadable RunFunctionRequest", extra={"fields": fields})
            else:
                fields["message"] = call.message[:MAX_MESSAGE]
                level = logging.INFO if call.outcome == "fatal" else logging.ERROR
                log.log(level, "RunFunction returned a Fatal result", extra={"fields": fields})
        except Exception:  # observing must never cost the caller its response
            log.exception("cannot record a RunFunction call")

    async def RunFunction(  # noqa: N802 - the gRPC method name
        self, data: bytes, context: grpc.aio.ServicerContext[Any, Any]
    ) -> bytes:
        return self.answer_bytes(data)


def add_to_server(server: grpc.aio.Server, observed: Observed) -> None:
    """Serve `observed` as RunFunction of both FunctionRunnerService versions, bytes in and
    bytes out."""
    handler = grpc.unary_unary_rpc_method_handler(observed.RunFunction)
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
        claim = current_claim.get()
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
