"""`plinth dev up|down|status`: a local management cluster of real components (see cluster.py)."""

from __future__ import annotations

import json
import sys

import click


@click.group(name="dev")
def dev() -> None:
    """A local management cluster: etcd, kube-apiserver, kube-controller-manager, Crossplane,
    provider-kubernetes, plinth serve and an OCI registry as local processes (no container
    engine), with Plinth installed by Crossplane's package manager."""


@dev.command(name="up")
@click.option(
    "--platform",
    type=click.Path(exists=True, dir_okay=False),
    help="Platform EnvironmentConfig to install (default: examples/platform.yaml).",
)
def up_cmd(platform: str | None) -> None:
    """Start the cluster, install Plinth from its registry by applying its Configuration (the
    package manager installs the function and the providers), print KUBECONFIG."""
    from pathlib import Path

    from plinth.devcluster import cluster

    try:
        info = cluster.up(platform_file=Path(platform) if platform else None)
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
