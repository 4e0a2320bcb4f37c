"""The `plinth` command line: render, validate, serve, generate.

Habits follow kubectl and crossplane: `-o yaml|json`, `-f -` for stdin, exit codes 0 (ok),
1 (something failed) and 2 (the input is wrong).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from crossplane.function import cli as sdkcli

from plinth import __version__
from plinth.api.catalog import find_claim_api
from plinth.crds import ENV_VAR as CRDS_ENV_VAR
from plinth.crds import CrdStore, SchemaStore
from plinth.render import Rendered, RenderError, grpc_call, render, step_input, to_composite
from plinth.validate import Issue, Validator
from plinth.yamlio import Document, InputError, dump, parse_stream, read_path, read_paths

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


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


def _read_claims(paths: tuple[str, ...], filename: str | None) -> list[Document]:
    sources = list(paths[:1]) or ([filename] if filename else [])
    if not sources:
        _fail("no claim given: plinth render CLAIM.yaml (or -f - to read stdin)")
    try:
        docs = read_paths(sources)
    except InputError as e:
        _fail(str(e))
    claims = [d for d in docs if find_claim_api(d.api_version, d.kind)]
    if not claims:
        kinds = (
            ", ".join(
                sorted(
                    {
                        f"{d.kind or '<no kind>'} ({d.api_version or '<no apiVersion>'})"
                        for d in docs
                    }
                )
            )
            or "nothing"
        )
        _fail(
            f"{sources[0]}: no Plinth claim found (found {kinds}); expected AccountClaim, TenantClaim or AppClaim"
        )
    return claims


def claim_repo_namespace(source: str) -> str | None:
    """The namespace of a claim file under `teams/<team>/` in a claim repository: the
    ApplicationSet (gitops/claims) syncs each team's folder into the namespace of that name."""
    parts = Path(source.split("#", 1)[0]).parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "teams" and i + 2 < len(parts):
            return parts[i + 1]
    return None


def _placed(doc: Document) -> Document:
    """`doc` with the namespace it is applied in, where the file leaves it out."""
    namespace = claim_repo_namespace(doc.source)
    meta = doc.body.get("metadata") or {}
    if namespace is None or meta.get("namespace") or not find_claim_api(doc.api_version, doc.kind):
        return doc
    return Document({**doc.body, "metadata": {**meta, "namespace": namespace}}, doc.source)


def _default_required(claim_source: str) -> list[Document]:
    """Without --required-resources: the claims beside this one (its tenant, its account, the
    legacy ProviderConfigs their accounts act through) and
    the platform EnvironmentConfig from the nearest `platform.yaml` here or in a parent directory
    (so examples/legacy/ and a claim repository's teams/<team>/ share one platform file)."""
    path = Path(claim_source.split("#", 1)[0])
    if claim_source.startswith("<stdin>") or not path.parent.is_dir():
        return []
    # Only the files beside the claim: not subfolders (observed fixtures, other teams' folders).
    found = [
        _placed(d)
        for d in read_path(str(path.parent), recursive=False)
        if d.kind in ("EnvironmentConfig", "TenantClaim", "AccountClaim", "ProviderConfig")
    ]
    if any(d.kind == "EnvironmentConfig" for d in found):
        return found
    for directory in path.resolve().parent.parents:
        platform = directory / "platform.yaml"
        if platform.is_file():
            return found + [d for d in read_path(str(platform)) if d.kind == "EnvironmentConfig"]
    return found


def render_claim(
    doc: Document,
    *,
    composition: dict[str, Any] | None,
    observed: list[Document],
    required: list[Document] | None,
    context: dict[str, Any],
    include_full_xr: bool,
    endpoint: str | None = None,
    tls_certs_dir: str | None = None,
    timeout: float = 30.0,
) -> Rendered:
    claim_issues = Validator(CrdStore(Path("."))).validate_body(doc.body, doc.source)
    if claim_issues:
        raise InvalidClaim(claim_issues)
    xr = to_composite(_placed(doc).body)
    extra = required if required is not None else _default_required(doc.source)
    call = grpc_call(endpoint, tls_certs_dir=tls_certs_dir, timeout=timeout) if endpoint else None
    return render(
        xr,
        call,
        observed=[d.body for d in observed],
        extra_resources=[d.body for d in extra],
        fn_input=step_input(composition),
        context=context,
        include_full_xr=include_full_xr,
    )


