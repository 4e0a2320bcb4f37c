"""The pinned Kyverno CLI for tests, and the policies and manifests a claim composes."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from claim_fixtures import with_status
from conftest import REPO
from lifecycles import phases
from plinth.cli.claims import default_required, placed
from plinth.tools.yamlio import read_path

Body = dict[str, Any]


@functools.cache
def kyverno() -> str:
    """The pinned Kyverno CLI (hack/build-tools.sh kyverno), never built here: tests skip only
    when it is absent and not in CI."""
    if os.environ.get("PLINTH_KYVERNO_BIN"):
        return os.environ["PLINTH_KYVERNO_BIN"]
    out = subprocess.run(
        ["bash", str(REPO / "hack" / "build-tools.sh"), "--list"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = next(line.split()[2] for line in out.splitlines() if line.split()[:1] == ["kyverno"])
    if not Path(path).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"the Kyverno CLI is not built ({path}): hack/build-tools.sh kyverno")
        pytest.skip(f"the Kyverno CLI is not built ({path}): hack/build-tools.sh kyverno")
    return path


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
