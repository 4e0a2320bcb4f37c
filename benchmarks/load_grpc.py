"""Sustained concurrent RunFunction load against `plinth serve` over gRPC, insecure and mTLS.

Run: `make load` (or `.venv/bin/python benchmarks/load_grpc.py [--seconds 60] [--concurrency 32]`).

The requests are the ones Crossplane sends while every example claim (examples/, legacy/,
claim-repo/) goes through its phases, as tests/lifecycles.py drives them: first calls without
requirements, calls with the platform and the claims they require (as checked in and as they
report once Ready), every phase's observed resources. Two servers run, one insecure and one
with mTLS, each with `--concurrency` calls in flight for `--seconds`. A share of the calls
(`--miss-fraction`) carries a unique tag, so they miss the response cache and compose, and the
cache keeps turning over. Prints per transport the calls, errors, Fatal results, p50/p99/max
and calls per second, and each server's RSS every few seconds; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import itertools
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from certs import write_tls_dirs  # noqa: E402
from claim_fixtures import observe, with_status  # noqa: E402
from lifecycles import MAX_PHASES, claim_files, is_claim  # noqa: E402
from plinth.cli.claims import default_required, placed  # noqa: E402
from plinth.runtime.function import FunctionRunner  # noqa: E402
from plinth.tools.render import render, to_composite  # noqa: E402
from plinth.tools.yamlio import read_path  # noqa: E402

METHOD = "/apiextensions.fn.proto.v1.FunctionRunnerService/RunFunction"
Body = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Sample:
    """One recorded request: where it first came from, its serialized bytes, and every claim
    file whose lifecycle sends it (claims in several folders send identical requests)."""

    where: str
    data: bytes
    files: frozenset[str] = frozenset()


@functools.cache
def corpus() -> tuple[Sample, ...]:
    """Every distinct request the example lifecycles send, in order of first appearance."""
    runner = FunctionRunner(cache_size=0)
    seen: dict[bytes, Sample] = {}
    files: dict[bytes, set[str]] = {}
    for path in claim_files():
        for doc in read_path(str(path)):
            if not is_claim(doc.body):
                continue
            claim = placed(doc).body
            required = [d.body for d in default_required(doc.source)]
            for variant, given in (("as-given", required), ("settled", with_status(required))):
                xr = to_composite(claim)
                observed: list[Body] = []
                count = -1
                for phase in range(MAX_PHASES):
                    where = f"{path.relative_to(REPO)} {doc.kind} [{variant} phase {phase}]"

                    def record(req: fnv1.RunFunctionRequest, where: str = where) -> Any:
                        # Deterministic: map order follows string hashing otherwise, and a
                        # fuzz seed must draw the same cases in every process.
                        data = req.SerializeToString(deterministic=True)
                        seen.setdefault(data, Sample(where, data))
                        files.setdefault(data, set()).add(where.split(" ", 1)[0])
                        return runner.run(req)

                    rendered = render(xr, record, observed=observed, extra_resources=given)
                    if rendered.composite.get("status", {}).get("phase") == "Ready":
                        break
                    if len(rendered.resources) == count:
                        break
                    count = len(rendered.resources)
                    observed = observe(rendered.resources)
    return tuple(dataclasses.replace(s, files=frozenset(files[d])) for d, s in seen.items())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclasses.dataclass
class Server:
    proc: subprocess.Popen[bytes]
    endpoint: str
    metrics_port: int | None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss(self) -> int:
        """Resident set size in bytes (Linux /proc)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def peak_rss(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0


@contextlib.contextmanager
def serve(
    tls_dir: Path | None = None,
    *,
    metrics: bool = False,
    log_level: str = "warning",
    extra: tuple[str, ...] = (),
    log_file: Path | None = None,
) -> Iterator[Server]:
    """A `plinth serve` process on a free loopback port (of this interpreter's install)."""
    port = free_port()
    metrics_port = free_port() if metrics else None
    cmd = [sys.executable, "-m", "plinth.cli", "serve", "--address", f"127.0.0.1:{port}"]
    cmd += ["--tls-certs-dir", str(tls_dir)] if tls_dir else ["--insecure"]
    cmd += ["--log-level", log_level, *extra]
    if metrics_port:
        cmd += ["--metrics-address", f"127.0.0.1:{metrics_port}"]
    err = open(log_file, "wb") if log_file else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"plinth serve exited with {proc.returncode}: {cmd}")
            try:
                with socket.create_connection(("127.0.0.1", port), 0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"plinth serve did not listen on {port}") from None
                time.sleep(0.05)
        yield Server(proc, f"127.0.0.1:{port}", metrics_port)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_file:
            err.close()  # type: ignore[union-attr]


def mtls_credentials(client_dir: Path) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=(client_dir / "ca.crt").read_bytes(),
        private_key=(client_dir / "tls.key").read_bytes(),
        certificate_chain=(client_dir / "tls.crt").read_bytes(),
    )


def channel_options() -> list[tuple[str, int]]:
    # The requests are the ones Crossplane sends; its client raises gRPC's 4 MiB default.
    return [
        ("grpc.max_receive_message_length", 64 * 1024 * 1024),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ]


@dataclasses.dataclass
class Tally:
    calls: int = 0
    responses: int = 0
    errors: int = 0
    fatal: int = 0
    internal: int = 0
    latencies: list[float] = dataclasses.field(default_factory=list)
    first_errors: list[str] = dataclasses.field(default_factory=list)

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(what)


def classify(tally: Tally, raw: bytes, where: str) -> None:
    try:
        rsp = fnv1.RunFunctionResponse.FromString(raw)
    except Exception as e:
        tally.error(f"{where}: not a RunFunctionResponse: {e}")
        return
    tally.responses += 1
    for r in rsp.results:
        if r.severity == fnv1.SEVERITY_FATAL:
            tally.fatal += 1
            if r.message.startswith("internal error"):
                tally.internal += 1
                tally.error(f"{where}: {r.message[:300]}")
            break