class InvalidClaim(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("\n".join(str(i) for i in issues))
        self.issues = issues


def _context(files: tuple[str, ...], values: tuple[str, ...]) -> dict[str, Any]:
    ctx: dict[str, Any] = {}
    for item in files:
        key, _, path = item.partition("=")
        if not path:
            _fail(f"--context-files takes KEY=FILE, got {item!r}")
        try:
            ctx[key] = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            _fail(f"--context-files {item}: {e}")
    for item in values:
        key, _, raw = item.partition("=")
        try:
            ctx[key] = json.loads(raw)
        except json.JSONDecodeError as e:
            _fail(f"--context-values {item}: {e}")
    return ctx


@main.command(name="render")
@click.argument("args", nargs=-1, metavar="[CLAIM [COMPOSITION [FUNCTIONS]]]")
@click.option("-f", "--filename", help="Claim file, or - for stdin (instead of CLAIM).")
@click.option(
    "--observed-resources",
    "observed_path",
    help="File or directory of observed composed resources.",
)
@click.option(
    "--required-resources",
    "required_paths",
    multiple=True,
    help="File or directory of resources the function may require (the platform "
    "EnvironmentConfig, the tenant). Default: those in the claim's directory.",
)
@click.option("--extra-resources", "required_paths_alias", multiple=True, hidden=True)
@click.option("--context-files", multiple=True, help="KEY=FILE: JSON context for the pipeline.")
@click.option("--context-values", multiple=True, help="KEY=JSON: context values for the pipeline.")
@click.option(
    "-x", "--include-full-xr", is_flag=True, help="Print the whole composite, not only its status."
)
@click.option(
    "-r",
    "--include-function-results",
    is_flag=True,
    help="Print the function's results as documents.",
)
@click.option(
    "-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True
)
@click.option(
    "--endpoint", help="Render through a running `plinth serve` at HOST:PORT instead of in-process."
)
@click.option(
    "--tls-certs-dir", help="Client certificates (tls.crt, tls.key, ca.crt) for --endpoint."
)
@click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for --endpoint."
)
@click.option(
    "--engine",
    type=click.Choice(["plinth", "crossplane"]),
    default="plinth",
    show_default=True,
    help="crossplane: print what the real `crossplane composition render` renders (the pinned "
    "CLI that hack/build-tools.sh builds), calling function-plinth on a free local port, or "
    "--endpoint.",
)
@click.option(
    "--build",
    is_flag=True,
    help="With --engine crossplane: build missing Crossplane binaries first (minutes).",
)
def render_cmd(
    args: tuple[str, ...],
    filename: str | None,
    observed_path: str | None,
    required_paths: tuple[str, ...],
    required_paths_alias: tuple[str, ...],
    context_files: tuple[str, ...],
    context_values: tuple[str, ...],
    include_full_xr: bool,
    include_function_results: bool,
    output: str,
    endpoint: str | None,
    tls_certs_dir: str | None,
    timeout: float,
    engine: str,
    build: bool,
) -> None:
    """Render what a claim composes, without a cluster.

    Takes `crossplane render`'s positional shape too: CLAIM, COMPOSITION and FUNCTIONS, the
    last two defaulting to Plinth's own.

    \b
    Examples:
      plinth render examples/tenant.yaml
      plinth render examples/account-prod.yaml --observed-resources examples/account-prod/observed-account-created/
      cat claim.yaml | plinth render -f - -o json
      plinth render examples/app.yaml --endpoint 127.0.0.1:9443
      plinth render examples/tenant.yaml --engine crossplane
    """
    if len(args) > 3:
        _fail("render takes at most CLAIM COMPOSITION FUNCTIONS")
    claims = _read_claims(args, filename)
    try:
        composition = None
        if len(args) >= 2:
            comps = [d for d in read_path(args[1]) if d.kind == "Composition"]
            if not comps:
                _fail(f"{args[1]}: no Composition found")
            composition = comps[0].body
        observed = read_path(observed_path) if observed_path else []
        paths = required_paths + required_paths_alias
        required = read_paths(paths) if paths else None
    except InputError as e:
        _fail(str(e))
    if engine == "crossplane":
        if tls_certs_dir:
            _fail("--engine crossplane calls the function without TLS: drop --tls-certs-dir")
        from plinth.engine import EngineError, render_claims

        def with_required(doc: Document) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            found = required if required is not None else _default_required(doc.source)
            return _placed(doc).body, [r.body for r in found]

        try:
            text = render_claims(
                [with_required(d) for d in claims],
                composition=Path(args[1]) if len(args) >= 2 else None,
                functions=Path(args[2]) if len(args) >= 3 else None,
                observed=Path(observed_path) if observed_path else None,
                context_files=context_files,
                context_values=context_values,
                include_full_xr=include_full_xr,
                include_function_results=include_function_results,
                endpoint=endpoint,
                timeout=timeout,
                build=build,
            )
        except EngineError as e:
            _fail(str(e), e.exit_code if e.exit_code == EXIT_BAD_INPUT else EXIT_FAILED)
        if output == "json":
            text = dump([d.body for d in parse_stream(text, "crossplane")], output)
        click.echo(text, nl=False)
        return
    ctx = _context(context_files, context_values)
    docs: list[dict[str, Any]] = []
    fatal: list[str] = []
    for doc in claims:
        try:
            result = render_claim(
                doc,
                composition=composition,
                observed=observed,
                required=required,
                context=ctx,
                include_full_xr=include_full_xr,
                endpoint=endpoint,
                tls_certs_dir=tls_certs_dir,
                timeout=timeout,
            )
        except InvalidClaim as e:
            _fail(f"the claim is invalid:\n{e}")
        except RenderError as e:
            _fail(str(e), EXIT_FAILED if endpoint else EXIT_BAD_INPUT)
        fatal += [f"{doc.source}: {m}" for m in result.fatal]
        docs += result.documents(include_results=include_function_results)
    if fatal:
        _fail("the function refused the claim:\n" + "\n".join(fatal))
    click.echo(dump(docs, output), nl=False)


