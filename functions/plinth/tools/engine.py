"""Render through the real engine: the pinned `crossplane composition render`.

`plinth render` emulates Crossplane in-process; this module asks Crossplane itself. It serves
function-plinth insecurely on a loopback port (in this process, or a running `plinth serve`),
points every Function at it with the CLI's Development runtime annotations, and runs the CLI
binary and the Crossplane core binary (its render engine) that `hack/build-tools.sh` builds.
Nothing is built implicitly: a missing binary is an error naming the command that builds it.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plinth.tools.yamlio import dump_yaml

Body = dict[str, Any]

# The CLI and core versions are pinned in hack/build-tools.sh only; its `--list` names the
# cached binaries. These variables point at binaries elsewhere (e.g. a plain pip install).
CLI_ENV = "PLINTH_CROSSPLANE_BIN"
CORE_ENV = "PLINTH_CROSSPLANE_CORE_BIN"
TARGETS = ("crossplane", "crossplane-core")
RUNTIME = "render.crossplane.io/runtime"
RUNTIME_TARGET = "render.crossplane.io/runtime-development-target"
FATAL_EXIT = 3  # `crossplane internal render`: a function returned a Fatal result
FATAL_MESSAGE = "returned a fatal result"


class EngineError(Exception):
    """The real engine cannot run, or refused the input; the message is for the user."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Tools:
    cli: Path
    core: Path


def build_script() -> Path:
    """The script that builds the pinned Go tools from the Go module proxy. It ships in the
    package (hack/build-tools.sh of a checkout runs this same file)."""
    return Path(str(importlib.resources.files("plinth.tools") / "build-tools.sh"))


def build_command() -> str:
    return f"bash {build_script()} {' '.join(TARGETS)}"


def _listed_paths(script: Path) -> dict[str, Path]:
    out = subprocess.run(
        ["bash", str(script), "--list"], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise EngineError(f"{script} --list failed: {out.stderr.strip()}")
    paths = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3:
            paths[parts[0]] = Path(parts[2])
    return paths


def find_tools(*, build: bool = False, progress: bool = False) -> Tools:
    """The Crossplane CLI and core binaries; with `build`, build missing ones first (showing
    the build's progress on stderr with `progress`, else keeping its output for the error)."""
    env = {t: os.environ.get(v) for t, v in zip(TARGETS, (CLI_ENV, CORE_ENV), strict=True)}
    script = build_script()
    paths = {t: Path(p) for t, p in env.items() if p}
    if len(paths) < len(TARGETS):
        listed = _listed_paths(script)
        paths = {t: paths.get(t) or listed[t] for t in TARGETS}
    missing = [t for t in TARGETS if not os.access(paths[t], os.X_OK)]
    given = [t for t in missing if env[t]]
    if given:
        names = ", ".join(
            f"{v}={env[t]}" for t, v in zip(TARGETS, (CLI_ENV, CORE_ENV), strict=True) if t in given
        )
        raise EngineError(f"not an executable file: {names}")
    if missing and build:
        built = subprocess.run(
            ["bash", str(script), *missing],
            stdout=subprocess.DEVNULL,
            stderr=None if progress else subprocess.PIPE,
            text=True,
            check=False,
        )
        if built.returncode != 0:
            tail = "\n".join((built.stderr or "(see above)").strip().splitlines()[-25:])
            raise EngineError(f"building {' '.join(missing)} failed:\n{tail}")
        missing = [t for t in TARGETS if not os.access(paths[t], os.X_OK)]
    if missing:
        names = ", ".join(f"{t} ({paths[t]})" for t in missing)
        raise EngineError(
            f"the Crossplane binaries are not built: {names}. Build them with:\n"
            f"  {build_command()}\n"
            "(about 5 minutes the first time; or pass --build to build them now)"
        )
    return Tools(cli=paths["crossplane"], core=paths["crossplane-core"])


@contextlib.contextmanager
def serve_function() -> Iterator[str]:
    """Serve function-plinth insecurely on a free loopback port of this process; yield the
    target. The OS picks the port at bind time, so there is no window for another server to
    take it, and SO_REUSEPORT is off so no other server can share it."""
    import grpc
    from crossplane.function.proto.v1 import run_function_pb2_grpc as grpcv1

    from plinth.runtime.function import FunctionRunner

    class Servicer(grpcv1.FunctionRunnerServiceServicer):
        # A synchronous servicer: the CLI calls once per pipeline iteration, so a thread
        # pool serves it without an asyncio loop beside the caller's.
        def __init__(self) -> None:
            self.runner = FunctionRunner()

        def RunFunction(self, req: Any, context: Any) -> Any:  # noqa: N802 - gRPC's name
            return self.runner.run(req)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)]
    )
    grpcv1.add_FunctionRunnerServiceServicer_to_server(Servicer(), server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def _check_reachable(endpoint: str) -> None:
    """The CLI reports an unreachable function only as its render process being killed at the
    timeout; say what is wrong before starting it."""
    import socket

    host, _, port = endpoint.removeprefix("dns:///").rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=3):
            pass
    except (OSError, ValueError) as e:
        raise EngineError(
            f"cannot reach the function at {endpoint} ({e}): start it with "
            f"`plinth serve --insecure --address {endpoint}`, or leave out --endpoint"
        ) from None


def _identity(body: Body) -> tuple[str, str, str, str]:
    meta = body.get("metadata") or {}
    return (
        body.get("apiVersion", ""),
        body.get("kind", ""),
        meta.get("namespace", ""),
        meta.get("name", ""),
    )


def _write(path: Path, docs: Sequence[Body]) -> str:
    path.write_text(dump_yaml(docs))
    return str(path)


