"""What every command shares: exit codes and how a command fails."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def needs_tools(command: Callable[..., None]) -> Callable[..., None]:
    """Decorate a command that uses the tools (place it right above the `def`)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        require_tools(command.__name__.removesuffix("_cmd").replace("_", " "))
        command(*args, **kwargs)

    return run


def require_tools(command: str) -> None:
    """The offline tools are an extra (`plinth[cli]`): the function image installs the runtime
    only. Say so instead of a traceback when a tool's dependency is missing."""
    import importlib.util

    missing = [
        m
        for m in ("yaml", "jsonschema", "celpy", "kubernetes_validate")
        if importlib.util.find_spec(m) is None
    ]
    if missing:
        fail(
            f"`plinth {command}` needs Plinth's tools ({', '.join(missing)} missing): "
            "pip install 'plinth[cli]'",
            EXIT_FAILED,
        )
