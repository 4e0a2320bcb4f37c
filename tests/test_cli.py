"""The CLI's contract: output formats, stdin, exit codes 0/1/2 and one clear message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import EXAMPLES, REPO


def plinth(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plinth.cli", *args],
        input=stdin,
        capture_output=True,
        check=False,
        text=True,
        cwd=REPO,
        # No timeout: a test must not depend on how busy the machine is (a CI run timed out
        # validating every example at 120 s).
    )


def test_render_prints_a_yaml_stream_with_the_composite_first() -> None:
    r = plinth("render", "examples/tenant.yaml")
    assert r.returncode == 0, r.stderr
    docs = list(yaml.safe_load_all(r.stdout))
    assert docs[0]["kind"] == "TenantClaim"
    assert all(
        "crossplane.io/composition-resource-name" in d["metadata"]["annotations"] for d in docs[1:]
    )


def test_render_json_from_stdin() -> None:
    r = plinth(
        "render",
        "-f",
        "-",
        "-o",
        "json",
        "--required-resources",
        "examples/platform.yaml",
        stdin=(EXAMPLES / "tenant.yaml").read_text(),
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "List"


def test_render_accepts_crossplane_positional_shape() -> None:
    r = plinth(
        "render", "examples/tenant.yaml", "compositions/v2/tenant.yaml", "examples/functions.yaml"
    )
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "expected a Kubernetes object"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", "no Plinth claim found"),
        (
            "apiVersion: platform.plinth.dev/v1alpha1\nkind: TenantClaim\nmetadata: {name: t, namespace: n}\n"
            "spec: {team: BAD, account: {accountId: '1'}, environments: []}\n",
            "spec.team",
        ),
    ],
    ids=["not-yaml", "not-an-object", "unknown-kind", "schema-violation"],
)
def test_bad_input_exits_2_with_one_clear_message(text: str, message: str) -> None:
    r = plinth("render", "-f", "-", stdin=text)
    assert r.returncode == 2
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_missing_platform_is_reported_not_crashed() -> None:
    # From stdin: a claim file would find any platform.yaml in a parent directory (/tmp has
    # had one on shared machines).
    r = plinth("render", "-f", "-", stdin=(EXAMPLES / "tenant.yaml").read_text())
    assert r.returncode == 2
    assert "EnvironmentConfig 'plinth-platform' was not found" in r.stderr


def test_validate_exit_codes(tmp_path: Path) -> None:
    assert plinth("validate", "examples/").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    r = plinth("validate", str(bad))
    assert r.returncode == 1
    assert "no schema for example.com/v1 Widget" in r.stderr


def test_render_output_validates_through_a_pipe() -> None:
    rendered = plinth("render", "examples/app.yaml").stdout
    r = plinth("validate", "-f", "-", stdin=rendered)
    assert r.returncode == 0, r.stderr


def test_help_has_examples() -> None:
    for cmd in ("render", "validate", "serve"):
        assert "Examples:" in plinth(cmd, "--help").stdout


def test_validating_only_claims_needs_no_upstream_crds(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Claims need only the XRD schemas built from the models; other kinds need a schema, which
    the bundle has (and a directory of CRDs that lacks it does not)."""
    from click.testing import CliRunner

    from plinth import cli

    monkeypatch.delenv("PLINTH_CRDS_DIR", raising=False)
    runner = CliRunner()
    empty = ["--crds", str(tmp_path)]
    ok = runner.invoke(cli.main, ["validate", *empty, str(EXAMPLES / "tenant.yaml")])
    assert ok.exit_code == 0, ok.output
    needs_crds = runner.invoke(cli.main, ["validate", *empty, str(EXAMPLES / "platform.yaml")])
    assert needs_crds.exit_code == 1
    assert (
        "no schema for apiextensions.crossplane.io/v1beta1 EnvironmentConfig" in needs_crds.output
    )
    bundled = runner.invoke(cli.main, ["validate", str(EXAMPLES / "platform.yaml")])
    assert bundled.exit_code == 0, bundled.output
    nowhere = runner.invoke(cli.main, ["validate", "--crds", str(tmp_path / "no"), "examples"])
    assert nowhere.exit_code == 2
    assert "not a directory" in nowhere.output


def test_every_example_renders_and_validates_with_default_lookups() -> None:
    """What `make demo` runs: every claim finds its platform, tenant and account by itself."""
    r = plinth("validate", "--render", "-o", "json", "examples/")
    assert r.returncode == 0, r.stdout
    report = json.loads(r.stdout)
    assert report["issues"] == []
    claims = sum(
        1
        for p in EXAMPLES.rglob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d and str(d.get("apiVersion", "")).split("/")[0].endswith("plinth.dev")
    )
    # Rendered, not skipped: every claim composes something.
    assert report["rendered"] >= claims, (report["rendered"], claims)


def test_files_beside_claims_are_parsed_once_and_handed_out_as_copies(tmp_path: Path) -> None:
    from plinth.tools import yamlio

    f = tmp_path / "platform.yaml"
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n")
    first = yamlio.read_path_cached(str(tmp_path))
    first[0].body["data"]["k"] = "changed by a caller"
    assert yamlio.read_path_cached(str(f))[0].body["data"] == {"k": "v"}
    f.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n")
    assert yamlio.read_path_cached(str(tmp_path))[0].name == "b", "a changed file is read again"


def test_claim_repo_app_finds_its_namespace_less_tenant() -> None:
    r = plinth("render", "examples/claim-repo/teams/payments/app-checkout.yaml")
    assert r.returncode == 0, r.stderr
    composite = next(yaml.safe_load_all(r.stdout))
    message = composite["status"]["message"]
    # Found (it is only not Ready yet: no status in a claim file), not missing or refused.
    assert "to become Ready" in message, message
    assert "does not exist" not in message
