"""YAML at the edge: reading documents from files, directories and stdin; writing streams."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# libyaml's parser is an order of magnitude faster than PyYAML's pure-Python one; a claim
# repository's CI parses every file, so use it wherever PyYAML was built with it.
_SafeLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class InputError(Exception):
    """Input the user gave cannot be read; the message says which and why."""


@dataclass(frozen=True)
class Document:
    body: dict[str, Any]
    source: str  # "file.yaml#2" style location for messages

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def api_version(self) -> str:
        return str(self.body.get("apiVersion", ""))

    @property
    def name(self) -> str:
        return str((self.body.get("metadata") or {}).get("name", ""))

    @property
    def namespace(self) -> str | None:
        ns = (self.body.get("metadata") or {}).get("namespace")
        return str(ns) if ns else None


def parse_stream(text: str, source: str) -> list[Document]:
    try:
        docs = list(yaml.load_all(text, Loader=_SafeLoader))
    except yaml.YAMLError as e:
        raise InputError(f"{source}: not valid YAML: {e}") from None
    out = []
    for i, body in enumerate(docs):
        if body is None:
            continue
        where = f"{source}#{i + 1}" if len(docs) > 1 else source
        if not isinstance(body, dict):
            raise InputError(
                f"{where}: expected a Kubernetes object (a mapping), got {type(body).__name__}"
            )
        out.append(Document(body, where))
    return out


def read_path(path: str, *, recursive: bool = True) -> list[Document]:
    """Documents from a file, every *.yaml/*.yml/*.json under a directory (or only directly in
    it), or '-' for stdin."""
    if path == "-":
        return parse_stream(sys.stdin.read(), "<stdin>")
    p = Path(path)
    if p.is_dir():
        docs: list[Document] = []
        for f in sorted(p.rglob("*") if recursive else p.glob("*")):
            if f.suffix in (".yaml", ".yml", ".json") and f.is_file():
                docs.extend(parse_stream(f.read_text(), str(f)))
        return docs
    if not p.exists():
        raise InputError(f"{path}: no such file or directory")
    return parse_stream(p.read_text(), str(p))


def read_paths(paths: Iterable[str]) -> list[Document]:
    return [d for p in paths for d in read_path(p)]


_FILES: dict[tuple[str, int, int], list[Document]] = {}


def _copy(value: Any) -> Any:
    # Only what YAML parses into; several times faster than copy.deepcopy for these trees.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _cached_file(f: Path) -> list[Document]:
    st = f.stat()
    key = (str(f), st.st_mtime_ns, st.st_size)
    docs = _FILES.get(key)
    if docs is None:
        docs = _FILES[key] = parse_stream(f.read_text(), str(f))
    return [Document(_copy(d.body), d.source) for d in docs]


def read_path_cached(path: str, *, recursive: bool = True) -> list[Document]:
    """read_path for files read again and again (those beside every claim of a repository):
    each file is parsed once per content (path, mtime, size); callers get their own copies."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*") if recursive else p.glob("*"))
        return [
            d
            for f in files
            if f.suffix in (".yaml", ".yml", ".json") and f.is_file()
            for d in _cached_file(f)
        ]
    if path != "-" and p.is_file():
        return _cached_file(p)
    return read_path(path, recursive=recursive)


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(docs: Iterable[dict[str, Any]], *, sort_keys: bool = False) -> str:
    return yaml.dump_all(
        list(docs), Dumper=_Dumper, sort_keys=sort_keys, explicit_start=True, width=100
    )


def dump(docs: Iterable[dict[str, Any]], output: str) -> str:
    """Rendered objects, keys sorted as Kubernetes and crossplane print them."""
    docs = list(docs)
    if output == "json":
        if len(docs) == 1:
            return json.dumps(docs[0], indent=2, sort_keys=True) + "\n"
        items = {"apiVersion": "v1", "kind": "List", "items": docs}
        return json.dumps(items, indent=2, sort_keys=True) + "\n"
    return dump_yaml(docs, sort_keys=True)


def iter_bodies(docs: Iterable[Document]) -> Iterator[dict[str, Any]]:
    for d in docs:
        yield d.body
