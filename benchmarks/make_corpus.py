"""Record a request corpus from every example claim's phases, in-process.

Run: `make corpus` (or `.venv/bin/python benchmarks/make_corpus.py [DIR]`, default
tests/data/requests/). Drives every claim of examples/ (v2, legacy, the claim repository)
through its phases as tests/lifecycles.py does, with its required claims as checked in and as
they report once Ready, through a FunctionRunner that records what it receives, in the format
`plinth serve --record` writes, so recordings from a real control plane (`make e2e`) can be
added to the same corpus. Ends with each claim's steady state, called twice (a cache hit).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from claim_fixtures import with_status  # noqa: E402
from lifecycles import claim_files, is_claim, renders  # noqa: E402
from plinth.cli.claims import default_required, placed  # noqa: E402
from plinth.runtime.function import FunctionRunner  # noqa: E402
from plinth.runtime.record import Recorder  # noqa: E402
from plinth.tools.render import render, to_composite  # noqa: E402
from plinth.tools.yamlio import read_path  # noqa: E402

DEFAULT = REPO / "tests" / "data" / "requests"


def record(directory: Path) -> int:
    if directory.exists():
        shutil.rmtree(directory)
    recorder = Recorder(directory, label="examples")
    runner = FunctionRunner(recorder=recorder)
    claims = 0
    for path in claim_files():
        for doc in read_path(str(path)):
            if not is_claim(doc.body):
                continue
            claims += 1
            xr = to_composite(placed(doc).body)
            required = [d.body for d in default_required(doc.source)]
            for given in (required, with_status(required)):
                # What the last phase was given: its steady state.
                observed = list(renders(xr, given, runner.run))[-1][0]
            # The steady state once more: Crossplane's next reconcile, answered from the cache.
            render(xr, runner.run, observed=observed, extra_resources=given)
    return claims


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    claims = record(directory)
    lines = (directory / "calls.jsonl").read_text().count("\n")
    size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
    print(f"{directory}: {claims} claims, {lines} calls, {size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
