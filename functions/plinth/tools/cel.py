"""Evaluate `x-kubernetes-validations` CEL rules with a real CEL implementation (cel-python).

The API server evaluates these rules on every write; evaluating them here lets `plinth
validate` catch the same mistakes in a pull request, before anything reaches a cluster.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import celpy
from celpy.adapter import json_to_cel

logging.getLogger("celpy").setLevel(logging.CRITICAL)

_ENV = celpy.Environment()


# The parts of Kubernetes' CEL extension libraries (strings, lists) that upstream CRDs use;
# cel-python implements only the CEL standard library.
_K8S_FUNCTIONS: dict[str, Any] = {
    "lowerAscii": lambda s: celpy.celtypes.StringType(str(s).lower()),
    "upperAscii": lambda s: celpy.celtypes.StringType(str(s).upper()),
    "trim": lambda s: celpy.celtypes.StringType(str(s).strip()),
    "split": lambda s, sep: celpy.celtypes.ListType(
        [celpy.celtypes.StringType(x) for x in str(s).split(str(sep))]
    ),
    "join": lambda items, sep="": celpy.celtypes.StringType(str(sep).join(str(x) for x in items)),
    "indexOf": lambda s, sub: celpy.celtypes.IntType(str(s).find(str(sub))),
    "lastIndexOf": lambda s, sub: celpy.celtypes.IntType(str(s).rfind(str(sub))),
    "replace": lambda s, a, b: celpy.celtypes.StringType(str(s).replace(str(a), str(b))),
}


# Kubernetes escapes property names that are CEL keywords or not identifiers (`namespace` is
# written `self.__namespace__`), so the object handed to CEL carries the escaped names.
_CEL_RESERVED = frozenset(
    [
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ]
)


def escape_name(name: str) -> str:
    if name in _CEL_RESERVED:
        return f"__{name}__"
    out = name.replace("__", "__underscores__")
    for char, word in (("-", "dash"), (".", "dot"), ("/", "slash")):
        out = out.replace(char, f"__{word}__")
    return out


def _escaped(value: Any) -> Any:
    if isinstance(value, dict):
        return {escape_name(k) if isinstance(k, str) else k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


@lru_cache(maxsize=2048)
def _program(rule: str) -> Any:
    return _ENV.program(_ENV.compile(rule), functions=_K8S_FUNCTIONS)


class CelUnsupported(Exception):
    """A rule this CEL implementation cannot compile (e.g. a Kubernetes-only extension)."""


def evaluate(rule: str, value: Any) -> bool:
    """The rule's verdict. Like the API server, a rule that fails to evaluate rejects the value."""
    try:
        prog = _program(rule)
    except Exception as e:  # celpy raises its own parse errors; any of them means unsupported
        raise CelUnsupported(f"{rule}: {e}") from None
    try:
        result = prog.evaluate({"self": json_to_cel(_escaped(value))})
    except Exception as e:
        result = e
    if isinstance(result, Exception):
        if "undeclared reference" in str(result):
            raise CelUnsupported(f"{rule}: {result}") from None
        return False  # e.g. "no such key": the API server rejects the object too
    return bool(result)


def apply_defaults(schema: dict[str, Any], value: Any) -> Any:
    """A copy of `value` with the schema's defaults filled in, as the API server does first."""
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        out = {}
        for k, v in value.items():
            sub = props.get(k)
            if sub is None and isinstance(schema.get("additionalProperties"), dict):
                sub = schema["additionalProperties"]
            out[k] = apply_defaults(sub, v) if sub else v
        for k, sub in props.items():
            if k not in out and "default" in sub:
                out[k] = apply_defaults(sub, copy.deepcopy(sub["default"]))
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [apply_defaults(schema["items"], v) for v in value]
    return value


def walk_rules(
    schema: dict[str, Any], value: Any, path: str = ""
) -> Iterator[tuple[str, str, str, Any]]:
    """(path, rule, message, value) for every CEL rule that applies to `value`."""
    if value is None:
        return
    for r in schema.get("x-kubernetes-validations") or ():
        if "oldSelf" in r.get("rule", ""):
            continue  # transition rules need the previous object
        yield path, r["rule"], r.get("message") or f"failed rule: {r['rule']}", value
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for k, v in value.items():
            sub = props.get(k) if k in props else (extra if isinstance(extra, dict) else None)
            if sub:
                yield from walk_rules(sub, v, f"{path}.{k}" if path else k)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, v in enumerate(value):
            yield from walk_rules(schema["items"], v, f"{path}[{i}]")
