"""A short run of benchmarks/load_grpc.py: concurrent RunFunction calls over gRPC, insecure and
mTLS, every example claim in every phase. `make load` is the 60 s run that reports figures;
this asserts the properties only (no timing): every call answered with a response, no errors,
both servers alive."""

from __future__ import annotations

import sys
from pathlib import Path

from lifecycles import claim_files, is_claim
from plinth.tools.yamlio import read_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from load_grpc import REPO, corpus, run_load


def test_the_load_corpus_covers_every_example_claim_and_phase() -> None:
    samples = corpus()
    sources = set().union(*(s.files for s in samples))
    claims = {
        str(p.relative_to(REPO))
        for p in claim_files()
        if any(is_claim(d.body) for d in read_path(str(p)))
    }
    assert claims - sources == set()
    assert any("legacy/" in s for s in sources)
    assert any("phase 2" in s.where for s in samples)
    assert len({s.data for s in samples}) == len(samples)


def test_concurrent_calls_over_insecure_and_mtls_all_get_a_response() -> None:
    report = run_load(seconds=3, concurrency=32, miss_fraction=0.5, rss_every=0.5)
    for name, tally in report.tallies.items():
        assert tally.calls >= 32, name
        assert tally.errors == 0, (name, tally.first_errors)
        assert tally.responses == tally.calls, name
        # The lifecycles are valid claims: nothing in them is refused.
        assert tally.fatal == 0, name
        assert report.alive[name], name
