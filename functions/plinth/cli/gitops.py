"""`plinth gitops generate`: the Argo CD artifacts (also written by `plinth generate`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from plinth.cli.common import needs_tools


@click.group(name="gitops")
def gitops_cmd() -> None:
    """Argo CD artifacts (the YAML ones are also written by `plinth generate`)."""


@gitops_cmd.command(name="generate")
@click.option("--root", type=click.Path(file_okay=False), default=".", show_default=True)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file is out of date.")
@needs_tools
def generate(root: str, check: bool) -> None:
    """Write the Lua health checks gitops/health/<group>_<Kind>.lua."""
    from plinth.cli.generate import sync

    stale = sync(Path(root), check=check, only="gitops/health/")
    if check and stale:
        click.echo(
            "error: out of date (run `plinth gitops generate`): " + ", ".join(stale), err=True
        )
        sys.exit(1)
    click.echo(f"{'stale' if check else 'wrote'}: {len(stale)} file(s)", err=True)
