"""An air-gapped mirror of the packages a Plinth Configuration depends on, and the ImageConfigs
that point Crossplane at it.

Crossplane pulls packages by their public names (`xpkg.crossplane.io/crossplane-contrib/...`,
`ghcr.io/plinth-dev/...`). A mirror keeps each package under `<mirror>/<public name>` (the
public registry's host becomes the first path segment, so two registries never collide), and
one ImageConfig per public registry rewrites that prefix: the package manager then resolves
versions, pulls, and records dependencies under the public names while every byte comes from
the mirror. An enterprise copies the real provider packages into its mirror (`crane copy`).

Where the real provider packages cannot be fetched at all (this workshop has no route to
xpkg.crossplane.io), `plinth package mirror` builds stand-ins: CRD-only provider packages with
upstream's own CRDs of the same release (a folder like ../shared/crds, whose README table names
project and version per folder) and metadata as upstream declares it (name, the SafeStart
capability, the AWS family label and dependency). They have no runtime image: a controller
for them runs as a separate process (provider-kubernetes in `plinth dev up`) or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict

from plinth.generators.packages import MANAGED_RESOURCES, PROVIDER_REGISTRY
from plinth.tools.packages import BuildError, BuiltPackage, image_digest, xpkg_build

Body = dict[str, Any]
MIRROR_ANNOTATION = "plinth.dev/mirror"
# Upstream's family template (provider-upjet-aws package/crossplane.yaml.tmpl, v2.6.0): every
# service package depends on the family package, which holds the ProviderConfig kinds.
AWS_FAMILY = "provider-family-aws"
AWS_FAMILY_CONSTRAINT = ">= 0.0.0"
AWS_SERVICE_CROSSPLANE = ">=v1.12.1-0"
# The kinds Crossplane never converts to ManagedResourceDefinitions (core's converter).
PROVIDER_CONFIG_KINDS = (
    "ProviderConfig",
    "ClusterProviderConfig",
    "ProviderConfigUsage",
    "ClusterProviderConfigUsage",
)


class MirroredProvider(BaseModel):
    """A CRD-only stand-in for one upstream provider package."""

    model_config = ConfigDict(frozen=True)

    name: str
    folder: Literal["provider-upjet-aws", "provider-kubernetes", "provider-upjet-github"]
    # CRD file name prefixes (group + "_") taken from the folder; empty means all of them.
    groups: tuple[str, ...] = ()
    project: str

    @property
    def source(self) -> str:
        return f"{PROVIDER_REGISTRY}/{self.name}"

    def crd_files(self, crds: Path) -> list[Path]:
        files = sorted((crds / self.folder).glob("*.yaml"))
        if self.groups:
            files = [f for f in files if f.name.split("_", 1)[0] in self.groups]
        return files


def mirrored_providers() -> list[MirroredProvider]:
    """Every provider package a Plinth Configuration pulls in, its family included."""
    aws = sorted({mr.service for mr in MANAGED_RESOURCES if mr.provider == "aws"})
    out = [
        MirroredProvider(
            name=AWS_FAMILY,
            folder="provider-upjet-aws",
            groups=("aws.upbound.io", "aws.m.upbound.io"),
            project="crossplane-contrib/provider-upjet-aws",
        )
    ]
    out += [
        MirroredProvider(
            name=f"provider-aws-{svc}",
            folder="provider-upjet-aws",
            groups=(f"{svc}.aws.upbound.io", f"{svc}.aws.m.upbound.io"),
            project="crossplane-contrib/provider-upjet-aws",
        )
        for svc in aws
    ]
    out.append(
        MirroredProvider(
            name="provider-kubernetes",
            folder="provider-kubernetes",
            project="crossplane-contrib/provider-kubernetes",
        )
    )
    out.append(
        MirroredProvider(
            name="provider-upjet-github",
            folder="provider-upjet-github",
            project="crossplane-contrib/provider-upjet-github",
        )
    )
    return out


def provider_meta(p: MirroredProvider, version: str) -> Body:
    annotations = {
        "meta.crossplane.io/source": f"github.com/{p.project}",
        "meta.crossplane.io/license": "Apache-2.0",
        "meta.crossplane.io/description": (
            f"CRD-only mirror of {p.source}:{version}: upstream's CRDs of that release, "
            "no controller image."
        ),
        MIRROR_ANNOTATION: "crds-only",
    }
    meta: Body = {
        "apiVersion": "meta.pkg.crossplane.io/v1",
        "kind": "Provider",
        "metadata": {"name": p.name, "annotations": annotations},
        # All three upstream providers declare SafeStart at these releases: their managed
        # resource kinds install as inactive MRDs until an activation policy names them.
        "spec": {"capabilities": ["SafeStart"]},
    }
    if p.folder == "provider-upjet-aws":
        meta["metadata"]["labels"] = {"pkg.crossplane.io/provider-family": AWS_FAMILY}
        meta["spec"]["crossplane"] = {"version": AWS_SERVICE_CROSSPLANE}
        if p.name != AWS_FAMILY:
            meta["spec"]["dependsOn"] = [
                {"provider": f"{PROVIDER_REGISTRY}/{AWS_FAMILY}", "version": AWS_FAMILY_CONSTRAINT}
            ]
    return meta


def versions_of(crds: Path) -> dict[str, str]:
    """The release of each provider folder, from the folder's README table."""
    from plinth.tools.schemas import read_provenance_table

    table = read_provenance_table(crds)
    return {folder: origin.version for folder, origin in table.items()}


