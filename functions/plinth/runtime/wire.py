"""A response's desired state in the protobuf wire format, written directly.

The composed resources are most of a RunFunctionResponse. Setting them on the message would
parse each one's encoded Struct into it (a map insert and a merge per resource) only for
SerializeToString to write the same bytes out again; writing their fields here joins the
bytes the StructEncoder already holds. Serialized messages concatenate as a merge, so a
response is the rest of it, serialized by protobuf, followed by `desired(...)`.
"""

from __future__ import annotations

from crossplane.function.proto.v1 import run_function_pb2 as fnv1


def varint(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
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


def _field(tag: bytes, payload: bytes) -> bytes:
    return tag + varint(len(payload)) + payload


def resource(struct: bytes, ready: bool | None = None) -> bytes:
    """A Resource holding the serialized Struct `struct`; `ready` None leaves it unset."""
    out = _field(_STRUCT, struct)
    return out if ready is None else out + _READY[ready]


def entry(name: str, resource: bytes) -> bytes:
    """The desired resource `name`: one entry of State.resources, its Resource serialized."""
    return _field(_RESOURCES, _field(_KEY, name.encode()) + _field(_VALUE, resource))


def desired(composite: bytes | None, entries: list[bytes]) -> bytes:
    """RunFunctionResponse.desired: the composite's Resource (if any) and the `entry`s."""
    state = b"".join(entries)
    if composite is not None:
        state = _field(_COMPOSITE, composite) + state
    return _field(_DESIRED, state)
