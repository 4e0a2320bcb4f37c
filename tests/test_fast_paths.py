"""The miss path's shortcuts equal what they stand for: reading a Struct in place equals
reading its converted body, and a name already in normal form is the name normalization
makes of it."""

from __future__ import annotations

import itertools
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from plinth.core import naming
from plinth.core.bodies import at
from plinth.core.composition import condition_of
from plinth.runtime.structs import py_to_struct, struct_ready, struct_to_py, struct_value_at

BODIES: list[dict[str, Any]] = [
    {
        "kind": "Object",
        "metadata": {"name": "n", "annotations": {"plinth.dev/readiness": "x"}, "generation": 3},
        "spec": {"readiness": {"policy": "DeriveFromObject"}, "list": [{"a": 1}], "s": "text"},
        "status": {"conditions": [{"type": "Synced", "status": "True"}, {"type": "Ready"}]},
    },
    {"metadata": "not an object", "spec": None, "status": {"conditions": "not a list"}},
    {"status": {"conditions": [{"status": "True"}, {"type": "Ready", "status": "True"}]}},
    {"status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Ready"}]}},
    {},
]
KEYS = ["kind", "metadata", "name", "annotations", "plinth.dev/readiness", "generation", "spec",
        "readiness", "policy", "list", "s", "status", "conditions", "missing"]  # fmt: skip


def test_a_struct_read_in_place_equals_its_converted_body() -> None:
    for body in BODIES:
        s = py_to_struct(body)
        converted = struct_to_py(s)
        for n in range(4):
            for path in itertools.product(KEYS, repeat=n):
                assert struct_value_at(s, path) == at(converted, *path), path
        ready = condition_of(converted, "Ready") or {}
        assert struct_ready(s) == (ready.get("status") == "True"), body


def _normalized(*parts: str, max_len: int) -> str:
    """dns_label without its shortcut: every name normalized."""
    shortcut = naming._NORMAL
    naming._NORMAL = re.compile(r"(?!)")
    try:
        return naming.dns_label(*parts, max_len=max_len)
    except ValueError:
        return "<none>"
    finally:
        naming._NORMAL = shortcut


@given(
    st.lists(st.text(alphabet="az09-_A.é", max_size=8), min_size=1, max_size=3),
    st.sampled_from([5, 12, 63]),
)
def test_a_name_in_normal_form_is_what_normalization_makes_of_it(
    parts: list[str], max_len: int
) -> None:
    expected = _normalized(*parts, max_len=max_len)
    try:
        got = naming.dns_label(*parts, max_len=max_len)
    except ValueError:
        got = "<none>"
    assert got == expected


def test_desired_state_written_as_bytes_parses_as_the_message_it_stands_for() -> None:
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1
    from google.protobuf.internal.encoder import _VarintBytes

    from plinth.runtime import wire

    for n in (0, 1, 127, 128, 300, 16383, 16384, 2**21 - 1, 2**21, 2**35):
        assert wire.varint(n) == _VarintBytes(n), n
    bodies = {
        "small": {"kind": "Object"},
        "two-byte-length": {"kind": "Object", "data": "x" * 10_000},
        "three-byte-length": {"kind": "Object", "data": "y" * 100_000},
    }
    expected = fnv1.RunFunctionResponse()
    expected.desired.composite.resource.update({"status": {"phase": "Ready"}})
    desired = wire.Desired()
    desired.composite(expected.desired.composite.resource.SerializeToString())
    for i, (name, body) in enumerate(bodies.items()):
        target = expected.desired.resources[name]
        target.resource.update(body)
        target.ready = fnv1.READY_TRUE if i % 2 else fnv1.READY_FALSE
        entry = wire.entry(name, target.resource.SerializeToString())
        desired.resource(entry, bool(i % 2))
    merged = expected.desired.resources["as-a-message"]
    merged.resource.update({"kind": "Other"})
    merged.connection_details["key"] = b"value"
    desired.message("as-a-message", merged.SerializeToString())
    assert fnv1.RunFunctionResponse.FromString(desired.bytes()) == expected
