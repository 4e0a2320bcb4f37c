"""Docs generated from the models stay true."""

from __future__ import annotations

from conftest import REPO
from plinth.generators.reference import platform_reference


def test_platform_reference_matches_the_model() -> None:
    text = (REPO / "docs" / "platform.md").read_text()
    assert platform_reference() in text, "docs/platform.md is stale: regenerate its field table"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in ci.split("\n")[-2]
    assert "make test" in readme


def test_every_boundary_of_the_threat_model_points_at_a_test_that_exists() -> None:
    import re

    text = (REPO / "docs" / "security.md").read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) >= 10, "the boundaries table of docs/security.md"
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert refs, f"boundary without a test: {row[:80]}"
        for path, name in refs:
            source = (REPO / path).read_text()
            assert re.search(rf"^def {name}\(", source, re.M), f"{path}::{name} does not exist"
