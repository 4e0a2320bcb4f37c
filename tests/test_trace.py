"""`plinth trace`: on recorded objects (tests/data/trace/, made from what Plinth renders, with the
statuses a cluster reports), every composed resource shows and the right cause is named; the
live path reads the same objects through kubectl (a stand-in kubectl serving the recordings)."""

from __future__ import annotations

import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from plinth.api.catalog import find_claim_api
from plinth.tools.trace import (
    Trace,
    TraceError,
    build_trace,
    claim_kind,
    format_text,
    resource_refs,
    trace,
    watch,
)

DATA = REPO / "tests" / "data" / "trace"
Body = dict[str, Any]


def recorded(name: str) -> list[Body]:
    return list(yaml.safe_load((DATA / name).read_text())["items"])


# file, kind as a user types it, namespace, name, cause, what the cause names
CASES = [
    (
        "waiting-tenant.yaml",
        "tenantclaim",
        "payments",
        "payments",
        "waiting-for-account",
        "AccountClaim/payments/payments-dev",
    ),
    ("ready-tenant.yaml", "TenantClaim", "payments", "payments", None, None),
    ("fatal-app.yaml", "appclaims", "payments", "checkout", "fatal", None),
    ("refused-tenant.yaml", "TenantClaim", "payments", "payments", "refused", None),
    (
        "unready-provider.yaml",
        "AppClaim",
        "search",
        "api",
        "provider-unhealthy",
        "Provider/crossplane-contrib-provider-aws-s3",
    ),
    ("circuit-open.yaml", "TenantClaim", "payments", "payments", "circuit-open", None),
    (
        "legacy-tenant.yaml",
        "tenantclaims.claims.plinth.dev",
        "search",
        "search",
        "waiting-for-account",
        "AccountClaim/search/search-dev",
    ),
]


def _composite(objects: list[Body], t: Trace) -> Body:
    if t.composite is None:
        return objects[0]
    return next(o for o in objects if o["kind"] == t.composite.kind)


@pytest.mark.parametrize(
    ("name", "kind", "ns", "claim", "cause", "resource"), CASES, ids=[c[0] for c in CASES]
)
def test_the_trace_names_the_cause(
    name: str, kind: str, ns: str, claim: str, cause: str | None, resource: str | None
) -> None:
    objects = recorded(name)
    t = build_trace(objects, kind, ns, claim)
    if cause is None:
        assert t.ready
        assert t.cause is None
        assert "nothing holds it back" in format_text(t)
    else:
        assert t.cause is not None
        assert t.cause.kind == cause, t.cause
        assert t.cause.resource == resource
        assert t.cause.why
        assert t.cause.next
        text = format_text(t)
        assert f"[{cause}]" in text
        assert t.cause.why in text
    # Nothing dropped: every resource the composite references is in the tree, each once.
    refs = resource_refs(_composite(objects, t))
    assert refs
    assert sorted((r["kind"], r["name"]) for r in refs) == sorted(
        (r.kind, r.name) for r in t.resources
    )
    assert all(r.found for r in t.resources)


def test_the_fatal_cause_quotes_the_functions_message() -> None:
    t = build_trace(recorded("fatal-app.yaml"), "AppClaim", "payments", "checkout")
    assert t.cause is not None
    assert "replicas: Input should be less than or equal to 50" in t.cause.why
    assert "pipeline step" not in t.cause.why  # Crossplane's wrapping is left out