def build_mirror(
    p: MirroredProvider,
    crds: Path,
    output: Path,
    *,
    version: str,
    crossplane: str,
    crane: str,
) -> BuiltPackage:
    began = time.monotonic()
    files = p.crd_files(crds)
    if not files:
        raise BuildError(f"{p.name}: no CRDs under {crds / p.folder} for {p.groups or 'any group'}")
    root = output / "stage" / p.name
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    (root / "package" / "crds").mkdir(parents=True)
    (root / "examples").mkdir()
    (root / "package" / "crossplane.yaml").write_text(
        yaml.safe_dump(provider_meta(p, version), sort_keys=False)
    )
    for f in files:
        shutil.copyfile(f, root / "package" / "crds" / f.name)
    out = output / "mirror" / f"{p.name}-{version}.xpkg"
    xpkg_build(crossplane, root, out)
    shutil.rmtree(root)
    return BuiltPackage(
        id=p.name,
        kind="Provider",
        source=p.source,
        version=version,
        file=str(out.relative_to(output)),
        digest=image_digest(crane, out),
        size=out.stat().st_size,
        seconds=round(time.monotonic() - began, 2),
    )


# --- the mirror's ImageConfigs --------------------------------------------------------------


def mirror_reference(mirror: str, source: str) -> str:
    """Where a package with public name `source` lives in the mirror."""
    return f"{mirror.rstrip('/')}/{source}"


def image_configs(mirror: str, sources: list[str]) -> list[Body]:
    """One ImageConfig per public registry the sources name, rewriting `<registry>/` to
    `<mirror>/<registry>/` (ImageConfig `spec.rewriteImage`, Crossplane v2)."""
    registries = sorted({s.split("/", 1)[0] for s in sources})
    return [
        {
            "apiVersion": "pkg.crossplane.io/v1beta1",
            "kind": "ImageConfig",
            "metadata": {"name": "mirror-" + registry.replace(".", "-").replace(":", "-")},
            "spec": {
                "matchImages": [{"type": "Prefix", "prefix": f"{registry}/"}],
                "rewriteImage": {"prefix": f"{mirror.rstrip('/')}/{registry}/"},
            },
        }
        for registry in registries
    ]


def rewrite(configs: list[Body], image: str) -> str:
    """What Crossplane pulls for `image` under these ImageConfigs: the longest matching prefix of
    the best-matching config is replaced (crossplane-runtime ImageConfigStore.RewritePath)."""
    best: tuple[int, Body] | None = None
    for c in configs:
        if not c["spec"].get("rewriteImage"):
            continue
        for m in c["spec"]["matchImages"]:
            if image.startswith(m["prefix"]) and (best is None or len(m["prefix"]) > best[0]):
                best = (len(m["prefix"]), c)
    if best is None:
        return image
    config = best[1]
    longest = max(
        (m["prefix"] for m in config["spec"]["matchImages"] if image.startswith(m["prefix"])),
        key=len,
    )
    return str(config["spec"]["rewriteImage"]["prefix"]) + image.removeprefix(longest)


def push(
    crossplane: str,
    package_file: Path,
    reference: str,
    *,
    ca_file: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> None:
    """`crossplane xpkg push`; `ca_file` is the only CA it trusts (a private mirror's)."""
    from plinth.tools.packages import run

    env = {"SSL_CERT_FILE": str(ca_file)} if ca_file else None
    run([crossplane, "xpkg", "push", "-f", str(package_file), reference], env=env)
    if progress:
        progress(f"pushed {reference}")


def build_mirrors(
    output: Path,
    crds: Path,
    *,
    crossplane: str,
    crane: str,
    rebuild: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[BuiltPackage]:
    """CRD-only packages of every provider Plinth depends on, at the releases `crds` holds,
    recorded in `output`'s index; an existing build of the same release is kept."""
    from plinth.tools.packages import read_index, write_index

    versions = versions_of(crds)
    index = read_index(output)
    built = []
    for p in mirrored_providers():
        version = versions.get(p.folder)
        if not version:
            raise BuildError(f"{crds}/README.md names no version for {p.folder}/")
        have = index.get(p.name)
        if have and have.version == version and (output / have.file).is_file() and not rebuild:
            built.append(have)
            continue
        b = build_mirror(p, crds, output, version=version, crossplane=crossplane, crane=crane)
        index.put(b)
        write_index(output, index)
        built.append(b)
        if progress:
            progress(f"mirrored {b.reference} ({b.size:,} bytes, {b.seconds}s)")
    return built
