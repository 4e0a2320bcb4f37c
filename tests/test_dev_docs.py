"""docs/development.md: every shell block runs as documented, from the repository root.

Each ```sh block is one bash script (`set -euo pipefail`), with three adjustments, each because
the test must not disturb the machine or the checkout: port 9443 becomes a free port (other
servers commonly hold 9443, provider-kubernetes' webhook among them); `make TARGET` is dry-run
(`make test` is this test suite; `make -n` still proves the target exists); `plinth generate`
gets `--check` (it must not write into the checkout; --check proves it would write nothing).
A server started in the background is waited for, then stopped when the block ends.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from conftest import REPO
from serving import free_port

DOC = REPO / "docs" / "development.md"
BLOCK = re.compile(r"^```sh\n(.*?)^```", re.M | re.S)
NEEDS_CROSSPLANE = re.compile(r"hack/build-tools\.sh|\$CROSSPLANE|--engine crossplane")


def blocks() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def commands(block: str) -> list[str]:
    """Logical command lines: continuations joined, comment-only lines dropped."""
    joined = re.sub(r"\\\n\s*", "", block)
    return [
        line for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def script(block: str, port: int) -> str:
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for line in commands(block):
        cmd = re.sub(r"(plinth generate)\b", r"\1 --check", line)
        if cmd.startswith("make "):
            target = cmd.removeprefix("make ").split("#")[0].strip()
            cmd = f"make -n {target} >/dev/null"
        lines.append(cmd)
        if "plinth serve" in cmd and cmd.split("#")[0].rstrip().endswith("&"):
            lines.append(
                "for _ in $(seq 300); do (exec 3<>/dev/tcp/127.0.0.1/9443) 2>/dev/null && break;"
                " sleep 0.1; done"
            )
    return "\n".join(lines).replace("9443", str(port)) + "\n"


CASES = [
    pytest.param(
        i,
        id=f"block{i + 1}-{commands(b)[0].split()[0].rsplit('/', 1)[-1]}",
        marks=[pytest.mark.crossplane] if NEEDS_CROSSPLANE.search(b) else [],
    )
    for i, b in enumerate(blocks())
]


def test_the_doc_has_runnable_blocks_only() -> None:
    text = DOC.read_text()
    assert not re.search(r"^```(bash|shell|console)\b", text, re.M), "use ```sh blocks"
    assert len(CASES) >= 4


@pytest.mark.parametrize("index", CASES)
def test_documented_commands_run(index: int, request: pytest.FixtureRequest) -> None:
    block = blocks()[index]
    if NEEDS_CROSSPLANE.search(block):
        request.getfixturevalue("crossplane_tools")  # builds, or fails with the reason, or skips
    done = subprocess.run(
        ["bash", "-c", script(block, free_port())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (
        f"{block}\nstdout:\n{done.stdout[-2000:]}\nstderr:\n{done.stderr[-3000:]}"
    )
    if "render" in block:
        assert "crossplane.io/composition-resource-name" in done.stdout
    if "resource validate" in block:
        assert re.search(
            r"Total \d+ resources: 0 missing schemas, \d+ success cases, 0 failure", done.stdout
        )
