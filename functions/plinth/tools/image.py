"""function-plinth's runtime image, built without a container engine.

The image is Debian bookworm's own Python 3.11 and the libraries it links, unpacked from the
`.deb` files (`apt-get download`; no maintainer script runs, so no shell is needed or added),
plus the Plinth wheel and the wheels of what `plinth serve` imports, at the versions installed
where the build runs (the versions the tests ran with). Three layers, so a new Plinth commit
ships only the last one:

1. `debian`: the packages of `ImageSpec.debian_packages`, pruned (documentation, and the stdlib
   modules whose libraries are not in the image: curses, readline, dbm, nis, sqlite3, tests),
   `/etc/passwd` with `nonroot` (65532), `/tmp`, their dpkg records under
   `/var/lib/dpkg/status.d/` (what image scanners read), and the stdlib's bytecode;
2. `python`: the dependency wheels in `/usr/local/lib/python3.11/dist-packages`, where Debian's
   Python looks by default;
3. `plinth`: the Plinth wheel there.

Bytecode is compiled by the image's own interpreter (`unchecked-hash` pycs, valid whatever the
files' times), because the image runs as a non-root user on a read-only root filesystem where
Python cannot write a cache. Layers are deterministic tar files (sorted, owner 0:0, mtime 0,
gzip without a timestamp): the same inputs give the same digests.

Written twice from the same blobs: an OCI image layout directory (what `umoci` and other OCI
tools read) and a tarball that is both an OCI layout and a `docker save` archive
(`manifest.json`), which `crossplane xpkg build --embed-runtime-image-tarball` reads.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plinth import __version__

Progress = Callable[[str], None]
Body = dict[str, Any]
SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"
PYTHON = "/usr/bin/python3.11"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


class ImageSpec(BaseModel):
    """What the runtime image is made of and how it starts."""

    model_config = ConfigDict(frozen=True)

    debian_packages: tuple[str, ...] = (
        "base-files",
        "netbase",
        "gcc-12-base",
        "libc6",
        "libgcc-s1",
        "libstdc++6",  # grpcio's extension links it
        "libssl3",
        "zlib1g",
        "libexpat1",
        "libffi8",
        "libbz2-1.0",
        "liblzma5",
        "libuuid1",
        "libcrypt1",
        "media-types",
        "libpython3.11-minimal",
        "python3.11-minimal",
        "libpython3.11-stdlib",
    )
    # Paths removed from the Debian layer, as globs relative to the root.
    prune: tuple[str, ...] = (
        "usr/share/doc/*/changelog*",
        "usr/share/doc/*/NEWS*",
        "usr/share/doc/*/README*",
        "usr/share/man",
        "usr/share/info",
        "usr/share/lintian",
        "usr/share/gdb",
        "usr/share/bug",
        "usr/lib/x86_64-linux-gnu/gconv",
        "usr/lib/python3.11/lib-dynload/_curses*.so",
        "usr/lib/python3.11/lib-dynload/readline.*.so",
        "usr/lib/python3.11/lib-dynload/_dbm.*.so",
        "usr/lib/python3.11/lib-dynload/nis.*.so",
        "usr/lib/python3.11/lib-dynload/_sqlite3.*.so",
        "usr/lib/python3.11/lib-dynload/_test*.so",
        "usr/lib/python3.11/lib-dynload/_ctypes_test.*.so",
        "usr/lib/python3.11/lib-dynload/_xxtestfuzz.*.so",
        "usr/lib/python3.11/lib-dynload/xxlimited*.so",
    )
    user: str = "65532:65532"
    entrypoint: tuple[str, ...] = (PYTHON, "-m", "plinth.cli", "serve")
    # Crossplane's runtime sets TLS_SERVER_CERTS_DIR, which `serve` reads, and dials 9443.
    cmd: tuple[str, ...] = ("--address", "0.0.0.0:9443")
    env: tuple[str, ...] = (
        "PATH=/usr/local/bin:/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE=1",
        "PYTHONUNBUFFERED=1",
    )
    port: int = 9443


SPEC = ImageSpec()


class LayerInfo(BaseModel):
    name: str
    digest: str
    diff_id: str
    size: int = Field(description="Compressed bytes.")
    uncompressed: int


class RuntimeImage(BaseModel):
    """A built runtime image, as `_output/function-runtime.json` records it."""

    version: str
    tarball: str = Field(description="docker-save + OCI layout tarball, for xpkg build.")
    layout: str = Field(description="OCI image layout directory.")
    reference: str = Field(description="The tag in both (`function-plinth-runtime:vX`).")
    manifest_digest: str
    config_digest: str
    layers: list[LayerInfo]
    debian: dict[str, str] = Field(description="Debian package -> version.")
    python: dict[str, str] = Field(description="Python distribution -> version.")
    seconds: float

    @property
    def size(self) -> int:
        return sum(layer.size for layer in self.layers)


class ImageError(Exception):
    """A step of the image build failed; the message carries the tool's output."""


