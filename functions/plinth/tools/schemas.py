"""The schema bundle: the upstream schemas Plinth validates against, carried in the package.

`plinth validate` must work wherever Plinth is installed (a claim repository's CI, a laptop),
with no checkout beside it and no network. So the package carries, for every upstream kind
listed in `schema_data/kinds.txt`, the OpenAPI schemas (CEL rules included) of the versions
its CRD serves, taken from the upstream CRD and stripped of `description` fields.

Layout of `schema_data/`:

* `kinds.txt`: the selection, one `group/Kind` per line;
* `<group>_<Kind>.json.gz`: one file per kind, gzip (mtime 0) of sorted-key compact JSON:
  `{"format", "group", "kind", "scope", "provenance", "versions": [{"name", "schema"}]}`,
  where `provenance` is `{"project", "version", "source", "upstreamPath"?, "sha256"}`: the
  upstream project and release, the CRD file's path in the folder it was read from (and in
  the upstream repository, when known) and the sha256 of that file.

`plinth schemas update --from DIR` rewrites the files of the selected kinds found in DIR and
leaves the others as they are, so one provider's kinds can be refreshed alone; a file whose
kind left the selection is removed. Same input, same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plinth.tools.crds import CrdStore, CrdVersion, SchemaStore

try:
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

# Package data, found through the package (a wheel, a zipapp or a checkout alike).
DATA_DIR = Path(str(importlib.resources.files("plinth.tools") / "schema_data"))
KINDS_FILE = "kinds.txt"
PROVENANCE_TABLE = "README.md"
FORMAT = 1
SUFFIX = ".json.gz"

_GROUP = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")
_CRD_FILES = (".yaml", ".yml", ".gz")  # .gz: what `crossplane xpkg extract` writes
# Keys whose value is one schema, a list of schemas, or a map of names to schemas. Everything
# else (default, enum, example, x-kubernetes-validations, ...) is data and is kept verbatim.
_ONE_SCHEMA = ("items", "additionalProperties", "not", "additionalItems")
_SCHEMA_LIST = ("allOf", "anyOf", "oneOf")
_SCHEMA_MAP = ("properties", "patternProperties", "definitions")

Key = tuple[str, str]  # (group, Kind)


class SchemaError(Exception):
    """A bundle or a CRD folder that cannot be read as asked."""


def file_name(group: str, kind: str) -> str:
    return f"{group}_{kind}{SUFFIX}"


def read_kinds(path: Path) -> list[Key]:
    """The selection: `group/Kind` lines, in file order (comments and blank lines skipped)."""
    out: list[Key] = []
    for n, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        group, _, kind = line.rpartition("/")
        if not _GROUP.match(group) or not _KIND.match(kind):
            raise SchemaError(f"{path}:{n}: {line!r} is not `group/Kind`")
        if (group, kind) in out:
            raise SchemaError(f"{path}:{n}: {line} is listed twice")
        out.append((group, kind))
    return out


def strip_descriptions(node: Any) -> Any:
    """A structural schema without its `description` keywords (a property *named* description
    is a field, and stays; so do default and example values, whatever keys they have)."""
    if isinstance(node, list):
        return [strip_descriptions(n) for n in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for k, v in node.items():
        if k == "description":
            continue
        if k in _SCHEMA_MAP and isinstance(v, dict):
            out[k] = {name: strip_descriptions(s) for name, s in v.items()}
        elif k in _SCHEMA_LIST or k in _ONE_SCHEMA:
            out[k] = strip_descriptions(v)
        else:
            out[k] = v
    return out


def encode(entry: dict[str, Any]) -> bytes:
    """Deterministic bytes: sorted keys, compact JSON, gzip with mtime 0 and no file name."""
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return gzip.compress(text.encode() + b"\n", compresslevel=9, mtime=0)


def decode(data: bytes) -> dict[str, Any]:
    entry: dict[str, Any] = json.loads(gzip.decompress(data))
    return entry


# --- provenance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Origin:
    """Where a folder of CRDs comes from: project, release, directory in the upstream repo."""

    project: str
    version: str
    upstream_dir: str | None = None


def read_provenance_table(source: Path) -> dict[str, Origin]:
    """The `| folder | upstream | version |` table of DIR/README.md (../shared/crds has one)."""
    readme = source / PROVENANCE_TABLE
    if not readme.is_file():
        return {}
    out: dict[str, Origin] = {}
    columns: list[str] | None = None
    for line in readme.read_text().splitlines():
        if not line.lstrip().startswith("|"):
            columns = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if columns is None:
            columns = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the separator row
        row = dict(zip(columns, cells, strict=False))
        if not {"folder", "upstream", "version"} <= row.keys():
            continue
        upstream = row["upstream"]
        dirs = re.findall(r"`([^`]+)`", upstream)
        out[row["folder"].strip("`").strip("/")] = Origin(
            upstream.split()[0] if upstream else "",
            row["version"].strip("`"),
            dirs[0] if dirs else None,
        )
    return out


# --- reading a folder of CRDs ---------------------------------------------------------------


@dataclass
class Found:
    entry: dict[str, Any]
    data: bytes
    source: str


def _documents(path: Path, raw: bytes) -> Iterator[Any]:
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    yield from yaml.load_all(text, Loader=_Loader)


def _may_define(text: str, selection: set[Key]) -> bool:
    """A cheap test on the text: could this file hold a CRD of a selected kind?"""
    if "CustomResourceDefinition" not in text:
        return False
    groups = set(re.findall(r"^\s*group:\s*['\"]?([A-Za-z0-9.-]+)['\"]?\s*$", text, re.M))
    if not groups:
        return True  # JSON or flow style: parse it
    kinds = set(re.findall(r"^\s*kind:\s*['\"]?([A-Za-z0-9]+)['\"]?\s*$", text, re.M))
    return any(g in groups and k in kinds for g, k in selection)


def read_crds(
    source: Path,
    selection: set[Key],
    *,
    project: str | None = None,
    version: str | None = None,
) -> dict[Key, Found]:
    """The bundle entries of the selected kinds defined under `source`."""
    if not source.is_dir():
        raise SchemaError(f"{source} is not a directory")
    table = read_provenance_table(source)
    found: dict[Key, Found] = {}
    problems: list[str] = []
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.suffix in _CRD_FILES):
        raw = path.read_bytes()
        if path.suffix != ".gz" and not _may_define(raw.decode(errors="replace"), selection):
            continue
        rel = path.relative_to(source).as_posix()
        folder = rel.split("/", 1)[0] if "/" in rel else ""
        try:
            docs = list(_documents(path, raw))
        except (yaml.YAMLError, OSError, EOFError, zlib.error, UnicodeDecodeError) as e:
            if path.suffix == ".gz":
                continue  # not a gzipped YAML stream: not ours to read
            raise SchemaError(f"{rel}: not YAML: {e}") from e
        for doc in docs:
            if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc.get("spec") or {}
            key = (str(spec.get("group")), str((spec.get("names") or {}).get("kind")))
            if key not in selection:
                continue
            if key in found:
                problems.append(f"{key[0]}/{key[1]}: defined in {found[key].source} and {rel}")
                continue
            origin = table.get(folder)
            proj = project or (origin.project if origin else None)
            ver = version or (origin.version if origin else None)
            if not proj or not ver:
                problems.append(
                    f"{rel}: no provenance for {key[0]}/{key[1]}: pass --project and --version"
                    f" (or list its folder in {source / PROVENANCE_TABLE})"
                )
                continue
            provenance: dict[str, str] = {
                "project": proj,
                "version": ver,
                "source": rel,
                "sha256": hashlib.sha256(raw).hexdigest(),
            }
            if origin and origin.upstream_dir and not project:
                inner = rel.split("/", 1)[1] if folder else rel
                provenance["upstreamPath"] = f"{origin.upstream_dir.rstrip('/')}/{inner}"
            entry = {
                "format": FORMAT,
                "group": key[0],
                "kind": key[1],
                "scope": spec.get("scope", "Namespaced"),
                "provenance": provenance,
                "versions": [
                    {
                        "name": v["name"],
                        "schema": strip_descriptions(
                            (v.get("schema") or {}).get("openAPIV3Schema") or {}
                        ),
                    }
                    for v in spec.get("versions") or []
                    if v.get("served", True)
                ],
            }
            try:
                data = encode(entry)
            except (TypeError, ValueError) as e:
                raise SchemaError(f"{rel}: {key[0]}/{key[1]} is not plain JSON: {e}") from e
            found[key] = Found(entry, data, rel)
    if problems:
        raise SchemaError("\n".join(problems))
    return found


# --- updating a bundle ---------------------------------------------------------------------


@dataclass
class UpdateReport:
    written: list[Key] = field(default_factory=list)
    unchanged: list[Key] = field(default_factory=list)
    kept: list[Key] = field(default_factory=list)  # selected, not in the folder: left as they are
    missing: list[Key] = field(default_factory=list)  # selected, in neither
    removed: list[str] = field(default_factory=list)  # files of kinds no longer selected

    @property
    def changed(self) -> bool:
        return bool(self.written or self.removed)


def update(
    source: Path,
    bundle: Path = DATA_DIR,
    *,
    project: str | None = None,
    version: str | None = None,
    check: bool = False,
) -> UpdateReport:
    """Refresh `bundle` from the CRDs under `source` (with `check`, only say what would change).

    A bundle directory without `kinds.txt` starts with the package's selection.
    """
    kinds_file = bundle / KINDS_FILE
    if not kinds_file.is_file():
        seed = DATA_DIR / KINDS_FILE
        if kinds_file == seed or not seed.is_file():
            raise SchemaError(f"{kinds_file} is missing")
        if not check:
            bundle.mkdir(parents=True, exist_ok=True)
            kinds_file.write_bytes(seed.read_bytes())
        selection = read_kinds(seed)
    else:
        selection = read_kinds(kinds_file)
    found = read_crds(source, set(selection), project=project, version=version)
    report = UpdateReport()
    for key in selection:
        target = bundle / file_name(*key)
        if key in found:
            data = found[key].data
            if target.is_file() and target.read_bytes() == data:
                report.unchanged.append(key)
            else:
                report.written.append(key)
                if not check:
                    target.write_bytes(data)
        elif target.is_file():
            report.kept.append(key)
        else:
            report.missing.append(key)
    wanted = {file_name(*k) for k in selection}
    for stale in sorted(bundle.glob(f"*{SUFFIX}")) if bundle.is_dir() else []:
        if stale.name not in wanted:
            report.removed.append(stale.name)
            if not check:
                stale.unlink()
    return report


# --- reading a bundle ----------------------------------------------------------------------


def is_bundle(path: Path) -> bool:
    return (path / KINDS_FILE).is_file()


class SchemaBundle:
    """The bundled schemas by (apiVersion, kind), with CrdStore's interface; files are read
    on first use and kept, so each schema is parsed (and compiled by the validator) once."""

    def __init__(self, root: Path = DATA_DIR) -> None:
        self.root = root
        self._entries: dict[Key, dict[str, Any] | None] = {}
        self._versions: dict[tuple[str, str], CrdVersion] = {}

    def entry(self, group: str, kind: str) -> dict[str, Any] | None:
        key = (group, kind)
        if key not in self._entries:
            path = self.root / file_name(group, kind)
            ok = _GROUP.match(group) and _KIND.match(kind) and path.is_file()
            self._entries[key] = decode(path.read_bytes()) if ok else None
        return self._entries[key]

    def get(self, api_version: str, kind: str) -> CrdVersion | None:
        key = (api_version, kind)
        if key in self._versions:
            return self._versions[key]
        group, sep, version = api_version.rpartition("/")
        entry = self.entry(group, kind) if sep else None
        for v in (entry or {}).get("versions", []):
            if v["name"] == version:
                assert entry is not None
                self._versions[key] = CrdVersion(
                    group, version, kind, entry.get("scope", "Namespaced"), v["schema"]
                )
                return self._versions[key]
        return None

    def files(self) -> list[Path]:
        return sorted(self.root.glob(f"*{SUFFIX}"))

    def entries(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        for path in self.files():
            yield path, decode(path.read_bytes())


def bundle_size(root: Path = DATA_DIR) -> tuple[int, int, int]:
    """(files, bytes compressed, bytes uncompressed) of the schema files."""
    files = sorted(root.glob(f"*{SUFFIX}"))
    raw = [f.read_bytes() for f in files]
    return len(files), sum(len(r) for r in raw), sum(len(gzip.decompress(r)) for r in raw)


def open_store(path: Path) -> SchemaStore:
    """A bundle directory (it has kinds.txt) or a directory of CRD YAML."""
    return SchemaBundle(path) if is_bundle(path) else CrdStore(path)
