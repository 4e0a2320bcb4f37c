"""Recording the requests a running function receives, and their responses, for replay.

`plinth serve --record DIR` writes a corpus: `DIR/calls.jsonl`, one line per call (when, which
claim, the request's and response's sha256, whether the cache answered), and each distinct
message once, as `DIR/blobs/<sha256>.binpb.gz` (the protobuf wire format, gzipped). A steady
claim's calls therefore cost a line each, not a copy. `plinth replay DIR` runs them again;
benchmarks and tests read the same format (tests/data/requests/).
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

CALLS = "calls.jsonl"
BLOBS = "blobs"


def _identity(req: fnv1.RunFunctionRequest) -> dict[str, str]:
    composite = req.observed.composite.resource
    meta = composite.fields["metadata"].struct_value if "metadata" in composite.fields else None

    def text(s: Any, key: str) -> str:
        return str(s.fields[key].string_value) if s is not None and key in s.fields else ""

    return {
        "apiVersion": text(composite, "apiVersion"),
        "kind": text(composite, "kind"),
        "namespace": text(meta, "namespace"),
        "name": text(meta, "name"),
    }


class Recorder:
    """Writes calls into a corpus directory. Thread-safe; each call costs a hash of both
    messages and, for a message not seen before, a gzip write (a diagnostics mode: it slows
    misses by milliseconds)."""

    def __init__(self, directory: Path, *, label: str = "") -> None:
        self.directory = directory
        self.label = label
        (directory / BLOBS).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._known: set[str] = {p.name.split(".")[0] for p in (directory / BLOBS).iterdir()}
        self._who: dict[str, dict[str, str]] = {}

    def _blob(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if digest not in self._known:
            path = self.directory / BLOBS / f"{digest}.binpb.gz"
            tmp = path.with_suffix(".tmp")
            # mtime=0: the same message is the same file, so a corpus diffs cleanly.
            tmp.write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
            tmp.replace(path)
            self._known.add(digest)
        return digest

    def __call__(self, request: bytes, response: bytes, cached: bool) -> None:
        with self._lock:
            req_digest = self._blob(request)
            who = self._who.get(req_digest)
            if who is None:
                who = self._who[req_digest] = _identity(fnv1.RunFunctionRequest.FromString(request))
            line = {
                "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
                **({"label": self.label} if self.label else {}),
                **who,
                "request": req_digest,
                "response": self._blob(response),
                "cached": cached,
            }
            with (self.directory / CALLS).open("a") as f:
                f.write(json.dumps(line, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Call:
    line: dict[str, object]
    request: fnv1.RunFunctionRequest
    response: fnv1.RunFunctionResponse | None


def read_message(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def read_corpus(directory: Path, *, distinct: bool = True) -> Iterator[Call]:
    """The calls of a corpus in order (each distinct request once, unless `distinct=False`)."""
    seen: set[str] = set()
    blobs = directory / BLOBS
    for raw in (directory / CALLS).read_text().splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        if distinct and line["request"] in seen:
            continue
        seen.add(str(line["request"]))
        req = fnv1.RunFunctionRequest.FromString(
            read_message(blobs / f"{line['request']}.binpb.gz")
        )
        rsp_path = blobs / f"{line.get('response')}.binpb.gz"
        rsp = (
            fnv1.RunFunctionResponse.FromString(read_message(rsp_path))
            if rsp_path.is_file()
            else None
        )
        yield Call(line, req, rsp)
