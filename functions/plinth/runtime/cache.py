"""The response cache: serialized responses for serialized requests, bounded by bytes.

A management cluster calls the function for every claim on every reconcile, and a steady
claim sends the same request bytes every time. The cache answers those without parsing the
request at all. A hit is exact: the key is the whole request, compared byte for byte. Lookups
do not hash the whole request (hashing 250 kB costs more than the rest of a hit): entries are
bucketed by the request's length and a few sampled slices, and the bucket's requests are
compared in full, which memcmp stops at the first differing byte.

Memory is what bounds it, not the number of claims: a tenant with 140 resources costs 450 kB
(request and response), an account 30 kB, so an entry count is either too small for a large
management cluster or too large for the pod's memory limit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 128 * 1024 * 1024
_ENTRY_OVERHEAD = 200  # the bucket tuple, OrderedDict node, two bytes headers
_SAMPLE = 64


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    bytes: int
    entries: int
    max_bytes: int
    evictions: int

    @property
    def hit_ratio(self) -> float:
        calls = self.hits + self.misses
        return self.hits / calls if calls else 0.0


def _bucket(request: bytes) -> tuple[int, bytes, bytes, bytes]:
    n = len(request)
    mid = n // 2
    # Head: meta (tag) and the composite's start; middle and tail: observed and required
    # resources. Different claims, and the same claim in different states, mostly differ in
    # one of them; the full comparison decides anyway.
    return n, request[:_SAMPLE], request[mid : mid + _SAMPLE], request[-_SAMPLE:]


class ResponseCache:
    """Least recently used first out, once the entries' bytes exceed `max_bytes` (0: off)."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[tuple[int, bytes, bytes, bytes], int], tuple[bytes, bytes]]
        self._entries = OrderedDict()
        self._buckets: dict[tuple[int, bytes, bytes, bytes], list[int]] = {}
        self._next = 0
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, request: bytes) -> bytes | None:
        bucket = _bucket(request)
        for serial in self._buckets.get(bucket, ()):
            key = (bucket, serial)
            stored, response = self._entries[key]
            if stored == request:
                self._entries.move_to_end(key)
                self._hits += 1
                return response
        self._misses += 1
        return None

    def put(self, request: bytes, response: bytes) -> None:
        size = len(request) + len(response) + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        bucket = _bucket(request)
        for serial in self._buckets.get(bucket, ()):
            if self._entries[(bucket, serial)][0] == request:
                return
        self._next += 1
        self._entries[(bucket, self._next)] = (request, response)
        self._buckets.setdefault(bucket, []).append(self._next)
        self._bytes += size
        while self._bytes > self.max_bytes:
            (old_bucket, serial), (req, rsp) = self._entries.popitem(last=False)
            serials = self._buckets[old_bucket]
            serials.remove(serial)
            if not serials:
                del self._buckets[old_bucket]
            self._bytes -= len(req) + len(rsp) + _ENTRY_OVERHEAD
            self._evictions += 1

    def stats(self) -> CacheStats:
        """What the metrics export: hits, misses, bytes held, entries, evictions."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            bytes=self._bytes,
            entries=len(self._entries),
            max_bytes=self.max_bytes,
            evictions=self._evictions,
        )
