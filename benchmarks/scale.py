"""1,000 distinct claims in rotation, as a management cluster calls the function: steady
state (every request seen before), then with 10% of the claims changing per round.

Run: `make bench` (or `.venv/bin/python benchmarks/scale.py [--claims N] [--cache-mib M]`).
Variants are the recorded steady states of every example (v2 and legacy) under other names:
distinct requests of the examples' sizes. Prints p50/p99, hit ratio, CPU per call and RSS,
then the steady hits against the same calls to one-claim runners, taken in turn, with the
comparison inside each hit alone.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import itertools
import operator
import sys
import time
from collections.abc import Callable
from functools import partial
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
    # Crossplane tags every request with the SHA-256 of its deterministic serialization (its
    # xfn Tag); the recorded corpus has none. The tag leads the request, where the cache's
    # bucket samples it, so distinct requests share no bucket.
    out.meta.tag = ""
    out.meta.tag = hashlib.sha256(out.SerializeToString(deterministic=True)).hexdigest()
    return out.SerializeToString()


Request = Callable[[int], bytes]
Calls = tuple[Callable[[], object], Callable[[], object]]
Pair = Callable[[int], Calls]


def in_turn(pair: Pair, claims: int, rounds: int) -> tuple[list[float], list[float]]:
    """Timings of both calls `pair(i)` prepares for each claim, taken in turn, `rounds` times."""
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(rounds):
        for i in range(claims):
            for fn, samples in zip(pair(i), out, strict=True):
                t = time.perf_counter()
                fn()
                samples.append(time.perf_counter() - t)
    return out


def same_mix(
    runner: FunctionRunner,
    request: Request,
    keys: list[bytes],
    steady: list[fnv1.RunFunctionRequest],
    rounds: int,
) -> None:
    """The steady rotation against the same calls to runners that each hold one claim of the
    same example, taken in turn: what holding 1,000 claims costs a hit, apart from the mix of
    request sizes (a hit compares the whole request, so its cost follows the request's size).
    Then the comparison inside each hit alone: the request == the one the cache stored (`keys`,
    the very objects it keeps)."""
    claims = len(keys)
    singles = []
    own = []
    for e, req in enumerate(steady):
        one = FunctionRunner()
        own.append(variant(req, e))
        one.run_bytes(own[-1])
        singles.append(one)
    n = len(steady)

    def hits(i: int) -> Calls:
        return (
            partial(runner.run_bytes, request(i)),
            partial(singles[i % n].run_bytes, variant(steady[i % n], i % n)),
        )

    def comparisons(i: int) -> Calls:
        return (
            partial(operator.eq, request(i), keys[i]),
            partial(operator.eq, variant(steady[i % n], i % n), own[i % n]),
        )

    many, few = in_turn(hits, claims, rounds)
    cmp_many, cmp_few = in_turn(comparisons, claims, rounds)

    def ratio(a: list[float], b: list[float]) -> str:
        return (
            f"p50 {pct(a, 0.5):.4f} vs {pct(b, 0.5):.4f} ms ({pct(a, 0.5) / pct(b, 0.5):.2f}x), "
            f"p99 {pct(a, 0.99):.4f} vs {pct(b, 0.99):.4f} ms, mean {sum(a) / len(a) * 1e3:.4f} "
            f"vs {sum(b) / len(b) * 1e3:.4f} ms ({sum(a) / sum(b):.2f}x)"
        )

    print(
        f"steady hits, {claims} claims vs the same calls to {len(steady)} one-claim runners, "
        f"in turn: {ratio(many, few)}"
    )
    print(f"  of which the comparison, request == the stored request: {ratio(cmp_many, cmp_few)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--claims", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cache-mib", type=int, default=None, help="default: plinth serve's")
    args = ap.parse_args()
    steady = [c[-1].request for c in claim_calls().values() if c[-1].request.observed.resources]
    base_rss = rss_mb()
    generation = [0] * args.claims

    def request(i: int) -> bytes:
        # Serialized anew for every call, as a request arrives from the network: a fresh object
        # that shares no memory with the one the cache stored (a copy of it would warm that).
        return variant(steady[i % len(steady)], i, generation[i])

    kwargs = {"cache_bytes": args.cache_mib * 1024 * 1024} if args.cache_mib is not None else {}
    runner = FunctionRunner(**kwargs)  # type: ignore[arg-type]
    single = FunctionRunner()
    single.run_bytes(request(0))
    copies = itertools.cycle([request(0) for _ in range(16)])
    single_hit = timed(lambda: single.run_bytes(next(copies)), 2000)
    # The first round composes every claim; later rounds are Crossplane's steady reconciles.
    size = 0
    keys = []  # what the cache stored for each claim: the request object of the call that missed
    for i in range(args.claims):
        keys.append(request(i))
        size += len(keys[-1])
        runner.run_bytes(keys[-1])
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
        cpu = 0.0
        for round_ in range(1, args.rounds + 1):
            changed = set(range(0, args.claims, int(1 / churn))) if churn else set()
            for i in range(args.claims):
                if i in changed:
                    generation[i] = round_  # a changed claim: a new resourceVersion
                data = request(i)
                c = time.process_time()
                t = time.perf_counter()
                hit = runner.answer(data)[2]
                samples.append(time.perf_counter() - t)
                cpu += time.process_time() - c
                if not hit:
                    keys[i] = data
        after = runner.stats()
        hits, misses = after.hits - before.hits, after.misses - before.misses
        print(
            f"{label} | {len(samples)} | {pct(samples, 0.5):.3f} | {pct(samples, 0.99):.3f} | "
            f"{hits / (hits + misses):.3f} | {cpu / len(samples) * 1e3:.3f} | {rss_mb():.0f}"
        )
    st = runner.stats()
    print(
        f"cache: {st.entries} entries, {st.bytes / 1e6:.0f} MB, {st.evictions} evictions; "
        f"RSS before the claims {base_rss:.0f} MB"
    )
    print(
        f"single steady claim's cache hit: p50 {pct(single_hit, 0.5):.3f} ms, p99 "
        f"{pct(single_hit, 0.99):.3f} ms"
    )
    same_mix(runner, request, keys, steady, args.rounds)


if __name__ == "__main__":
    main()
