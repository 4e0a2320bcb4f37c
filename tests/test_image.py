"""The runtime image builder's pure parts: deterministic layers, the OCI layout and docker-save
tarball, the image config, what Python goes in, and the Dockerfile building the same thing.
Building the real image and running it is in tests/e2e/test_image_e2e.py."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import re
import tarfile
from pathlib import Path

import pytest

from conftest import REPO
from plinth.tools import image


def tree(root: Path) -> Path:
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/tool").write_text("#!/nothing\n")
    (root / "usr/bin/tool").chmod(0o755)
    (root / "etc").mkdir()
    (root / "etc/passwd").write_text(image.PASSWD)
    (root / "lib").symlink_to("usr/lib")
    return root


def test_a_layer_is_the_same_bytes_whenever_and_wherever_it_is_built(tmp_path: Path) -> None:
    a = tree(tmp_path / "a")
    b = tree(tmp_path / "b")
    (b / "etc/passwd").touch()  # another mtime, same content
    la = image.layer(a, tmp_path / "a.tar.gz", "x")
    lb = image.layer(b, tmp_path / "b.tar.gz", "x")
    assert la == lb
    assert (tmp_path / "a.tar.gz").read_bytes() == (tmp_path / "b.tar.gz").read_bytes()
    data = gzip.decompress((tmp_path / "a.tar.gz").read_bytes())
    assert la.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names)
    assert all((m.uid, m.gid, m.mtime, m.uname) == (0, 0, 0, "") for m in members)
    modes = {m.name: m.mode for m in members}
    assert modes["usr/bin/tool"] == 0o755
    assert next(m for m in members if m.name == "lib").issym()


def test_the_image_is_an_oci_layout_and_a_docker_save_archive(tmp_path: Path) -> None:
    layer = image.layer(tree(tmp_path / "t"), tmp_path / "l.tar.gz", "only")
    config = image._json_bytes(image.image_config(image.SPEC, [layer], "9.9.9"))
    manifest_digest, config_digest = image.write_layout(
        tmp_path / "layout",
        tmp_path / "image.tar",
        {layer.digest: tmp_path / "l.tar.gz"},
        config,
        [layer],
        "function-plinth-runtime:v9.9.9",
    )
    layout = tmp_path / "layout"
    index = json.loads((layout / "index.json").read_text())
    (entry,) = index["manifests"]
    assert entry["digest"] == manifest_digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v9.9.9"
    manifest = json.loads((layout / "blobs/sha256" / manifest_digest[7:]).read_bytes())
    assert manifest["config"]["digest"] == config_digest
    assert [x["digest"] for x in manifest["layers"]] == [layer.digest]
    for blob in layout.glob("blobs/sha256/*"):
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name
    with tarfile.open(tmp_path / "image.tar") as tar:
        names = set(tar.getnames())
        (docker,) = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert {"oci-layout", "index.json", "manifest.json"} <= names
    assert docker["RepoTags"] == ["function-plinth-runtime:v9.9.9"]
    assert {docker["Config"], *docker["Layers"]} <= names


def test_the_image_runs_plinth_serve_as_a_non_root_user() -> None:
    cfg = image.image_config(image.SPEC, [], "1.2.3")["config"]
    uid, gid = cfg["User"].split(":")
    assert int(uid) != 0
    assert int(gid) != 0
    assert f"nonroot:x:{uid}:{gid}:" in image.PASSWD
    assert cfg["Entrypoint"] == ["/usr/bin/python3.11", "-m", "plinth.cli", "serve"]
    assert cfg["Cmd"] == ["--address", "0.0.0.0:9443"]
    assert "PYTHONDONTWRITEBYTECODE=1" in cfg["Env"]
    assert cfg["ExposedPorts"] == {"9443/tcp": {}}
    assert cfg["Labels"]["org.opencontainers.image.version"] == "1.2.3"


def test_no_package_in_the_image_is_a_shell_or_a_package_manager() -> None:
    shells = {"bash", "dash", "busybox", "coreutils", "dpkg", "apt", "perl-base", "util-linux"}
    assert not shells & set(image.SPEC.debian_packages)
    assert "python3.11-minimal" in image.SPEC.debian_packages


def test_the_image_s_python_is_what_serve_imports_at_the_tested_versions() -> None:
    from importlib import metadata

    dists = image.python_distributions(image.SPEC)
    # The runtime only (`pip install plinth`): none of the tools' dependencies.
    assert not {"kubernetes-validate", "jsonschema", "cel-python", "pyyaml"} & set(dists)
    for needed in ("grpcio", "protobuf", "pydantic", "crossplane-function-sdk-python"):
        assert dists[needed] == metadata.version(needed)
    assert not {"pytest", "mypy", "ruff", "hypothesis", "cryptography"} & set(dists)
    assert "plinth" not in dists


def test_serve_does_not_import_what_the_image_leaves_out() -> None:
    import subprocess
    import sys

    code = (
        "import sys, plinth.cli, plinth.runtime.server, plinth.runtime.function; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'kubernetes_validate'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def dockerfile_instructions() -> dict[str, str]:
    text = (REPO / "packages/function/Dockerfile").read_text()
    final = text.rsplit("FROM scratch", 1)[1]
    return {
        m.group(1): m.group(2).strip()
        for m in re.finditer(r"^(USER|ENV|ENTRYPOINT|CMD|EXPOSE) (.+)$", final, re.M)
    }


def test_the_dockerfile_builds_the_same_image() -> None:
    text = (REPO / "packages/function/Dockerfile").read_text()
    # The build stage runs the same builder and copies its root filesystem into nothing.
    assert "plinth package image" in text
    assert "--rootfs /rootfs" in text
    assert "COPY --from=build /rootfs/ /" in text
    assert text.count("FROM ") == 2
    assert "FROM debian:bookworm AS build" in text
    got = dockerfile_instructions()
    spec = image.SPEC
    assert got["USER"] == spec.user
    assert json.loads(got["ENTRYPOINT"]) == list(spec.entrypoint)
    assert json.loads(got["CMD"]) == list(spec.cmd)
    assert got["ENV"].split() == list(spec.env)
    assert got["EXPOSE"] == str(spec.port)


@pytest.mark.parametrize("pattern", image.SPEC.prune)
def test_pruned_paths_are_documentation_or_modules_whose_libraries_are_left_out(
    pattern: str,
) -> None:
    assert pattern.startswith(("usr/share/", "usr/lib/python3.11/lib-dynload/", "usr/lib/x86_64"))
