"""The runtime image works: built without Docker, unpacked by umoci into an OCI runtime bundle,
started by runc (Debian's packages) as Crossplane starts a function, a non-root user on a
read-only root filesystem with the mTLS certificates mounted at /tls/server, and answering a
RunFunctionRequest over mTLS exactly as the function does in-process.

crun (Debian's 1.8.1) refuses to start anything on this machine ("cgroups in hybrid mode not
supported, drop all controllers from cgroupv2"); runc 1.1.5 starts containers. Without runc or
umoci, or as non-root, the entrypoint runs chrooted into the unpacked root instead."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import REPO
from e2e.kube import say
from plinth.tools import image

pytestmark = pytest.mark.e2e

# What Crossplane's Deployment runtime runs a function as (core v2.3.4 runtime.go).
CROSSPLANE_UID = 2000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, image.RuntimeImage]:
    output = tmp_path_factory.mktemp("image")
    began = time.monotonic()
    runtime = image.build_image(output, source=REPO, progress=say)
    say(
        f"runtime image: {runtime.size:,} bytes compressed in {len(runtime.layers)} layers "
        f"({', '.join(f'{x.name} {x.size:,}' for x in runtime.layers)}), "
        f"{sum(x.uncompressed for x in runtime.layers):,} bytes unpacked, "
        f"built in {time.monotonic() - began:.1f}s"
    )
    return output, runtime


def test_the_image_is_valid_and_has_no_shell(built: tuple[Path, image.RuntimeImage]) -> None:
    from plinth.tools.engine import binary

    output, runtime = built
    r = subprocess.run(
        [binary("crane"), "validate", "--tarball", str(output / runtime.tarball)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    rootfs = output / "rootfs"
    image.unpack(output, runtime, rootfs)
    for shell in ("bin/sh", "bin/bash", "bin/dash", "usr/bin/sh", "usr/bin/bash", "bin/busybox"):
        assert not (rootfs / shell).exists(), shell
    assert not list((rootfs / "usr/bin").glob("*sh"))
    for module in ("cli/serve.py", "runtime/function.py", "compose/tenant/__init__.py"):
        assert (rootfs / image.SITE_PACKAGES / "plinth" / module).is_file(), module
    assert not (rootfs / image.SITE_PACKAGES / "kubernetes_validate").exists()
    # Every library any binary or extension in the image links is in the image.
    libs = {p.name for p in rootfs.rglob("*.so*")}
    missing = set()
    for f in rootfs.rglob("*"):
        if (
            f.is_file()
            and not f.is_symlink()
            and (f.suffix == ".so" or ".so." in f.name or f.parent.name == "bin")
        ):
            out = subprocess.run(
                ["readelf", "-d", str(f)], capture_output=True, text=True, check=False
            )
            for line in out.stdout.splitlines():
                if "(NEEDED)" in line:
                    lib = line.split("[", 1)[1].rstrip("]")
                    if lib not in libs:
                        missing.add(f"{f.relative_to(rootfs)} -> {lib}")
    assert not missing, sorted(missing)[:20]
    # Bytecode for everything, so a read-only root never makes Python compile.
    sources = list((rootfs / image.SITE_PACKAGES / "plinth").rglob("*.py"))
    assert all((s.parent / "__pycache__").is_dir() for s in sources)


def tls_dirs(root: Path) -> tuple[Path, Path]:
    sys.path.insert(0, str(REPO / "tests"))
    from certs import write_tls_dirs

    server, client = write_tls_dirs(root)
    # The container's user (not root) reads the mounted certificates, as from a Secret volume.
    for d in (server, client):
        d.chmod(0o755)
        for f in d.iterdir():
            f.chmod(0o644)
    return server, client


def free_port() -> int:
    from plinth.devcluster.processes import free_port as free

    return free()


def bundle_config(bundle: Path, server_tls: Path, port: int) -> None:
    """umoci's runtime config from the image config, changed the way Crossplane's Deployment
    changes it: uid/gid 2000, no capabilities, the TLS Secret mounted read-only at /tls/server
    with TLS_SERVER_CERTS_DIR, a read-only root; and the host's network namespace, so the test
    can dial it on loopback."""
    path = bundle / "config.json"
    cfg = json.loads(path.read_text())
    process = cfg["process"]
    process["terminal"] = False
    process["user"] = {"uid": CROSSPLANE_UID, "gid": CROSSPLANE_UID}
    process["args"] = [*image.SPEC.entrypoint, "--address", f"127.0.0.1:{port}"]
    process["env"].append("TLS_SERVER_CERTS_DIR=/tls/server")
    process["capabilities"] = {k: [] for k in process["capabilities"]}
    cfg["root"]["readonly"] = True
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]
    cfg["mounts"].append(
        {
            "destination": "/tls/server",
            "type": "bind",
            "source": str(server_tls),
            "options": ["rbind", "ro"],
        }
    )
    path.write_text(json.dumps(cfg))


def wait_listening(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    import socket

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            raise AssertionError(f"the container exited {proc.returncode}:\n{log.read_text()}")
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()}")


@pytest.fixture(scope="module")
def running(
    built: tuple[Path, image.RuntimeImage], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, str, int]]:
    """The image's entrypoint serving mTLS on a loopback port: (endpoint, client TLS, how, the
    serving process's pid)."""
    output, runtime = built
    work = tmp_path_factory.mktemp("run")
    server_tls, client_tls = tls_dirs(work / "tls")
    port = free_port()
    log = work / "container.log"
    root = os.geteuid() == 0
    if root and shutil.which("runc") and shutil.which("umoci"):
        bundle = work / "bundle"
        tag = runtime.reference.rsplit(":", 1)[1]
        subprocess.run(
            ["umoci", "unpack", "--image", f"{output / runtime.layout}:{tag}", str(bundle)],
            check=True,
            capture_output=True,
        )
        bundle_config(bundle, server_tls, port)
        name = f"plinth-image-{os.getpid()}"
        began = time.monotonic()
        with log.open("wb") as out:
            proc = subprocess.Popen(
                ["runc", "run", "--bundle", str(bundle), name], stdout=out, stderr=subprocess.STDOUT
            )
        how = f"runc ({name})"
        try:
            wait_listening(port, proc, log)
            say(
                f"runc started the image's entrypoint; serving after {time.monotonic() - began:.1f}s"
            )
            state = subprocess.run(
                ["runc", "state", name], capture_output=True, text=True, check=True
            )
            yield f"127.0.0.1:{port}", client_tls, how, int(json.loads(state.stdout)["pid"])
        finally:
            subprocess.run(["runc", "kill", name, "TERM"], check=False, capture_output=True)
            try:
                proc.wait(timeout=15)
            finally:
                subprocess.run(
                    ["runc", "delete", "--force", name], check=False, capture_output=True
                )
        return
    if not root:
        pytest.skip("starting the image needs root here (runc, or chroot)")
    rootfs = work / "rootfs"
    image.unpack(output, runtime, rootfs)
    (rootfs / "tls/server").mkdir(parents=True)
    # What a container runtime gives the process and chroot does not: the devices gRPC reads.
    (rootfs / "dev").mkdir(exist_ok=True)
    for dev, minor in (("null", 3), ("random", 8), ("urandom", 9)):
        os.mknod(rootfs / "dev" / dev, stat.S_IFCHR | 0o666, os.makedev(1, minor))
    for f in server_tls.iterdir():
        shutil.copy(f, rootfs / "tls/server" / f.name)
    env = {e.split("=", 1)[0]: e.split("=", 1)[1] for e in image.SPEC.env}
    env["TLS_SERVER_CERTS_DIR"] = "/tls/server"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                # Found on this PATH: `env` is the image's, which need not hold /usr/sbin.
                shutil.which("chroot") or "/usr/sbin/chroot",
                f"--userspec={CROSSPLANE_UID}:{CROSSPLANE_UID}",
                str(rootfs),
                *image.SPEC.entrypoint,
                "--address",
                f"127.0.0.1:{port}",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_listening(port, proc, log)
        # chroot execs the entrypoint: the same process.
        yield f"127.0.0.1:{port}", client_tls, "chroot", proc.pid
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)


