"""`plinth schemas`: the upstream schemas bundled with Plinth."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from plinth.cli.common import EXIT_FAILED, fail, needs_tools


@click.group(name="schemas")
def schemas_cmd() -> None:
    """The upstream schemas bundled with Plinth, which `plinth validate` uses.

    \b
    Examples:
      plinth schemas list
      plinth schemas update --from ../shared/crds
      plinth schemas update --from provider-upjet-aws/package/crds \\
        --project crossplane-contrib/provider-upjet-aws --version v2.7.0
    """


_BUNDLE_OPTION = click.option(
    "--bundle",
    type=click.Path(file_okay=False),
    help="Bundle directory (default: the one inside the installed package).",
)


@schemas_cmd.command(name="update")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False),
    help="Folder of upstream CRDs (YAML, or the .gz `crossplane xpkg extract` writes).",
)
@click.option("--project", help="Upstream project of every CRD read (default: DIR/README.md).")
@click.option("--version", "release", help="Its release (default: DIR/README.md).")
@_BUNDLE_OPTION
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if the bundle would change.")
@needs_tools
def schemas_update_cmd(
    source: str, project: str | None, release: str | None, bundle: str | None, check: bool
) -> None:
    """Refresh the bundle's kinds (kinds.txt) from a folder of upstream CRDs.

    Kinds found in the folder are rewritten, the others are kept as they are, so one
    provider's kinds can be refreshed alone; files of kinds no longer listed are removed.
    Provenance comes from the folder's README.md table (`| folder | upstream | version |`,
    as in ../shared/crds) or from --project and --version.
    """
    from plinth.tools.schemas import DATA_DIR, SchemaError, update

    try:
        report = update(
            Path(source),
            Path(bundle) if bundle else DATA_DIR,
            project=project,
            version=release,
            check=check,
        )
    except SchemaError as e:
        fail(str(e))
    verb = "would write" if check else "wrote"
    for group, kind in report.written:
        click.echo(f"{verb} {group}/{kind}", err=True)
    for name in report.removed:
        click.echo(f"{'would remove' if check else 'removed'} {name}", err=True)
    for group, kind in report.missing:
        click.echo(f"missing: {group}/{kind} is listed but defined in neither", err=True)
    click.echo(
        f"{len(report.written)} {verb}, {len(report.unchanged)} unchanged, "
        f"{len(report.kept)} kept (not in {source}), {len(report.removed)} removed, "
        f"{len(report.missing)} missing",
        err=True,
    )
    if report.missing or (check and report.changed):
        sys.exit(EXIT_FAILED)


@schemas_cmd.command(name="list")
@_BUNDLE_OPTION
@click.option(
    "-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@needs_tools
def schemas_list_cmd(bundle: str | None, output: str) -> None:
    """Show every bundled kind: served versions, scope and provenance."""
    from plinth.tools.schemas import DATA_DIR, SchemaBundle, bundle_size

    root = Path(bundle) if bundle else DATA_DIR
    rows = [
        {
            "kind": f"{e['group']}/{e['kind']}",
            "versions": [v["name"] for v in e["versions"]],
            "scope": e["scope"],
            "file": path.name,
            **e["provenance"],
        }
        for path, e in SchemaBundle(root).entries()
    ]
    files, compressed, raw = bundle_size(root)
    if output == "json":
        click.echo(
            json.dumps(
                {
                    "bundle": str(root),
                    "files": files,
                    "bytes": compressed,
                    "uncompressedBytes": raw,
                    "kinds": rows,
                },
                indent=2,
            )
        )
        return
    width = max((len(r["kind"]) for r in rows), default=4)
    for r in rows:
        click.echo(
            f"{r['kind']:<{width}}  {','.join(r['versions']):<16} {r['project']}@{r['version']}"
            f"  {r['source']}  sha256:{r['sha256'][:12]}"
        )
    click.echo(
        f"{files} kind(s) in {root}: {compressed} bytes compressed, {raw} uncompressed", err=True
    )
