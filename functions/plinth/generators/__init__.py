"""Generators: every file Plinth writes from its models, in one registry.

XRDs, Compositions and package metadata (crossplane.py), the GitOps artifacts (gitops.py), the
Backstage templates (backstage.py) and the docs' field tables (reference.py), all derived from
the API catalog and the pydantic models. `plinth generate` writes them; a test fails when a
checked-in copy drifts. Pure: the CLI does the reading, YAML dumping and writing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plinth.generators import backstage, crossplane, gitops, reference


@dataclass(frozen=True)
class Generated:
    # YAML streams, by path relative to the repository root.
    documents: dict[Path, list[dict[str, Any]]] = field(default_factory=dict)
    # Files written as they are (the Lua health checks).
    texts: dict[Path, str] = field(default_factory=dict)
    # Files Plinth owns a part of (the docs' field tables): old text -> new text.
    patches: dict[Path, Callable[[str], str]] = field(default_factory=dict)


def generated() -> Generated:
    return Generated(
        documents={**crossplane.files(), **gitops.files(), **backstage.files()},
        texts=gitops.text_files(),
        patches=reference.doc_patches(),
    )