def test_the_image_answers_a_run_function_request_over_mtls(
    running: tuple[str, Path, str, int],
) -> None:
    endpoint, client_tls, how, _ = running
    plinth = [sys.executable, "-m", "plinth.cli", "render", str(REPO / "examples" / "tenant.yaml")]
    began = time.monotonic()
    through_image = subprocess.run(
        [*plinth, "--endpoint", endpoint, "--tls-certs-dir", str(client_tls)],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.monotonic() - began
    assert through_image.returncode == 0, through_image.stderr
    in_process = subprocess.run(plinth, capture_output=True, text=True, check=True)
    assert through_image.stdout == in_process.stdout
    assert "kind: Namespace" in through_image.stdout
    say(f"RunFunctionRequest over mTLS to the image ({how}) answered like in-process ({took:.2f}s)")
    # No client certificate, no answer.
    insecure = subprocess.run(
        [*plinth, "--endpoint", endpoint], capture_output=True, text=True, check=False
    )
    assert insecure.returncode != 0


def test_the_function_in_the_image_runs_as_crossplane_s_non_root_user(
    running: tuple[str, Path, str, int],
) -> None:
    _, _, how, pid = running
    status = Path(f"/proc/{pid}/status").read_text()
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    assert {int(u) for u in uids} == {CROSSPLANE_UID}, f"{how}: {uids}"
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[:4] == [a.encode() for a in image.SPEC.entrypoint]
