"""A response's desired state in the protobuf wire format, written directly.

The composed resources are most of a RunFunctionResponse. Setting them on the message would
parse each one's encoded Struct into it (a map insert and a merge per resource) only for
SerializeToString to write the same bytes out again; writing their fields here joins the
bytes the StructEncoder already holds, each copied once. Serialized messages concatenate as
a merge, so a response is the rest of it, serialized by protobuf, followed by a `Desired`.
"""

from __future__ import annotations

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def varint(n: int) -> bytes:
    if n < 0x80:
        return _ONE_BYTE[n]
    if n < 0x4000:  # a resource's length, mostly
        return bytes((n & 0x7F | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _delimited(number: int) -> bytes:
    """The tag of a length-delimited field (wire type 2: messages, strings, bytes)."""
    return varint(number << 3 | 2)


_DESIRED = _delimited(fnv1.RunFunctionResponse.DESIRED_FIELD_NUMBER)
_COMPOSITE = _delimited(fnv1.State.COMPOSITE_FIELD_NUMBER)
_RESOURCES = _delimited(fnv1.State.RESOURCES_FIELD_NUMBER)
# A map entry is a message of its key (field 1) and its value (field 2).
_KEY = _delimited(1)
_VALUE = _delimited(2)
_STRUCT = _delimited(fnv1.Resource.RESOURCE_FIELD_NUMBER)
_READY_TAG = varint(fnv1.Resource.READY_FIELD_NUMBER << 3)  # wire type 0: a varint
_READY = {
    True: _READY_TAG + varint(fnv1.READY_TRUE),
    False: _READY_TAG + varint(fnv1.READY_FALSE),
}
_READY_SIZE = len(_READY[True])
assert len(_READY[False]) == _READY_SIZE  # an entry's length does not depend on it


def entry(name: str, struct: bytes) -> bytes:
    """The desired resource `name` holding the serialized Struct `struct`: its entry of
    State.resources, but for its readiness, which `Desired.resource` adds."""
    head = _STRUCT + varint(len(struct))
    size = len(head) + len(struct) + _READY_SIZE
    key = name.encode()
    fields = _KEY + varint(len(key)) + key + _VALUE + varint(size)
    return b"".join((_RESOURCES, varint(len(fields) + size), fields, head, struct))


class Desired:
    """RunFunctionResponse.desired, written field by field and joined once by `bytes`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0

    def composite(self, struct: bytes) -> None:
        """The composite's Resource, holding the serialized Struct `struct`."""
        head = _STRUCT + varint(len(struct))
        field = _COMPOSITE + varint(len(head) + len(struct))
        self._parts += (field, head, struct)
        self._size += len(field) + len(head) + len(struct)

    def resource(self, entry: bytes, ready: bool) -> None:
        """A composed resource: its `entry`, and its readiness."""
        self._parts += (entry, _READY[ready])
        self._size += len(entry) + _READY_SIZE

    def message(self, name: str, resource: bytes) -> None:
        """The composed resource `name` as a serialized Resource."""
        key = name.encode()
        fields = _KEY + varint(len(key)) + key + _VALUE + varint(len(resource))
        head = _RESOURCES + varint(len(fields) + len(resource))
        self._parts += (head, fields, resource)
        self._size += len(head) + len(fields) + len(resource)

    def bytes(self) -> bytes:
        return b"".join((_DESIRED, varint(self._size), *self._parts))
