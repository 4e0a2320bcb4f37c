"""Conversion between protobuf Structs and plain Python values, fast where it matters.

Crossplane calls the function on every reconcile of every claim, and protobuf's pure-Python
`Struct.update` is most of what a naive function spends. Desired resources are therefore
encoded once per distinct body and reused as serialized bytes (merged in C), and observed
resources are converted only when a composer reads them.
"""

from __future__ import annotations

import marshal
from collections import OrderedDict
from typing import Any

from google.protobuf import struct_pb2

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
    node: Any = s
    for key in path:
        if not isinstance(node, struct_pb2.Struct):
            return None
        v = node.fields.get(key)
        if v is None:
            return None
        node = v.struct_value if v.WhichOneof("kind") == "struct_value" else v
    if isinstance(node, struct_pb2.Struct):
        return struct_to_py(node)
    return value_to_py(node)


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
        if "type" in f and f["type"].string_value == "Ready":
            return "status" in f and f["status"].string_value == "True"
    return False


def py_to_struct(body: Body) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(body)
    return s


class StructEncoder:
    """Encodes bodies to serialized Structs, remembering the last `size` distinct bodies, up to
    `max_bytes` of keys and encodings together.

    The key is the body's marshal serialization: bytes that decode to the body, so a changed
    body, even 1 for True or 1.0, never reuses a stale encoding, and eight times cheaper than
    its JSON text. Format 4 writes ASCII strings as they are stored (formats below it encode
    each to UTF-8 first: twice the time); its back-references, to an object the body holds
    twice, decode to that object again. Equal bodies built in another key order or sharing
    other objects get keys of their own; that costs a miss only.
    The byte bound matters for hostile input only: a composed resource is a few kB, but a
    claim can carry megabytes into one (`make fuzz` grew the server past 2.8 GiB with 4,096
    entries of those), and one over a 64th of the bound is never kept.
    """

    def __init__(self, size: int = 4096, max_bytes: int = 64 * 2**20) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._cache: OrderedDict[bytes, bytes] = OrderedDict()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def encode(self, body: Body) -> bytes:
        key = marshal.dumps(body, 4)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        encoded = py_to_struct(body).SerializeToString(deterministic=True)
        size = len(key) + len(encoded)
        if size > self._max_bytes // 64:
            return encoded
        self._cache[key] = encoded
        self._bytes += size
        while len(self._cache) > self._size or self._bytes > self._max_bytes:
            old_key, old = self._cache.popitem(last=False)
            self._bytes -= len(old_key) + len(old)
        return encoded
