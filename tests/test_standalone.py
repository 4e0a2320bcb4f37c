"""Plinth stands on its own: a fresh clone, a wheel installed anywhere, and a runtime that loads
nothing of the tools.

These build real environments (a clone running `make demo`, venvs installing a wheel), so they
take about a minute; pip's cache is shared with the outer run so nothing is downloaded twice.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO, claim_docs, platform_docs
from plinth.tools.render import build_request, grpc_call, to_composite
from serving import plinth_serve

TOOL_MODULES = (
    "plinth.tools",
    "plinth.generators",
    "plinth.devcluster",
    "yaml",
    "jsonschema",
    "celpy",
    "kubernetes_validate",
    "lupa",
)


def _pip_cache() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=False
    )
    return out.stdout.strip() or str(Path.home() / ".cache" / "pip")


def _env(home: Path) -> dict[str, str]:
    """A clean environment: an empty HOME, no PLINTH_* settings, pip's cache kept."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLINTH_", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PIP_CACHE_DIR=_pip_cache(), PIP_DISABLE_PIP_VERSION_CHECK="1")
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p
    )
    return env


def test_the_function_server_loads_the_runtime_only() -> None:
    # What the function image runs: `plinth serve`. A fresh interpreter, so nothing else of the
    # test session is loaded.
    code = (
        "import json, sys\n"
        "from plinth.cli import main\n"
        "main.get_command(None, 'serve')\n"
        "import plinth.runtime.server\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    tools = [m for m in loaded if m.startswith(TOOL_MODULES)]
    assert not tools, f"plinth serve loads the tools: {tools}"
    assert "plinth.runtime.function" in loaded
    assert "plinth.compose.tenant" in loaded


def test_a_fresh_clone_runs_make_demo_anywhere(tmp_path: Path) -> None:
    # The committed tree, cloned where nothing is beside it (no ../shared), with an empty HOME
    # and no PLINTH_CRDS_DIR: the README's first command must still work.
    clone = tmp_path / "somewhere" / "plinth"
    home = tmp_path / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    r = subprocess.run(
        ["make", "demo"], cwd=clone, env=_env(home), capture_output=True, text=True, check=False
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert " 0 issue(s)" in r.stderr, r.stderr[-2000:]
    assert "kind: TenantClaim" in r.stdout


def test_readme_two_commands_are_make_demo_and_make_test() -> None:
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Two commands", 1)[1].split("```", 2)[1]
    assert [line.split("#")[0].strip() for line in block.strip().splitlines()[1:]] == [
        "make demo",
        "make test",
    ]
    assert (REPO / ".ci" / "run").read_text().strip().splitlines()[-1] == "make test"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    home = tmp_path_factory.mktemp("home")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO)],
        env=_env(home),
        check=True,
    )
    (found,) = out.glob("plinth-*.whl")
    return found


def _venv(where: Path, requirement: str, home: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    subprocess.run(
        [str(where / "bin" / "pip"), "install", "-q", requirement], env=_env(home), check=True
    )
    return where / "bin"


def test_a_wheel_with_its_tools_renders_and_validates_every_example_outside_the_repo(
    wheel: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    bin_ = _venv(tmp_path / "venv", f"plinth[cli] @ {wheel.as_uri()}", home)
    claims = tmp_path / "claim-repo"
    shutil.copytree(EXAMPLES, claims)
    env = _env(home)
    rendered = 0
    for path in sorted(claims.rglob("*.yaml")):
        if "observed" in str(path) or not claim_docs(path):
            continue
        r = subprocess.run(
            [str(bin_ / "plinth"), "render", str(path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert r.returncode == 0, f"{path}: {r.stderr[-2000:]}"
        rendered += 1
    assert rendered >= 15
    r = subprocess.run(
        [str(bin_ / "plinth"), "validate", "--render", str(claims)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert " 0 issue(s)" in r.stderr


def test_the_wheel_alone_serves_the_function_and_asks_for_the_tools(
    wheel: Path, tmp_path: Path
) -> None:
    # `pip install plinth`: what the function image installs.
    home = tmp_path / "home"
    home.mkdir()
    bin_ = _venv(tmp_path / "venv", str(wheel), home)
    listed = subprocess.run(
        [str(bin_ / "pip"), "list", "--format", "json"], capture_output=True, text=True, check=True
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert not installed & {"pyyaml", "jsonschema", "kubernetes-validate", "cel-python"}
    claim = claim_docs(EXAMPLES / "tenant.yaml")[0].body
    with plinth_serve(python=str(bin_ / "python")) as endpoint:
        call = grpc_call(endpoint, timeout=10)
        rsp = call(build_request(to_composite(claim)))
        assert rsp.requirements.resources["platform"].match_name == "plinth-platform"
        rsp = call(build_request(to_composite(claim), required={"platform": platform_docs()[:1]}))
        assert "account-payments-dev" in rsp.requirements.resources
    r = subprocess.run(
        [str(bin_ / "plinth"), "validate", str(EXAMPLES / "tenant.yaml")],
        env=_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 1
    assert "pip install 'plinth[cli]'" in r.stderr


def test_the_pre_commit_hook_installs_the_tools() -> None:
    # pre-commit installs a hook's package without extras: the hook lists plinth[cli] itself.
    import tomllib

    import yaml

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["additional_dependencies"] == extras["cli"]


def test_plinth_help_lists_the_same_commands() -> None:
    from plinth.cli import main

    assert set(main.commands) == {
        "access",
        "dev",
        "diff",
        "generate",
        "gitops",
        "new",
        "package",
        "render",
        "report",
        "schemas",
        "serve",
        "trace",
        "validate",
        "xrds",
    }
    # docs/cli.md lists every command.
    table = (REPO / "docs" / "cli.md").read_text()
    missing = [c for c in main.commands if f"`plinth {c}`" not in table]
    assert not missing, f"docs/cli.md does not list: {missing}"
