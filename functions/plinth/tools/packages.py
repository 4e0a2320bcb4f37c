"""Plinth's Crossplane packages: the v2 Configuration, the legacy Configuration and the Function,
built as `.xpkg` files by the pinned `crossplane` CLI (`plinth package build`).

Nothing in a package is listed twice. Its XRDs, Compositions and `crossplane.yaml` come from the
models (`plinth.manifests`, the same code `plinth generate` writes the checked-in copies with);
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
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field

from plinth import __version__
from plinth.flavor import FLAVORS, Flavor

Body = dict[str, Any]
Progress = Callable[[str], None]

VERSION_LABEL = "plinth.dev/version"
# Where the providers Plinth composes for are published (upstream's own registry names).
PROVIDER_REGISTRY = "xpkg.crossplane.io/crossplane-contrib"
MRAP_API_VERSION = "apiextensions.crossplane.io/v1alpha1"
MRAP_KIND = "ManagedResourceActivationPolicy"
# A composition function that serves Composition pipelines (not Operations): Crossplane's
# CompositionRevision controller checks every function of a pipeline for this capability.
FUNCTION_CAPABILITIES = ("composition",)
INDEX_FILE = "packages.json"


class ManagedResource(NamedTuple):
    """One managed resource kind a Plinth composition creates, named flavor-independently:
    the provider family, the service (AWS) or API group's first label (GitHub), the plural.
    Its MRD is `<plural>.<group>`, the group depending on the flavor (`.m.` in v2)."""

    provider: Literal["aws", "github", "kubernetes"]
    service: str
    plural: str

    def group(self, flavor: Flavor) -> str:
        info = FLAVORS[flavor]
        if self.provider == "aws":
            return f"{self.service}.{info.aws_group_suffix}"
        if self.provider == "github":
            return f"{self.service}.{info.github_group_suffix}"
        return info.object_api_version.split("/")[0]

    def mrd_name(self, flavor: Flavor) -> str:
        return f"{self.plural}.{self.group(flavor)}"

    @property
    def package(self) -> str:
        """The provider package that serves this kind (its upstream name, without a tag)."""
        name = {
            "aws": f"provider-aws-{self.service}",
            "github": "provider-upjet-github",
            "kubernetes": "provider-kubernetes",
        }[self.provider]
        return f"{PROVIDER_REGISTRY}/{name}"


def _mr(
    provider: Literal["aws", "github", "kubernetes"], service: str, *plurals: str
) -> list[ManagedResource]:
    return [ManagedResource(provider, service, p) for p in plurals]


# Every managed resource kind any composer writes, in any phase, in both flavors (the same
# kinds: v2 composes the namespaced `.m.` groups, legacy the cluster-scoped ones).
# tests/test_packages.py renders every phase of every example and fails when this differs.
MANAGED_RESOURCES: tuple[ManagedResource, ...] = (
    *_mr("aws", "backup", "plans", "selections", "vaults"),
    *_mr("aws", "budgets", "budgets"),
    *_mr("aws", "configservice", "configrules"),
    *_mr(
        "aws",
        "ec2",
        "ebsencryptionbydefaults",
        "eips",
        "internetgateways",
        "natgateways",
        "routes",
        "routetables",
        "routetableassociations",
        "securitygroups",
        "securitygroupingressrules",
        "subnets",
        "transitgatewayvpcattachments",
        "vpcs",
    ),
    *_mr("aws", "ecr", "lifecyclepolicies", "repositories", "repositorypolicies"),
    *_mr("aws", "eks", "accessentries", "accesspolicyassociations", "podidentityassociations"),
    *_mr("aws", "elasticache", "replicationgroups", "subnetgroups", "users", "usergroups"),
    *_mr("aws", "iam", "openidconnectproviders", "roles", "rolepolicyattachments"),
    *_mr("aws", "organizations", "accounts"),
    *_mr("aws", "rds", "instances", "subnetgroups"),
    *_mr(
        "aws",
        "s3",
        "buckets",
        "bucketownershipcontrols",
        "bucketpublicaccessblocks",
        "bucketserversideencryptionconfigurations",
        "bucketversionings",
    ),
    *_mr("aws", "sqs", "queues"),
    *_mr("aws", "ssoadmin", "accountassignments"),
    *_mr("github", "actions", "actionsvariables"),
    *_mr("github", "repo", "branchprotections", "repositories"),
    *_mr("kubernetes", "", "objects"),
)

# The lowest provider release each family's kinds (and their v2 namespaced groups) exist in.
PROVIDER_CONSTRAINTS = {"aws": ">=v2.0.0", "kubernetes": ">=v1.0.0", "github": ">=v0.19.0"}


def activations(flavor: Flavor) -> list[str]:
    """The MRD names a flavor's Configuration activates: exactly what its compositions create."""
    return sorted({mr.mrd_name(flavor) for mr in MANAGED_RESOURCES})