def _run(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False, env=env)
    if r.returncode != 0:
        raise ImageError(f"{' '.join(argv)}: exit {r.returncode}\n{(r.stderr or r.stdout)[-3000:]}")
    return r.stdout


def cache_dir() -> Path:
    return Path(os.environ.get("PLINTH_CACHE_DIR", Path.home() / ".cache" / "plinth")) / "image"


# --- Debian --------------------------------------------------------------------------------


def deb_field(deb: Path, field: str) -> str:
    return _run(["dpkg-deb", "-f", str(deb), field]).strip()


def _newest(debs: list[Path]) -> Path:
    best = debs[0]
    for d in debs[1:]:
        if (
            subprocess.run(
                [
                    "dpkg",
                    "--compare-versions",
                    deb_field(d, "Version"),
                    "gt",
                    deb_field(best, "Version"),
                ],
                check=False,
            ).returncode
            == 0
        ):
            best = d
    return best


def debian_packages(spec: ImageSpec, cache: Path, progress: Progress | None = None) -> list[Path]:
    """One .deb per package: the newest in the cache, downloaded by apt (the machine's Debian
    sources) when the cache has none. Delete the cache to take security updates."""
    folder = cache / "debs"
    folder.mkdir(parents=True, exist_ok=True)

    def cached(name: str) -> list[Path]:
        return [d for d in folder.glob(f"{name}_*.deb") if d.name.split("_", 1)[0] == name]

    missing = [p for p in spec.debian_packages if not cached(p)]
    if missing:
        if progress:
            progress(f"apt-get download {' '.join(missing)}")
        _run(["apt-get", "download", "-q", *missing], cwd=folder)
    return [_newest(cached(p)) for p in spec.debian_packages]


def _prune(root: Path, patterns: tuple[str, ...]) -> None:
    for pattern in patterns:
        for path in sorted(root.glob(pattern), reverse=True):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()


PASSWD = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
GROUP = "root:x:0:\nnonroot:x:65532:\n"


def debian_root(spec: ImageSpec, debs: list[Path], root: Path) -> dict[str, str]:
    """Unpack the packages into `root`; return package -> version."""
    versions = {}
    status = root / "var/lib/dpkg/status.d"
    status.mkdir(parents=True)
    for deb in debs:
        _run(["dpkg-deb", "-x", str(deb), str(root)])
        name = deb_field(deb, "Package")
        versions[name] = deb_field(deb, "Version")
        # The control file, as distroless images record their packages for scanners.
        control = _run(["dpkg-deb", "-f", str(deb)])
        (status / name).write_text(control if control.endswith("\n") else control + "\n")
    _prune(root, spec.prune)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    (root / "tmp").mkdir(exist_ok=True)
    (root / "tmp").chmod(0o1777)
    (root / "home/nonroot").mkdir(parents=True, exist_ok=True)
    (root / "home/nonroot").chmod(0o755)
    return versions


def compile_bytecode(python_root: Path, tree: Path, under: str) -> None:
    """Compile `tree/under` with the image's interpreter (found under `python_root`), recording
    the paths the files have in the image."""
    python = python_root / PYTHON.lstrip("/")
    target = tree / under
    if not target.is_dir():
        return
    _run(
        [
            str(python),
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            "-s",
            str(tree),
            "-p",
            "/",
            str(target),
        ],
        env={"PATH": "/usr/bin:/bin"},
    )


# --- Python distributions -------------------------------------------------------------------


