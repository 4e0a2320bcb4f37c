"""Shared by the benchmarks: timing, percentiles, the recorded corpus's steady states."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from plinth.runtime.record import Call, read_corpus  # noqa: E402

CORPUS = REPO / "tests" / "data" / "requests"


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def alternated(fns: list[Callable[[], object]], n: int) -> list[list[float]]:
    """`n` timings of each of `fns`, taken in turn: figures a ratio is made of see the same
    machine, whatever else it runs meanwhile."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(n):
        for fn, samples in zip(fns, out, strict=True):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
    return out


def pct(samples: list[float], q: float) -> float:
    """The q-quantile in milliseconds."""
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))] * 1e3


def rss_mb() -> float:
    """Resident memory now (Linux), else the peak."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * resource.getpagesize() / 1e6
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def claim_calls(corpus: Path = CORPUS) -> dict[str, list[Call]]:
    """Each recorded claim's distinct calls in order (first call first, steady state last)."""
    out: dict[str, list[Call]] = {}
    for call in read_corpus(corpus):
        line = call.line
        key = f"{line['apiVersion']}/{line['kind']} {line['namespace']}/{line['name']}"
        out.setdefault(key, []).append(call)
    return out
