"""`plinth new`: valid claims with the documented defaults, in the claim-repo layout."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from plinth.cli import main
from plinth.tools.crds import CrdStore
from plinth.tools.validate import Validator

CASES = [
    (
        "account",
        [
            "payments-dev",
            "--team",
            "payments",
            "--email",
            "aws+p@example.com",
            "--environment",
            "dev",
        ],
    ),
    ("tenant", ["payments", "--team", "payments", "--account", "payments-dev"]),
    ("app", ["checkout", "--team", "payments"]),
    (
        "app",
        [
            "indexer",
            "--team",
            "search",
            "--tenant",
            "search",
            "--environment",
            "prod",
            "--flavor",
            "legacy",
        ],
    ),
]


@pytest.mark.parametrize(("noun", "args"), CASES, ids=[f"{n}-{a[0]}" for n, a in CASES])
def test_new_writes_a_valid_claim_into_the_team_directory(
    tmp_path: Path, noun: str, args: list[str]
) -> None:
    result = CliRunner().invoke(main, ["new", noun, *args, "--repo", str(tmp_path)])
    assert result.exit_code == 0, result.output
    team = args[args.index("--team") + 1]
    path = tmp_path / "teams" / team / f"{noun}-{args[0]}.yaml"
    body = yaml.safe_load(path.read_text())
    assert body["metadata"] == {"name": args[0]}, "no namespace: Argo CD sets the team's"
    assert not Validator(CrdStore(tmp_path)).validate_body(body, str(path))
    assert body["apiVersion"].startswith("claims." if "legacy" in args else "platform.")


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["account", "a", "--team", "t", "--environment", "dev"], "--email"),
        (["account", "a", "--team", "t", "--email", "a@b.co"], "--environment"),
        (["tenant", "t", "--team", "t"], "--account"),
        (["app", "x"], "--team"),
    ],
)
def test_missing_required_field_names_the_flag(tmp_path: Path, args: list[str], flag: str) -> None:
    result = CliRunner().invoke(main, ["new", *args, "--repo", str(tmp_path)])
    assert result.exit_code == 2
    assert flag in result.output
    assert not (tmp_path / "teams").exists()


def test_invalid_value_is_refused_with_the_field(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "new",
            "account",
            "a",
            "--team",
            "t",
            "--email",
            "not-an-email",
            "--environment",
            "dev",
            "--repo",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "spec.email" in result.output


def test_existing_file_is_kept_without_force(tmp_path: Path) -> None:
    args = ["new", "app", "checkout", "--team", "payments", "--repo", str(tmp_path)]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert CliRunner().invoke(main, args).exit_code == 2
    assert CliRunner().invoke(main, [*args, "--force"]).exit_code == 0


def test_prompts_in_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("plinth.cli.new._interactive", lambda: True)
    result = CliRunner().invoke(
        main, ["new", "account", "x-dev", "--repo", str(tmp_path)], input="x\nx@example.com\ndev\n"
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "teams" / "x" / "account-x-dev.yaml").is_file()
