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
@click.option(
    "--with-argocd",
    is_flag=True,
    help="Also run Argo CD (repo-server, controllers, redis) and a git server, with"
    " gitops/claims/ installed against a local claim repository (see `plinth dev claims`).",
)
@click.option("--legacy", is_flag=True, help="Also install the legacy (claims.plinth.dev) flavor.")
@needs_tools
def up_cmd(platform: str, crds: str | None, with_argocd: bool, legacy: bool) -> None:
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
        info = cluster.up(platform_file=Path(platform), with_argocd=with_argocd, legacy=legacy)
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
    facts = json.loads(f.read_text())
    argo = cluster.state_dir() / "argocd.json"
    if argo.exists():
        facts["argocd"] = json.loads(argo.read_text())
    click.echo(json.dumps(facts, indent=2))


@dev.command(name="claims")
@click.argument("folder", type=click.Path(exists=True, file_okay=False))
@click.option("-m", "--message", default="plinth dev claims", show_default=True)
def claims_cmd(folder: str, message: str) -> None:
    """Commit FOLDER (a claim repository: teams/<team>/*.yaml) as the whole local claim
    repository; Argo CD syncs each team folder into its namespace. Needs `up --with-argocd`."""
    from pathlib import Path

    from plinth.devcluster import argocd, cluster, gitserver

    if argocd.load_state(cluster.state_dir()) is None:
        click.echo("no dev cluster with Argo CD (plinth dev up --with-argocd)", err=True)
        sys.exit(1)
    sha = argocd.publish_claims(cluster.state_dir(), gitserver.tree_of(Path(folder)), message)
    click.echo(sha)
