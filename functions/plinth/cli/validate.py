"""`plinth validate`: claims and what they compose, against the real schemas."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from plinth.cli.common import EXIT_FAILED, fail, needs_tools

if TYPE_CHECKING:
    from plinth.tools.crds import SchemaStore


def _schema_store(crds: str | None) -> SchemaStore:
    """--crds DIR, else $PLINTH_CRDS_DIR, else the schemas bundled with the package."""
    from plinth.tools.crds import ENV_VAR as CRDS_ENV_VAR
    from plinth.tools.schemas import SchemaBundle, open_store

    where = crds or os.environ.get(CRDS_ENV_VAR)
    if not where:
        return SchemaBundle()
    if not Path(where).is_dir():
        flag = "--crds" if crds else f"${CRDS_ENV_VAR}"
        fail(f"{flag} {where}: not a directory")
    return open_store(Path(where))


@click.command(name="validate")
@click.argument("paths", nargs=-1)
@click.option(
    "-f", "--filename", "filenames", multiple=True, help="File, directory, or - for stdin."
)
@click.option(
    "--render",
    "render_claims",
    is_flag=True,
    help="Also render every claim found and validate what it composes.",
)
@click.option(
    "--crds",
    help="Directory of upstream CRD YAML (or a schema bundle) to use instead of the schemas "
    "bundled with Plinth; default: $PLINTH_CRDS_DIR, else the bundle.",
)
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@needs_tools
def validate_cmd(
    paths: tuple[str, ...],
    filenames: tuple[str, ...],
    render_claims: bool,
    crds: str | None,
    output: str,
) -> None:
    """Validate claims and rendered resources against the real schemas.

    Claims are checked against the XRD schema (CEL rules included); every other document
    against its upstream CRD, and Kubernetes kinds (also inside provider-kubernetes Objects)
    against Kubernetes' own schemas. A kind with no schema is an error.

    \b
    Examples:
      plinth validate examples/
      plinth validate --render examples/tenant.yaml
      plinth render examples/app.yaml | plinth validate -f -
    """
    sources = list(paths) + list(filenames)
    if not sources:
        fail("nothing to validate: give files, directories, or -f -")
    from plinth.api.catalog import find_claim_api
    from plinth.cli.claims import InvalidClaim, render_claim
    from plinth.tools.render import RenderError
    from plinth.tools.validate import Issue, Validator
    from plinth.tools.yamlio import InputError, read_paths

    try:
        docs = read_paths(sources)
    except InputError as e:
        fail(str(e))
    validator = Validator(_schema_store(crds))
    issues = validator.validate(docs)
    rendered = 0
    if render_claims:
        for doc in docs:
            if not find_claim_api(doc.api_version, doc.kind) or any(
                i.source == doc.source for i in issues
            ):
                continue
            try:
                result = render_claim(
                    doc,
                    composition=None,
                    observed=[],
                    required=None,
                    context={},
                    include_full_xr=False,
                )
            except (InvalidClaim, RenderError) as e:
                issues.append(Issue(doc.source, f"{doc.kind}/{doc.name}", "", str(e)))
                continue
            for m in result.fatal:
                issues.append(Issue(doc.source, f"{doc.kind}/{doc.name}", "", f"function: {m}"))
            for i, body in enumerate(result.resources):
                rendered += 1
                issues += validator.validate_body(body, f"{doc.source} (rendered #{i + 1})")
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "documents": validator.documents,
                    "rendered": rendered,
                    "issues": [i.__dict__ for i in issues],
                },
                indent=2,
            )
        )
    else:
        for issue in issues:
            click.echo(str(issue), err=True)
        click.echo(
            f"{validator.documents} document(s), {rendered} rendered resource(s): "
            f"{len(issues)} issue(s)",
            err=True,
        )
    sys.exit(EXIT_FAILED if issues else 0)
