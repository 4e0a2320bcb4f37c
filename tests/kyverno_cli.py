"""The pinned Kyverno CLI for tests, and the policies and manifests a claim composes."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pytest

from claim_fixtures import with_status
from lifecycles import phases
from plinth.cli.claims import default_required, placed
from plinth.tools.engine import binary
from plinth.tools.yamlio import read_path

Body = dict[str, Any]


# Like the Crossplane CLI (conftest.crossplane_tools): a machine without the pinned Kyverno CLI
# builds it once, on first use (engine.binary: hack/build-tools.sh holds a lock, so parallel
# workers wait for one build, and caches it under ~/.cache/plinth/bin); a failed build fails the
# tests with its output.
# Locally, PLINTH_SKIP_KYVERNO=1 skips them instead; in CI (CI=true) that is refused.
SKIP_KYVERNO_ENV = "PLINTH_SKIP_KYVERNO"


@functools.cache
def kyverno() -> str:
    """The pinned Kyverno CLI (PLINTH_KYVERNO_BIN, else hack/build-tools.sh kyverno)."""
    if os.environ.get(SKIP_KYVERNO_ENV) == "1":
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{SKIP_KYVERNO_ENV}=1 is not honoured in CI: the real Kyverno CLI must run"
            )
        pytest.skip(f"{SKIP_KYVERNO_ENV}=1: not running the real Kyverno CLI")
    return binary("kyverno")


def final_resources(path: Path) -> list[Body]:
    doc = read_path(str(path))[0]
    required = with_status([d.body for d in default_required(doc.source)])
    *_, last = phases(placed(doc).body, required)
    return last


def manifests(resources: list[Body], kind: str) -> list[Body]:
    return [
        r["spec"]["forProvider"]["manifest"]
        for r in resources
        if r["kind"] == "Object" and r["spec"]["forProvider"]["manifest"]["kind"] == kind
    ]