def test_waiting_names_the_state_of_what_it_waits_for() -> None:
    t = build_trace(recorded("waiting-tenant.yaml"), "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert "AccountClaim payments-dev is CreatingAccount" in t.cause.why
    assert t.cause.next == "plinth trace accountclaim/payments-dev -n payments"


def test_a_claim_waiting_for_its_account_says_so_while_the_circuit_breaker_is_open() -> None:
    # Seen on the live cluster: the tenant's first burst of Object events opens Crossplane's
    # XR circuit breaker while it waits for its AccountClaim; the account is still the cause.
    objects = recorded("waiting-tenant.yaml")
    claim = objects[0]
    claim["status"]["conditions"].append(
        {
            "type": "Responsive",
            "status": "False",
            "reason": "WatchCircuitOpen",
            "message": "Too many watch events from Object/x (payments).",
        }
    )
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert t.cause.kind == "waiting-for-account"
    assert t.cause.resource == "AccountClaim/payments/payments-dev"
    assert "circuit breaker is open" in t.cause.why
    # Not waiting any more, not Ready yet: the breaker is what is left.
    claim["status"]["phase"] = "Ready"
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert t.cause.kind == "circuit-open"
    # Ready (seen live: the breaker stays open for Crossplane's 5-minute cooldown after the
    # burst): nothing holds the claim back; the condition still shows.
    for c in claim["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(status="True", reason="Available")
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.ready
    assert t.cause is None
    assert "WatchCircuitOpen" in format_text(t)


def _ready_tenant() -> list[Body]:
    return recorded("ready-tenant.yaml")


def _not_ready(objects: list[Body]) -> None:
    claim = objects[0]
    for c in claim["status"]["conditions"]:
        if c["type"] == "Ready":
            c.update(status="False", reason="Creating")
    claim["status"]["phase"] = "Provisioning"


def _composed(objects: list[Body]) -> list[Body]:
    return [o for o in objects[1:] if o["kind"] not in ("Provider", "Function")]


def test_a_resource_that_cannot_sync_is_the_cause() -> None:
    objects = _ready_tenant()
    _not_ready(objects)
    victim = _composed(objects)[3]
    victim["status"]["conditions"] = [
        {
            "type": "Synced",
            "status": "False",
            "reason": "ReconcileError",
            "message": 'cannot get ProviderConfig "eks-dev-use1": not found',
        },
        {"type": "Ready", "status": "False", "reason": "Creating"},
    ]
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert t.cause.kind == "resource-error"
    assert t.cause.resource is not None
    assert victim["metadata"]["name"] in t.cause.resource
    assert "ProviderConfig" in t.cause.next
    assert 'cannot get ProviderConfig "eks-dev-use1"' in format_text(t)


def test_a_resource_still_creating_is_the_cause() -> None:
    objects = _ready_tenant()
    _not_ready(objects)
    victim = _composed(objects)[-1]
    victim["status"]["conditions"][1] = {"type": "Ready", "status": "False", "reason": "Creating"}
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert t.cause.kind == "resource-unready"
    assert victim["metadata"]["name"] in str(t.cause.resource)


def test_a_referenced_resource_that_is_gone_shows_as_not_found() -> None:
    objects = _ready_tenant()
    _not_ready(objects)
    gone = _composed(objects)[0]
    objects.remove(gone)
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    missing = [r for r in t.resources if not r.found]
    assert [r.name for r in missing] == [gone["metadata"]["name"]]
    assert t.cause is not None
    assert t.cause.kind == "resource-missing"
    assert "NOT FOUND" in format_text(t)


def test_an_unhealthy_function_is_the_cause() -> None:
    objects = _ready_tenant()
    _not_ready(objects)
    fn = next(o for o in objects if o["kind"] == "Function")
    fn["status"]["conditions"][1].update(status="False", reason="UnhealthyPackageRevision")
    t = build_trace(objects, "TenantClaim", "payments", "payments")
    assert t.cause is not None
    assert t.cause.kind == "function-unhealthy"


def test_claims_are_found_by_kind_flavor_and_namespace() -> None:
    objects = recorded("legacy-tenant.yaml")
    assert build_trace(objects, "TenantClaim", "search", "search").composite is not None
    with pytest.raises(TraceError, match="not found"):
        build_trace(objects, "tenantclaims.platform.plinth.dev", "search", "search")
    with pytest.raises(TraceError, match="not found"):
        build_trace(objects, "TenantClaim", "payments", "search")
    with pytest.raises(TraceError, match="not a Plinth claim kind"):
        claim_kind("XTenant")
    assert claim_kind("AppClaims") == ("AppClaim", None)


def test_json_and_yaml_output_round_trip() -> None:
    t = build_trace(recorded("waiting-tenant.yaml"), "TenantClaim", "payments", "payments")
    as_json = json.loads(json.dumps(t.to_dict()))
    assert Trace.model_validate(as_json) == t
    assert as_json["cause"]["kind"] == "waiting-for-account"
    assert as_json["resources"][0]["apiVersion"]


def test_watch_prints_only_when_the_trace_changes() -> None:
    base = build_trace(recorded("waiting-tenant.yaml"), "TenantClaim", "payments", "payments")
    ready = build_trace(_ready_tenant(), "TenantClaim", "payments", "payments")
    seen = iter([base, base, base, ready, ready])
    emitted: list[Trace] = []
    sleeps: list[float] = []
    watch(lambda: next(seen), emitted.append, interval=0.5, sleep=sleeps.append, polls=5)
    assert emitted == [base, ready]
    assert sleeps == [0.5] * 4


# --- the live path, through a stand-in kubectl ----------------------------------------------

FAKE_KUBECTL = r'''#!{python} -S
"""Serves `kubectl get TYPE [NAME] [-n NS] [-A] [-l K=V] -o json` from a recorded List."""
import json, sys
args = sys.argv[1:]
with open({log!r}, "a") as f:
    f.write(json.dumps(args) + "\n")
items = json.load(open({data!r}))["items"]
while args and args[0] in ("--kubeconfig", "--context"):
    args = args[2:]
if args[:2] == ["config", "view"]:
    print("payments"); sys.exit(0)
assert args[0] == "get", args
what, rest = args[1], args[2:]
name = rest[0] if rest and not rest[0].startswith("-") else None
ns = rest[rest.index("-n") + 1] if "-n" in rest else None
sel = rest[rest.index("-l") + 1] if "-l" in rest else None
head, _, group = what.partition(".")
def matches(o):
    g = o["apiVersion"].rpartition("/")[0]
    kinds = (o["kind"].lower(), o["kind"].lower() + "s")
    if what.count(".") >= 2 and what.split(".")[0] == o["kind"] and what.endswith(g):
        pass
    elif head.lower() not in kinds or (group and group != g):
        return False
    if name and o["metadata"]["name"] != name: return False
    if ns and o["metadata"].get("namespace") not in (None, ns): return False
    if sel:
        k, v = sel.split("=", 1)
        if (o["metadata"].get("labels") or {{}}).get(k) != v: return False
    return True
found = [o for o in items if matches(o)]
if name:
    if not found:
        sys.stderr.write(f'Error from server (NotFound): {{what}} "{{name}}" not found\n'); sys.exit(1)
    print(json.dumps(found[0]))
else:
    print(json.dumps({{"apiVersion": "v1", "kind": "List", "items": found}}))
'''


def fake_kubectl(tmp_path: Path, data: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "kubectl.log"
    script = bin_dir / "kubectl"
    as_json = tmp_path / "recorded.json"
    as_json.write_text(json.dumps(yaml.safe_load(data.read_text())))
    script.write_text(FAKE_KUBECTL.format(python=sys.executable, log=str(log), data=str(as_json)))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}, log


@pytest.mark.parametrize(
    ("name", "kind", "ns", "claim", "cause", "resource"), CASES, ids=[c[0] for c in CASES]
)
def test_the_live_trace_reads_what_the_recorded_one_holds(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    kind: str,
    ns: str,
    claim: str,
    cause: str | None,
    resource: str | None,
) -> None:
    env, log = fake_kubectl(tmp_path, DATA / name)
    monkeypatch.setenv("PATH", env["PATH"])
    live = trace(tmp_path / "kubeconfig", kind, ns, claim)
    assert live == build_trace(recorded(name), kind, ns, claim)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert all(c[:2] == ["--kubeconfig", str(tmp_path / "kubeconfig")] for c in calls)
    # One list per composed kind, not one call per resource.
    kinds = {(r.api_version, r.kind) for r in live.resources}
    assert len(calls) <= len(kinds) + 6


def test_the_command_traces_recorded_and_live(tmp_path: Path) -> None:
    def plinth(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plinth.cli", "trace", *args],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=120,
        )

    r = plinth("tenantclaim/payments", "-n", "payments", "-f", str(DATA / "waiting-tenant.yaml"))
    assert r.returncode == 0, r.stderr
    assert "[waiting-for-account]" in r.stdout
    r = plinth(
        "appclaim", "checkout", "-n", "payments", "-f", str(DATA / "fatal-app.yaml"), "-o", "json"
    )
    assert json.loads(r.stdout)["cause"]["kind"] == "fatal"
    env, _ = fake_kubectl(tmp_path, DATA / "waiting-tenant.yaml")
    # The namespace defaults to the context's (the stand-in says payments).
    r = plinth("tenantclaim/payments", "-o", "yaml", env=env)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["cause"]["kind"] == "waiting-for-account"
    assert plinth("tenantclaim/nope", env=env).returncode == 2
    assert plinth("xtenant/payments", env=env).returncode == 2
    assert plinth("just-one-word", env=env).returncode == 2


def test_the_fixtures_are_what_plinth_composes() -> None:
    """Recorded composed resources carry the labels and annotation Crossplane and Plinth put on
    them, so the trace is tested on realistic objects."""
    for path in sorted(DATA.glob("*.yaml")):
        objects = recorded(path.name)
        composed = [
            o
            for o in objects
            if "crossplane.io/composite" in o["metadata"].get("labels", {})
            and find_claim_api(o["apiVersion"], o["kind"]) is None
        ]
        assert composed, path
        for o in composed:
            assert o["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
            assert o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "plinth"
            assert copy.deepcopy(o["status"]["conditions"])


def test_trace_help_has_examples() -> None:
    from click.testing import CliRunner

    from plinth.cli import main

    r = CliRunner().invoke(main, ["trace", "--help"])
    assert r.exit_code == 0
    assert "Examples:" in r.output
    assert "plinth trace " in r.output.split("Examples:", 1)[1]
