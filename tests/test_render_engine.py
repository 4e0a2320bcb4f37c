"""`plinth render --engine crossplane`: the real engine's answer for a claim, in one command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from plinth.tools.engine import CLI_ENV, CORE_ENV, Tools
from plinth.tools.render import CRN_ANNOTATION


def plinth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plinth.cli", *args],
        capture_output=True,
        check=False,
        text=True,
        cwd=REPO,
        timeout=180,
        env={**os.environ, **(env or {})},
    )


def composed(stdout: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    docs = [d for d in yaml.safe_load_all(stdout) if d]
    resources = {
        d["metadata"]["annotations"][CRN_ANNOTATION]: d
        for d in docs
        if CRN_ANNOTATION in (d["metadata"].get("annotations") or {})
    }
    return docs[0], resources


CLAIMS = [
    ("examples/tenant-search.yaml",),
    ("examples/legacy/tenant.yaml",),
    (
        "examples/account-prod.yaml",
        "--observed-resources",
        "examples/account-prod/observed-provider-config-ready/",
    ),
]


@pytest.mark.crossplane
@pytest.mark.parametrize("args", CLAIMS, ids=lambda a: a[0])
def test_engine_crossplane_renders_what_plinth_renders(
    crossplane_tools: Tools, args: tuple[str, ...]
) -> None:
    real = plinth("render", *args, "--engine", "crossplane")
    assert real.returncode == 0, real.stderr
    mine = plinth("render", *args)
    assert mine.returncode == 0, mine.stderr
    real_xr, real_resources = composed(real.stdout)
    my_xr, my_resources = composed(mine.stdout)
    assert real_resources == my_resources
    assert real_xr["status"]["phase"] == my_xr["status"]["phase"]
    # The real engine's own marks: it reconciled the composite successfully.
    assert {"type": "Synced", "status": "True"}.items() <= next(
        c for c in real_xr["status"]["conditions"] if c["type"] == "Synced"
    ).items()


@pytest.mark.crossplane
def test_engine_crossplane_through_a_running_server_as_json(
    crossplane_tools: Tools, function_target: str
) -> None:
    r = plinth(
        "render",
        "examples/app.yaml",
        "--engine",
        "crossplane",
        "--endpoint",
        function_target,
        "-o",
        "json",
    )
    assert r.returncode == 0, r.stderr
    items = json.loads(r.stdout)["items"]
    assert items[0]["kind"] == "AppClaim"
    assert all(CRN_ANNOTATION in i["metadata"]["annotations"] for i in items[1:])


@pytest.mark.crossplane
def test_engine_crossplane_reports_a_refused_claim_as_bad_input(
    crossplane_tools: Tools, tmp_path: Path
) -> None:
    claim = tmp_path / "tenant.yaml"
    claim.write_text((REPO / "examples" / "tenant.yaml").read_text())
    # Alone in its directory: no platform EnvironmentConfig, which the function requires.
    r = plinth("render", str(claim), "--engine", "crossplane", "--required-resources", str(claim))
    assert r.returncode == 2, r.stderr
    assert "EnvironmentConfig 'plinth-platform' was not found" in r.stderr


def test_engine_crossplane_never_builds_unasked(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    r = plinth(
        "render",
        "examples/tenant.yaml",
        "--engine",
        "crossplane",
        env={"PLINTH_CACHE_DIR": str(cache), CLI_ENV: "", CORE_ENV: ""},
    )
    assert r.returncode == 1
    assert "plinth/tools/build-tools.sh crossplane crossplane-core" in r.stderr
    assert "--build" in r.stderr
    assert not (cache / "bin").exists(), "nothing may be built without --build"
    assert r.stdout == ""


def test_engine_crossplane_names_a_binary_given_that_does_not_run(tmp_path: Path) -> None:
    missing = tmp_path / "crossplane"
    r = plinth(
        "render",
        "examples/tenant.yaml",
        "--engine",
        "crossplane",
        env={CLI_ENV: str(missing), CORE_ENV: str(missing)},
    )
    assert r.returncode == 1
    assert str(missing) in r.stderr


def test_engine_crossplane_refuses_tls() -> None:
    r = plinth(
        "render", "examples/tenant.yaml", "--engine", "crossplane", "--tls-certs-dir", "/nowhere"
    )
    assert r.returncode == 2
    assert "without TLS" in r.stderr
