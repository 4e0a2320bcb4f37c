"""A git server on loopback for the dev cluster: `git daemon` serving the bare repositories of
one folder over git://, read-only and anonymous, so Argo CD's repo-server clones a claim
repository as it would clone one from GitHub, without credentials or the network.

Commits are made in a work tree beside each bare repository and pushed to it, so what Argo CD
sees is always a real commit on `main`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

from plinth.devcluster import processes

BRANCH = "main"
# Commits are made by the dev cluster, not by the person running it: their git configuration
# (signing, hooks, templates) must not change what is committed or make it prompt.
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_AUTHOR_NAME": "plinth dev",
    "GIT_AUTHOR_EMAIL": "dev@plinth.invalid",
    "GIT_COMMITTER_NAME": "plinth dev",
    "GIT_COMMITTER_EMAIL": "dev@plinth.invalid",
    "GIT_TERMINAL_PROMPT": "0",
}


def git() -> str:
    found = shutil.which("git")
    if not found:
        raise RuntimeError("git not found on PATH (Argo CD's repo-server needs it too)")
    return found


def daemon_argv(base: Path, port: int) -> list[str]:
    return [
        git(),
        "daemon",
        # Every repository under base, no per-repository git-daemon-export-ok file.
        "--export-all",
        f"--base-path={base}",
        "--listen=127.0.0.1",
        f"--port={port}",
        "--reuseaddr",
        "--informative-errors",
        str(base),
    ]


def url(port: int, name: str) -> str:
    return f"git://127.0.0.1:{port}/{name}.git"


def start(state: Path, base: Path, port: int) -> int:
    base.mkdir(parents=True, exist_ok=True)
    pid = processes.start(state, "git-daemon", daemon_argv(base, port), env=GIT_ENV)
    processes.wait_for(
        "git daemon",
        lambda: processes.port_in_use(port),
        timeout=30,
        pid=pid,
        log=state / "git-daemon.log",
    )
    return pid


def _run(*args: str, cwd: Path) -> str:
    r = subprocess.run(
        [git(), *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} in {cwd}: {r.stderr.strip()}")
    return r.stdout.strip()


def publish(base: Path, name: str, files: Mapping[str, str], message: str) -> str:
    """Make `files` (path -> text) the whole tree of `name`'s `main` in one commit; return its
    sha. The repository is created by the first call."""
    bare, work = base / f"{name}.git", base / f"{name}.work"
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        _run("init", "--quiet", "--bare", f"--initial-branch={BRANCH}", str(bare), cwd=base)
        _run("init", "--quiet", f"--initial-branch={BRANCH}", str(work), cwd=base)
        _run("remote", "add", "origin", str(bare), cwd=work)
    for entry in work.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for path, text in files.items():
        target = work / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    _run("add", "--all", cwd=work)
    _run("commit", "--quiet", "--allow-empty", "-m", message, cwd=work)
    _run("push", "--quiet", "origin", BRANCH, cwd=work)
    return _run("rev-parse", "HEAD", cwd=work)


def head(base: Path, name: str) -> str:
    """The commit `main` of `name` is at."""
    return _run("rev-parse", BRANCH, cwd=base / f"{name}.git")


def tree_of(folder: Path, under: str = "") -> dict[str, str]:
    """A folder's files as `publish` takes them, optionally placed under a prefix."""
    prefix = f"{under.strip('/')}/" if under else ""
    return {
        prefix + str(p.relative_to(folder)): p.read_text()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
