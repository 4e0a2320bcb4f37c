"""Local processes of the dev cluster: started detached with a log and a pid file each, so that
`plinth dev down` (another process, later) can stop exactly what `plinth dev up` started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def start(
    state: Path,
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    argv0: str | None = None,
) -> int:
    """Start `argv` in its own session (so stopping it stops its children too)."""
    log = (state / f"{name}.log").open("ab")
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(
        list(argv),
        executable=argv0,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=full_env,
        start_new_session=True,
    )
    (state / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of this process counts as gone.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def wait_for(
    what: str,
    check: Callable[[], bool],
    *,
    timeout: float,
    pid: int | None = None,
    log: Path | None = None,
) -> float:
    """Poll `check` until it is true; fail early, with the log's tail, if `pid` died."""
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout:
        if check():
            return time.monotonic() - start_t
        if pid is not None and not alive(pid):
            raise RuntimeError(f"{what}: the process exited\n{tail(log)}")
        time.sleep(0.2)
    raise RuntimeError(f"{what}: not ready after {timeout:.0f}s\n{tail(log)}")


def tail(log: Path | None, lines: int = 25) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop_all(state: Path, timeout: float = 15) -> list[str]:
    """Stop every process with a pid file in `state`, newest first; return their names."""
    pids = sorted(state.glob("*.pid"), key=lambda p: p.stat().st_mtime, reverse=True)
    stopped = []
    for pid_file in pids:
        pid = int(pid_file.read_text().strip() or 0)
        if pid and alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped
