"""What the end-to-end tests share: reading the dev cluster with kubectl, waiting, printing."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from plinth.core.composition import Observed, condition_of
from plinth.devcluster.kubectl import kubectl_run


def say(line: str) -> None:
    print(f"[e2e] {line}", flush=True)


def get(kubeconfig: Path, *args: str) -> Any:
    """The object (None when NotFound) or list; any other kubectl failure is retried, then raised:
    taking a transient error for "absent" once turned a slow API server into a confusing
    TypeError, and could pass a "gone" check that never looked."""
    for attempt in range(5):
        r = kubectl_run(kubeconfig, "get", *args, "-o", "json")
        if r.returncode == 0:
            return json.loads(r.stdout)
        if "NotFound" in r.stderr:
            return None
        time.sleep(1 + attempt)
    raise AssertionError(f"kubectl get {' '.join(args)}: {r.stderr.strip()}")


def clusters(kubeconfig: Path) -> dict[str, Path]:
    """Every cluster the platform names -> the kubeconfig of the API server playing it, as
    `plinth dev up` wrote them beside the management cluster's kubeconfig (cluster.json)."""
    facts = kubeconfig.parent / "cluster.json"
    named = json.loads(facts.read_text()).get("clusters", {}) if facts.is_file() else {}
    return {name: Path(path) for name, path in named.items()}


def workloads(kubeconfig: Path) -> list[Path]:
    """The kubeconfig of each distinct workload API server (the management cluster's when a
    cluster is reached through it, or when the dev cluster predates workload clusters)."""
    return sorted(set(clusters(kubeconfig).values())) or [kubeconfig]


def ready(resource: dict[str, Any]) -> bool:
    """Ready as Plinth counts it (Observed.ready): an Object composed with derived readiness
    reports Ready on create first, and counts only once its provider derived Ready."""
    return Observed.of({"it": resource}).ready("it")


def eventually(
    what: str, check: Callable[[], Any], timeout: float = 120, every: float = 1
) -> float:
    start = time.monotonic()
    last: Any = None
    while time.monotonic() - start < timeout:
        last = check()
        if last:
            return time.monotonic() - start
        time.sleep(every)
    raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last!r})")


def condition(body: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    return dict(condition_of(body or {}, kind) or {})


def rss_mib(state: str | Path, component: str) -> int | None:
    """Resident memory of one of the dev cluster's processes (None if not ours to read)."""
    pid_file = Path(state) / f"{component}.pid"
    try:
        status = Path(f"/proc/{pid_file.read_text().strip()}/status").read_text()
    except OSError:
        return None
    kib = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return kib // 1024


def play_aws(kubeconfig: Path, namespace: str, composite: str | None, *, account_id: str) -> int:
    """What provider-upjet-aws would report once it had created them: every AWS managed
    resource of one composite (of the namespace when None) Ready and Synced, an Account with
    `account_id`, anything else with an ARN in that account. No provider runs for them here,
    so nothing overwrites it; Crossplane reads readiness from exactly these conditions.
    Returns how many it marked."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    done = 0
    selector = ["-l", f"crossplane.io/composite={composite}"] if composite else []
    managed = get(kubeconfig, "managed", "-n", namespace, *selector)
    for mr in (managed or {}).get("items", []):
        group = mr["apiVersion"].split("/")[0]
        if not group.endswith(".aws.m.upbound.io"):
            continue
        if (condition_of(mr, "Ready") or {}).get("status") == "True":
            continue
        status: dict[str, Any] = {
            "conditions": [
                {"type": t, "status": "True", "reason": r, "lastTransitionTime": now}
                for t, r in (("Ready", "Available"), ("Synced", "ReconcileSuccess"))
            ]
        }
        name = mr["metadata"]["name"]
        status["atProvider"] = (
            {"id": account_id}
            if mr["kind"] == "Account"
            else {"id": name, "arn": f"arn:aws:iam::{account_id}:role/{name}"}
        )
        kubectl_run(
            kubeconfig,
            "patch",
            f"{mr['kind'].lower()}.{group}",
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )
        done += 1
    return done


def play_kyverno(kubeconfig: Path) -> int:
    """What Kyverno's admission controller reports once it has loaded them: every ClusterPolicy
    of every workload cluster Ready. No Kyverno runs here, and the tenant's guardrail Objects
    take their readiness from the policy's own (provider-kubernetes' DeriveFromObject), so
    without this no tenant with guardrails would ever be Ready. Returns how many it marked."""
    done = 0
    for cluster in workloads(kubeconfig):
        for policy in (get(cluster, "clusterpolicies.kyverno.io") or {}).get("items", []):
            done += _mark_policy_ready(cluster, policy)
    return done


def _mark_policy_ready(cluster: Path, policy: dict[str, Any]) -> int:
    if (condition_of(policy, "Ready") or {}).get("status") == "True":
        return 0
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    ready = {"type": "Ready", "status": "True", "reason": "Succeeded", "message": "Ready"}
    status = {"ready": True, "conditions": [{**ready, "lastTransitionTime": now}]}
    kubectl_run(
        cluster,
        "patch",
        "clusterpolicies.kyverno.io",
        policy["metadata"]["name"],
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )
    return 1


@contextmanager
def kyverno_playing(kubeconfig: Path) -> Iterator[None]:
    """Kyverno, played in the background while inside: each ClusterPolicy is marked Ready as
    soon as a watch of its cluster sees it, as Kyverno does once its webhooks serve it.

    Played from a check loop instead, a policy waited for the loop's next round, long enough
    to lose the race with provider-kubernetes' one early look and wait out its 30 s re-look;
    polled in a loop of its own, kubectl against every cluster kept a core busy (the 100
    claims of `make bench-e2e` took three times as long). A watch costs nothing while idle."""
    stop = threading.Event()
    procs: list[subprocess.Popen[str]] = []

    def watch(cluster: Path) -> None:
        while not stop.is_set():  # the API server ends a watch after a while: watch again
            proc = subprocess.Popen(
                [
                    *("kubectl", "--kubeconfig", str(cluster)),
                    *("--cache-dir", str(kubeconfig.parent / "kube-cache")),
                    *("get", "clusterpolicies.kyverno.io", "--watch", "-o", "json"),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            procs.append(proc)
            assert proc.stdout is not None
            for policy in json_stream(proc.stdout):
                _mark_policy_ready(cluster, policy)
            proc.wait()
            stop.wait(1)

    threads = [
        threading.Thread(target=watch, args=(c,), daemon=True) for c in workloads(kubeconfig)
    ]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for proc in procs:
            proc.kill()
        for t in threads:
            t.join(timeout=30)


def json_stream(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """The JSON objects `kubectl get --watch -o json` prints one after another."""
    decoder, buf = json.JSONDecoder(), ""
    for line in lines:
        buf += line
        try:
            obj, _ = decoder.raw_decode(buf)
        except ValueError:
            continue
        buf = ""
        yield obj
