"""Argo CD health checks: every claim kind of both flavors, every state, in a real Lua runtime."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from conftest import REPO, assert_valid
from plinth.cli import main
from plinth.generators.gitops import (
    IMPERSONATION_KEY,
    argocd_cm_patch,
    health_key,
    health_kinds,
    helm_values,
)
from plinth.tools.validate import Validator

lupa = pytest.importorskip("lupa")

HEALTH = REPO / "gitops" / "health"
CASES = yaml.safe_load((HEALTH / "health_test.yaml").read_text())["tests"]


def run_health(script: str, obj: dict[str, Any]) -> dict[str, str]:
    """Runs a health.lua as Argo CD does: the object as the global `obj`, a table returned."""
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(obj, recursive=True)
    hs = lua.execute(script)
    return {"status": hs["status"], "message": hs["message"]}


def _as(obj: dict[str, Any], group: str, kind: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj["apiVersion"] = f"{group}/v1alpha1"
    obj["kind"] = kind
    return obj


KINDS = health_kinds()


def test_one_script_per_group_and_kind_for_every_claim_kind() -> None:
    names = sorted(p.name for p in HEALTH.glob("*.lua"))
    assert names == sorted(f"{g}_{k}.lua" for g, k in KINDS)
    assert len(KINDS) == 9  # 3 v2 XRs, 3 legacy claims, 3 legacy XRs
    assert not any("*" in n for n in names), "EKS's managed Argo CD rejects wildcard keys"


def test_lua_files_are_up_to_date() -> None:
    result = CliRunner().invoke(main, ["gitops", "generate", "--check", "--root", str(REPO)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", CASES, ids=lambda c: Path(c["inputPath"]).stem)
@pytest.mark.parametrize(("group", "kind"), KINDS, ids=[f"{g}_{k}" for g, k in KINDS])
def test_health_fixture(group: str, kind: str, case: dict[str, Any]) -> None:
    script = (HEALTH / f"{group}_{kind}.lua").read_text()
    obj = yaml.safe_load((HEALTH / case["inputPath"]).read_text())
    assert run_health(script, _as(obj, group, kind)) == case["healthStatus"]


def _conditions(*conds: tuple[str, str, str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": "x"},
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": r, **({"message": m} if m else {})}
                for t, s, r, m in conds
            ]
        },
    }


@pytest.mark.parametrize(
    ("obj", "status", "message"),
    [
        # Synced False wins over Ready False too, with the Synced message.
        (
            _conditions(
                ("Synced", "False", "ReconcileError", "boom"), ("Ready", "False", "Creating", "")
            ),
            "Degraded",
            "boom",
        ),
        # No message at all: the reason still reaches the UI.
        (
            _conditions(("Synced", "False", "ReconcileError", "")),
            "Degraded",
            "Crossplane could not reconcile the claim (ReconcileError)",
        ),
        # Ready True with Synced not reported yet is healthy.
        (_conditions(("Ready", "True", "Available", "")), "Healthy", "Ready"),
        # Ready Unknown is not a failure.
        (
            _conditions(("Synced", "True", "ReconcileSuccess", ""), ("Ready", "Unknown", "", "")),
            "Progressing",
            "Waiting for the composed resources to become ready",
        ),
        # A paused annotation other than "true" does not pause.
        (
            {"metadata": {"annotations": {"crossplane.io/paused": "false"}}},
            "Progressing",
            "Waiting for Crossplane to reconcile the claim",
        ),
        (
            {"metadata": {"name": "x"}, "status": {}},
            "Progressing",
            "Waiting for Crossplane to reconcile the claim",
        ),
    ],
)
def test_health_edge_cases(obj: dict[str, Any], status: str, message: str) -> None:
    script = (HEALTH / "platform.plinth.dev_TenantClaim.lua").read_text()
    assert run_health(script, obj) == {"status": status, "message": message}


def test_fixtures_are_valid_claims(validator: Validator) -> None:
    bodies = [yaml.safe_load((HEALTH / c["inputPath"]).read_text()) for c in CASES]
    assert_valid(validator, bodies, "gitops/health/testdata")


def test_argocd_cm_and_helm_values_carry_every_script_verbatim() -> None:
    cm = yaml.safe_load_all((HEALTH / "argocd-cm-patch.yaml").read_text())
    data = next(d for d in cm if d)["data"]
    values = yaml.safe_load((HEALTH / "values.yaml").read_text())["configs"]["cm"]
    for group, kind in KINDS:
        text = (HEALTH / f"{group}_{kind}.lua").read_text()
        assert data[health_key(group, kind)] == text
        assert values[health_key(group, kind)] == text
    # Beside the scripts, only impersonation: every project in gitops/ relies on it.
    assert set(data) == {health_key(g, k) for g, k in KINDS} | {IMPERSONATION_KEY}
    assert data[IMPERSONATION_KEY] == "true"
    assert argocd_cm_patch()["data"] == helm_values()["configs"]["cm"] == data
