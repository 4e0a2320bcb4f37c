"""What one RunFunction call was about and how it ended, read from the messages themselves.

The serving edge (plinth.runtime.observe) counts and logs calls by claim and outcome; the
runner computes a `Call` once, when it composes, and keeps it beside the cached response, so a
cache hit is logged and counted without parsing the request again.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

# run_function's message for an exception it caught: an internal error, not the claim's fault.
INTERNAL_ERROR_PREFIX = "internal error in function-plinth"
LEGACY_KINDS = frozenset({"XAccount", "XTenant", "XApp"})
# Kubernetes names are at most 253 characters; hostile input may be megabytes.
MAX_FIELD = 253


@dataclass(frozen=True)
class Call:
    """A call's claim (kind, namespace, name, phase) and outcome: ok, fatal (the claim cannot
    be composed as it is) or error (a bug, or bytes that are not a request)."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    phase: str = ""
    outcome: str = "ok"
    message: str = ""
    resources: int | None = None
    desired_phase: str = ""
    requirements: int = 0

    def claim_fields(self) -> dict[str, str]:
        return {
            "kind": self.kind or "<none>",
            "namespace": self.namespace,
            "name": self.name,
            "phase": self.phase or "<none>",
        }


# The claim being composed, for log lines the composers write while composing it.
current_claim: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
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


def identify(req: fnv1.RunFunctionRequest) -> Call:
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
    return Call(kind, namespace, name, _text(_sub(xr, "status"), "phase"))


def ended(who: Call, rsp: fnv1.RunFunctionResponse) -> Call:
    """`who` with the outcome of `rsp`."""
    outcome, message = "ok", ""
    for r in rsp.results:
        if r.severity == fnv1.SEVERITY_FATAL:
            outcome = "error" if r.message.startswith(INTERNAL_ERROR_PREFIX) else "fatal"
            message = r.message
            break
    return Call(
        who.kind,
        who.namespace,
        who.name,
        who.phase,
        outcome,
        message,
        len(rsp.desired.resources) if outcome == "ok" else None,
        desired_phase(rsp.desired),
        len(rsp.requirements.resources),
    )


def desired_phase(desired: fnv1.State) -> str:
    """The phase a desired state gives the composite's status."""
    return _text(_sub(desired.composite.resource.fields, "status"), "phase")