def _requirement_names(dist: str) -> list[str]:
    """The runtime requirements (no extras) of an installed distribution, markers evaluated for
    the image: Linux, CPython 3.11."""
    from importlib import metadata

    try:
        from packaging.requirements import Requirement
    except ImportError:  # pragma: no cover - pip always vendors it
        from pip._vendor.packaging.requirements import Requirement  # type: ignore[assignment]

    env = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}
    out = []
    for raw in metadata.requires(dist) or []:
        req = Requirement(raw)
        if req.marker is not None and not req.marker.evaluate({**env, "extra": ""}):
            continue
        out.append(req.name)
    return out


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def python_distributions(spec: ImageSpec, root: str = "plinth") -> dict[str, str]:
    """The distributions `plinth serve` needs, at the versions installed here: the closure of
    Plinth's runtime requirements (no extras: the tools come with `plinth[cli]`)."""
    from importlib import metadata

    seen: dict[str, str] = {}
    todo = list(_requirement_names(root))
    while todo:
        name = _canonical(todo.pop())
        if name in seen:
            continue
        seen[name] = metadata.version(name)
        todo += _requirement_names(name)
    return dict(sorted(seen.items()))


def download_wheels(
    dists: dict[str, str], cache: Path, progress: Progress | None = None
) -> list[Path]:
    """Binary wheels for CPython 3.11 on glibc x86_64, pinned; downloaded once (PyPI)."""
    folder = cache / "wheels"
    folder.mkdir(parents=True, exist_ok=True)

    def have(name: str, version: str) -> Path | None:
        stem = re.sub(r"[-.]+", "_", name).lower()
        for w in folder.glob("*.whl"):
            parts = w.name.split("-")
            if re.sub(r"[-.]+", "_", parts[0]).lower() == stem and parts[1] == version:
                return w
        return None

    missing = {n: v for n, v in dists.items() if have(n, v) is None}
    if missing:
        if progress:
            progress(f"pip download {len(missing)} wheel(s)")
        _run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--implementation=cp",
                "--python-version=3.11",
                "--abi=cp311",
                "--platform=manylinux_2_36_x86_64",
                *(f"--platform=manylinux_2_{n}_x86_64" for n in range(35, 4, -1)),
                "--platform=manylinux2014_x86_64",
                "--platform=manylinux1_x86_64",
                "--platform=linux_x86_64",
                f"--dest={folder}",
                *(f"{n}=={v}" for n, v in missing.items()),
            ]
        )
    wheels = []
    for n, v in dists.items():
        w = have(n, v)
        if w is None:
            raise ImageError(f"no wheel for {n}=={v} in {folder}")
        wheels.append(w)
    return wheels


def plinth_wheel(source: Path, folder: Path, cache: Path) -> Path:
    """The Plinth wheel, built from the checkout in pip's isolated build environment, whose
    build requirements (pyproject's `build-system.requires`) come from a folder downloaded once:
    later builds need no network."""
    import tomllib

    requires = tomllib.loads((source / "pyproject.toml").read_text())["build-system"]["requires"]
    build_deps = cache / "build-wheels" / _key(requires)
    if not build_deps.is_dir():
        tmp = build_deps.with_suffix(".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        _run([sys.executable, "-m", "pip", "download", "--quiet", f"--dest={tmp}", *requires])
        tmp.rename(build_deps)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            f"--find-links={build_deps}",
            f"--wheel-dir={folder}",
            str(source),
        ]
    )
    (wheel,) = folder.glob("plinth-*.whl")
    return wheel


def install_wheels(wheels: list[Path], tree: Path) -> None:
    target = tree / SITE_PACKAGES
    target.mkdir(parents=True, exist_ok=True)
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-compile",
            "--no-index",
            "--disable-pip-version-check",
            f"--target={target}",
            *map(str, wheels),
        ]
    )
    # Console scripts would name this machine's interpreter, and the image has no shell.
    shutil.rmtree(target / "bin", ignore_errors=True)
    # pip records the wheel's path on this machine (a temporary folder): not reproducible,
    # and meaningless in the image.
    for f in target.glob("*.dist-info/direct_url.json"):
        f.unlink()
        record = f.parent / "RECORD"
        record.write_text(
            "".join(
                line
                for line in record.read_text().splitlines(keepends=True)
                if not line.startswith(f"{f.parent.name}/direct_url.json,")
            )
        )


