"""Figures from the local control plane (`make bench-e2e`): what a platform team feels.

1. One TenantClaim (the e2e tenant: 3 namespaces on 2 clusters, 33 Objects) applied until every
   in-cluster Object is Ready, then, once its Objects are 30 s old (provider-kubernetes' creation
   grace period), deleted until the claim, its namespaces and its Objects are gone; with the
   watch events its Objects caused (Crossplane's circuit-breaker tokens), whether the claim's
   breaker opened, and when the function was called for it (with each answer's TTL). Then the
   same for its dev environment alone (2 namespaces on 1 cluster, 22 Objects).
2. N TenantClaims and N AppClaims applied at once until all are Ready (this script plays
   provider-upjet-aws, provider-upjet-github and Kyverno, which do not run here), then deleted.
3. The function calls each of those claims caused at steady state, counted from
   `plinth serve --record` over a window, and the TTL their steady responses carry.

Figures, never assertions. Run on a dev cluster (`PLINTH_DEV_KUBECONFIG=...`, as `plinth dev up`
printed) or let it start one and stop it at the end:

    .venv/bin/python benchmarks/control_plane.py [--claims 50] [--steady-seconds 300]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from e2e import test_chaos_e2e as chaos_e2e  # noqa: E402
from e2e import test_tenant_e2e as tenant_e2e  # noqa: E402
from e2e.kube import (  # noqa: E402
    condition,
    eventually,
    get,
    json_stream,
    kyverno_playing,
    ready,
    workloads,
)
from plinth.devcluster import cluster, processes  # noqa: E402
from plinth.devcluster.kubectl import kubectl  # noqa: E402

V2 = "platform.plinth.dev/v1alpha1"
OBJECTS = "objects.kubernetes.m.crossplane.io"
SETTLE_SECONDS = 30.0
# crossplane-runtime's default creation grace period (managed.WithCreationGracePeriod), which
# provider-kubernetes v1.2.1 keeps.
CREATION_GRACE_SECONDS = 30.0


def respec(spec: dict[str, Any], team: str) -> dict[str, Any]:
    """An e2e claim's spec with its team's name as a `{team}` placeholder, so that the
    benchmark applies exactly what the end-to-end tests do, for other teams."""
    return dict(json.loads(json.dumps(spec).replace(f'"{team}', '"{team}')))


# The e2e tenant: 3 namespaces in 2 environments on 2 clusters.
BIG_TENANT = respec(tenant_e2e.CLAIM["spec"], tenant_e2e.TEAM)
# The many-claims round: the chaos tests' tenant and app (one environment, one namespace).
TENANT = respec(chaos_e2e.TENANT["spec"], chaos_e2e.TEAM)
APP = respec(chaos_e2e.APP["spec"], chaos_e2e.TEAM)


def claim(kind: str, team: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(spec).replace("{team}", team)
    return {
        "apiVersion": V2,
        "kind": kind,
        "metadata": {"name": name, "namespace": team},
        "spec": json.loads(text),
    }


class Api:
    """The API server through `kubectl proxy`: one HTTP request per patch instead of one
    kubectl process, so that playing the providers does not bound what is measured."""

    def __init__(self, kubeconfig: Path) -> None:
        self.port = processes.free_port()
        self.proc = subprocess.Popen(
            ["kubectl", "--kubeconfig", str(kubeconfig), "proxy", f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.plurals: dict[tuple[str, str], str] = {}
        deadline = time.monotonic() + 30
        while not processes.port_in_use(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError("kubectl proxy did not start")
            time.sleep(0.1)

    def request(self, method: str, path: str, body: Any = None, ctype: str = "") -> Any:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": ctype} if ctype else {}
        conn.request(method, path, body=data, headers=headers)
        rsp = conn.getresponse()
        out = rsp.read()
        conn.close()
        if rsp.status >= 400:
            raise RuntimeError(f"{method} {path}: {rsp.status} {out[:300]!r}")
        return json.loads(out) if out else None

    def plural(self, api_version: str, kind: str) -> str:
        key = (api_version, kind)
        if key not in self.plurals:
            base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            for r in self.request("GET", base)["resources"]:
                if "/" not in r["name"]:
                    self.plurals[(api_version, r["kind"])] = r["name"]
        return self.plurals[key]

    def mark_ready(self, body: dict[str, Any], extra: dict[str, Any]) -> None:
        api_version, kind = body["apiVersion"], body["kind"]
        meta = body["metadata"]
        ns = f"/namespaces/{meta['namespace']}" if meta.get("namespace") else ""
        path = f"/apis/{api_version}{ns}/{self.plural(api_version, kind)}/{meta['name']}/status"
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        conds = [
            {"type": t, "status": "True", "reason": r, "lastTransitionTime": now, "message": t}
            for t, r in (("Ready", "Available"), ("Synced", "ReconcileSuccess"))
        ]
        status = {"conditions": conds, **extra}
        self.request("PATCH", path, {"status": status}, "application/merge-patch+json")

    def played_kinds(self) -> list[str]:
        """The list paths of every AWS and GitHub managed resource kind the cluster serves."""
        if not hasattr(self, "_played"):
            self._played: list[str] = []
            for group in self.request("GET", "/apis")["groups"]:
                if not group["name"].endswith(".upbound.io"):
                    continue
                gv = group["preferredVersion"]["groupVersion"]
                for r in self.request("GET", f"/apis/{gv}")["resources"]:
                    if "/" not in r["name"] and "managed" in r.get("categories", []):
                        self._played.append(f"/apis/{gv}/{r['name']}")
        return self._played

    def unready_played(self, namespaces: set[str]) -> Iterator[dict[str, Any]]:
        for path in self.played_kinds():
            for item in self.request("GET", path)["items"]:
                if item["metadata"].get("namespace") not in namespaces:
                    continue
                if condition(item, "Ready").get("status") != "True":
                    yield item

    def close(self) -> None:
        self.proc.kill()


def play(
    kubeconfig: Path,
    api: Api,
    namespaces: set[str],
    marked: dict[tuple[str, str], float] | None = None,
) -> int:
    """What provider-upjet-aws, provider-upjet-github and Argo CD would report once done: every
    AWS and GitHub managed resource of `namespaces` Ready with an id and ARN, every Application
    Healthy (Kyverno is played in the background: kube.kyverno_playing). Returns
    how many it marked; `marked` gets, per (namespace, composite), when its last one was.

    Marks are sent eight at a time: one at a time, 1,200 resources created at once took the
    stand-in providers over two minutes per round, which measured them, not Plinth."""
    unready = list(api.unready_played(namespaces)) if namespaces else []

    def mark(mr: dict[str, Any]) -> None:
        name = mr["metadata"]["name"]
        at = {"id": "123456789012"} if mr["kind"] == "Account" else {"id": name}
        at["arn"] = f"arn:aws:iam::123456789012:role/{name}"
        api.mark_ready(mr, {"atProvider": at})
        if marked is not None:
            meta = mr["metadata"]
            owner = (meta.get("labels") or {}).get("crossplane.io/composite", "")
            marked[(meta.get("namespace", ""), owner)] = time.monotonic()

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(mark, unready))
    done = len(unready)
    if namespaces:
        # Argo CD: the apps' Applications Healthy (Argo CD keeps status on the object itself).
        path = "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications"
        for app in api.request("GET", path)["items"]:
            if (app.get("status") or {}).get("health", {}).get("status") != "Healthy":
                healthy = {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}}
                api.request(
                    "PATCH",
                    f"{path}/{app['metadata']['name']}",
                    {"status": healthy},
                    "application/merge-patch+json",
                )
                done += 1
    return done


class ObjectEvents:
    """Watch events of the Objects in a namespace: counts by (type, name), and when each Object
    was first seen and first seen Ready (monotonic), with the kind it holds."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.seen: dict[str, tuple[str, float]] = {}
        self.ready: dict[str, float] = {}

    def add(self, ev: dict[str, Any]) -> None:
        obj, now = ev["object"], time.monotonic()
        name = obj["metadata"]["name"]
        self.counts[(ev["type"], name)] += 1
        kind = obj["spec"]["forProvider"]["manifest"].get("kind", "?")
        self.seen.setdefault(name, (kind, now))
        if ready(obj):
            self.ready.setdefault(name, now)

    def timeline(self, since: float) -> str:
        """Per kind held: its Objects first seen and all Ready, in seconds after `since`."""
        kinds: dict[str, list[str]] = {}
        for name, (kind, _) in self.seen.items():
            kinds.setdefault(kind, []).append(name)

        def last_ready(names: list[str]) -> float:
            return max(self.ready.get(n, float("inf")) for n in names)

        rows = []
        for kind, names in sorted(kinds.items(), key=lambda kv: last_ready(kv[1])):
            created = max(self.seen[n][1] for n in names) - since
            done = last_ready(names) - since
            rows.append(f"{len(names)} {kind} created {created:.1f}s Ready {done:.1f}s")
        return "; ".join(rows)


