"""Plinth's Crossplane packages: the v2 Configuration, the legacy Configuration and the Function,
built as `.xpkg` files by the pinned `crossplane` CLI (`plinth package build`).

Nothing in a package is listed twice. Its XRDs, Compositions and `crossplane.yaml` come from the
models (`plinth.generators`, the same code `plinth generate` writes the checked-in copies with);
its ManagedResourceActivationPolicy activates exactly the managed resource kinds its
compositions create (`MANAGED_RESOURCES`: a test derives that set from every phase of every
example and compares); its provider dependencies are the packages serving those kinds.

One version: `plinth.__version__` (pyproject reads it). Every package is tagged `v<version>`,
and the objects of a Configuration carry it as the `plinth.dev/version` label, so two versions
always differ in content (Crossplane names a revision after the package digest: two identical
packages would be one revision, and an upgrade nothing to look at).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from plinth import __version__
from plinth.api.flavor import Flavor
from plinth.generators.packages import VERSION_LABEL, activation_policy, semver

Body = dict[str, Any]
Progress = Callable[[str], None]

INDEX_FILE = "packages.json"


# --- what goes into each package --------------------------------------------------------


class PackageSpec(BaseModel):
    """One package Plinth publishes: its kind, its public repository and the tag it gets."""

    model_config = ConfigDict(frozen=True)

    id: Literal["configuration", "configuration-legacy", "function"]
    kind: Literal["Configuration", "Function"]
    source: str = Field(description="Public repository, without a tag.")
    version: str = Field(description="Tag, `v` + plinth's version.")

    @property
    def reference(self) -> str:
        return f"{self.source}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.source.rsplit('/', 1)[1]}-{self.version}.xpkg"


def package_specs(version: str = __version__) -> list[PackageSpec]:
    from plinth.generators.crossplane import CONFIGURATION_PACKAGE, FUNCTION_PACKAGE

    semver(version)
    tag = f"v{version.removeprefix('v')}"
    return [
        PackageSpec(id="function", kind="Function", source=FUNCTION_PACKAGE, version=tag),
        PackageSpec(
            id="configuration", kind="Configuration", source=CONFIGURATION_PACKAGE, version=tag
        ),
        PackageSpec(
            id="configuration-legacy",
            kind="Configuration",
            source=f"{CONFIGURATION_PACKAGE}-legacy",
            version=tag,
        ),
    ]


def _labelled(doc: Body, version: str) -> Body:
    doc = json.loads(json.dumps(doc))
    doc["metadata"].setdefault("labels", {})[VERSION_LABEL] = version
    return doc


def configuration_contents(flavor: Flavor, version: str = __version__) -> dict[str, list[Body]]:
    """The files of a Configuration's package root, by name: its `crossplane.yaml`, one XRD and
    one Composition per claim API, and the activation policy."""
    from plinth.api.catalog import CLAIMS
    from plinth.generators.crossplane import composition, configuration_meta, xrd

    meta = configuration_meta(flavor)
    meta["metadata"].setdefault("labels", {})[VERSION_LABEL] = version
    files: dict[str, list[Body]] = {"crossplane.yaml": [meta]}
    for api in CLAIMS:
        files[f"xrd-{api.noun}.yaml"] = [_labelled(xrd(api, flavor), version)]
        files[f"composition-{api.noun}.yaml"] = [_labelled(composition(api, flavor), version)]
    files["activation-policy.yaml"] = [activation_policy(flavor, version)]
    return files


def function_contents(version: str = __version__) -> dict[str, list[Body]]:
    from plinth.generators.crossplane import function_meta

    meta = function_meta()
    meta["metadata"].setdefault("labels", {})[VERSION_LABEL] = version
    return {"crossplane.yaml": [meta]}


def contents(spec: PackageSpec) -> dict[str, list[Body]]:
    version = spec.version.removeprefix("v")
    if spec.id == "function":
        return function_contents(version)
    flavor = Flavor.LEGACY if spec.id == "configuration-legacy" else Flavor.V2
    return configuration_contents(flavor, version)


def example_files(spec: PackageSpec, examples: Path) -> list[Path]:
    """The example claims a Configuration ships (`--examples-root`): the top-level examples of
    its flavor, with the platform EnvironmentConfig they read."""
    if spec.kind != "Configuration":
        return []
    folder = examples / "legacy" if spec.id == "configuration-legacy" else examples
    found = sorted(folder.glob("*.yaml"))
    if spec.id == "configuration-legacy":
        found.append(examples / "platform.yaml")
    return [f for f in found if f.name != "functions.yaml"]


def write_yaml(path: Path, docs: Iterable[Body]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump_all(list(docs), sort_keys=False))


def stage(root: Path, files: dict[str, list[Body]], examples: Iterable[Path] = ()) -> Path:
    """A package root (and its examples folder beside it) for `crossplane xpkg build`; the
    build reads every YAML file under the root, so the root holds nothing else."""
    shutil.rmtree(root, ignore_errors=True)
    for name, docs in files.items():
        write_yaml(root / "package" / name, docs)
    (root / "examples").mkdir(parents=True)
    for f in examples:
        shutil.copyfile(f, root / "examples" / f.name)
    return root


# --- building -------------------------------------------------------------------------------


class BuiltPackage(BaseModel):
    """A package `plinth package build` (or `mirror`) wrote, as `_output/packages.json` lists
    it; `plinth package push` and `plinth dev up` read the list."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: Literal["Configuration", "Function", "Provider"]
    source: str
    version: str
    file: str = Field(description="The .xpkg file, relative to the index's folder.")
    digest: str = Field(description="The package image's manifest digest.")
    size: int = Field(description="Bytes of the .xpkg file.")
    seconds: float = Field(description="Wall time the build took.")

    @property
    def reference(self) -> str:
        return f"{self.source}:{self.version}"


