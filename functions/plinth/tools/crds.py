"""Upstream CRD schemas, loaded lazily from a directory of CRD YAML.

`plinth validate` uses the schema bundle the package carries (`plinth.tools.schemas`); a
directory of CRDs is for `--crds DIR` / `PLINTH_CRDS_DIR`, for tests, and for `plinth dev up`,
which applies the full upstream CRDs to its API server. Files are named
`<group>_<plural>.yaml`, so a lookup reads only the files of one API group.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import yaml

try:  # libyaml parses the 33 MB of upstream CRDs an order of magnitude faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

ENV_VAR = "PLINTH_CRDS_DIR"


class CrdsNotFound(Exception):
    pass


def default_crds_dir(explicit: str | None = None) -> Path:
    """A directory of full upstream CRDs, for `plinth dev up` (validation needs none: it uses
    the bundled schemas): `explicit`, else `$PLINTH_CRDS_DIR`. Nothing is looked up beside the
    package or the working directory."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get(ENV_VAR):
        candidates.append(Path(os.environ[ENV_VAR]))
    for c in candidates:
        if c.is_dir():
            return c
    raise CrdsNotFound(
        f"no upstream CRD directory found: set {ENV_VAR}"
        + (f" (tried {', '.join(str(c) for c in candidates)})" if candidates else "")
    )


@dataclass(frozen=True)
class CrdVersion:
    group: str
    version: str
    kind: str
    scope: str
    schema: dict[str, Any]


class SchemaStore(Protocol):
    """Where the validator finds the schema of a custom kind: a CrdStore or the bundle."""

    root: Path

    def get(self, api_version: str, kind: str) -> CrdVersion | None: ...


class CrdStore:
    """CRD schemas by (apiVersion, kind), read on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._loaded: set[Path] = set()
        self._versions: dict[tuple[str, str], CrdVersion] = {}

    @cached_property
    def _files_by_group(self) -> dict[str, list[Path]]:
        by_group: dict[str, list[Path]] = defaultdict(list)
        for f in sorted(self.root.rglob("*.yaml")):
            group = f.name.split("_", 1)[0] if "_" in f.name else ""
            by_group[group].append(f)
        return by_group

    def _load(self, f: Path) -> None:
        if f in self._loaded:
            return
        self._loaded.add(f)
        for doc in yaml.load_all(f.read_text(), Loader=_Loader):
            self.add(doc)

    def add(self, doc: Any) -> None:
        """Index a CustomResourceDefinition document (others are ignored)."""
        if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
            return
        spec = doc["spec"]
        for v in spec.get("versions", []):
            schema = (v.get("schema") or {}).get("openAPIV3Schema") or {}
            key = (f"{spec['group']}/{v['name']}", spec["names"]["kind"])
            self._versions[key] = CrdVersion(
                spec["group"],
                v["name"],
                spec["names"]["kind"],
                spec.get("scope", "Namespaced"),
                schema,
            )

    def get(self, api_version: str, kind: str) -> CrdVersion | None:
        key = (api_version, kind)
        if key in self._versions:
            return self._versions[key]
        group = api_version.split("/", 1)[0] if "/" in api_version else ""
        files = self._files_by_group.get(group, [])
        plural = kind.lower()
        # Read the likely file first (<group>_<plural>.yaml), then the rest of the group.
        files = sorted(files, key=lambda f: not f.name.split("_", 1)[-1].startswith(plural))
        for f in files:
            self._load(f)
            if key in self._versions:
                return self._versions[key]
        # Also look in files not following the naming convention (e.g. application-crd.yaml).
        for f in self._files_by_group.get("", []) + [
            f for g, fs in self._files_by_group.items() if "." not in g for f in fs
        ]:
            self._load(f)
            if key in self._versions:
                return self._versions[key]
        return None
