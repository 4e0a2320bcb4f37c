"""mTLS is the default: `plinth serve` refuses to start without certificates unless told
`--insecure`, nothing that ships passes `--insecure`, and rotated certificates are picked up
without a restart."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from certs import write_tls_dirs
from conftest import REPO
from plinth.runtime.tls import CertificateReloader
from plinth.tools.image import SPEC

sys.path.insert(0, str(REPO / "benchmarks"))

from load_grpc import METHOD, mtls_credentials, serve


def test_serve_refuses_to_start_without_certificates_or_insecure() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TLS_SERVER_CERTS_DIR", "INSECURE")}
    out = subprocess.run(
        [sys.executable, "-m", "plinth.cli", "serve", "--address", "127.0.0.1:0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert out.returncode != 0
    assert "--tls-certs-dir" in out.stderr
    assert "--insecure" in out.stderr


def _shipped_files() -> list[Path]:
    """What is installed into a cluster: the packages, the GitOps manifests, the example
    claims and platform, the service template's manifests, and the monitoring manifests."""
    roots = [REPO / "packages", REPO / "gitops", REPO / "examples", REPO / "templates"]
    files = [p for r in roots for p in r.rglob("*") if p.is_file()]
    return [*files, REPO / "docs" / "observability.yaml"]


def test_nothing_that_ships_turns_mtls_off() -> None:
    insecure = re.compile(r"--insecure\b|\bINSECURE\b")
    offenders = [
        str(p.relative_to(REPO))
        for p in _shipped_files()
        if p.suffix in {".yaml", ".yml", ".json", ".md", ".toml", ""}
        or p.name.startswith("Dockerfile")
        if insecure.search(p.read_text(errors="replace"))
    ]
    assert offenders == []
    # The runtime image: its entrypoint, arguments and environment.
    image = json.dumps([SPEC.entrypoint, SPEC.cmd, SPEC.env])
    assert not insecure.search(image)
    assert "--tls" not in image  # Crossplane sets TLS_SERVER_CERTS_DIR; serve requires it


def test_docs_yaml_blocks_never_pass_insecure() -> None:
    """Shell lines for local development may; manifests in the docs may not."""
    for md in [REPO / "README.md", *(REPO / "docs").glob("*.md")]:
        for block in re.findall(r"```yaml\n(.*?)```", md.read_text(), re.S):
            assert "--insecure" not in block, md.name
            assert "INSECURE" not in block, md.name


def _kubelet_mount(root: Path, source: Path, generation: str) -> None:
    """Lay `source`'s files out as the kubelet mounts a Secret: `tls.crt -> ..data/tls.crt`,
    `..data -> ..<generation>`; a renewal swaps `..data` atomically."""
    target = root / f"..{generation}"
    target.mkdir()
    for name in ("tls.crt", "tls.key", "ca.crt"):
        shutil.copy(source / name, target / name)
        link = root / name
        if not link.is_symlink():
            link.symlink_to(Path("..data") / name)
    tmp = root / "..data_tmp"
    tmp.symlink_to(target.name)
    os.replace(tmp, root / "..data")


def _call(endpoint: str, client_dir: Path) -> fnv1.RunFunctionResponse:
    with grpc.secure_channel(endpoint, mtls_credentials(client_dir)) as channel:
        raw = channel.unary_unary(METHOD)(fnv1.RunFunctionRequest().SerializeToString(), timeout=10)
    return fnv1.RunFunctionResponse.FromString(raw)


def test_rotated_certificates_take_effect_without_a_restart(tmp_path: Path) -> None:
    old_server, old_client = write_tls_dirs(tmp_path / "old")
    new_server, new_client = write_tls_dirs(tmp_path / "new")  # another CA altogether
    mount = tmp_path / "mount"
    mount.mkdir()
    _kubelet_mount(mount, old_server, "1")
    with serve(mount) as server:
        assert _call(server.endpoint, old_client).results
        with pytest.raises(grpc.RpcError):
            _call(server.endpoint, new_client)
        _kubelet_mount(mount, new_server, "2")
        # The next connection's handshake uses the new certificate and CA: the server trusts
        # only clients of the new CA, and they trust it.
        assert _call(server.endpoint, new_client).results
        with pytest.raises(grpc.RpcError):
            _call(server.endpoint, old_client)
        assert server.alive()


def test_a_half_written_rotation_keeps_the_certificate_in_use(tmp_path: Path) -> None:
    server_dir, _ = write_tls_dirs(tmp_path)
    reloader = CertificateReloader(server_dir)
    assert reloader.fetch() is None  # nothing changed
    (server_dir / "tls.key").write_bytes(b"")
    assert reloader.fetch() is None
    (server_dir / "tls.key").unlink()
    assert reloader.fetch() is None
    assert reloader.reloads == 0