class PackageIndex(BaseModel):
    packages: list[BuiltPackage] = Field(default_factory=list)

    def get(self, id: str) -> BuiltPackage | None:
        return next((p for p in self.packages if p.id == id), None)

    def put(self, built: BuiltPackage) -> None:
        self.packages = [p for p in self.packages if p.id != built.id] + [built]
        self.packages.sort(key=lambda p: (p.kind != "Configuration", p.kind, p.id))


def read_index(output: Path) -> PackageIndex:
    f = output / INDEX_FILE
    if not f.is_file():
        return PackageIndex()
    return PackageIndex.model_validate_json(f.read_text())


def write_index(output: Path, index: PackageIndex) -> None:
    output.mkdir(parents=True, exist_ok=True)
    (output / INDEX_FILE).write_text(index.model_dump_json(indent=2) + "\n")


class BuildError(Exception):
    """A build step failed; the message carries the tool's own output."""


def run(argv: list[str], *, env: dict[str, str] | None = None) -> str:
    import os

    r = subprocess.run(
        argv, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if r.returncode != 0:
        raise BuildError(f"{' '.join(argv)}: exit {r.returncode}\n{(r.stderr or r.stdout)[-3000:]}")
    return r.stdout


def xpkg_build(
    crossplane: str,
    root: Path,
    out: Path,
    *,
    runtime_image_tarball: Path | None = None,
) -> None:
    """`crossplane xpkg build` of a staged root. Examples come from the stage's own folder, not
    the CLI's default `./examples` (which is the working directory's, i.e. this repository's)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        crossplane,
        "xpkg",
        "build",
        f"--package-root={root / 'package'}",
        f"--examples-root={root / 'examples'}",
        f"--package-file={out}",
    ]
    if runtime_image_tarball is not None:
        argv.append(f"--embed-runtime-image-tarball={runtime_image_tarball}")
    run(argv)


def image_digest(crane: str, tarball: Path) -> str:
    """The manifest digest a registry will report for this tarball's image."""
    return run([crane, "digest", "--tarball", str(tarball)]).strip()


def build_package(
    spec: PackageSpec,
    output: Path,
    *,
    crossplane: str,
    crane: str,
    examples: Path,
    runtime_image_tarball: Path | None = None,
) -> BuiltPackage:
    began = time.monotonic()
    root = stage(output / "stage" / spec.id, contents(spec), example_files(spec, examples))
    out = output / spec.file_name
    xpkg_build(crossplane, root, out, runtime_image_tarball=runtime_image_tarball)
    return BuiltPackage(
        id=spec.id,
        kind=spec.kind,
        source=spec.source,
        version=spec.version,
        file=out.name,
        digest=image_digest(crane, out),
        size=out.stat().st_size,
        seconds=round(time.monotonic() - began, 2),
    )


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def checkout() -> Path | None:
    """The source checkout this package runs from (an editable install), if any: building
    packages needs its source (the wheel in the image, the example claims in Configurations)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "pyproject.toml").is_file() else None


def default_output() -> Path:
    """`_output/` of the checkout this package runs from, else ./_output."""
    root = checkout()
    return root / "_output" if root else Path("_output")


def build(
    output: Path,
    *,
    version: str = __version__,
    crossplane: str,
    crane: str,
    examples: Path,
    runtime_image_tarball: Path | None = None,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> PackageIndex:
    """Build Plinth's packages (all, or the ids in `only`) into `output` and record them in its
    index, keeping the entries of packages not rebuilt."""
    index = read_index(output)
    wanted = set(only) if only is not None else None
    for spec in package_specs(version):
        if wanted is not None and spec.id not in wanted:
            continue
        image = runtime_image_tarball if spec.kind == "Function" else None
        built = build_package(
            spec,
            output,
            crossplane=crossplane,
            crane=crane,
            examples=examples,
            runtime_image_tarball=image,
        )
        index.put(built)
        if progress:
            progress(f"built {built.file} ({built.size:,} bytes, {built.seconds}s)")
    write_index(output, index)
    return index


def build_all(
    output: Path,
    checkout: Path,
    *,
    version: str = __version__,
    image: bool = True,
    only: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> PackageIndex:
    """The runtime image (unless `image` is false) and Plinth's packages, from `checkout`, with
    the pinned CLI and crane (hack/build-tools.sh builds them when missing)."""
    from plinth.tools import image as runtime_image
    from plinth.tools.engine import binary

    version = version.removeprefix("v")
    wanted = set(only) if only is not None else None
    tarball = None
    if image and (wanted is None or "function" in wanted):
        built = runtime_image.build_image(
            output, source=checkout, version=version, progress=progress
        )
        tarball = output / built.tarball
    return build(
        output,
        version=version,
        crossplane=binary("crossplane"),
        crane=binary("crane"),
        examples=checkout / "examples",
        runtime_image_tarball=tarball,
        only=wanted,
        progress=progress,
    )
