"""`plinth render`: what a claim composes, without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from plinth.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, fail, needs_tools


@click.command(name="render")
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
@click.option(
    "--request",
    "request_path",
    metavar="FILE|DIR",
    help="Run a recorded RunFunctionRequest (.binpb[.gz]) and print the response; or replay a "
    "corpus that `plinth serve --record` wrote, reporting responses that differ.",
)
@needs_tools
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
    request_path: str | None,
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
      plinth render --request tests/data/requests/               # replay a recorded corpus
    """
    if request_path:
        if args or filename:
            fail("--request runs a recorded request: give no claim")
        _replay(Path(request_path), output, endpoint, tls_certs_dir, timeout)
        return
    if len(args) > 3:
        fail("render takes at most CLAIM COMPOSITION FUNCTIONS")
    from plinth.cli.claims import (
        InvalidClaim,
        context_of,
        default_required,
        placed,
        read_claims,
        render_claim,
    )
    from plinth.tools.render import RenderError
    from plinth.tools.yamlio import Document, InputError, dump, parse_stream, read_path, read_paths

    claims = read_claims(args, filename)
    try:
        composition = None
        if len(args) >= 2:
            comps = [d for d in read_path(args[1]) if d.kind == "Composition"]
            if not comps:
                fail(f"{args[1]}: no Composition found")
            composition = comps[0].body
        observed = read_path(observed_path) if observed_path else []
        paths = required_paths + required_paths_alias
        required = read_paths(paths) if paths else None
    except InputError as e:
        fail(str(e))
    if engine == "crossplane":
        if tls_certs_dir:
            fail("--engine crossplane calls the function without TLS: drop --tls-certs-dir")
        from plinth.tools.engine import EngineError, render_claims

        def with_required(doc: Document) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            found = required if required is not None else default_required(doc.source)
            return placed(doc).body, [r.body for r in found]

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
            fail(str(e), e.exit_code if e.exit_code == EXIT_BAD_INPUT else EXIT_FAILED)
        if output == "json":
            text = dump([d.body for d in parse_stream(text, "crossplane")], output)
        click.echo(text, nl=False)
        return
    ctx = context_of(context_files, context_values)
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
            fail(f"the claim is invalid:\n{e}")
        except RenderError as e:
            fail(str(e), EXIT_FAILED if endpoint else EXIT_BAD_INPUT)
        fatal += [f"{doc.source}: {m}" for m in result.fatal]
        docs += result.documents(include_results=include_function_results)
    if fatal:
        fail("the function refused the claim:\n" + "\n".join(fatal))
    click.echo(dump(docs, output), nl=False)


def _replay(
    path: Path, output: str, endpoint: str | None, tls_certs_dir: str | None, timeout: float
) -> None:
    from crossplane.function.proto.v1 import run_function_pb2 as fnv1
    from google.protobuf import json_format

    from plinth.runtime.function import FunctionRunner
    from plinth.runtime.record import read_corpus, read_message
    from plinth.tools.render import RenderError, grpc_call
    from plinth.tools.yamlio import dump

    call = (
        grpc_call(endpoint, tls_certs_dir=tls_certs_dir, timeout=timeout)
        if endpoint
        else FunctionRunner(cache_bytes=0).run
    )
    try:
        if path.is_file():
            req = fnv1.RunFunctionRequest.FromString(read_message(path))
            rsp = call(req)
            click.echo(dump([json_format.MessageToDict(rsp)], output), nl=False)
            return
        if not (path / "calls.jsonl").is_file():
            fail(f"{path}: neither a request file nor a corpus (no calls.jsonl)")
        calls = differ = 0
        for recorded in read_corpus(path):
            calls += 1
            rsp = call(recorded.request)
            if recorded.response is not None and rsp != recorded.response:
                differ += 1
                line = recorded.line
                click.echo(
                    f"{line.get('kind')} {line.get('namespace')}/{line.get('name')} "
                    f"(request {str(line.get('request'))[:12]}): the response differs",
                    err=True,
                )
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
    except RenderError as e:
        fail(str(e), EXIT_FAILED)
    click.echo(f"{calls} request(s) replayed: {differ} response(s) differ", err=True)
    if differ:
        raise SystemExit(EXIT_FAILED)
