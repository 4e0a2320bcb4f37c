"""Benchmark RunFunction for every example claim: in-process, over gRPC (insecure and mTLS),
against the SDK's naive path and the serialization floor for the same output.

Run: `make bench` (or `.venv/bin/python benchmarks/run_function.py [--iterations N]`).
Each request is the steady state Crossplane sends once a claim is composed: every composed
resource observed and Ready, required resources resolved. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from certs import write_tls_dirs  # noqa: E402
from claim_fixtures import observe, with_status  # noqa: E402
from plinth.runtime.function import FunctionRunner, encode_naive, run_function  # noqa: E402
from plinth.tools.render import build_request, render, to_composite  # noqa: E402
from plinth.tools.yamlio import read_path  # noqa: E402
from serving import plinth_serve  # noqa: E402

EXAMPLES = REPO / "examples"


def steady_state_request(
    claim: dict[str, Any], extra: list[dict[str, Any]]
) -> fnv1.RunFunctionRequest:
    """The request Crossplane sends once everything the claim composes exists and is Ready."""
    xr = to_composite(claim)
    observed: list[dict[str, Any]] = []
    for _ in range(8):  # phases appear as earlier phases are observed
        rendered = render(xr, observed=observed, extra_resources=extra)
        observed = observe(rendered.resources)
    runner = FunctionRunner(cache_size=0)
    required: dict[str, list[dict[str, Any]]] = {}
    req = build_request(xr, observed=observed, tag="bench")
    for _ in range(3):
        rsp = runner.run(req)
        required = {
            name: [
                b
                for b in extra
                if b.get("kind") == sel.kind and b["metadata"]["name"] == sel.match_name
            ]
            for name, sel in rsp.requirements.resources.items()
        }
        req = build_request(xr, observed=observed, required=required, tag="bench")
    return req


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def pct(samples: list[float], q: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3


def grpc_samples(
    endpoint: str, req: fnv1.RunFunctionRequest, n: int, creds: grpc.ChannelCredentials | None
) -> list[float]:
    channel = grpc.secure_channel(endpoint, creds) if creds else grpc.insecure_channel(endpoint)
    with channel:
        stub = grpcv1.FunctionRunnerServiceStub(channel)
        for _ in range(20):
            stub.RunFunction(req, timeout=10)
        return timed(lambda: stub.RunFunction(req, timeout=10), n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iterations", type=int, default=2000)
    args = ap.parse_args()
    n = args.iterations
    # Required claims as they look once Ready, so every claim reaches its steady state.
    extra = with_status(
        [
            d.body
            for d in read_path(str(EXAMPLES))
            if (d.kind == "EnvironmentConfig" or d.api_version.startswith("platform.plinth.dev"))
            and d.kind != "AppClaim"
            and "observed" not in d.source
            and "claim-repo" not in d.source
        ]
    )
    claims = [
        (p, d.body)
        for p in sorted(EXAMPLES.glob("*.yaml"))
        for d in read_path(str(p))
        if d.api_version.startswith("platform.plinth.dev")
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        server_dir, client_dir = write_tls_dirs(Path(tmp))
        mtls = grpc.ssl_channel_credentials(
            (client_dir / "ca.crt").read_bytes(),
            (client_dir / "tls.key").read_bytes(),
            (client_dir / "tls.crt").read_bytes(),
        )
        with plinth_serve() as insecure_ep, plinth_serve(server_dir) as mtls_ep:
            for path, claim in claims:
                req = steady_state_request(claim, extra)
                runner = FunctionRunner()
                rsp = runner.run(req)
                cold = FunctionRunner(cache_size=0)
                hit = timed(lambda: runner.run(req), n)  # noqa: B023
                miss = timed(lambda: cold.run(req), max(200, n // 10))  # noqa: B023
                naive = timed(lambda: run_function(req, encode_naive), max(200, n // 10))  # noqa: B023
                floor = timed(rsp.SerializeToString, n)
                g_insecure = grpc_samples(insecure_ep, req, n // 2, None)
                g_mtls = grpc_samples(mtls_ep, req, n // 2, mtls)
                rows.append(
                    {
                        "example": path.name,
                        "resources": len(rsp.desired.resources),
                        "response_bytes": len(rsp.SerializeToString()),
                        "request_bytes": len(req.SerializeToString()),
                        "hit_p50": pct(hit, 0.5),
                        "hit_p99": pct(hit, 0.99),
                        "miss_p50": pct(miss, 0.5),
                        "miss_p99": pct(miss, 0.99),
                        "naive_p50": pct(naive, 0.5),
                        "floor_p50": pct(floor, 0.5),
                        "grpc_p50": pct(g_insecure, 0.5),
                        "grpc_p99": pct(g_insecure, 0.99),
                        "mtls_p50": pct(g_mtls, 0.5),
                        "mtls_p99": pct(g_mtls, 0.99),
                        "rps_one_core": 1 / statistics.mean(hit),
                    }
                )
    print(
        f"python {sys.version.split()[0]}, {n} iterations per in-process figure (ms unless noted)"
    )
    head = (
        "example",
        "res",
        "resp B",
        "hit p50",
        "hit p99",
        "miss p50",
        "miss p99",
        "naive p50",
        "floor p50",
        "naive/miss",
        "miss/floor",
        "grpc p50",
        "grpc p99",
        "mtls p50",
        "mtls p99",
        "req/s 1 core",
    )
    print(" | ".join(head))
    for r in rows:
        print(
            " | ".join(
                [
                    r["example"],
                    str(r["resources"]),
                    str(r["response_bytes"]),
                    f"{r['hit_p50']:.3f}",
                    f"{r['hit_p99']:.3f}",
                    f"{r['miss_p50']:.3f}",
                    f"{r['miss_p99']:.3f}",
                    f"{r['naive_p50']:.3f}",
                    f"{r['floor_p50']:.3f}",
                    f"{r['naive_p50'] / r['miss_p50']:.1f}x",
                    f"{r['miss_p50'] / r['floor_p50']:.0f}x",
                    f"{r['grpc_p50']:.3f}",
                    f"{r['grpc_p99']:.3f}",
                    f"{r['mtls_p50']:.3f}",
                    f"{r['mtls_p99']:.3f}",
                    f"{r['rps_one_core']:.0f}",
                ]
            )
        )
    print("hit = identical request answered from the response cache (steady-state reconcile);")
    print(
        "miss = full composition with the reused Struct encodings; naive = SDK resource.update path;"
    )
    print(
        "floor = serializing the finished response; grpc/mtls = plinth serve on loopback, one client."
    )


if __name__ == "__main__":
    main()
