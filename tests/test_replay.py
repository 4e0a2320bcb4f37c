"""The recorded request corpus (tests/data/requests/, `make corpus`): every example claim in
every phase, replayed through the fast path and the naive SDK path; and `plinth serve
--record` writing a corpus that `plinth render --request` replays."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

from conftest import REPO
from lifecycles import claim_files, is_claim
from plinth.api.function_input import PLATFORM_BOOTSTRAP
from plinth.cli.claims import placed
from plinth.runtime.function import FunctionRunner, Ttls, run_naive
from plinth.runtime.record import Call, read_corpus
from plinth.runtime.structs import struct_to_py
from plinth.tools.render import to_composite
from plinth.tools.yamlio import read_path
from serving import plinth_serve

CORPUS = REPO / "tests" / "data" / "requests"
# Recorded from the real Crossplane on the local control plane (`make bench-e2e` with
# --keep): a tenant's and an app's every phase as Crossplane sent them, steady state included.
CLUSTER_CORPUS = REPO / "tests" / "data" / "requests-cluster"


@functools.cache
def corpus() -> tuple[Call, ...]:
    return tuple(read_corpus(CORPUS))


def test_corpus_holds_every_example_claim() -> None:
    recorded = {(c.line["kind"], c.line["namespace"], c.line["name"]) for c in corpus()}
    for path in claim_files():
        for doc in read_path(str(path)):
            if is_claim(doc.body):
                xr = to_composite(placed(doc).body)
                who = (xr["kind"], xr["metadata"].get("namespace", ""), xr["metadata"]["name"])
                assert who in recorded, f"{doc.source} is not in the corpus: run `make corpus`"


def test_fast_path_equals_the_naive_sdk_path_for_every_example_and_phase() -> None:
    runner = FunctionRunner()
    phases = 0
    for call in corpus():
        naive = run_naive(call.request)
        assert runner.run(call.request) == naive, call.line
        assert runner.run(call.request) == naive, ("from the cache", call.line)
        phases += bool(naive.desired.resources)
    assert runner.stats().hits == len(corpus())
    assert phases > 50, "the corpus holds the phases, not only first calls"


def test_requests_recorded_from_crossplane_replay_exactly() -> None:
    """What the real Crossplane sent (its observed state, its required resources): the fast
    path and the cache answer exactly as the naive path, no call is a Fatal, and the recording
    holds every phase up to a Ready claim for both kinds."""
    calls = list(read_corpus(CLUSTER_CORPUS))
    runner = FunctionRunner()
    ready: set[str] = set()
    composed = 0
    for call in calls:
        naive = run_naive(call.request)
        assert runner.run(call.request) == naive, call.line
        assert runner.run(call.request) == naive, ("from the cache", call.line)
        assert not any(r.severity == fnv1.SEVERITY_FATAL for r in naive.results), call.line
        composed = max(composed, len(naive.desired.resources))
        if naive.desired.HasField("composite"):
            status = struct_to_py(naive.desired.composite.resource).get("status", {})
            if status.get("phase") == "Ready":
                ready.add(call.line["kind"])
    assert {c.line["kind"] for c in calls} >= {"TenantClaim", "AppClaim"}
    assert ready >= {"TenantClaim", "AppClaim"}, "the recording reaches a Ready claim of each"
    assert composed > 30, "the e2e tenant's phases are in it"
    # The real Crossplane fetched the platform config before every call (the Compositions'
    # step requirements), so a tenant needing nothing else was never asked twice.
    assert all(PLATFORM_BOOTSTRAP in c.request.required_resources for c in calls)
    tenant_calls = [c for c in calls if c.line["kind"] == "TenantClaim"]
    assert not any(run_naive(c.request).HasField("requirements") for c in tenant_calls)


def test_ready_claims_are_called_rarely_and_waiting_ones_soon() -> None:
    # Distinct values, so that each state's TTL is told apart from the others.
    ttls = Ttls(
        ready=3600, provisioning=60, waiting_on_required=5, settling=7, creating=3, fatal=61
    )
    seen = set()
    for call in corpus():
        rsp = FunctionRunner(cache_bytes=0, ttls=ttls).run(call.request)
        if not rsp.desired.HasField("composite"):
            continue  # asking for requirements: Crossplane calls again at once
        ttl = rsp.meta.ttl.ToTimedelta().total_seconds()
        phase = struct_to_py(rsp.desired.composite.resource).get("status", {}).get("phase")
        if phase == "Ready":
            assert ttl == ttls.ready, call.line
        else:
            unready = ttls.provisioning, ttls.waiting_on_required, ttls.settling, ttls.creating
            assert ttl in unready, call.line
        seen.add(ttl)
    assert seen == {ttls.ready, *unready}


def test_serve_records_what_render_request_replays(tmp_path: Path) -> None:
    record = tmp_path / "recorded"
    calls = [c for c in corpus() if c.request.observed.resources][:5]
    with (
        plinth_serve(extra_args=("--record", str(record))) as endpoint,
        grpc.insecure_channel(endpoint) as channel,
    ):
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        answers = [stub.RunFunction(c.request, timeout=30) for c in calls]
        again = stub.RunFunction(calls[0].request, timeout=30)
    assert answers[0] == again
    replayed = list(read_corpus(record, distinct=False))
    assert [r.request for r in replayed] == [c.request for c in calls] + [calls[0].request]
    assert [r.line["cached"] for r in replayed] == [False] * len(calls) + [True]
    assert all(isinstance(r.response, fnv1.RunFunctionResponse) for r in replayed)
    r = subprocess.run(
        [sys.executable, "-m", "plinth.cli", "render", "--request", str(record)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert f"{len(calls)} request(s) replayed: 0 response(s) differ" in r.stderr
    one = record / "blobs" / f"{replayed[0].line['request']}.binpb.gz"
    printed = subprocess.run(
        [sys.executable, "-m", "plinth.cli", "render", "--request", str(one), "-o", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["meta"]["ttl"], "the response, as JSON"