# --- layers and the image -------------------------------------------------------------------


def _entries(tree: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        here = Path(dirpath)
        for name in sorted([*dirnames, *filenames]):
            yield here / name


def layer(tree: Path, out: Path, name: str) -> LayerInfo:
    """A deterministic gzip tar of `tree` (paths relative to it, sorted, 0:0, mtime 0)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(_entries(tree), key=lambda p: p.relative_to(tree).as_posix()):
            info = tar.gettarinfo(str(path), arcname=path.relative_to(tree).as_posix())
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            info.pax_headers = {}
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    data = raw.getvalue()
    gz = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=gz, mtime=0, compresslevel=6) as g:
        g.write(data)
    blob = gz.getvalue()
    out.write_bytes(blob)
    return LayerInfo(
        name=name,
        digest="sha256:" + hashlib.sha256(blob).hexdigest(),
        diff_id="sha256:" + hashlib.sha256(data).hexdigest(),
        size=len(blob),
        uncompressed=len(data),
    )


def image_config(spec: ImageSpec, layers: list[LayerInfo], version: str) -> Body:
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "User": spec.user,
            "Env": list(spec.env),
            "Entrypoint": list(spec.entrypoint),
            "Cmd": list(spec.cmd),
            "WorkingDir": "/",
            "ExposedPorts": {f"{spec.port}/tcp": {}},
            "Labels": {
                "org.opencontainers.image.title": "function-plinth",
                "org.opencontainers.image.version": version,
                "org.opencontainers.image.source": "https://github.com/plinth-dev/plinth",
                "org.opencontainers.image.licenses": "Apache-2.0",
                "org.opencontainers.image.base.name": "debian:bookworm (packages, no base image)",
            },
        },
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id for layer in layers]},
        "history": [
            {"created": "1970-01-01T00:00:00Z", "created_by": f"plinth package image: {layer.name}"}
            for layer in layers
        ],
    }


def _json_bytes(body: Body) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def write_layout(
    layout: Path,
    tarball: Path,
    blobs: dict[str, Path],
    config: bytes,
    layers: list[LayerInfo],
    tag: str,
) -> tuple[str, str]:
    """The OCI layout directory and the docker-save + OCI tarball; returns (manifest, config)
    digests."""
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    manifest = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": layer.digest, "size": layer.size}
                for layer in layers
            ],
        }
    )
    manifest_digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
    index = _json_bytes(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": manifest_digest,
                    "size": len(manifest),
                    "annotations": {"org.opencontainers.image.ref.name": tag.rsplit(":", 1)[1]},
                }
            ],
        }
    )
    docker = json.dumps(
        [
            {
                "Config": f"blobs/sha256/{config_digest[7:]}",
                "RepoTags": [tag],
                "Layers": [f"blobs/sha256/{layer.digest[7:]}" for layer in layers],
            }
        ]
    ).encode()
    shutil.rmtree(layout, ignore_errors=True)
    (layout / "blobs/sha256").mkdir(parents=True)
    files: dict[str, bytes | Path] = {
        "oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
        "index.json": index,
        f"blobs/sha256/{config_digest[7:]}": config,
        f"blobs/sha256/{manifest_digest[7:]}": manifest,
        **{f"blobs/sha256/{d[7:]}": p for d, p in blobs.items()},
    }
    for rel, content in files.items():
        if isinstance(content, Path):
            shutil.copyfile(content, layout / rel)
        else:
            (layout / rel).write_bytes(content)
    with tarfile.open(tarball, "w", format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted([*files, "manifest.json"]):
            data = docker if rel == "manifest.json" else (layout / rel).read_bytes()
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o644, 0
            tar.addfile(info, io.BytesIO(data))
    return manifest_digest, config_digest


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _cached_layer(
    cache: Path, key: str, name: str, build: Callable[[Path], None]
) -> tuple[LayerInfo, Path]:
    """A layer from the cache when its inputs are unchanged, else built by `build(tree)`."""
    folder = cache / "layers"
    folder.mkdir(parents=True, exist_ok=True)
    blob, meta = folder / f"{name}-{key}.tar.gz", folder / f"{name}-{key}.json"
    if blob.is_file() and meta.is_file():
        return LayerInfo.model_validate_json(meta.read_text()), blob
    with tempfile.TemporaryDirectory(prefix=f"plinth-{name}-") as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        build(tree)
        info = layer(tree, blob, name)
    meta.write_text(info.model_dump_json())
    return info, blob


def build_image(
    output: Path,
    *,
    source: Path,
    version: str = __version__,
    spec: ImageSpec = SPEC,
    cache: Path | None = None,
    progress: Progress | None = None,
) -> RuntimeImage:
    """Build the runtime image from the checkout at `source` into `output`."""
    began = time.monotonic()
    cache = cache or cache_dir()
    debs = debian_packages(spec, cache, progress)
    dists = python_distributions(spec)
    wheels = download_wheels(dists, cache, progress)
    debian_versions: dict[str, str] = {}

    with tempfile.TemporaryDirectory(prefix="plinth-image-") as tmp:
        base = Path(tmp) / "debian"
        debian_versions = {deb_field(d, "Package"): deb_field(d, "Version") for d in debs}

        def interpreter() -> Path:
            """The unpacked Debian root, whose interpreter compiles every layer's bytecode."""
            if not base.is_dir():
                base.mkdir()
                debian_root(spec, debs, base)
            return base

        def debian(tree: Path) -> None:
            shutil.copytree(interpreter(), tree, symlinks=True, dirs_exist_ok=True)
            compile_bytecode(base, tree, "usr/lib/python3.11")

        def python(tree: Path) -> None:
            install_wheels(wheels, tree)
            compile_bytecode(interpreter(), tree, SITE_PACKAGES)

        wheel = plinth_wheel(source, Path(tmp) / "wheel", cache)

        def plinth(tree: Path) -> None:
            install_wheels([wheel], tree)
            compile_bytecode(interpreter(), tree, SITE_PACKAGES)

        deb_key = _key(spec.model_dump(), [d.name for d in debs])
        wheel_key = hashlib.sha256(wheel_contents(wheel)).hexdigest()
        layers = [
            _cached_layer(cache, deb_key, "debian", debian),
            _cached_layer(cache, _key(deb_key, [w.name for w in wheels]), "python", python),
            _cached_layer(cache, _key(deb_key, wheel_key), "plinth", plinth),
        ]
    infos = [info for info, _ in layers]
    config = _json_bytes(image_config(spec, infos, version))
    tag = f"function-plinth-runtime:v{version}"
    layout = output / "function-runtime"
    tarball = output / f"function-plinth-runtime-v{version}.tar"
    manifest_digest, config_digest = write_layout(
        layout, tarball, {i.digest: p for i, p in layers}, config, infos, tag
    )
    image = RuntimeImage(
        version=version,
        tarball=tarball.name,
        layout=layout.name,
        reference=tag,
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        layers=infos,
        debian=debian_versions,
        python=dists,
        seconds=round(time.monotonic() - began, 1),
    )
    (output / "function-runtime.json").write_text(image.model_dump_json(indent=2) + "\n")
    if progress:
        progress(
            f"runtime image {tag}: {image.size:,} bytes in {len(infos)} layers, {image.seconds}s"
        )
    return image


def wheel_contents(wheel: Path) -> bytes:
    """The wheel's files without the zip's timestamps (a rebuilt wheel differs in those only)."""
    import zipfile

    h = hashlib.sha256()
    with zipfile.ZipFile(wheel) as z:
        for name in sorted(z.namelist()):
            h.update(name.encode())
            h.update(z.read(name))
    return h.digest()


def unpack(output: Path, image: RuntimeImage, rootfs: Path) -> None:
    """The image's root filesystem: its layers extracted in order (they hold no whiteouts:
    each adds files only)."""
    rootfs.mkdir(parents=True, exist_ok=True)
    layout = output / image.layout
    for info in image.layers:
        with tarfile.open(layout / "blobs/sha256" / info.digest[7:], "r:gz") as tar:
            # Our own layers; the filter (Python >= 3.11.4) still refuses paths outside rootfs.
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(rootfs, filter="tar")
            else:  # pragma: no cover - Debian's 3.11.2 without the backport
                tar.extractall(rootfs)
