"""Pydantic models -> Kubernetes structural OpenAPI v3 schemas (for XRDs).

Kubernetes accepts only structural schemas: every node typed, no `$ref`, no `anyOf` of types.
Pydantic emits JSON Schema, so this module inlines references, folds `Optional[X]` into an
optional X, and keeps what Kubernetes understands: descriptions, defaults, enums, patterns,
bounds and `x-kubernetes-validations` CEL rules.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# Value constraints that mean the same in JSON Schema and in Kubernetes' OpenAPI subset.
VALUE_CONSTRAINTS = (
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)

_KEEP = {
    "type",
    "description",
    "default",
    "format",
    "x-kubernetes-validations",
    # An override's patch is free-form; the function decides what it may touch.
    "x-kubernetes-preserve-unknown-fields",
    *VALUE_CONSTRAINTS,
}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _resolve(merged, defs)
    return node


def _convert(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    node = _resolve(node, defs)
    for key in ("anyOf", "oneOf"):
        if key in node:
            options = [o for o in node[key] if o.get("type") != "null"]
            if len(options) != 1:
                raise ValueError(f"not expressible as a structural schema: {node}")
            inner = {**_resolve(options[0], defs)}
            # The outer node's description/default describe the field, not the type.
            for k, v in node.items():
                if k not in (key, "title") and v is not None:
                    inner[k] = v
            return _convert(inner, defs)
    if "const" in node:
        node = {**node, "enum": [node["const"]]}
    if "allOf" in node and len(node["allOf"]) == 1:
        base = _resolve(node["allOf"][0], defs)
        node = {**base, **{k: v for k, v in node.items() if k != "allOf"}}
    out: dict[str, Any] = {k: v for k, v in node.items() if k in _KEEP and v is not None}
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    if out.get("type") == "object" or "properties" in node:
        out["type"] = "object"
        props = node.get("properties")
        if props:
            out["properties"] = {k: _convert(v, defs) for k, v in props.items()}
            req = [r for r in node.get("required", []) if r in props]
            if req:
                out["required"] = req
        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and not props:
            out["additionalProperties"] = _convert(extra, defs)
    if out.get("type") == "array":
        out["items"] = _convert(node.get("items", {}), defs)
    if "type" not in out:
        raise ValueError(f"untyped schema node: {node}")
    return out


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of `model`, as an XRD or CRD embeds it."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    schema = _convert(raw, defs)
    doc = (model.__doc__ or "").strip()
    if doc and "description" not in schema:
        schema["description"] = " ".join(doc.split())
    return schema
