"""Field reference tables for the docs, generated from the models (docs/platform.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from plinth.api.platform import PlatformConfig
from plinth.schema import openapi_schema


def _rows(schema: dict[str, Any], prefix: str) -> list[tuple[str, str, str, str]]:
    rows = []
    required = set(schema.get("required", []))
    for name, sub in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        typ = sub.get("type", "")
        if typ == "array":
            typ = f"list of {sub['items'].get('type', '')}"
        default = sub.get("default")
        shown = "required" if name in required else ("" if default is None else f"`{default}`")
        desc = " ".join(str(sub.get("description", "")).split())
        if "enum" in sub:
            desc += " One of: " + ", ".join(f"`{v}`" for v in sub["enum"]) + "."
        if "pattern" in sub:
            desc += f" Pattern `{sub['pattern']}`."
        rows.append((path, typ, shown, desc.strip()))
        if sub.get("type") == "object" and sub.get("properties"):
            rows += _rows(sub, path)
        items = sub.get("items") or {}
        if items.get("type") == "object" and items.get("properties"):
            rows += _rows(items, f"{path}[]")
    return rows


def field_table(model: type[BaseModel], prefix: str = "") -> str:
    lines = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for path, typ, default, desc in _rows(openapi_schema(model), prefix):
        cell = desc.replace("|", "\\|")
        lines.append(f"| `{path}` | {typ} | {default} | {cell} |")
    return "\n".join(lines) + "\n"


def platform_reference() -> str:
    return field_table(PlatformConfig, "data")