def with_tag(data: bytes, tag: str) -> bytes:
    req = fnv1.RunFunctionRequest.FromString(data)
    req.meta.tag = tag
    return req.SerializeToString()


async def drive(
    endpoint: str,
    creds: grpc.ChannelCredentials | None,
    samples: tuple[Sample, ...],
    *,
    seconds: float,
    concurrency: int,
    miss_fraction: float,
    seed: int,
    tally: Tally,
) -> None:
    """`concurrency` calls in flight until `seconds` have passed."""
    opts = channel_options()
    channel = (
        grpc.aio.secure_channel(endpoint, creds, options=opts)
        if creds
        else grpc.aio.insecure_channel(endpoint, options=opts)
    )
    rng = random.Random(seed)
    order = list(samples)
    rng.shuffle(order)
    cycle = itertools.cycle(order)
    unique = itertools.count()
    async with channel:
        call = channel.unary_unary(METHOD)
        deadline = time.monotonic() + seconds

        async def worker() -> None:
            while time.monotonic() < deadline:
                s = next(cycle)
                data = s.data
                if rng.random() < miss_fraction:
                    data = with_tag(data, f"load-{next(unique)}")
                began = time.perf_counter()
                tally.calls += 1
                try:
                    raw = await call(data, timeout=60)
                except grpc.aio.AioRpcError as e:
                    tally.error(f"{s.where}: {e.code()} {e.details()}")
                    continue
                tally.latencies.append(time.perf_counter() - began)
                classify(tally, raw, s.where)

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3


async def sample_rss(
    servers: dict[str, Server], every: float, until: float, out: dict[str, list[tuple[float, int]]]
) -> None:
    start = time.monotonic()
    while time.monotonic() < until:
        for name, srv in servers.items():
            if srv.alive():
                out.setdefault(name, []).append((time.monotonic() - start, srv.rss()))
        await asyncio.sleep(every)


@dataclasses.dataclass
class Report:
    seconds: float
    tallies: dict[str, Tally]
    rss: dict[str, list[tuple[float, int]]]
    alive: dict[str, bool]
    warmup: float

    def growth(self, name: str) -> float:
        """RSS at the end over RSS at the end of the warm-up, minus one."""
        points = self.rss.get(name, [])
        after = [r for t, r in points if t >= self.warmup]
        if len(after) < 2:
            return 0.0
        return max(after) / after[0] - 1


def run_load(
    *,
    seconds: float,
    concurrency: int,
    miss_fraction: float = 0.25,
    transports: tuple[str, ...] = ("insecure", "mtls"),
    samples: tuple[Sample, ...] | None = None,
    rss_every: float = 1.0,
    warmup: float | None = None,
) -> Report:
    samples = samples or corpus()
    tallies = {t: Tally() for t in transports}
    rss: dict[str, list[tuple[float, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        server_dir, client_dir = write_tls_dirs(Path(tmp))
        servers = {
            t: stack.enter_context(serve(server_dir if t == "mtls" else None)) for t in transports
        }

        async def main() -> None:
            until = time.monotonic() + seconds
            jobs = [
                drive(
                    servers[t].endpoint,
                    mtls_credentials(client_dir) if t == "mtls" else None,
                    samples,
                    seconds=seconds,
                    concurrency=concurrency,
                    miss_fraction=miss_fraction,
                    seed=i,
                    tally=tallies[t],
                )
                for i, t in enumerate(transports)
            ]
            await asyncio.gather(sample_rss(servers, rss_every, until, rss), *jobs)

        asyncio.run(main())
        alive = {t: s.alive() for t, s in servers.items()}
    return Report(
        seconds, tallies, rss, alive, warmup if warmup is not None else min(15.0, seconds / 4)
    )


def print_report(report: Report, samples: int) -> None:
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {samples} distinct requests, "
        f"{report.seconds:.0f} s"
    )
    print("transport | calls | responses | errors | fatal | p50 ms | p99 ms | max ms | calls/s")
    for name, t in report.tallies.items():
        print(
            f"{name} | {t.calls} | {t.responses} | {t.errors} | {t.fatal} | "
            f"{pct(t.latencies, 0.5):.2f} | {pct(t.latencies, 0.99):.2f} | "
            f"{max(t.latencies, default=0) * 1e3:.2f} | {t.responses / report.seconds:.0f}"
        )
        for e in t.first_errors:
            print(f"  error: {e}")
    for name, points in report.rss.items():
        step = max(1, len(points) // 12)
        shown = ", ".join(f"{t:.0f}s {r / 2**20:.0f}" for t, r in points[::step])
        print(
            f"RSS MiB {name}: {shown}; after {report.warmup:.0f} s warm-up "
            f"{report.growth(name) * 100:+.1f}%; alive at the end: {report.alive[name]}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--concurrency", type=int, default=32, help="calls in flight per server")
    ap.add_argument("--miss-fraction", type=float, default=0.25)
    ap.add_argument("--transport", choices=["insecure", "mtls", "both"], default="both")
    args = ap.parse_args()
    began = time.monotonic()
    samples = corpus()
    print(f"recorded {len(samples)} requests in {time.monotonic() - began:.1f} s")
    transports = ("insecure", "mtls") if args.transport == "both" else (args.transport,)
    report = run_load(
        seconds=args.seconds,
        concurrency=args.concurrency,
        miss_fraction=args.miss_fraction,
        transports=transports,
        samples=samples,
    )
    print_report(report, len(samples))
    failed = any(t.errors for t in report.tallies.values()) or not all(report.alive.values())
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
