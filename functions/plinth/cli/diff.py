"""`plinth diff`: what a change to a claim repository will do, offline."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from plinth.cli.common import needs_tools

if TYPE_CHECKING:
    from plinth.tools.diff import Key, Owner
    from plinth.tools.yamlio import Document

# 0, 1 and 2 say what the diff holds (see tools.diff.Diff.exit_code); trouble is 3, so a CI job
# can tell "needs a careful review" from "the diff could not be computed".
EXIT_ERROR = 3


class _DiffCommand(click.Command):
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            e.show()
            sys.exit(EXIT_ERROR)


def _error(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def render_tree(
    root: Path, platform: list[Document]
) -> tuple[dict[Key, dict[str, Any]], list[str], set[Owner]]:
    """Every claim under `root` rendered settled: its resources by key, the claims that could not
    be rendered (messages, and their owners, whose resources are then not compared)."""
    from plinth.api.catalog import find_claim_api
    from plinth.cli.claims import default_required, placed
    from plinth.tools.diff import Owner, key_of, render_settled
    from plinth.tools.render import RenderError, to_composite
    from plinth.tools.schemas import SchemaBundle
    from plinth.tools.validate import Validator
    from plinth.tools.yamlio import InputError, read_path

    try:
        docs = read_path(str(root))
    except InputError as e:
        raise _TreeError(str(e)) from None
    validator = Validator(SchemaBundle())
    resources: dict[Key, dict[str, Any]] = {}
    errors: list[str] = []
    failed: set[Owner] = set()
    for doc in docs:
        if not find_claim_api(doc.api_version, doc.kind):
            continue
        doc = placed(doc)  # noqa: PLW2901
        where = _relative(doc.source, root)
        owner = Owner(doc.kind, doc.namespace or "default", doc.name)
        if any(k.owner == owner for k in resources) or owner in failed:
            errors.append(f"{where}: {owner} is defined twice")
            failed.add(owner)
            continue
        issues = validator.validate_body(doc.body, where)
        if issues:
            errors.append(f"{where}: {owner} is invalid: {issues[0].message}")
            failed.add(owner)
            continue
        required = default_required(doc.source)
        if not any(d.kind == "EnvironmentConfig" for d in required):
            required += platform
        try:
            rendered = render_settled(to_composite(doc.body), [d.body for d in required])
        except RenderError as e:
            errors.append(f"{where}: {owner}: {e}")
            failed.add(owner)
            continue
        if rendered.fatal:
            errors.append(f"{where}: {owner}: the function refused it: {rendered.fatal[0]}")
            failed.add(owner)
            continue
        for body in rendered.resources:
            resources[key_of(owner, body)] = body
    return resources, errors, failed


class _TreeError(Exception):
    pass


def _relative(source: str, root: Path) -> str:
    path = Path(source.split("#", 1)[0])
    try:
        rel = str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return source
    return rel + (source[len(source.split("#", 1)[0]) :])


@click.command(name="diff", cls=_DiffCommand)
@click.argument("old")
@click.argument("new", required=False)
@click.option(
    "--repo",
    default=".",
    show_default=True,
    help="The claim repository (a folder in a git repository) whose versions OLD and NEW name "
    "when they are git refs.",
)
@click.option(
    "--platform",
    "platform_file",
    help="The platform EnvironmentConfig, for claims with no platform.yaml beside them or in a "
    "parent folder. Default: the nearest platform.yaml of --repo.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option("--fields/--no-fields", default=True, help="Print each changed field.")
@needs_tools
def diff_cmd(
    old: str,
    new: str | None,
    repo: str,
    platform_file: str | None,
    output: str,
    fields: bool,
) -> None:
    """Print what changing a claim repository from OLD to NEW does, per composed resource.

    OLD and NEW are folders, or git refs of the repository at --repo (NEW defaults to --repo
    as it is on disk). Every claim is rendered as `plinth render` renders it, through all its
    phases as if what it composed became ready, so databases and caches are in the preview;
    resources are paired by claim and composition-resource-name.

    Removing or replacing a stateful resource (account, database, bucket, queue, cache,
    namespace, repository) is marked destructive; adding or changing RBAC, IAM, AppProject,
    EKS access, resource policies or network rules is marked as widening access.

    \b
    Exit codes:
      0  nothing changes
      1  changes, none destructive or widening access
      2  something destructive or widening access
      3  a version could not be read or a claim not rendered (the rest is still printed)

    \b
    Examples:
      plinth diff origin/main                       # the working tree against main
      plinth diff origin/main HEAD -o markdown      # a pull request's comment
      plinth diff old-claims/ teams/                # two folders
      plinth diff v1.4.0 --repo examples/claim-repo -o json
    """
    from plinth.tools.diff import (
        DiffError,
        checkout,
        compare,
        format_json,
        format_markdown,
        format_text,
    )
    from plinth.tools.yamlio import InputError, read_path

    repo_dir = Path(repo)
    if not repo_dir.is_dir():
        _error(f"--repo {repo}: not a directory")
    platform: list[Document] = []
    platform_path = Path(platform_file) if platform_file else _nearest_platform(repo_dir)
    if platform_path is not None:
        try:
            platform = [d for d in read_path(str(platform_path)) if d.kind == "EnvironmentConfig"]
        except InputError as e:
            _error(str(e))
    with tempfile.TemporaryDirectory(prefix="plinth-diff-") as tmp:
        try:
            roots = [
                _version(version, repo_dir, Path(tmp) / label, checkout)
                for label, version in (("old", old), ("new", new))
            ]
            before, errors_before, failed_before = render_tree(roots[0], platform)
            after, errors_after, failed_after = render_tree(roots[1], platform)
        except (DiffError, _TreeError) as e:
            _error(str(e))
    result = compare(before, after, skip_owners=failed_before | failed_after)
    result.errors = [f"{old}: {e}" for e in errors_before] + [
        f"{new or repo}: {e}" for e in errors_after
    ]
    if output == "json":
        click.echo(format_json(result), nl=False)
    elif output == "markdown":
        click.echo(format_markdown(result, fields=fields), nl=False)
    else:
        click.echo(format_text(result, fields=fields), nl=False)
    sys.exit(result.exit_code())


def _version(version: str | None, repo: Path, dest: Path, checkout: Any) -> Path:
    if version is None:
        return repo
    path = Path(version)
    if path.is_dir():
        return path
    found: Path = checkout(repo, version, dest)
    return found


def _nearest_platform(folder: Path) -> Path | None:
    for directory in (folder.resolve(), *folder.resolve().parents):
        candidate = directory / "platform.yaml"
        if candidate.is_file():
            return candidate
    return None
