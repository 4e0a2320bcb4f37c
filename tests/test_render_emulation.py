"""What `plinth render` emulates of Crossplane's reconciler, pinned to Crossplane's own answers
(tests/test_crossplane_render.py compares whole renders; these pin the rules on their own)."""

from __future__ import annotations

from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from conftest import EXAMPLES, platform_docs
from plinth.runtime.function import FunctionRunner
from plinth.tools.render import _first_n_and_more, composite_uid, render, to_composite
from plinth.tools.yamlio import read_path


def test_composite_uid_is_the_one_crossplane_render_gives() -> None:
    # Printed by `crossplane composition render examples/account.yaml ...` (v2.5.0/v2.3.4) in
    # the owner references of the composed Account.
    claim = next(iter(read_path(str(EXAMPLES / "account.yaml")))).body
    assert composite_uid(to_composite(claim)) == "ace453b2-cf13-57c7-b5de-015b37083dcc"


def test_a_given_uid_is_kept() -> None:
    claim = next(iter(read_path(str(EXAMPLES / "tenant.yaml")))).body
    claim["metadata"]["uid"] = "given"
    rendered = render(to_composite(claim), extra_resources=platform_docs())
    assert {r["metadata"]["ownerReferences"][0]["uid"] for r in rendered.resources} == {"given"}


@pytest.mark.parametrize(
    ("names", "text"),
    [
        (["b", "a"], "a, b"),
        (["c", "a", "b"], "a, b, and c"),
        (["d", "c", "a", "b"], "a, b, c, and 1 more"),
    ],
)
def test_unready_message_words_names_as_crossplane_runtime(names: list[str], text: str) -> None:
    assert _first_n_and_more(names) == text


@pytest.mark.parametrize(
    ("ready", "condition"),
    [
        (fnv1.READY_TRUE, {"type": "Ready", "status": "True", "reason": "Available"}),
        (fnv1.READY_FALSE, {"type": "Ready", "status": "False", "reason": "Creating"}),
    ],
)
def test_readiness_the_function_sets_on_the_composite_wins(
    ready: int, condition: dict[str, Any]
) -> None:
    runner = FunctionRunner(cache_size=0)

    def call(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        rsp = fnv1.RunFunctionResponse()
        rsp.CopyFrom(runner.run(req))
        rsp.desired.composite.ready = ready
        return rsp

    claim = next(iter(read_path(str(EXAMPLES / "tenant.yaml")))).body
    rendered = render(to_composite(claim), call, extra_resources=platform_docs())
    assert rendered.composite["status"]["conditions"][0] == condition
