"""Values remembered by the exact bytes they were made from, bounded by count and by bytes."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class Memo(Generic[V]):
    """The last `size` distinct values by key, up to `max_bytes` of keys and values together
    (a value's size as `put` is told it); an entry over a 64th of the bound is never kept.

    The byte bound matters for hostile input only: what the function remembers is a few kB
    per resource or claim, but a claim can carry megabytes into one (`make fuzz` grew the
    server past 2.8 GiB with 4,096 entries of those).
    """

    def __init__(self, size: int, max_bytes: int) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._bytes = 0
        self._values: OrderedDict[bytes, tuple[V, int]] = OrderedDict()

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def get(self, key: bytes) -> V | None:
        hit = self._values.get(key)
        if hit is None:
            return None
        self._values.move_to_end(key)
        return hit[0]

    def put(self, key: bytes, value: V, size: int) -> None:
        size += len(key)
        if size > self._max_bytes // 64 or key in self._values:
            return
        self._values[key] = (value, size)
        self._bytes += size
        while len(self._values) > self._size or self._bytes > self._max_bytes:
            _, (_, old) = self._values.popitem(last=False)
            self._bytes -= old
