"""Every example claim driven through all its phases: what Plinth composes, for tests that check
a property of everything it can compose (schemas bundled, IAM policies audited)."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from claim_fixtures import observe, with_status
from conftest import EXAMPLES
from plinth.cli.claims import default_required as _default_required
from plinth.cli.claims import placed as _placed
from plinth.tools.render import Call, Rendered, render, to_composite
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
MAX_PHASES = 10


def claim_files() -> list[Path]:
    return sorted(
        p
        for p in EXAMPLES.rglob("*.yaml")
        if not any(part.startswith("observed") for part in p.parts)
    )


def is_claim(body: Body) -> bool:
    return str(body.get("apiVersion", "")).split("/")[0].endswith("plinth.dev")


def renders(
    xr: Body, required: list[Body], call: Call | None = None
) -> Iterator[tuple[list[Body], Rendered]]:
    """Each phase's render of the composite `xr` and the observed resources it was given,
    handing every resource back observed and Ready with the values AWS would report
    (claim_fixtures.observe), until a Fatal result, the claim is Ready or nothing changes."""
    observed: list[Body] = []
    before: list[Body] | None = None
    for _ in range(MAX_PHASES):
        rendered = render(xr, call, observed=observed, extra_resources=required)
        yield observed, rendered
        done = rendered.composite.get("status", {}).get("phase") == "Ready"
        # Unchanged, not merely as many: a phase may only restate what exists (an Object's
        # readiness once it is created, plinth.core.readiness).
        if rendered.fatal or done or rendered.resources == before:
            return
        before = rendered.resources
        observed = observe(rendered.resources)


def phases(claim: Body, required: list[Body]) -> Iterator[list[Body]]:
    """Each phase's resources (`renders`), none of them a Fatal result."""
    for _, rendered in renders(to_composite(claim), required):
        assert not rendered.fatal, (claim["metadata"], rendered.fatal)
        yield rendered.resources


@functools.cache
def rendered_bodies() -> tuple[tuple[str, Body], ...]:
    """Everything every example claim (examples/, legacy/, claim-repo/) composes in any phase,
    with the claims it requires as checked in and as they report once Ready; each distinct
    body once (most phases repeat what the one before composed), named where it first came."""
    out: dict[str, tuple[str, Body]] = {}
    for path in claim_files():
        for doc in read_path(str(path)):
            if not is_claim(doc.body):
                continue
            claim = _placed(doc).body
            required = [d.body for d in _default_required(doc.source)]
            for variant, given in (("as-given", required), ("settled", with_status(required))):
                for n, resources in enumerate(phases(claim, given)):
                    for i, body in enumerate(resources):
                        where = f"{doc.source} [{variant} phase {n}] #{i + 1}"
                        out.setdefault(json.dumps(body, sort_keys=True), (where, body))
    return tuple(out.values())