def render_args(
    tools: Tools,
    *,
    xr: str,
    composition: str,
    functions: str,
    target: str,
    xrd: str | None = None,
    required: Sequence[str] = (),
    observed: str | None = None,
    context_files: Sequence[str] = (),
    context_values: Sequence[str] = (),
    include_full_xr: bool = False,
    include_function_results: bool = False,
    timeout: float = 30.0,
) -> list[str]:
    """The `crossplane composition render` command line for files already on disk."""
    args = [
        str(tools.cli),
        "composition",
        "render",
        xr,
        composition,
        functions,
        f"--crossplane-binary={tools.core}",
        # Every Function, whatever its own annotations say, is the server at `target`.
        f"--function-annotations={RUNTIME}=Development",
        f"--function-annotations={RUNTIME_TARGET}={target}",
        # Without a timeout an unreachable function hangs the CLI and fails with no message.
        f"--timeout={timeout:g}s",
    ]
    if xrd:
        args.append(f"--xrd={xrd}")
    args += [f"--required-resources={p}" for p in required]
    if observed:
        args.append(f"--observed-resources={observed}")
    args += [f"--context-files={c}" for c in context_files]
    args += [f"--context-values={c}" for c in context_values]
    if include_full_xr:
        args.append("--include-full-xr")
    if include_function_results:
        args.append("--include-function-results")
    return args


def crossplane_render(
    tools: Tools,
    xr: Body,
    *,
    composition: Path | Body,
    functions: Path | Sequence[Body],
    target: str,
    xrd: Path | Body | None = None,
    required: Sequence[Body] | Path = (),
    observed: Sequence[Body] | Path = (),
    context_files: Sequence[str] = (),
    context_values: Sequence[str] = (),
    include_full_xr: bool = False,
    include_function_results: bool = False,
    timeout: float = 30.0,
) -> str:
    """Run `crossplane composition render` for the composite `xr`; return its stdout.

    Files are passed as they are; documents are written to a temporary directory first. The
    composite itself is dropped from `required` (`plinth render` hands over the claims beside
    a claim, itself included): the CLI loads required resources into the same in-memory store
    as the composite, where that copy would replace it, uid and resource references lost.
    """
    if not isinstance(required, Path):
        required = [r for r in required if _identity(r) != _identity(xr)]
    with tempfile.TemporaryDirectory(prefix="plinth-engine-") as tmp:
        d = Path(tmp)

        def as_file(name: str, value: Path | Body | Sequence[Body]) -> str:
            if isinstance(value, Path):
                return str(value)
            return _write(d / name, [value] if isinstance(value, dict) else list(value))

        has_required = isinstance(required, Path) or bool(required)
        has_observed = isinstance(observed, Path) or bool(observed)
        args = render_args(
            tools,
            xr=_write(d / "xr.yaml", [xr]),
            composition=as_file("composition.yaml", composition),
            functions=as_file("functions.yaml", functions),
            target=target,
            xrd=as_file("xrd.yaml", xrd) if xrd is not None else None,
            required=[as_file("required.yaml", required)] if has_required else [],
            observed=as_file("observed.yaml", observed) if has_observed else None,
            context_files=context_files,
            context_values=context_values,
            include_full_xr=include_full_xr,
            include_function_results=include_function_results,
            timeout=timeout,
        )
        # The CLI's own deadline fires first; this one only catches a hung process.
        done = subprocess.run(
            args, capture_output=True, text=True, timeout=timeout + 30, check=False
        )
    if done.returncode != 0:
        message = done.stderr.strip() or f"exited with {done.returncode}"
        # A function's Fatal result means the input was refused, which `plinth render` reports
        # with exit code 2. The core exits 3 for it, but the CLI exits 1 for every error, so
        # the CLI's wording is all there is to tell.
        fatal = done.returncode == FATAL_EXIT or FATAL_MESSAGE in message
        code = 2 if fatal else 1
        raise EngineError(f"crossplane composition render: {message}", code)
    return done.stdout


def render_claims(
    claims: Sequence[tuple[Body, Sequence[Body]]],
    *,
    composition: Path | None = None,
    functions: Path | None = None,
    observed: Path | None = None,
    context_files: Sequence[str] = (),
    context_values: Sequence[str] = (),
    include_full_xr: bool = False,
    include_function_results: bool = False,
    endpoint: str | None = None,
    timeout: float = 30.0,
    build: bool = False,
) -> str:
    """`plinth render --engine crossplane`: each (claim, required resources) through the real
    CLI, with Plinth's own Composition, XRD and Function unless files are given."""
    from plinth.api.catalog import find_claim_api
    from plinth.generators.crossplane import composition as generated_composition
    from plinth.generators.crossplane import render_functions
    from plinth.generators.crossplane import xrd as generated_xrd
    from plinth.tools.render import RenderError, to_composite

    tools = find_tools(build=build, progress=True)
    if endpoint:
        _check_reachable(endpoint)
    server = contextlib.nullcontext(endpoint) if endpoint else serve_function()
    out = []
    with server as target:
        for claim, required in claims:
            found = find_claim_api(claim.get("apiVersion", ""), claim.get("kind", ""))
            if found is None:
                raise EngineError(f"{claim.get('kind')} is not a Plinth claim", 2)
            api, flavor = found
            try:
                xr = to_composite(claim)
            except RenderError as e:
                raise EngineError(str(e), 2) from None
            out.append(
                crossplane_render(
                    tools,
                    xr,
                    composition=composition or generated_composition(api, flavor),
                    functions=functions or render_functions(),
                    xrd=generated_xrd(api, flavor),
                    target=target,
                    required=required,
                    observed=observed or (),
                    context_files=context_files,
                    context_values=context_values,
                    include_full_xr=include_full_xr,
                    include_function_results=include_function_results,
                    timeout=timeout,
                )
            )
    return "".join(out)
