"""Start `plinth serve` as a real process on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"plinth serve exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"plinth serve did not listen on {port} within {timeout}s")


@contextlib.contextmanager
def plinth_serve(
    tls_dir: Path | None = None, python: str = sys.executable, extra_args: tuple[str, ...] = ()
) -> Iterator[str]:
    """Yield the endpoint (127.0.0.1:PORT) of a running `plinth serve` (of `python`'s install)."""
    port = free_port()
    cmd = [python, "-m", "plinth.cli", "serve", "--address", f"127.0.0.1:{port}", *extra_args]
    cmd += ["--tls-certs-dir", str(tls_dir)] if tls_dir else ["--insecure"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_listening(port, proc)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
