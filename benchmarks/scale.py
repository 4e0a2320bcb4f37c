"""1,000 distinct claims in rotation, as a management cluster calls the function: steady
state (every request seen before), then with 10% of the claims changing per round.

Run: `make bench` (or `.venv/bin/python benchmarks/scale.py [--claims N] [--cache-mib M]`).
Variants are the recorded steady states of every example (v2 and legacy) under other names:
distinct requests of the examples' sizes. Prints p50/p99, hit ratio, CPU per call and RSS.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
import time
from pathlib import Path

from crossplane.function.proto.v1 import run_function_pb2 as fnv1

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from common import claim_calls, pct, rss_mb, timed
from plinth.runtime.function import FunctionRunner


def variant(req: fnv1.RunFunctionRequest, i: int, generation: int = 0) -> bytes:
    out = fnv1.RunFunctionRequest()
    out.CopyFrom(req)
    meta = out.observed.composite.resource.fields["metadata"].struct_value
    meta.fields["uid"].string_value = f"00000000-0000-0000-0000-{i:012d}"
    # A changed claim: what a new resourceVersion of the composite looks like.
    meta.fields["resourceVersion"].string_value = str(1000 + generation)
    return out.SerializeToString()


def same_mix(
    runner: FunctionRunner,
    requests: list[bytes],
    steady: list[fnv1.RunFunctionRequest],
    rounds: int,
) -> None:
    """The steady rotation against the same calls to runners that each hold one claim of the
    same example, taken in turn: what holding 1,000 claims costs a hit, apart from the mix of
    request sizes (a hit compares the whole request, so its cost follows the request's size)."""
    singles = []
    for e, req in enumerate(steady):
        one = FunctionRunner()
        data = variant(req, e)
        one.run_bytes(data)
        singles.append((one, data))
    many: list[float] = []
    few: list[float] = []
    for _ in range(rounds):
        for i, data in enumerate(requests):
            one, own = singles[i % len(steady)]
            for fn, arg, out in ((runner, data, many), (one, own, few)):
                fresh = bytes(bytearray(arg))
                t = time.perf_counter()
                fn.run_bytes(fresh)
                out.append(time.perf_counter() - t)
    # The floor of an exact hit: one memcmp of the request against its stored copy, for the
    # same calls, against 1,000 stored copies and against one per example.
    stored = [bytes(bytearray(r)) for r in requests]
    own = [bytes(bytearray(d)) for _, d in singles]
    cmp_many: list[float] = []
    cmp_few: list[float] = []
    for _ in range(rounds):
        for i, data in enumerate(requests):
            pairs = (
                (data, stored[i], cmp_many),
                (own[i % len(steady)], own[i % len(steady)], cmp_few),
            )
            for arg, copy, out in pairs:
                fresh = bytes(bytearray(arg))
                t = time.perf_counter()
                _ = fresh == copy
                out.append(time.perf_counter() - t)
    print(
        f"steady, alternated with the same calls to {len(steady)} one-claim runners: "
        f"p50 {pct(many, 0.5):.4f} vs {pct(few, 0.5):.4f} ms ({pct(many, 0.5) / pct(few, 0.5):.2f}x), "
        f"p99 {pct(many, 0.99):.4f} vs {pct(few, 0.99):.4f} ms, "
        f"mean {sum(many) / len(many) * 1e3:.4f} vs {sum(few) / len(few) * 1e3:.4f} ms "
        f"({sum(many) / sum(few):.2f}x)"
    )
    print(
        f"  their floor, comparing each request with a stored copy (bytes ==): p50 "
        f"{pct(cmp_many, 0.5):.4f} vs {pct(cmp_few, 0.5):.4f} ms "
        f"({pct(cmp_many, 0.5) / pct(cmp_few, 0.5):.2f}x), mean "
        f"{sum(cmp_many) / len(cmp_many) * 1e3:.4f} vs {sum(cmp_few) / len(cmp_few) * 1e3:.4f} ms "
        f"({sum(cmp_many) / sum(cmp_few):.2f}x)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache-mib", type=int, default=None, help="default: plinth serve's")
    args = ap.parse_args()
    steady = [c[-1].request for c in claim_calls().values() if c[-1].request.observed.resources]
    base_rss = rss_mb()
    requests = [variant(steady[i % len(steady)], i) for i in range(args.claims)]
    size = sum(len(r) for r in requests)
    kwargs = {"cache_bytes": args.cache_mib * 1024 * 1024} if args.cache_mib is not None else {}
    runner = FunctionRunner(**kwargs)  # type: ignore[arg-type]
    single = FunctionRunner()
    single.run_bytes(requests[0])
    copies = itertools.cycle([bytes(bytearray(requests[0])) for _ in range(16)])
    single_hit = timed(lambda: single.run_bytes(next(copies)), 2000)
    # The first round composes every claim; later rounds are Crossplane's steady reconciles.
    for r in requests:
        runner.run_bytes(r)
    gc.collect()
    gc.freeze()
    print(
        f"{args.claims} claims ({len(steady)} examples' steady states under other uids), "
        f"requests {size / 1e6:.0f} MB, cache {runner.cache.max_bytes / 2**20:.0f} MiB"
    )
    print("phase | calls | p50 ms | p99 ms | hit ratio | CPU/call ms | RSS MB")
    for label, churn in (("steady", 0.0), ("10% churn", 0.1)):
        before = runner.stats()
        samples: list[float] = []
        cpu = time.process_time()
        for generation in range(1, args.rounds + 1):
            changed = set(range(0, args.claims, int(1 / churn))) if churn else set()
            for i in range(len(requests)):
                if i in changed:
                    requests[i] = variant(steady[i % len(steady)], i, generation)
                data = bytes(bytearray(requests[i]))  # a fresh object, as from the network
                t = time.perf_counter()
                runner.run_bytes(data)
                samples.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu
        after = runner.stats()
        hits, misses = after.hits - before.hits, after.misses - before.misses
        print(
            f"{label} | {len(samples)} | {pct(samples, 0.5):.3f} | {pct(samples, 0.99):.3f} | "
            f"{hits / (hits + misses):.3f} | {cpu / len(samples) * 1e3:.3f} | {rss_mb():.0f}"
        )
        if not churn:
            same_mix(runner, requests, steady, args.rounds)
    st = runner.stats()
    print(
        f"cache: {st.entries} entries, {st.bytes / 1e6:.0f} MB, {st.evictions} evictions; "
        f"RSS before the claims {base_rss:.0f} MB"
    )
    print(
        f"single steady claim's cache hit: p50 {pct(single_hit, 0.5):.3f} ms, p99 "
        f"{pct(single_hit, 0.99):.3f} ms (CPU/call above includes copying each request)"
    )


if __name__ == "__main__":
    main()
