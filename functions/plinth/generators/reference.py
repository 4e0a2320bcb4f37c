"""Field reference tables for the docs, generated from the models: `plinth generate` rewrites
the table under "## Fields" of each API's page, and tests fail when one drifts."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from plinth.api.account import AccountSpec
from plinth.api.app import AppSpec
from plinth.api.platform import PlatformConfig
from plinth.api.tenant import TenantSpec
from plinth.generators.openapi import openapi_schema


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


TABLE_HEADER = "| field | type | default | description |"


def _replace_table(text: str, *, table: str, prefix: str) -> str:
    """`text` with its field table for `prefix` (the one whose first row starts with it)
    replaced by `table`; a page without one gets it appended under "## Fields"."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line == TABLE_HEADER and i + 2 < len(lines) and lines[i + 2].startswith(f"| `{prefix}"):
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            return "\n".join(lines[:i] + table.rstrip("\n").split("\n") + lines[end:])
    return text.rstrip("\n") + "\n\n## Fields\n\n" + table


def doc_patches() -> dict[Path, Callable[[str], str]]:
    """Per docs page, how `plinth generate` brings its field table up to date."""
    tables = {
        Path("docs/account.md"): (field_table(AccountSpec, "spec"), "spec."),
        Path("docs/tenant.md"): (field_table(TenantSpec, "spec"), "spec."),
        Path("docs/app.md"): (field_table(AppSpec, "spec"), "spec."),
        Path("docs/platform.md"): (platform_reference(), "data."),
    }
    return {
        path: functools.partial(_replace_table, table=t, prefix=p)
        for path, (t, p) in tables.items()
    }
