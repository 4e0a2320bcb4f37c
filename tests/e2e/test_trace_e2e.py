"""`plinth trace` on the live dev cluster (`make e2e`): a claim that waits, and one that is Ready,
each traced with the real CLI, which must name the right cause (or none)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.kube import condition, eventually, get, play_aws, say
from plinth.devcluster.kubectl import kubectl

pytestmark = pytest.mark.e2e

TEAM = "e2t"
ACCOUNT_ID = "410987654321"
ACCOUNT = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "AccountClaim",
    "metadata": {"name": f"{TEAM}-dev", "namespace": TEAM},
    "spec": {"email": f"aws+{TEAM}-dev@example.com", "environment": "dev"},
}
TENANT = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "TenantClaim",
    "metadata": {"name": TEAM, "namespace": TEAM},
    "spec": {
        "account": {"claimName": f"{TEAM}-dev"},
        "environments": [{"name": "dev", "namespaces": ["api"]}],
    },
}


def plinth_trace(kubeconfig: Path, claim: str) -> dict[str, Any]:
    """The real CLI, as an engineer runs it: `plinth trace KIND/NAME -n NS -o json`."""
    out = subprocess.run(
        [sys.executable, "-m", "plinth.cli", "trace", claim, "-n", TEAM, "-o", "json"],
        check=False,
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return dict(json.loads(out.stdout))


def test_trace_names_what_holds_a_claim_back_and_nothing_once_it_is_ready(
    kubeconfig: Path,
) -> None:
    kubectl(kubeconfig, "create", "namespace", TEAM, check=False)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([ACCOUNT, TENANT]))
    try:
        _waiting_then_ready(kubeconfig)
    finally:
        kubectl(kubeconfig, "delete", "tenantclaim", TEAM, "-n", TEAM, "--wait=false")
        kubectl(kubeconfig, "delete", "accountclaim", f"{TEAM}-dev", "-n", TEAM, "--wait=false")


def _waiting_then_ready(kubeconfig: Path) -> None:
    # The account's AWS resources exist and stay unready: no controller runs for the AWS
    # provider here, which is what trace must say; the tenant waits for the account.
    def account_traced() -> Any:
        t = plinth_trace(kubeconfig, f"accountclaim/{TEAM}-dev")
        return t if t.get("resources") and (t.get("cause") or {}).get("kind") else None

    took = eventually("the account's trace names a cause", account_traced, timeout=180)
    account = account_traced()
    say(f"account applied -> trace names its cause: {took:.1f}s: {account['cause']['kind']}")
    assert account["cause"]["kind"] == "provider-unhealthy", account["cause"]
    assert "aws" in account["cause"]["why"].lower(), account["cause"]

    def tenant_waits() -> Any:
        t = plinth_trace(kubeconfig, f"tenantclaim/{TEAM}")
        return t if (t.get("cause") or {}).get("kind") == "waiting-for-account" else None

    eventually("the tenant's trace says it waits for its account", tenant_waits, timeout=180)
    tenant = tenant_waits()
    assert f"{TEAM}-dev" in tenant["cause"]["why"], tenant["cause"]
    assert "accountclaim" in tenant["cause"]["next"].lower(), tenant["cause"]

    # Play the AWS provider for the account (each baseline phase composes more) until Ready.
    began = time.monotonic()

    def account_ready() -> bool:
        # A v2 claim is its own composite: its resources carry its name as their composite.
        play_aws(kubeconfig, TEAM, f"{TEAM}-dev", account_id=ACCOUNT_ID)
        claim = get(kubeconfig, "accountclaim", f"{TEAM}-dev", "-n", TEAM) or {}
        return condition(claim, "Ready").get("status") == "True"

    eventually("the AccountClaim is Ready", account_ready, timeout=600)
    say(f"account's AWS resources Ready -> AccountClaim Ready: {time.monotonic() - began:.1f}s")
    ready = plinth_trace(kubeconfig, f"accountclaim/{TEAM}-dev")
    assert ready["ready"] is True, ready
    assert "cause" not in ready or ready["cause"] is None, ready["cause"]
    assert ready["resources"], ready
    # Kinds without a Ready condition (a ProviderConfig) report none; nothing reports False.
    silent = sorted({r["kind"] for r in ready["resources"] if "ready" not in r})
    say(
        f"AccountClaim Ready: {len(ready['resources'])} resources traced, no Ready condition: {silent}"
    )
    assert all(r["ready"]["status"] == "True" for r in ready["resources"] if "ready" in r), ready
    assert len(silent) < len(ready["resources"]), ready
