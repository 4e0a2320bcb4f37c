"""`plinth dev up|down|status`: a local management cluster of real components
(plinth.devcluster)."""

from __future__ import annotations

import json
import sys

import click

from plinth.cli.common import needs_tools


@click.group(name="dev")
def dev() -> None:
    """A local management cluster: etcd, kube-apiserver, kube-controller-manager, Crossplane,
    provider-kubernetes, plinth serve and an OCI registry as local processes (no container
    engine), with Plinth installed by Crossplane's package manager."""


@dev.command(name="up")
@click.option(
    "--platform",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Platform EnvironmentConfig to install (a checkout has examples/platform.yaml).",
)
@click.option(
    "--crds",
    type=click.Path(exists=True, file_okay=False),
    help="Folder of the upstream CRDs to install (default: $PLINTH_CRDS_DIR).",
)
@needs_tools
def up_cmd(platform: str, crds: str | None) -> None:
    """Start the cluster, install Plinth from its registry by applying its Configuration (the
    package manager installs the function and the providers), print KUBECONFIG.

    \b
    Example:
      PLINTH_CRDS_DIR=../shared/crds plinth dev up --platform examples/platform.yaml
    """
    import os
    from pathlib import Path

    from plinth.devcluster import cluster

    if crds:
        os.environ["PLINTH_CRDS_DIR"] = crds
    try:
        info = cluster.up(platform_file=Path(platform))
    except RuntimeError as e:
        click.echo(f"plinth dev up: {e}", err=True)
        sys.exit(1)
    click.echo(info.kubeconfig)


@dev.command(name="down")
def down_cmd() -> None:
    """Stop every process `up` started and remove its state."""
    from plinth.devcluster import cluster

    cluster.down()


@dev.command(name="status")
def status_cmd() -> None:
    """Print the running cluster's facts (kubeconfig, ports, start-up timings) as JSON."""
    from plinth.devcluster import cluster

    f = cluster.state_dir() / "cluster.json"
    if not f.exists():
        click.echo("no dev cluster", err=True)
        sys.exit(1)
    click.echo(json.dumps(json.loads(f.read_text()), indent=2))