def aws_services() -> tuple[str, ...]:
    return tuple(sorted({mr.service for mr in MANAGED_RESOURCES if mr.provider == "aws"}))


def provider_dependencies() -> list[dict[str, str]]:
    """`dependsOn` entries for the providers: one per package serving a kind we compose."""
    constraint = {mr.package: PROVIDER_CONSTRAINTS[mr.provider] for mr in MANAGED_RESOURCES}
    return [{"provider": p, "version": constraint[p]} for p in sorted(constraint)]


def function_constraint(version: str = __version__) -> str:
    """The function-plinth releases a Configuration of `version` works with: its own minor
    series onwards. The function's input and behaviour change only with a minor release, so a
    patch release of a Configuration installs (or upgrades onto) the function already running
    without Crossplane's alpha dependency-upgrade feature."""
    major, minor, *_ = _semver(version)
    return f">=v{major}.{minor}.0"


def _semver(version: str) -> tuple[int, int, int]:
    parts = version.removeprefix("v").split("-", 1)[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{version!r} is not a MAJOR.MINOR.PATCH version")
    return int(parts[0]), int(parts[1]), int(parts[2])


def dependency_name(source: str) -> str:
    """The name Crossplane gives a package it installs as a dependency: its repository without
    the registry, as a DNS label (`NewPackage` in core's resolver: `ToDNSLabel(RepositoryStr)`).
    A Composition must reference function-plinth by this name, or a Configuration installed
    with its dependencies finds no function."""
    return to_dns_label(source.split("/", 1)[1] if "/" in source else source)


def to_dns_label(s: str) -> str:
    """crossplane-runtime `xpkg.ToDNSLabel`: keep [a-z0-9], map `./:-` to `-` except at the
    first and last index and at index 62, stop after index 62, trim `-`."""
    out = []
    for i, c in enumerate(s):
        if c.isascii() and (c.islower() or c.isdigit()):
            out.append(c)
        if c in "./:-" and i not in (0, 62, len(s) - 1):
            out.append("-")
        if i == 62:
            break
    return "".join(out).strip("-")


def activation_policy(flavor: Flavor, version: str = __version__) -> Body:
    legacy = flavor is Flavor.LEGACY
    return {
        "apiVersion": MRAP_API_VERSION,
        "kind": MRAP_KIND,
        "metadata": {
            "name": "plinth-legacy" if legacy else "plinth",
            "labels": {VERSION_LABEL: version},
        },
        "spec": {"activate": activations(flavor)},
    }


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
    from plinth.manifests import CONFIGURATION_PACKAGE, FUNCTION_PACKAGE

    _semver(version)
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
    from plinth.manifests import composition, configuration_meta, xrd

    meta = configuration_meta(flavor)
    meta["metadata"].setdefault("labels", {})[VERSION_LABEL] = version
    files: dict[str, list[Body]] = {"crossplane.yaml": [meta]}
    for api in CLAIMS:
        files[f"xrd-{api.noun}.yaml"] = [_labelled(xrd(api, flavor), version)]
        files[f"composition-{api.noun}.yaml"] = [_labelled(composition(api, flavor), version)]
    files["activation-policy.yaml"] = [activation_policy(flavor, version)]
    return files


def function_contents(version: str = __version__) -> dict[str, list[Body]]:
    from plinth.manifests import function_meta

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


def default_output() -> Path:
    """`_output/` of the checkout this package runs from (an editable install), else ./_output."""
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "pyproject.toml").is_file():
        return checkout / "_output"
    return Path("_output")


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
    from plinth.devcluster.cluster import binary
    from plinth.tools import image as runtime_image

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
