"""Resource bodies as plain data, and the one safe way to read a field or a list of one."""

from __future__ import annotations

from typing import Any

Body = dict[str, Any]


def at(node: Any, *path: str) -> Any:
    """The value at `path` in a resource body, or None where a level is missing or not an object.

    Bodies read from the cluster (observed resources, required claims, the composite's status)
    are data: the API server or another controller may hold any shape there, and a malformed
    one must read as absent, never crash the composer. A body kept as it was observed (a
    pending resource that already exists) is read the same way."""
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def objects_at(node: Any, *path: str) -> list[Body]:
    """The objects of the list at `path` (items of another type skipped); [] when it is not a
    list."""
    items = at(node, *path)
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []
