"""`plinth package build|mirror|push|image-configs|list`: Plinth's Crossplane packages."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from plinth import __version__


def _say(line: str) -> None:
    click.echo(f"[plinth package] {line}", err=True)


def _tool(target: str) -> str:
    from plinth.tools.engine import binary

    try:
        return binary(target)
    except RuntimeError as e:
        click.echo(f"plinth package: {e}", err=True)
        sys.exit(1)


def _checkout() -> Path:
    from plinth.tools.packages import checkout

    root = checkout()
    if root is None:
        click.echo("plinth package: run from a Plinth checkout (an editable install)", err=True)
        sys.exit(1)
    return root


output_option = click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where packages and packages.json go (default: the checkout's _output/).",
)


@click.group(name="package")
def package_cmd() -> None:
    """Plinth's Crossplane packages, built with the pinned `crossplane` CLI.

    \b
    Examples:
      plinth package build                        # function (with its runtime image) + both configurations
      plinth package mirror --crds ../shared/crds # CRD-only provider packages, for an air-gapped mirror
      plinth package push 127.0.0.1:5443 --ca-file ca.crt
      plinth package image-configs registry.internal.example.com/mirror
    """


@package_cmd.command(name="build")
@output_option
@click.option(
    "--version",
    default=__version__,
    show_default=True,
    help="Package version (default: plinth's own; another one only to test upgrades).",
)
@click.option("--no-image", is_flag=True, help="Build the Function without a runtime image.")
@click.option(
    "--only",
    type=click.Choice(["function", "configuration", "configuration-legacy"]),
    multiple=True,
    help="Build only these packages (repeatable).",
)
def build_cmd(output: Path | None, version: str, no_image: bool, only: tuple[str, ...]) -> None:
    """Build the Function package (embedding its runtime image) and the v2 and legacy
    Configuration packages into _output/, listed in _output/packages.json."""
    from plinth.tools import packages

    checkout = _checkout()
    output = output or packages.default_output()
    try:
        index = packages.build_all(
            output,
            checkout,
            version=version,
            image=not no_image,
            only=only or None,
            progress=_say,
        )
    except (packages.BuildError, RuntimeError) as e:
        click.echo(f"plinth package build: {e}", err=True)
        sys.exit(1)
    for p in index.packages:
        if p.kind != "Provider":
            click.echo(f"{p.reference}\t{output / p.file}\t{p.size:,} bytes\t{p.digest}")


@package_cmd.command(name="image")
@output_option
@click.option(
    "--source",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="The Plinth source tree to build the wheel from (default: this checkout).",
)
@click.option(
    "--rootfs",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Also unpack the image's root filesystem here (what the Dockerfile copies).",
)
def image_cmd(output: Path | None, source: Path | None, rootfs: Path | None) -> None:
    """Build function-plinth's runtime image without a container engine: an OCI layout and a
    docker-save tarball in _output/ (`plinth package build` does this too)."""
    from plinth.tools import image, packages

    output = output or packages.default_output()
    try:
        built = image.build_image(output, source=source or _checkout(), progress=_say)
        if rootfs is not None:
            image.unpack(output, built, rootfs)
    except image.ImageError as e:
        click.echo(f"plinth package image: {e}", err=True)
        sys.exit(1)
    click.echo(
        f"{built.reference}\t{output / built.tarball}\t{built.size:,} bytes\t{built.manifest_digest}"
    )


@package_cmd.command(name="mirror")
@output_option
@click.option(
    "--crds",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Upstream CRDs by provider folder, with a README version table "
    "(default: $PLINTH_CRDS_DIR).",
)
@click.option("--rebuild", is_flag=True, help="Rebuild packages already built.")
def mirror_cmd(output: Path | None, crds: Path | None, rebuild: bool) -> None:
    """Build CRD-only stand-ins of every provider package the Configurations depend on (their
    upstream CRDs and metadata, no controller), for a mirror that cannot copy the real ones."""
    from plinth.tools import mirror, packages
    from plinth.tools.crds import CrdsNotFound, default_crds_dir

    try:
        source = crds or default_crds_dir()
        built = mirror.build_mirrors(
            output or packages.default_output(),
            source,
            crossplane=_tool("crossplane"),
            crane=_tool("crane"),
            rebuild=rebuild,
            progress=_say,
        )
    except (CrdsNotFound, packages.BuildError) as e:
        click.echo(f"plinth package mirror: {e}", err=True)
        sys.exit(1)
    for p in built:
        click.echo(f"{p.reference}\t{p.file}\t{p.size:,} bytes")


@package_cmd.command(name="push")
@click.argument("mirror_prefix", metavar="MIRROR")
@output_option
@click.option(
    "--ca-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The only CA to trust for MIRROR (a private registry's).",
)
def push_cmd(mirror_prefix: str, output: Path | None, ca_file: Path | None) -> None:
    """Push every package in packages.json to MIRROR/<its public name>:<version>."""
    from plinth.tools import mirror, packages

    output = output or packages.default_output()
    index = packages.read_index(output)
    if not index.packages:
        click.echo(f"plinth package push: nothing built in {output}", err=True)
        sys.exit(1)
    crossplane = _tool("crossplane")
    for p in index.packages:
        ref = mirror.mirror_reference(mirror_prefix, p.reference)
        try:
            mirror.push(crossplane, output / p.file, ref, ca_file=ca_file)
        except packages.BuildError as e:
            click.echo(f"plinth package push: {e}", err=True)
            sys.exit(1)
        click.echo(ref)


@package_cmd.command(name="image-configs")
@click.argument("mirror_prefix", metavar="MIRROR")
@output_option
def image_configs_cmd(mirror_prefix: str, output: Path | None) -> None:
    """Print the ImageConfigs that make Crossplane pull the packages from MIRROR."""
    from plinth.tools import mirror, packages
    from plinth.tools.yamlio import dump_yaml

    index = packages.read_index(output or packages.default_output())
    sources = [p.source for p in index.packages] or [s.source for s in packages.package_specs()] + [
        p.source for p in mirror.mirrored_providers()
    ]
    click.echo(dump_yaml(mirror.image_configs(mirror_prefix, sources)), nl=False)


@package_cmd.command(name="list")
@output_option
def list_cmd(output: Path | None) -> None:
    """Print packages.json: every built package, its file, size, digest and build time."""
    from plinth.tools import packages

    index = packages.read_index(output or packages.default_output())
    click.echo(index.model_dump_json(indent=2))
