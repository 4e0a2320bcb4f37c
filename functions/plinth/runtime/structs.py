"""Conversion between protobuf Structs and plain Python values, fast where it matters.

Crossplane calls the function on every reconcile of every claim, and protobuf's pure-Python
`Struct.update` is most of what a naive function spends. Desired resources are therefore
encoded once per distinct body and reused as serialized bytes, required resources converted
once per distinct content, and observed resources converted only when a composer reads them.
"""

from __future__ import annotations

import marshal
from typing import Any

from google.protobuf import struct_pb2

from plinth.runtime import wire
from plinth.runtime.memo import Memo

Body = dict[str, Any]


def value_to_py(v: struct_pb2.Value) -> Any:
    kind = v.WhichOneof("kind")
    if kind == "struct_value":
        return struct_to_py(v.struct_value)
    if kind == "list_value":
        return [value_to_py(x) for x in v.list_value.values]
    if kind == "number_value":
        n = v.number_value
        # Struct has only doubles; Kubernetes integers must come back as ints.
        return int(n) if n.is_integer() and abs(n) < 2**53 else n
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    return None


def struct_to_py(s: struct_pb2.Struct) -> Body:
    return {k: value_to_py(v) for k, v in s.fields.items()}


def struct_value_at(s: struct_pb2.Struct, path: tuple[str, ...]) -> Any:
    """The value at `path` in a Struct (None where the path ends early), without converting
    the rest: what Observed.get returns for the converted body."""
    if not path:
        return struct_to_py(s)
    fields = s.fields
    for key in path[:-1]:
        v = fields.get(key)
        if v is None:
            return None
        # A Value of another kind reads as an empty Struct (reading sets nothing), so the
        # next key is absent: what `at` makes of a level that is not an object.
        fields = v.struct_value.fields
    v = fields.get(path[-1])
    return None if v is None else value_to_py(v)


def struct_kind(s: struct_pb2.Struct) -> str:
    """A resource Struct's kind, read without converting it."""
    kind = s.fields.get("kind")
    return kind.string_value if kind is not None else ""


def struct_ready(s: struct_pb2.Struct) -> bool:
    """Whether a resource Struct has a Ready=True condition, read without converting it."""
    status = s.fields.get("status")
    if status is None:
        return False
    conditions = status.struct_value.fields.get("conditions")
    if conditions is None:
        return False
    for c in conditions.list_value.values:
        f = c.struct_value.fields
        kind = f.get("type")
        if kind is not None and kind.string_value == "Ready":
            ready = f.get("status")
            return ready is not None and ready.string_value == "True"
    return False


def py_to_struct(body: Body) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(body)
    return s


class StructEncoder:
    """Encodes bodies to serialized Structs, and to desired resources framed for the response,
    remembering the last `size` distinct ones, up to `max_bytes` of keys and encodings together.

    The key is the body's marshal serialization: bytes that decode to the body, so a changed
    body, even 1 for True or 1.0, never reuses a stale encoding, and eight times cheaper than
    its JSON text. Format 4 writes ASCII strings as they are stored (formats below it encode
    each to UTF-8 first: twice the time); its back-references, to an object the body holds
    twice, decode to that object again. Equal bodies built in another key order or sharing
    other objects get keys of their own; that costs a miss only.
    """

    def __init__(self, size: int = 4096, max_bytes: int = 64 * 2**20) -> None:
        self._memo: Memo[bytes] = Memo(size, max_bytes)

    @property
    def held_bytes(self) -> int:
        return self._memo.held_bytes

    def encode(self, body: Body) -> bytes:
        key = marshal.dumps(body, 4)
        encoded = self._memo.get(key)
        if encoded is None:
            encoded = py_to_struct(body).SerializeToString(deterministic=True)
            self._memo.put(key, encoded, len(encoded))
        return encoded

    def entry(self, name: str, body: Body) -> bytes:
        """`body` as the desired resource `name`, framed for the response (wire.entry)."""
        key = marshal.dumps((name, body), 4)
        entry = self._memo.get(key)
        if entry is None:
            entry = wire.entry(name, py_to_struct(body).SerializeToString(deterministic=True))
            self._memo.put(key, entry, len(entry))
        return entry


class StructDecoder:
    """Converts Structs to bodies, remembering the last `size` distinct Structs, up to
    `max_bytes` of keys and conversions together: the required resources (the platform
    config, a tenant's AccountClaims, an app's TenantClaim) that every call of a claim carries
    alike, and whose conversion is a tenth of a small claim's full composition.

    The key is the Struct's serialization, which only an equal Struct has. Each call gets a
    body of its own, decoded from the conversion's marshal bytes in a tenth of the time of
    converting again, so a composer that changed one could not change another call's.
    """

    def __init__(self, size: int = 1024, max_bytes: int = 16 * 2**20) -> None:
        self._memo: Memo[bytes] = Memo(size, max_bytes)

    def decode(self, s: struct_pb2.Struct) -> Body:
        key = s.SerializeToString()
        known = self._memo.get(key)
        if known is not None:
            body: Body = marshal.loads(known)
            return body
        body = struct_to_py(s)
        dumped = marshal.dumps(body, 4)
        self._memo.put(key, dumped, len(dumped))
        return body
