"""Docs generated from the models stay true."""

from __future__ import annotations

from conftest import REPO
from plinth.reference import platform_reference


def test_platform_reference_matches_the_model() -> None:
    text = (REPO / "docs" / "platform.md").read_text()
    assert platform_reference() in text, "docs/platform.md is stale: regenerate its field table"


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make test" in ci.split("\n")[-2]
    assert "make test" in readme