@contextmanager
def object_events(kubeconfig: Path, namespace: str) -> Iterator[ObjectEvents]:
    """Watch the Objects in `namespace` while inside."""
    events = ObjectEvents()
    proc = subprocess.Popen(
        [
            *("kubectl", "--kubeconfig", str(kubeconfig), "get", OBJECTS, "-n", namespace),
            *("-w", "--output-watch-events", "-o", "json"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )

    def read() -> None:
        assert proc.stdout is not None
        for ev in json_stream(proc.stdout):
            events.add(ev)

    threading.Thread(target=read, daemon=True).start()
    time.sleep(1)
    try:
        yield events
    finally:
        proc.kill()


def one_tenant(
    kubeconfig: Path, api: Api, record: Path, team: str, spec: dict[str, Any], label: str
) -> None:
    kubectl(kubeconfig, "create", "namespace", team, check=False)
    body = claim("TenantClaim", team, team, spec)
    namespaces = [f"{team}-{n}" for e in spec["environments"] for n in e["namespaces"]]
    with object_events(kubeconfig, team) as events:
        applied = time.monotonic()
        applied_at = time.time()
        kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(body))

        def all_ready() -> bool:
            items = get(kubeconfig, OBJECTS, "-n", team)["items"]
            inside = [
                o for o in items if o["spec"]["forProvider"]["manifest"]["kind"] != "AppProject"
            ]
            xr = get(kubeconfig, "tenantclaim", team, "-n", team) or {}
            waits_on_aws = "IAM role" in condition(xr, "Provisioned").get("message", "")
            return bool(inside) and all(ready(o) for o in inside) and waits_on_aws

        eventually("every in-cluster Object Ready", all_ready, 300, every=0.5)
        took = time.monotonic() - applied
    print(f"TenantClaim ({label}) applied -> every in-cluster Object Ready: {took:.1f}s")
    print(
        f"  function calls until then (s after apply, TTL): {calls_of(record, team, applied_at, took)}"
    )
    xr = get(kubeconfig, "tenantclaim", team, "-n", team)
    responsive = condition(xr, "Responsive")
    print(f"  by kind held (after apply): {events.timeline(applied)}")
    added = sum(n for (t, _), n in events.counts.items() if t == "ADDED")
    modified = sum(n for (t, _), n in events.counts.items() if t == "MODIFIED")
    print(
        f"  its {added} Objects changed {modified} times ({modified / max(added, 1):.1f} each): "
        f"~{added + 2 * modified} circuit-breaker tokens against a burst of 100; "
        f"Responsive={responsive.get('status')} {responsive.get('reason')}"
    )
    # Delete an established tenant, as users do: crossplane-runtime does not believe a remote
    # object gone until 30 s after it created it (its creation grace period, for eventually
    # consistent APIs), so a claim deleted sooner keeps its Objects until then.
    settled = max(at for _, at in events.seen.values()) + CREATION_GRACE_SECONDS + 1
    time.sleep(max(0.0, settled - time.monotonic()))
    deleted = time.monotonic()
    kubectl(kubeconfig, "delete", "tenantclaim", team, "-n", team, "--wait=false")
    marks: dict[str, float] = {}
    # When the last managed resource of each kind (an Object's: the kind it holds) went.
    left: dict[str, float] = {}

    def held(mr: dict[str, Any]) -> str:
        manifest = (mr.get("spec", {}).get("forProvider") or {}).get("manifest") or {}
        return str(manifest.get("kind") or mr["kind"])

    def gone() -> bool:
        now = round(time.monotonic() - deleted, 1)
        if "claim" not in marks and not get(kubeconfig, "tenantclaim", team, "-n", team):
            marks["claim"] = now
        if "namespaces" not in marks and not any(
            get(c, "namespace", n) for n in namespaces for c in workloads(kubeconfig)
        ):
            marks["namespaces"] = now
        items = get(kubeconfig, "managed", "-n", team)["items"]
        for kind in {held(mr) for mr in items}:
            left[kind] = now
        if not items:
            marks["objects"] = now
        return len(marks) == 3

    eventually("the tenant is gone", gone, 300, every=0.5)
    print(
        f"TenantClaim deleted (once its Objects were {CREATION_GRACE_SECONDS:.0f}s old) -> "
        f"the claim gone {marks['claim']}s, its namespaces "
        f"{marks['namespaces']}s, every managed resource (provider-kubernetes' finalizers) "
        f"{marks['objects']}s"
    )
    last = ", ".join(f"{k} {v}s" for k, v in sorted(left.items(), key=lambda kv: kv[1]))
    print(f"  the last managed resource of each kind still there at: {last}")


def cpu_seconds(state: Path) -> dict[str, float]:
    """CPU seconds used so far by each process of the dev cluster (its pid files) and by this
    harness (its stand-in providers and Kyverno, with the kubectl they run)."""
    tick = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for f in state.glob("*.pid"):
        try:
            fields = Path(f"/proc/{int(f.read_text())}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, ValueError):
            continue
        # utime, stime, and those of waited-for children (fields 14-17 of proc(5)).
        used[f.stem] = sum(int(x) for x in fields[11:15]) / tick
    t = os.times()
    used["benchmark harness"] = t.user + t.system + t.children_user + t.children_system
    return used


def print_cpu(before: dict[str, float], after: dict[str, float], wall: float) -> None:
    spent = {k: after[k] - before.get(k, 0.0) for k in after}
    top = sorted(spent.items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{k} {v:.0f}s" for k, v in top if v >= 1)
    print(
        f"  CPU in those {wall:.0f}s ({(os.cpu_count() or 1) * wall:.0f} core-seconds): "
        f"{sum(spent.values()):.0f}s in all; {shown}"
    )


def many(
    kubeconfig: Path, api: Api, n: int, record: Path, steady_seconds: float, state: Path
) -> None:
    teams = [f"b{i:03d}" for i in range(n)]
    docs: list[dict[str, Any]] = []
    for team in teams:
        kubectl(kubeconfig, "create", "namespace", team, check=False)
        docs += [claim("TenantClaim", team, team, TENANT), claim("AppClaim", team, "api", APP)]
    cpu_before = cpu_seconds(state)
    applied = time.monotonic()
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    ready_at: dict[str, float] = {}
    # What Plinth and Crossplane add: from the last resource the stand-in providers marked
    # Ready for a claim to the claim Ready (seen within one round of this loop).
    marked: dict[tuple[str, str], float] = {}
    lag: dict[str, float] = {}

    # The stand-in providers' rounds: a resource created during one waits for the next, so
    # their length is part of every AWS step here (real providers act on a watch).
    rounds: list[tuple[float, int]] = []

    def all_ready() -> bool:
        began = time.monotonic()
        done = play(kubeconfig, api, set(teams), marked)
        rounds.append((time.monotonic() - began, done))
        for kind in ("tenantclaim", "appclaim"):
            for xr in get(kubeconfig, kind, "-A")["items"]:
                ns, name = xr["metadata"]["namespace"], xr["metadata"]["name"]
                key = f"{kind} {ns}"
                ready = condition(xr, "Ready").get("status") == "True"
                if ready and key not in ready_at and ns in teams:
                    now = time.monotonic()
                    ready_at[key] = now - applied
                    lag[key] = now - marked.get((ns, name), applied)
        return len(ready_at) == 2 * n

    try:
        eventually(f"{2 * n} claims Ready", all_ready, 900)
    finally:
        times = sorted(ready_at.values())
        if times:
            p50 = times[len(times) // 2]
            print(
                f"{n} TenantClaims + {n} AppClaims applied at once -> {len(times)} Ready: "
                f"first {times[0]:.1f}s, p50 {p50:.1f}s, last {times[-1]:.1f}s"
            )
            lags = sorted(lag.values())
            print(
                "  the claim's last played resource Ready -> the claim Ready: "
                f"p50 {lags[len(lags) // 2]:.1f}s, p90 {lags[len(lags) * 9 // 10]:.1f}s, "
                f"max {lags[-1]:.1f}s"
            )
        print_cpu(cpu_before, cpu_seconds(state), time.monotonic() - applied)
        busy = sorted(t for t, done in rounds if done)
        if busy:
            print(
                f"  the stand-in providers: {len(rounds)} rounds, {sum(d for _, d in rounds)} "
                f"resources marked; a round that marked any took p50 {busy[len(busy) // 2]:.1f}s, "
                f"max {busy[-1]:.1f}s"
            )
    # Steady state: every call the claims cause over a window, from the recording. The
    # window opens a while after the last claim turned Ready: the claims that just did are
    # reconciled once more by the events their own status updates cause.
    last_ready = time.time()
    time.sleep(SETTLE_SECONDS)
    began = time.time()
    time.sleep(steady_seconds)
    ended = time.time()
    calls = [json.loads(line) for line in (record / "calls.jsonl").read_text().splitlines()]

    def between(start: float, end: float) -> list[dict[str, Any]]:
        return [
            c
            for c in calls
            if c["namespace"] in teams
            and start <= _epoch(c["time"]) <= end
            and c["kind"] in ("TenantClaim", "AppClaim")
        ]

    print(
        f"settling: {len(between(last_ready, began))} calls in the {SETTLE_SECONDS:.0f}s after "
        "the last claim turned Ready"
    )
    mine = between(began, ended)
    per_hour = len(mine) / (2 * n) * 3600 / (ended - began)
    ttls = Counter(_ttl(record, c) for c in mine)
    print(
        f"steady: {len(mine)} calls from {2 * n} Ready claims in {ended - began:.0f}s "
        f"({per_hour:.2f} per claim per hour from events), "
        f"{sum(c['cached'] for c in mine)} answered from the cache; "
        f"TTL of the claims' last responses: {_last_ttls(record, calls, teams)}"
        + (f"; TTLs in the window {dict(ttls)}" if ttls else "")
    )
    deleted = time.monotonic()
    kubectl(kubeconfig, "delete", "appclaim,tenantclaim", "--all", "-A", "--wait=false")
    eventually(
        "every claim and managed resource gone",
        lambda: (
            not any(
                i["metadata"].get("namespace") in teams
                for i in get(kubeconfig, "managed", "-A")["items"]
            )
        ),
        900,
        every=2,
    )
    print(
        f"{2 * n} claims deleted -> every managed resource gone: {time.monotonic() - deleted:.1f}s"
    )


def _epoch(stamp: str) -> float:
    return datetime.datetime.fromisoformat(stamp).timestamp()


def _response(record: Path, digest: str) -> fnv1.RunFunctionResponse:
    data = gzip.decompress((record / "blobs" / f"{digest}.binpb.gz").read_bytes())
    return fnv1.RunFunctionResponse.FromString(data)


def _ttl(record: Path, call: dict[str, Any]) -> float:
    """The TTL of a recorded call's response."""
    return float(_response(record, call["response"]).meta.ttl.ToTimedelta().total_seconds())


def _last_ttls(record: Path, calls: list[dict[str, Any]], teams: list[str]) -> dict[float, int]:
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for c in calls:
        if c["namespace"] in teams and c["kind"] in ("TenantClaim", "AppClaim"):
            last[(c["kind"], c["namespace"])] = c
    return dict(Counter(_ttl(record, c) for c in last.values()))


def calls_of(record: Path, namespace: str, since: float, within: float) -> str:
    """When the function was called for the claims of `namespace` over `within` seconds from
    `since` (epoch), and the TTL of each answer: how each phase followed the one before."""
    out = []
    for line in (record / "calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        at = _epoch(call["time"]) - since
        if call["namespace"] == namespace and 0 <= at <= within:
            out.append(f"{at:.1f} ({_ttl(record, call):g})")
    return ", ".join(out)


def keep(record: Path, into: Path, namespaces: set[str]) -> None:
    """The calls of `namespaces`' claims, as a corpus of their own (each distinct message once)."""
    (into / "blobs").mkdir(parents=True, exist_ok=True)
    lines = []
    for line in (record / "calls.jsonl").read_text().splitlines():
        call = json.loads(line)
        if call["namespace"] in namespaces:
            lines.append(line)
            for digest in (call["request"], call["response"]):
                name = f"{digest}.binpb.gz"
                shutil.copyfile(record / "blobs" / name, into / "blobs" / name)
    (into / "calls.jsonl").write_text("".join(f"{x}\n" for x in lines))
    size = sum(f.stat().st_size for f in (into / "blobs").iterdir())
    print(f"kept {len(lines)} calls in {into} ({size / 1e6:.1f} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--claims", type=int, default=50, help="TenantClaims, and as many AppClaims")
    ap.add_argument("--steady-seconds", type=float, default=300)
    ap.add_argument(
        "--keep",
        type=Path,
        help="copy the calls of the e2e tenant and of one tenant and app of the many into this "
        "corpus directory (tests/data/requests-cluster/ is one)",
    )
    args = ap.parse_args()
    given = os.environ.get("PLINTH_DEV_KUBECONFIG")
    if given:
        kubeconfig = Path(given)
    else:
        info = cluster.up(REPO / "examples" / "platform.yaml", progress=print)
        kubeconfig = Path(info.kubeconfig)
    state = kubeconfig.parent
    api = Api(kubeconfig)
    try:
        # Record every call from here on: the serving process, started again as it was plus
        # --record.
        record = Path.home() / ".cache" / "plinth" / "bench-e2e" / time.strftime("%Y%m%d-%H%M%S")
        argv = json.loads((state / "plinth-serve.json").read_text())["argv"]
        processes.kill(state, "plinth-serve")
        processes.start(state, "plinth-serve", [*argv, "--record", str(record)])
        port = int(argv[argv.index("--address") + 1].rsplit(":", 1)[1])
        eventually("plinth serve", lambda: processes.port_in_use(port), 30, every=0.5)
        print(f"recording function calls in {record}")
        with kyverno_playing(kubeconfig):
            one_tenant(kubeconfig, api, record, "bench", BIG_TENANT, "e2e tenant")
            one_env = {**BIG_TENANT, "environments": BIG_TENANT["environments"][:1]}
            one_tenant(
                kubeconfig, api, record, "single", one_env, "e2e tenant's dev environment alone"
            )
            many(kubeconfig, api, args.claims, record, args.steady_seconds, state)
        if args.keep:
            keep(record, args.keep, {"bench", "b000"})
    finally:
        api.close()
        if not given:
            cluster.down(progress=print)


if __name__ == "__main__":
    main()
