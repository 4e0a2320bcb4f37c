"""Faults on the local control plane (`make chaos`): parts of the management cluster fail while
a tenant and an app are mid-way through their phases, and again at steady state.

For each fault the test checks what a platform team cares about:
- the claims converge once the part is back (Synced, composing what they composed before);
- no composed resource is deleted or recreated: every resource seen before the fault is there
  afterwards with the same uid, and none is being deleted;
- while the part is down, the claim's conditions say what is wrong (for the function).

AWS has no controller here, so the test plays provider-upjet-aws for the steady-state round:
it marks the tenant's and app's AWS resources Ready, as the provider would once AWS answered.
Per-fault timings (recovery -> converged) are printed and collected in one summary line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from e2e.kube import clusters, condition, eventually, get, play_aws, play_kyverno, say
from plinth.devcluster import processes
from plinth.devcluster.kubectl import kubectl, kubectl_run

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

TEAM = "chaos"
TENANT = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "TenantClaim",
    "metadata": {"name": TEAM, "namespace": TEAM},
    "spec": {
        "account": {"accountId": "123456789012", "providerConfig": "chaos-aws"},
        "environments": [{"name": "dev", "namespaces": ["api"]}],
        "members": [{"permissionSet": "ChaosDevelopers", "role": "edit"}],
    },
}
APP = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "AppClaim",
    "metadata": {"name": "api", "namespace": TEAM},
    "spec": {
        "tenant": TEAM,
        "environments": [{"name": "dev", "namespace": "chaos-api"}],
        "buckets": [{"name": "assets"}],
        "queues": [{"name": "jobs"}],
    },
}
# A second tenant, deleted while the function is down.
DOOMED = {
    **TENANT,
    "metadata": {"name": "doomed", "namespace": "doomed"},
    "spec": {**TENANT["spec"], "account": {"accountId": "123456789012", "providerConfig": "d"}},
}
# How long the function stays down in the long outage (the three minutes); shorter
# with PLINTH_CHAOS_OUTAGE=seconds while iterating on the test.
OUTAGE = float(os.environ.get("PLINTH_CHAOS_OUTAGE", "180"))
SHORT_OUTAGE = min(30.0, OUTAGE)
TIMINGS: dict[str, float] = {}

Key = tuple[str, str, str]


def _state(cluster_info: dict[str, object]) -> Path:
    return Path(str(cluster_info["state"]))


@pytest.fixture(scope="module")
def claims(kubeconfig: Path, cluster_info: dict[str, object]) -> Iterator[Path]:
    if "state" not in cluster_info:
        pytest.skip("the chaos tests stop and start the dev cluster's processes: run them on one")
    for ns in (TEAM, "doomed", "argocd"):
        kubectl(kubeconfig, "create", "namespace", ns, check=False)
    # Argo CD's kinds (no controller), so that the tenant's AppProject and the app's
    # Applications can be created and the claims reach steady state.
    argo = Path(os.environ.get("PLINTH_CRDS_DIR", REPO.parent / "shared" / "crds")) / "argo-cd"
    for crd in sorted(argo.glob("*.yaml")):
        kubectl(kubeconfig, "apply", "--server-side", "-f", str(crd))
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([TENANT, APP]))
    dev = clusters(kubeconfig)["eks-dev-use1"]
    eventually("the tenant's namespace exists", lambda: get(dev, "namespace", "chaos-api"))
    # Mid-way: the tenant has its namespaces, isolation and roles (unready: no AWS), the app
    # its AWS resources (and its objects in the tenant's namespace once the tenant reports it ready).
    eventually(
        "the app composed its bucket",
        lambda: get(kubeconfig, "buckets.s3.aws.m.upbound.io", "-n", TEAM)["items"],
        timeout=300,
    )
    yield kubeconfig
    say("chaos timings (recovered -> converged, s): " + json.dumps(TIMINGS))
    kubectl(kubeconfig, "delete", "appclaim,tenantclaim", "--all", "-n", TEAM, "--wait=false")


def composed(kubeconfig: Path) -> dict[Key, dict[str, Any]]:
    """Every managed resource the two claims composed, by (kind, namespace, name)."""
    items = get(kubeconfig, "managed", "-n", TEAM)["items"]
    return {(i["kind"], TEAM, i["metadata"]["name"]): i for i in items}


def uids(kubeconfig: Path) -> dict[Key, str]:
    return {k: v["metadata"]["uid"] for k, v in composed(kubeconfig).items()}


def poke(kubeconfig: Path, kind: str = "tenantclaim", name: str = TEAM) -> None:
    """Make Crossplane reconcile the claim now (an annotation change is an event it watches),
    rather than at its next poll."""
    kubectl_run(
        kubeconfig,
        "annotate",
        kind,
        name,
        "-n",
        TEAM if name in (TEAM, "api") else name,
        f"plinth.dev/chaos-poke={time.time_ns()}",
        "--overwrite",
    )


def synced(kubeconfig: Path, kind: str, name: str) -> bool:
    claim = get(kubeconfig, kind, name, "-n", TEAM)
    return condition(claim, "Synced").get("status") == "True"


def converged(kubeconfig: Path, before: dict[Key, str], what: str, began: float) -> None:
    """Both claims Synced again, everything composed before still there with its uid."""

    def check() -> Any:
        poke(kubeconfig)
        poke(kubeconfig, "appclaim", "api")
        if not (synced(kubeconfig, "tenantclaim", TEAM) and synced(kubeconfig, "appclaim", "api")):
            return False
        now = composed(kubeconfig)
        return all(k in now for k in before) and now

    eventually(f"{what}: the claims converge", check, timeout=300)
    took = time.monotonic() - began
    TIMINGS[what] = round(took, 1)
    say(f"{what}: recovered -> converged in {took:.1f}s")
    now = composed(kubeconfig)
    changed = {k: (before[k], now[k]["metadata"]["uid"]) for k in before if k in now}
    assert all(a == b for a, b in changed.values()), {
        k: v for k, v in changed.items() if v[0] != v[1]
    }
    deleting = [k for k, v in now.items() if v["metadata"].get("deletionTimestamp")]
    assert not deleting, deleting


def wait_api(kubeconfig: Path) -> None:
    eventually(
        "the API server answers",
        lambda: kubectl_run(kubeconfig, "get", "--raw=/readyz").returncode == 0,
        timeout=120,
    )


def outage(
    kubeconfig: Path,
    state: Path,
    component: str,
    down_for: float,
    while_down: Callable[[], None] | None = None,
) -> float:
    """SIGKILL `component`, keep it down for `down_for` seconds (running `while_down`), start
    it again as it was first started; return when it is back."""
    processes.kill(state, component)
    began = time.monotonic()
    try:
        if while_down:
            while_down()
        time.sleep(max(0.0, down_for - (time.monotonic() - began)))
    finally:
        # Even when a check failed: the next test needs the part back.
        processes.restart(state, component)
    if component in ("kube-apiserver", "etcd"):
        wait_api(kubeconfig)
    return time.monotonic()


def function_down_is_said(kubeconfig: Path, round_: str) -> None:
    """While the function is down, each claim's Synced condition says the pipeline failed.

    Each claim is poked once as the function goes (at steady state nothing else would make
    Crossplane call it within the hour), and never again while it is down. A reconcile calling
    the dead function waits out Crossplane's 2-minute deadline, then writes Synced=False with
    the resourceVersion it started from: any change to the claim in the meantime (a poke) makes
    that status update conflict, and Crossplane drops it without a word (measured on the dev
    cluster: a claim poked 150 s in still said Synced=True 300 s into the outage). So the one
    poke may cost the reconcile already in flight, and the next one says it, at most about
    four minutes in."""
    began = time.monotonic()
    for kind, name in (("appclaim", "api"), ("tenantclaim", TEAM)):
        poke(kubeconfig, kind, name)
    for kind, name in (("appclaim", "api"), ("tenantclaim", TEAM)):

        def said(kind: str = kind, name: str = name) -> Any:
            synced_c = condition(get(kubeconfig, kind, name, "-n", TEAM), "Synced")
            return synced_c.get("status") == "False" and synced_c.get("message")

        eventually(f"the {kind} says the function is unavailable", said, timeout=300)
        TIMINGS[f"{round_}: function killed -> {kind} says so"] = round(time.monotonic() - began, 1)


def faults(kubeconfig: Path, state: Path, round_: str) -> None:
    before = uids(kubeconfig)
    assert before

    back = outage(kubeconfig, state, "plinth-serve", SHORT_OUTAGE)
    converged(kubeconfig, before, f"{round_}: plinth serve killed, back after 30s", back)

    back = outage(
        kubeconfig,
        state,
        "plinth-serve",
        OUTAGE,
        while_down=lambda: function_down_is_said(kubeconfig, round_),
    )
    converged(kubeconfig, before, f"{round_}: plinth serve down {OUTAGE:.0f}s", back)

    for component in ("provider-kubernetes", "crossplane", "kube-apiserver", "etcd"):
        back = outage(kubeconfig, state, component, 2)
        converged(kubeconfig, before, f"{round_}: {component} restarted", back)


def test_faults_mid_way_through_the_phases(claims: Path, cluster_info: dict[str, object]) -> None:
    faults(claims, _state(cluster_info), "mid-way")


def test_an_invalid_platform_config_is_said_and_loses_nothing(claims: Path) -> None:
    before = uids(claims)
    platform = get(claims, "environmentconfig", "plinth-platform")
    broken = json.loads(json.dumps(platform))
    broken["data"]["clusters"] = "not a list of clusters"
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        broken["metadata"].pop(k, None)
    kubectl(claims, "replace", "-f", "-", stdin=json.dumps(broken))

    def fatal_said() -> Any:
        poke(claims)
        s = condition(get(claims, "tenantclaim", TEAM, "-n", TEAM), "Synced")
        return s.get("status") == "False" and "platform" in s.get("message", "").lower() and s

    eventually("the claim says the platform config is invalid", fatal_said, timeout=300)
    assert uids(claims) == before, "an invalid platform config made Crossplane delete something"
    fixed = time.monotonic()
    for k in ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"):
        platform["metadata"].pop(k, None)
    kubectl(claims, "replace", "-f", "-", stdin=json.dumps(platform))
    converged(claims, before, "platform EnvironmentConfig invalid, then fixed", fixed)


def test_a_claim_deleted_while_the_function_is_down_goes_away(
    claims: Path, cluster_info: dict[str, object]
) -> None:
    state = _state(cluster_info)
    kubectl(claims, "apply", "-f", "-", stdin=yaml.safe_dump(DOOMED))
    dev = clusters(claims)["eks-dev-use1"]
    eventually("the doomed tenant's namespace exists", lambda: get(dev, "namespace", "doomed-api"))
    before = uids(claims)
    processes.kill(state, "plinth-serve")
    began = time.monotonic()
    kubectl(claims, "delete", "tenantclaim", "doomed", "-n", "doomed", "--wait=false")
    time.sleep(SHORT_OUTAGE)
    processes.restart(state, "plinth-serve")

    def gone() -> bool:
        left = get(claims, "managed", "-n", "doomed")["items"]
        return not left and not get(claims, "tenantclaim", "doomed", "-n", "doomed")

    eventually("the doomed tenant and what it composed are gone", gone, timeout=300)
    TIMINGS["claim deleted while the function was down -> gone"] = round(
        time.monotonic() - began, 1
    )
    converged(claims, before, "the other tenant after the deletion", time.monotonic())


def test_faults_at_steady_state(claims: Path, cluster_info: dict[str, object]) -> None:
    def steady() -> Any:
        play_aws(claims, TEAM, None, account_id="123456789012")
        play_kyverno(claims)
        poke(claims)
        poke(claims, "appclaim", "api")
        tenant = get(claims, "tenantclaim", TEAM, "-n", TEAM)
        return condition(tenant, "Ready").get("status") == "True" and tenant

    took = eventually("the tenant is Ready with AWS played", steady, timeout=600)
    say(f"tenant Ready at steady state after {took:.1f}s of playing AWS")
    # Nothing new appears for a while: the claims are at rest.
    first = set(uids(claims))
    time.sleep(15)
    play_aws(claims, TEAM, None, account_id="123456789012")
    assert set(uids(claims)) >= first
    faults(claims, _state(cluster_info), "steady")
