"""Every example claim renders, and everything it composes validates against upstream schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EXAMPLES, assert_unique_names, assert_valid, claim_docs, render_claim
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

CLAIM_FILES = sorted(
    p
    for p in EXAMPLES.rglob("*.yaml")
    if claim_docs(p)
    and "observed" not in str(p)
    # claim-repo claims have no namespace until Argo CD sets it: tests/test_gitops.py renders them
    and "claim-repo" not in p.parts
)


def _extra_for(path: Path) -> list[dict]:
    """The tenant claims beside an app example (the function requires its tenant)."""
    return [
        d.body
        for f in path.parent.glob("*.yaml")
        for d in read_path(str(f))
        if d.kind == "TenantClaim"
    ]


@pytest.mark.parametrize("path", CLAIM_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_claim_is_valid(validator: Validator, path: Path) -> None:
    assert_valid(validator, [d.body for d in claim_docs(path)], str(path))


@pytest.mark.parametrize("path", CLAIM_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_renders_valid_resources(validator: Validator, path: Path) -> None:
    for doc in claim_docs(path):
        rendered = render_claim(doc.body, extra=_extra_for(path))
        assert not rendered.fatal, rendered.fatal
        assert rendered.resources, "an example must compose something"
        assert_valid(validator, rendered.resources, f"{path} rendered")
        assert_unique_names(rendered.resources)
        status = rendered.composite["status"]
        assert status["phase"], "the claim must report a phase"


def test_platform_example_is_valid(validator: Validator) -> None:
    assert_valid(
        validator, [d.body for d in read_path(str(EXAMPLES / "platform.yaml"))], "platform"
    )


def test_functions_example_is_valid(validator: Validator) -> None:
    assert_valid(
        validator, [d.body for d in read_path(str(EXAMPLES / "functions.yaml"))], "functions"
    )
