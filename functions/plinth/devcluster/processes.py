"""Local processes of the dev cluster: started detached with a log and a pid file each, so that
`plinth dev down` (another process, later) can stop exactly what `plinth dev up` started."""

from __future__ import annotations

import contextlib
import json
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
    """Start `argv` in its own session (so stopping it stops its children too). How it was
    started is kept beside its pid, so `restart` can start it again as it was."""
    (state / f"{name}.json").write_text(
        json.dumps({"argv": list(argv), "env": dict(env or {}), "argv0": argv0})
    )
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


def pid_of(state: Path, name: str) -> int:
    f = state / f"{name}.pid"
    return int(f.read_text().strip() or 0) if f.exists() else 0


def kill(state: Path, name: str, sig: signal.Signals = signal.SIGKILL, timeout: float = 15) -> None:
    """Send `sig` to a started process (and its children); wait until it is gone."""
    pid = pid_of(state, name)
    if not pid:
        raise RuntimeError(f"no process {name} in {state}")
    if not _signal_and_wait(pid, sig, timeout):
        raise RuntimeError(f"{name} (pid {pid}) still running {timeout:.0f}s after {sig.name}")


def _signal_and_wait(pid: int, sig: signal.Signals, timeout: float) -> bool:
    """Send `sig` to the process group of `pid`; whether it is gone within `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not alive(pid)


def restart(state: Path, name: str) -> int:
    """Start a process that `kill` stopped (or that died) again, as `start` first started it;
    its log goes on in the same file."""
    spec = json.loads((state / f"{name}.json").read_text())
    pid = pid_of(state, name)
    if pid and alive(pid):
        raise RuntimeError(f"{name} (pid {pid}) is still running")
    return start(state, name, spec["argv"], env=spec["env"], argv0=spec["argv0"])


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
        pid = pid_of(state, pid_file.stem)
        if pid and alive(pid):
            if not _signal_and_wait(pid, signal.SIGTERM, timeout):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
            stopped.append(pid_file.stem)
        pid_file.unlink()
    return stopped
