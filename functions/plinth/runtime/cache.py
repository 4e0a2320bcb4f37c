"""The response cache: serialized responses for serialized requests, bounded by bytes.

A management cluster calls the function for every claim on every reconcile, and a steady
claim sends the same request bytes every time. The cache answers those without parsing the
request at all. A hit is exact: the key is the whole request, compared byte for byte. Lookups
do not hash the whole request (hashing 250 kB costs more than the rest of a hit): entries are
bucketed by the request's length and a few sampled slices, and the bucket's requests are
compared in full, which memcmp stops at the first differing byte.

Memory is what bounds it, not the number of claims: a tenant with 140 resources costs 450 kB
(request and response), an app with 19 resources 60 kB, so an entry count is either too small
for a large management cluster or too large for the pod's memory limit. The default, 256 MiB,
holds 1,000 claims of the examples' mix (170 MB).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

DEFAULT_MAX_BYTES = 256 * 1024 * 1024
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
    """Requests and responses up to `max_bytes` (0: off); past it, a random entry goes.

    Not least recently used: Crossplane calls every claim in turn, so a cache smaller than the
    claims' working set would, under LRU, always evict the entry needed next and never hit;
    random eviction keeps hitting in proportion to the share that fits.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, *, seed: int = 0) -> None:
        self.max_bytes = max_bytes
        # Each entry: request, response, and what the caller keeps about the call (small).
        self._buckets: dict[tuple[int, bytes, bytes, bytes], list[tuple[bytes, bytes, Any]]] = {}
        self._order: list[tuple[tuple[int, bytes, bytes, bytes], bytes]] = []
        self._random = random.Random(seed)
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._evictions = 0

    def get(self, request: bytes) -> bytes | None:
        found = self.find(request)
        return None if found is None else found[0]

    def find(self, request: bytes) -> tuple[bytes, Any] | None:
        """The response stored for `request` and the info stored with it."""
        for stored, response, info in self._buckets.get(_bucket(request), ()):
            if stored == request:
                self._hits += 1
                return response, info
        self._misses += 1
        return None

    def put(self, request: bytes, response: bytes, info: Any = None) -> None:
        size = len(request) + len(response) + _ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        bucket = _bucket(request)
        entries = self._buckets.setdefault(bucket, [])
        if any(stored == request for stored, _, _ in entries):
            return
        entries.append((request, response, info))
        self._order.append((bucket, request))
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._evict(self._random.randrange(len(self._order)))

    def _evict(self, index: int) -> None:
        bucket, request = self._order[index]
        last = self._order.pop()
        if index < len(self._order):
            self._order[index] = last
        entries = self._buckets[bucket]
        for i, (stored, response, _) in enumerate(entries):
            if stored is request:
                del entries[i]
                self._bytes -= len(stored) + len(response) + _ENTRY_OVERHEAD
                break
        if not entries:
            del self._buckets[bucket]
        self._evictions += 1

    def stats(self) -> CacheStats:
        """What the metrics export: hits, misses, bytes held, entries, evictions."""
        return CacheStats(
            hits=self._hits,
            misses=self._misses,
            bytes=self._bytes,
            entries=len(self._order),
            max_bytes=self.max_bytes,
            evictions=self._evictions,
        )
