"""The `plinth` command line: one module per command.

Habits follow kubectl and crossplane: `-o yaml|json`, `-f -` for stdin, exit codes 0 (ok),
1 (something failed) and 2 (the input is wrong). Commands import what they use inside their
bodies, so `plinth serve` (the function image) loads the runtime and nothing of the tools.
"""

from __future__ import annotations

import click

from plinth import __version__
from plinth.cli.access import access_cmd
from plinth.cli.dev import dev
from plinth.cli.diff import diff_cmd
from plinth.cli.generate import generate_cmd, xrds_cmd
from plinth.cli.gitops import gitops_cmd
from plinth.cli.new import new_cmd
from plinth.cli.package import package_cmd
from plinth.cli.render import render_cmd
from plinth.cli.report import report_cmd
from plinth.cli.schemas import schemas_cmd
from plinth.cli.serve import serve_cmd
from plinth.cli.trace import trace_cmd
from plinth.cli.validate import validate_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="plinth")
def main() -> None:
    """Plinth: self-service AccountClaim, TenantClaim and AppClaim APIs for Crossplane.

    \b
    Examples:
      plinth render examples/tenant.yaml            # what a claim composes
      plinth validate --render examples/            # claims and their output, against real schemas
      plinth serve --insecure --address 127.0.0.1:9443
    """


for command in (
    render_cmd,
    validate_cmd,
    serve_cmd,
    generate_cmd,
    xrds_cmd,
    schemas_cmd,
    gitops_cmd,
    new_cmd,
    access_cmd,
    dev,
    package_cmd,
    diff_cmd,
    trace_cmd,
    report_cmd,
):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
