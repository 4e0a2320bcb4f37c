"""Benchmark RunFunction on the recorded corpus (tests/data/requests/): in-process (cache hit,
full composition, the SDK's naive path, the serialization floor) and over gRPC (insecure and
mTLS), per claim at its steady state, and over every recorded phase.

Run: `make bench` (or `.venv/bin/python benchmarks/run_function.py [--iterations N]`).
Prints figures and ratios measured in this run; asserts nothing. Full composition and the
naive path are timed in turn, so that their ratio holds on a machine busy with other work.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import sys
import tempfile
from pathlib import Path

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from certs import write_tls_dirs
from common import alternated, claim_calls, pct, timed
from plinth.runtime.function import FunctionRunner, run_naive
from serving import plinth_serve


def raw_stub(channel: grpc.Channel) -> object:
    # Bytes in, bytes out: the client's own serialization stays out of the figure.
    return channel.unary_unary(
        "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction",
        request_serializer=None,
        response_deserializer=None,
    )


def grpc_samples(
    endpoint: str, data: bytes, n: int, creds: grpc.ChannelCredentials | None
) -> list[float]:
    channel = grpc.secure_channel(endpoint, creds) if creds else grpc.insecure_channel(endpoint)
    with channel:
        call = raw_stub(channel)
        for _ in range(20):
            call(data, timeout=10)  # type: ignore[operator]
        return timed(lambda: call(data, timeout=10), n)  # type: ignore[operator]


def miss_and_naive(cold: FunctionRunner, data: bytes, n: int) -> list[list[float]]:
    """Full composition of `data` and the SDK's naive path, timed in turn."""
    return alternated(
        [
            lambda: cold.run_bytes(data),
            lambda: run_naive(fnv1.RunFunctionRequest.FromString(data)).SerializeToString(),
        ],
        n,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument(
        "--all", action="store_true", help="every recorded claim, not only examples/*.yaml v2"
    )
    args = ap.parse_args()
    n = args.iterations
    calls = claim_calls()
    chosen = {k: v for k, v in calls.items() if args.all or k.startswith("platform.plinth.dev/")}
    rows = []
    gc.collect()
    gc.freeze()  # as plinth serve does after start-up
    with tempfile.TemporaryDirectory() as tmp:
        server_dir, client_dir = write_tls_dirs(Path(tmp))
        mtls = grpc.ssl_channel_credentials(
            (client_dir / "ca.crt").read_bytes(),
            (client_dir / "tls.key").read_bytes(),
            (client_dir / "tls.crt").read_bytes(),
        )
        with plinth_serve() as insecure_ep, plinth_serve(server_dir) as mtls_ep:
            for key, recorded in sorted(chosen.items()):
                req = recorded[-1].request  # the steady state
                data = req.SerializeToString()
                runner = FunctionRunner()
                out = runner.run_bytes(data)
                rsp = fnv1.RunFunctionResponse.FromString(out)
                cold = FunctionRunner(cache_bytes=0)
                # A fresh bytes object per call, as the server gets one: an identical object
                # would compare equal without reading it.
                copies = itertools.cycle([bytes(bytearray(data)) for _ in range(16)])
                hit = timed(lambda: runner.run_bytes(next(copies)), n)  # noqa: B023
                miss, naive = miss_and_naive(cold, data, max(100, n // 10))
                floor = timed(
                    lambda: fnv1.RunFunctionRequest.FromString(data) and rsp.SerializeToString(),  # noqa: B023
                    n,
                )
                rows.append(
                    {
                        "claim": key.split("/", 2)[-1],
                        "resources": len(rsp.desired.resources),
                        "request_bytes": len(data),
                        "hit": hit,
                        "miss": miss,
                        "naive": naive,
                        "floor": floor,
                        "grpc": grpc_samples(insecure_ep, data, n // 2, None),
                        "mtls": grpc_samples(mtls_ep, data, n // 2, mtls),
                    }
                )
    # Every recorded phase of every claim, once each: what a claim costs on its way to Ready.
    phase_miss: list[float] = []
    phase_naive: list[float] = []
    cold = FunctionRunner(cache_bytes=0)
    for recorded in calls.values():
        for call in recorded:
            data = call.request.SerializeToString()
            miss, naive = miss_and_naive(cold, data, 3)
            phase_miss += miss
            phase_naive += naive

    print(f"python {sys.version.split()[0]}, {n} iterations per hit figure; ms unless noted")
    head = (
        "claim",
        "res",
        "req kB",
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
        m = pct(r["miss"], 0.5)
        print(
            " | ".join(
                [
                    r["claim"],
                    str(r["resources"]),
                    f"{r['request_bytes'] / 1e3:.0f}",
                    f"{pct(r['hit'], 0.5):.3f}",
                    f"{pct(r['hit'], 0.99):.3f}",
                    f"{m:.2f}",
                    f"{pct(r['miss'], 0.99):.2f}",
                    f"{pct(r['naive'], 0.5):.2f}",
                    f"{pct(r['floor'], 0.5):.3f}",
                    f"{pct(r['naive'], 0.5) / m:.1f}x",
                    f"{m / pct(r['floor'], 0.5):.1f}x",
                    f"{pct(r['grpc'], 0.5):.3f}",
                    f"{pct(r['grpc'], 0.99):.3f}",
                    f"{pct(r['mtls'], 0.5):.3f}",
                    f"{pct(r['mtls'], 0.99):.3f}",
                    f"{1 / statistics.mean(r['hit']):.0f}",
                ]
            )
        )
    print(
        f"every recorded phase ({len(phase_miss) // 3} requests): full composition "
        f"p50 {pct(phase_miss, 0.5):.2f} p99 {pct(phase_miss, 0.99):.2f}, naive p50 "
        f"{pct(phase_naive, 0.5):.2f} p99 {pct(phase_naive, 0.99):.2f}, naive/full (sum) "
        f"{sum(phase_naive) / sum(phase_miss):.1f}x"
    )
    print("hit = identical request bytes answered from the response cache (what the server does);")
    print(
        "miss = full composition from bytes to bytes; naive = the SDK's path (parse, convert every"
    )
    print("observed resource read, validate the platform config, Struct.update, serialize);")
    print("floor = parsing the request and serializing the finished response; grpc/mtls = plinth")
    print("serve on loopback, one client, bytes in and out.")


if __name__ == "__main__":
    main()
