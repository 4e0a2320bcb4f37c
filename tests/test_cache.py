"""The response cache: exact hits only, bounded by bytes, useful when claims outnumber it."""

from __future__ import annotations

from plinth.runtime.cache import ResponseCache


def _request(i: int, size: int = 1000) -> bytes:
    return (f"claim-{i:04d}|".encode() * size)[:size]


def test_a_hit_is_the_same_bytes_only() -> None:
    cache = ResponseCache(10_000)
    a = _request(1)
    cache.put(a, b"response-a")
    assert cache.get(bytes(bytearray(a))) == b"response-a"
    # Same length, same head, middle and tail samples: the full comparison tells them apart.
    b = a[:500] + b"X" + a[501:]
    assert cache.get(b) is None
    cache.put(b, b"response-b")
    assert (cache.get(a), cache.get(b)) == (b"response-a", b"response-b")
    s = cache.stats()
    assert (s.hits, s.misses, s.entries) == (3, 1, 2)
    assert s.hit_ratio == 0.75


def test_bytes_never_exceed_the_bound() -> None:
    cache = ResponseCache(25_000)
    for i in range(100):
        cache.put(_request(i), b"r" * 500)
        assert cache.stats().bytes <= 25_000
    s = cache.stats()
    assert (s.entries, s.evictions) == (14, 86), s
    assert ResponseCache(0).get(_request(1)) is None
    off = ResponseCache(0)
    off.put(_request(1), b"r")
    assert off.stats().entries == 0


def test_claims_in_rotation_beyond_the_bound_still_hit() -> None:
    # Crossplane calls every claim in turn. Twice as many claims as fit: LRU would evict the
    # one needed next every time and never hit; random eviction keeps hitting.
    cache = ResponseCache(50 * 1700)
    claims = [_request(i) for i in range(100)]
    for _ in range(20):
        for r in claims:
            if cache.get(r) is None:
                cache.put(r, b"r" * 500)
    assert cache.stats().hit_ratio > 0.1, cache.stats()


def test_the_struct_encoder_is_bounded_by_bytes_and_exact() -> None:
    from google.protobuf import struct_pb2

    from plinth.runtime.structs import StructEncoder

    enc = StructEncoder(size=1000, max_bytes=64_000)
    small = [{"kind": "Object", "metadata": {"name": f"o-{i}"}, "n": i} for i in range(500)]
    for body in small:
        assert struct_pb2.Struct.FromString(enc.encode(body)) == struct_pb2.Struct.FromString(
            enc.encode(dict(body))
        )
        assert enc.held_bytes <= 64_000
    # A hostile body (a claim can put megabytes into a composed resource) is encoded, not kept.
    before = enc.held_bytes
    huge = {"kind": "Object", "metadata": {"name": "x" * 200_000}}
    s = struct_pb2.Struct.FromString(enc.encode(huge))
    assert s["metadata"]["name"] == "x" * 200_000
    assert enc.held_bytes == before
    # A changed value never reuses a stale encoding.
    assert struct_pb2.Struct.FromString(enc.encode({"a": True}))["a"] is True
    assert struct_pb2.Struct.FromString(enc.encode({"a": 1}))["a"] == 1


def test_the_struct_decoder_is_exact_and_hands_out_copies() -> None:
    from google.protobuf import struct_pb2

    from plinth.runtime.structs import StructDecoder, py_to_struct, struct_to_py

    dec = StructDecoder()
    config = py_to_struct({"kind": "EnvironmentConfig", "data": {"teams": [{"name": "a"}]}})
    first = dec.decode(config)
    first["data"]["teams"].append({"name": "changed by a composer"})
    again = dec.decode(struct_pb2.Struct.FromString(config.SerializeToString()))
    assert again == struct_to_py(config), "a body handed out is the caller's own"
    assert again is not first
    # Another content is another key, even a value only its type tells apart.
    assert dec.decode(py_to_struct({"a": True})) == {"a": True}
    assert dec.decode(py_to_struct({"a": 1})) == {"a": 1}
    assert type(dec.decode(py_to_struct({"a": 1}))["a"]) is int