def _schema_store(crds: str | None) -> SchemaStore:
    """--crds DIR, else $PLINTH_CRDS_DIR, else the schemas bundled with the package."""
    from plinth.tools.schemas import SchemaBundle, open_store

    where = crds or os.environ.get(CRDS_ENV_VAR)
    if not where:
        return SchemaBundle()
    if not Path(where).is_dir():
        flag = "--crds" if crds else f"${CRDS_ENV_VAR}"
        _fail(f"{flag} {where}: not a directory")
    return open_store(Path(where))


@main.command(name="validate")
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
        _fail("nothing to validate: give files, directories, or -f -")
    try:
        docs = read_paths(sources)
    except InputError as e:
        _fail(str(e))
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


@main.command(name="serve")
@sdkcli.standard_options
@click.option(
    "--cache-size",
    type=int,
    default=256,
    show_default=True,
    envvar="PLINTH_CACHE_SIZE",
    help="Responses kept for identical requests (0 disables).",
)
def serve_cmd(cache_size: int, **kwargs: Any) -> None:
    """Serve function-plinth over gRPC, as Crossplane runs it.

    \b
    Examples:
      plinth serve --insecure --address 127.0.0.1:9443      # local development
      plinth serve --tls-certs-dir /tls/server               # in a cluster (mTLS)
    """
    from plinth.server import serve

    if not kwargs.get("insecure") and not kwargs.get("tls_certs_dir"):
        _fail("give --tls-certs-dir for mTLS, or --insecure for local development")
    serve(cache_size=cache_size, **kwargs)


@main.command(name="generate")
@click.option(
    "--root",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Repository root to write into.",
)
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 if a generated file is out of date."
)
def generate_cmd(root: str, check: bool) -> None:
    """Write the XRDs, Compositions and package metadata generated from the models."""
    from plinth.manifests import generated_files, sync_files
    from plinth.yamlio import dump_yaml

    # The header must not stand alone before a `---`: Go's YAML stream readers (the Crossplane
    # CLI's Function loader among them) take a comment-only chunk for an empty object and fail
    # with "not a function".
    texts = {
        rel: GENERATED_HEADER + dump_yaml(docs).removeprefix("---\n")
        for rel, docs in generated_files().items()
    }
    stale = sync_files(Path(root), texts, check=check)
    if check and stale:
        _fail(
            "generated files are out of date (run `plinth generate`): " + ", ".join(stale),
            EXIT_FAILED,
        )
    click.echo(f"{'stale' if check else 'wrote'}: {len(stale)} file(s)", err=True)


@main.command(name="xrds")
@click.option("--root", type=click.Path(file_okay=False), default=".", show_default=True)
@click.pass_context
def xrds_cmd(ctx: click.Context, root: str) -> None:
    """Write xrds/ (and the rest of the generated files) from the models."""
    ctx.invoke(generate_cmd, root=root, check=False)


GENERATED_HEADER = "# Generated by `plinth generate` from the pydantic models. Do not edit.\n"


@main.group(name="schemas")
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
        _fail(str(e))
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


from plinth.access import access_cmd  # noqa: E402
from plinth.devcluster import dev  # noqa: E402
from plinth.gitops import gitops_cmd  # noqa: E402
from plinth.scaffold import new_cmd  # noqa: E402
from plinth.tools.package_cmd import package_cmd  # noqa: E402

main.add_command(gitops_cmd)
main.add_command(new_cmd)
main.add_command(access_cmd)
main.add_command(dev)
main.add_command(package_cmd)


if __name__ == "__main__":  # pragma: no cover
    main()
