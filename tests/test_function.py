"""The function edge: table-driven tests of whole responses, and the guarantees around them."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from conftest import EXAMPLES, platform_docs
from plinth.core.readiness import DERIVED_READINESS, slow
from plinth.runtime.function import TTLS, FunctionRunner, run_function, run_naive
from plinth.runtime.structs import struct_to_py
from plinth.tools.render import CRN_ANNOTATION, build_request, render, to_composite
from plinth.tools.yamlio import read_path

TENANT = next(d.body for d in read_path(str(EXAMPLES / "tenant.yaml")))
ACCOUNT = next(d.body for d in read_path(str(EXAMPLES / "account.yaml")))
APP = next(d.body for d in read_path(str(EXAMPLES / "app.yaml")))
PLATFORM = platform_docs()[0]
# The tenant example's AccountClaim as it reports itself once the account exists.
ACCOUNT_READY = {
    **ACCOUNT,
    "status": {"accountId": "210987654321", "providerConfig": "payments-dev"},
}


def _req(
    xr: dict[str, Any],
    *,
    required: dict[str, list[dict[str, Any]]] | None = None,
    observed: list[dict[str, Any]] | None = None,
) -> fnv1.RunFunctionRequest:
    composite = to_composite(xr) if xr["apiVersion"].endswith("plinth.dev/v1alpha1") else xr
    return build_request(
        composite,
        required=required
        if required is not None
        else {"platform": [PLATFORM], "account-payments-dev": [ACCOUNT_READY]},
        observed=observed or [],
        tag="t1",
    )


def _fatal(rsp: fnv1.RunFunctionResponse) -> list[str]:
    return [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]


def _with(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["spec"].update(spec)
    return out


BAD = [
    pytest.param(
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
        None,
        "cannot compose Widget",
        id="unknown-kind",
    ),
    pytest.param(
        _with(TENANT, environments=[{"name": "qa"}]),
        None,
        "spec.environments.0.name",
        id="unknown-environment",
    ),
    pytest.param(
        _with(TENANT, replicas=3), None, "spec.replicas: Extra inputs", id="unknown-field"
    ),
    pytest.param(
        TENANT,
        {"platform": []},
        "EnvironmentConfig 'plinth-platform' was not found",
        id="missing-platform",
    ),
    pytest.param(
        TENANT,
        {"platform": [{**PLATFORM, "data": {"clusters": [{"name": "x"}]}}]},
        "data.clusters.0.environment",
        id="invalid-platform",
    ),
    pytest.param(
        ACCOUNT,
        {"platform": [{**PLATFORM, "data": {"defaultRegion": "us-east-1"}}]},
        "lacks data.organization",
        id="platform-without-organization",
    ),
]


@pytest.mark.parametrize(("xr", "required", "message"), BAD)
def test_bad_input_is_a_fatal_result_that_says_what_is_wrong(xr, required, message) -> None:  # type: ignore[no-untyped-def]
    rsp = run_function(_req(xr, required=required))
    fatal = _fatal(rsp)
    assert len(fatal) == 1, fatal
    assert message in fatal[0]
    assert not rsp.desired.resources, "a fatal response must not state desired resources"


def test_first_call_asks_for_the_platform_config() -> None:
    rsp = run_function(build_request(to_composite(TENANT)))
    assert not _fatal(rsp)
    sel = rsp.requirements.resources["platform"]
    assert (sel.api_version, sel.kind, sel.match_name) == (
        "apiextensions.crossplane.io/v1beta1",
        "EnvironmentConfig",
        "plinth-platform",
    )


def test_function_input_overrides_the_platform_config_name() -> None:
    req = build_request(
        to_composite(TENANT),
        fn_input={
            "apiVersion": "function.plinth.dev/v1alpha1",
            "kind": "Input",
            "platformConfig": "other",
        },
    )
    assert run_function(req).requirements.resources["platform"].match_name == "other"


def test_app_requires_its_tenant_in_its_own_namespace() -> None:
    rsp = run_function(_req(APP))
    sel = rsp.requirements.resources["tenant"]
    assert (sel.kind, sel.match_name, sel.namespace) == ("TenantClaim", "payments", "payments")


def test_app_refuses_a_tenant_of_another_namespace_keeping_what_exists() -> None:
    # A Fatal result: Crossplane applies nothing and deletes nothing until the claim is fixed.
    foreign = {**TENANT, "metadata": {"name": "payments", "namespace": "other"}}
    rsp = run_function(_req(APP, required={"platform": [PLATFORM], "tenant": [foreign]}))
    (message,) = _fatal(rsp)
    assert "handed over from namespace 'other'" in message
    assert not rsp.desired.resources


@pytest.mark.parametrize(("tenants", "expect"), [([], "does not exist yet")], ids=["missing"])
def test_app_waits_for_its_tenant_without_dropping_what_exists(tenants, expect) -> None:  # type: ignore[no-untyped-def]
    full = render(to_composite(APP), extra_resources=[PLATFORM, TENANT])
    observed = [
        {**r, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        for r in full.resources
    ]
    rsp = run_function(
        _req(APP, required={"platform": [PLATFORM], "tenant": tenants}, observed=observed)
    )
    assert not _fatal(rsp)
    assert set(rsp.desired.resources) == {
        r["metadata"]["annotations"]["crossplane.io/composition-resource-name"]
        for r in full.resources
    }, "pending resources that exist must be kept"
    status = struct_to_py(rsp.desired.composite.resource)["status"]
    assert expect in status["message"]


def test_internal_errors_become_fatal_results(monkeypatch: pytest.MonkeyPatch) -> None:
    from plinth import compose

    def boom(*_: Any) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setitem(compose.COMPOSERS, "tenant", boom)
    fatal = _fatal(run_function(_req(TENANT)))
    assert fatal
    assert "internal error" in fatal[0]
    assert "kaboom" in fatal[0]


def test_readiness_follows_observed_ready_condition() -> None:
    # A tenant composes in phases (isolation before access), so converge first.
    observed: list[dict[str, Any]] = []
    for _ in range(4):
        step = render(
            to_composite(TENANT), extra_resources=[PLATFORM, ACCOUNT_READY], observed=observed
        )
        observed = [
            {**r, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
            for r in step.resources
        ]
    rsp = run_function(_req(TENANT, observed=observed))
    assert all(r.ready == fnv1.READY_TRUE for r in rsp.desired.resources.values())
    cond = next(c for c in rsp.conditions if c.type == "Provisioned")
    assert cond.status == fnv1.STATUS_CONDITION_TRUE
    assert struct_to_py(rsp.desired.composite.resource)["status"]["phase"] == "Ready"


@pytest.mark.parametrize("claim", [TENANT, ACCOUNT, APP], ids=["tenant", "account", "app"])
def test_fast_path_equals_the_naive_sdk_path(claim: dict[str, Any]) -> None:
    # Every example in every phase: tests/test_replay.py, over the recorded corpus.
    req = _req(claim, required={"platform": [PLATFORM], "tenant": [TENANT]})
    runner = FunctionRunner()
    fast = runner.run(req)
    assert fast == run_naive(req)
    again = runner.run(req)
    assert runner.stats().hits == 1, "an identical request is answered from the cache"
    assert again == run_naive(req)


def test_a_desired_state_from_an_earlier_function_is_merged_as_the_sdk_merges_it() -> None:
    """The fast path writes the composed resources as bytes after the rest of the response;
    what an earlier function in the pipeline put in the desired state merges as the SDK
    merges into it: a resource both compose keeps the earlier one's other fields."""
    req = _req(TENANT)
    composed = run_naive(req)
    shared = next(iter(composed.desired.resources))
    earlier = req.desired.resources[shared]
    earlier.resource.update({"apiVersion": "v0", "earlier": {"field": True}})
    earlier.connection_details["password"] = b"kept"
    req.desired.resources["from-an-earlier-function"].resource.update({"kind": "Other"})
    req.desired.composite.resource.update({"status": {"earlier": 1}, "spec": {"kept": "yes"}})
    req.desired.composite.ready = fnv1.READY_TRUE
    req.context.update({"earlier": "context"})

    naive = run_naive(req)
    out, call, _ = FunctionRunner(cache_bytes=0).answer(req.SerializeToString())
    fast = fnv1.RunFunctionResponse.FromString(out)
    assert fast == naive
    merged = struct_to_py(fast.desired.resources[shared].resource)
    assert merged["earlier"] == {"field": True}
    assert merged["apiVersion"] != "v0", "the composed fields win"
    assert fast.desired.resources[shared].connection_details["password"] == b"kept"
    assert "from-an-earlier-function" in fast.desired.resources
    assert struct_to_py(fast.desired.composite.resource)["spec"] == {"kept": "yes"}
    assert call.resources == len(naive.desired.resources)
    assert call.desired_phase == struct_to_py(naive.desired.composite.resource)["status"]["phase"]


def _ttl(rsp: fnv1.RunFunctionResponse) -> float:
    return float(rsp.meta.ttl.ToTimedelta().total_seconds())


def _converged(
    xr: dict[str, Any],
    required: list[dict[str, Any]],
    conditions: Callable[[dict[str, Any]], list[dict[str, str]]] = lambda r: [
        {"type": "Ready", "status": "True"}
    ],
) -> list[dict[str, Any]]:
    """What Crossplane observes once every phase has run and each resource reports
    `conditions(resource)`."""
    observed: list[dict[str, Any]] = []
    for _ in range(6):
        step = render(to_composite(xr), extra_resources=required, observed=observed)
        observed = [{**r, "status": {"conditions": conditions(r)}} for r in step.resources]
    return observed


def _is_object(r: dict[str, Any]) -> bool:
    return str(r["apiVersion"]).startswith("kubernetes.")


def test_ttl_is_long_when_ready_and_short_while_waiting_on_a_required_resource() -> None:
    from plinth.runtime.function import TTLS

    assert TTLS.waiting_on_required < TTLS.provisioning <= TTLS.fatal < TTLS.ready
    assert TTLS.creating < TTLS.settling < TTLS.provisioning
    # Waiting on its AccountClaim (not Ready yet): Crossplane does not watch it, call again soon.
    waiting = run_function(
        _req(TENANT, required={"platform": [PLATFORM], "account-payments-dev": [ACCOUNT]})
    )
    assert not _fatal(waiting)
    assert _ttl(waiting) == TTLS.waiting_on_required
    # Account ready, its first resources not observed yet: they are Ready in seconds, and
    # Crossplane's circuit breaker may drop the events that say so: call again soon; the
    # sooner as some are Objects waiting on provider-kubernetes alone (Ready once created).
    assert _ttl(run_function(_req(TENANT))) == TTLS.creating
    settled = _converged(TENANT, [PLATFORM, ACCOUNT_READY])

    def held(r: dict[str, Any]) -> str:
        return str(r["spec"]["forProvider"]["manifest"]["kind"]) if _is_object(r) else ""

    # Only the RoleBindings of the last phase not created yet: the same.
    bindings = [r for r in settled if held(r) != "RoleBinding"]
    assert len(bindings) < len(settled)
    assert _ttl(run_function(_req(TENANT, observed=bindings))) == TTLS.creating
    # A guardrail deriving its readiness from Kyverno's report, not Ready yet: 5 s.
    unready = {"conditions": [{"type": "Ready", "status": "False"}]}
    kyverno = [{**r, "status": unready} if held(r) == "ClusterPolicy" else r for r in settled]
    assert kyverno != settled
    assert _ttl(run_function(_req(TENANT, observed=kyverno))) == TTLS.settling
    # Every Object Ready, its AWS resources (IAM roles, access entries) not yet: they are Ready
    # within seconds of being created too.
    aws_pending = _converged(
        TENANT,
        [PLATFORM, ACCOUNT_READY],
        lambda r: [{"type": "Ready", "status": "True" if _is_object(r) else "False"}],
    )
    assert any(not _is_object(r) for r in aws_pending)
    assert _ttl(run_function(_req(TENANT, observed=aws_pending))) == TTLS.settling
    # Resources their provider fails to apply are not settling: calling sooner would not help.
    failing = [
        {**r, "status": {"conditions": [{"type": "Synced", "status": "False"}]}}
        for r in aws_pending
    ]
    assert _ttl(run_function(_req(TENANT, observed=failing))) == TTLS.provisioning
    # Waiting only on a kind AWS takes minutes to provision (the account itself): the minute.
    creating = run_function(_req(ACCOUNT, required={"platform": [PLATFORM]}))
    assert not _fatal(creating)
    unready = [
        struct_to_py(r.resource)
        for r in creating.desired.resources.values()
        if r.ready != fnv1.READY_TRUE
    ]
    assert unready
    assert all(slow(r["apiVersion"], r["kind"]) for r in unready), unready
    assert _ttl(creating) == TTLS.provisioning
    # Everything Ready and nothing waited on: called rarely.
    ready = run_function(_req(TENANT, observed=_converged(TENANT, [PLATFORM, ACCOUNT_READY])))
    assert struct_to_py(ready.desired.composite.resource)["status"]["phase"] == "Ready"
    assert _ttl(ready) == TTLS.ready
    # An app whose tenant does not exist yet waits on it the same way.
    no_tenant = run_function(_req(APP, required={"platform": [PLATFORM], "tenant": []}))
    assert _ttl(no_tenant) == TTLS.waiting_on_required
    assert _ttl(run_function(_req(TENANT, required={"platform": []}))) == TTLS.fatal


def test_cache_is_bounded_by_bytes_and_counts_hits() -> None:
    req = _req(TENANT).SerializeToString()
    other = _req(_with(TENANT, environments=[{"name": "prod"}])).SerializeToString()
    sizes = [len(r) + len(FunctionRunner(cache_bytes=0).run_bytes(r)) for r in (req, other)]
    runner = FunctionRunner(cache_bytes=max(sizes) + 300)  # room for one, not two
    runner.run_bytes(req)
    runner.run_bytes(req)
    runner.run_bytes(other)
    stats = runner.stats()
    assert (stats.hits, stats.misses, stats.entries, stats.evictions) == (1, 2, 1, 1), stats
    assert stats.bytes <= stats.max_bytes
    answers = [runner.run_bytes(r) for r in (req, other)]
    assert runner.stats().misses == 3, "the evicted one is composed again, the other a hit"
    assert fnv1.RunFunctionResponse.FromString(answers[0]) == run_naive(_req(TENANT))


def test_a_changed_required_resource_is_read_anew_on_a_miss() -> None:
    """What a runner remembers of the required resources and the platform config is keyed on
    their exact content: a changed one, however small the change, is converted and
    validated again."""
    runner = FunctionRunner(cache_bytes=0)
    tagged = copy.deepcopy(PLATFORM)
    tagged["data"]["tags"] = {"cost-center": "1"}
    account = copy.deepcopy(ACCOUNT_READY)
    account["status"]["accountId"] = "123456789012"
    for platform, account_claim in ((PLATFORM, ACCOUNT_READY), (tagged, account)) * 2:
        req = _req(
            TENANT, required={"platform": [platform], "account-payments-dev": [account_claim]}
        )
        assert runner.run(req) == run_naive(req)
    first, second = (
        runner.run(_req(TENANT, required={"platform": [p], "account-payments-dev": [a]}))
        for p, a in ((PLATFORM, ACCOUNT_READY), (tagged, account))
    )
    assert first != second


def test_cache_never_answers_a_different_request() -> None:
    runner = FunctionRunner()
    a = runner.run(_req(TENANT))
    b = runner.run(_req(_with(TENANT, environments=[{"name": "prod"}])))
    assert a != b
    assert b == run_naive(_req(_with(TENANT, environments=[{"name": "prod"}])))


def test_grpc_method_returns_the_same_response() -> None:
    runner = FunctionRunner()
    req = _req(TENANT)
    rsp = asyncio.run(runner.RunFunction(req, None))  # type: ignore[arg-type]
    assert rsp == run_naive(req)
    assert rsp.meta.tag == "t1"


def test_cel_sees_escaped_property_names_as_kubernetes_does() -> None:
    from plinth.tools.cel import escape_name, evaluate

    assert escape_name("namespace") == "__namespace__"
    assert escape_name("a-b.c/d") == "a__dash__b__dot__c__slash__d"
    assert evaluate("has(self.__namespace__)", {"namespace": "x"})
    assert not evaluate("has(self.__namespace__)", {"name": "x"})
    assert evaluate("self.a__dash__b == 1", {"a-b": 1})


def test_a_claim_waiting_for_a_later_phase_is_not_ready() -> None:
    # Everything the tenant composes before its account exists becomes Ready, yet the tenant is
    # not: Crossplane would derive Ready from those resources alone (and Argo CD say Healthy).
    observed: list[dict[str, Any]] = []
    for _ in range(4):
        step = render(to_composite(TENANT), extra_resources=[PLATFORM, ACCOUNT], observed=observed)
        observed = [
            {**r, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
            for r in step.resources
        ]
    rsp = run_function(
        _req(
            TENANT,
            required={"platform": [PLATFORM], "account-payments-dev": [ACCOUNT]},
            observed=observed,
        )
    )
    assert not _fatal(rsp)
    assert rsp.desired.resources
    assert all(r.ready == fnv1.READY_TRUE for r in rsp.desired.resources.values())
    assert "AccountClaim" in struct_to_py(rsp.desired.composite.resource)["status"]["message"]
    assert rsp.desired.composite.ready == fnv1.READY_FALSE
    ready = next(c for c in step.composite["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"


def test_slow_kinds_are_kinds_plinth_composes() -> None:
    """Every kind the TTL rules treat as taking minutes is one an example composes (a typo
    would silently give a database the settling TTL)."""
    from plinth.cli.claims import default_required, placed
    from plinth.core.readiness import SLOW_KINDS
    from plinth.tools.diff import render_settled

    composed = set()
    for name in ("account.yaml", "account-prod.yaml", "app-full.yaml"):
        for doc in read_path(str(EXAMPLES / name)):
            rendered = render_settled(
                to_composite(placed(doc).body), [d.body for d in default_required(doc.source)]
            )
            composed |= {(r["apiVersion"].split(".", 1)[0], r["kind"]) for r in rendered.resources}
    assert composed >= SLOW_KINDS, SLOW_KINDS - composed


def _calls(
    xr: dict[str, Any], extra: list[dict[str, Any]], bootstrap: dict[str, Any] | None
) -> tuple[int, Any]:
    from plinth.runtime.function import FunctionRunner
    from plinth.tools.render import render

    runner, calls = FunctionRunner(cache_bytes=0), []

    def call(req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
        calls.append(req)
        return runner.run(req)

    rendered = render(to_composite(xr), call, extra_resources=extra, bootstrap=bootstrap)
    return len(calls), rendered


@pytest.mark.parametrize(
    ("claim", "bootstrapped", "asking"),
    # The example app's tenant names its AccountClaim, which the app then asks for too.
    [("account", 1, 2), ("app", 3, 4)],
)
def test_the_bootstrapped_platform_config_saves_a_call_per_reconcile(
    claim: str, bootstrapped: int, asking: int
) -> None:
    """Plinth's Composition step has Crossplane fetch the platform config before the first
    call: a claim needing nothing else is composed in one call (Crossplane stops when the first
    response asks for nothing), one that asks for more in one call less. A Composition
    without it, or naming another config, still works: the function asks for it."""
    from plinth.api.function_input import FunctionInput

    xr = {"account": ACCOUNT, "app": APP}[claim]
    extra = [PLATFORM, *(d.body for d in read_path(str(EXAMPLES / "tenant.yaml")))]
    boot = FunctionInput().step_requirements()
    n, with_boot = _calls(xr, extra, boot)
    assert n == bootstrapped
    assert not with_boot.fatal
    n, without = _calls(xr, extra, None)
    assert n == asking
    assert without.resources == with_boot.resources
    other = copy.deepcopy(boot)
    other["requiredResources"][0]["name"] = "not-the-input's"
    n, elsewhere = _calls(
        xr, [*extra, {**PLATFORM, "metadata": {"name": "not-the-input's"}}], other
    )
    assert n == asking
    assert elsewhere.resources == with_boot.resources


def test_a_missing_bootstrapped_platform_config_is_a_fatal_naming_it() -> None:
    from plinth.api.function_input import FunctionInput

    n, rendered = _calls(ACCOUNT, [], FunctionInput().step_requirements())
    assert n == 2  # asked for it once more, in case it came since
    assert rendered.fatal
    assert "plinth-platform" in " ".join(rendered.fatal)


def _provider_kubernetes(desired: dict[str, Any], before: dict[str, Any] | None, remote: str):
    """An Object as provider-kubernetes leaves it once it has reconciled `desired`: a new
    generation when the spec changed, Ready on create under SuccessfulCreate, else `remote`
    (the held object's Ready), and Synced for the generation it reconciled."""
    generation = (before or {}).get("metadata", {}).get("generation", 0)
    if before is None or before["spec"] != desired["spec"]:
        generation += 1
    policy = desired["spec"]["readiness"]["policy"]
    ready = "True" if policy == "SuccessfulCreate" else remote
    meta = {**desired["metadata"], "generation": generation}
    conditions = [
        {"type": "Synced", "status": "True", "observedGeneration": generation},
        {"type": "Ready", "status": ready},
    ]
    return {**desired, "metadata": meta, "status": {"conditions": conditions}}


def test_an_object_with_derived_readiness_counts_once_its_provider_derived_it() -> None:
    """provider-kubernetes looks at an Object right after creating what it holds, then again
    only every 30 s while it is not Ready: a Kyverno policy stated with DeriveFromObject from
    the start waited those 30 s. So it is created with SuccessfulCreate, then restated with
    DeriveFromObject, which makes the provider look again at once; the tenant counts it
    Ready only when the provider derived Ready under that spec."""
    settled = _converged(TENANT, [PLATFORM, ACCOUNT_READY])
    ready = run_function(_req(TENANT, observed=settled))
    assert _ttl(ready) == TTLS.ready
    crn = next(
        r["metadata"]["annotations"][CRN_ANNOTATION]
        for r in settled
        if _is_object(r) and r["spec"]["forProvider"]["manifest"]["kind"] == "ClusterPolicy"
    )
    others = [r for r in settled if r["metadata"]["annotations"][CRN_ANNOTATION] != crn]

    def call(observed: dict[str, Any] | None) -> tuple[dict[str, Any], bool, float]:
        if observed is not None:
            observed = copy.deepcopy(observed)
            observed["metadata"]["annotations"][CRN_ANNOTATION] = crn
        req = _req(TENANT, observed=others + ([observed] if observed else []))
        rsp = run_function(req)
        assert rsp == run_naive(req)
        r = rsp.desired.resources[crn]
        return struct_to_py(r.resource), r.ready == fnv1.READY_TRUE, _ttl(rsp)

    # Not created yet: stated with SuccessfulCreate, the intent recorded on it.
    first, is_ready, ttl = call(None)
    assert first["spec"]["readiness"] == {"policy": "SuccessfulCreate"}
    assert first["metadata"]["annotations"][DERIVED_READINESS] == "DeriveFromObject"
    assert not is_ready
    assert ttl == TTLS.creating
    # Created: Ready on create is not what the tenant waits for; restated to derive it.
    created = _provider_kubernetes(first, None, remote="False")
    second, is_ready, ttl = call(created)
    assert second["spec"]["readiness"] == {"policy": "DeriveFromObject"}
    assert not is_ready
    # Restated, not looked at since: provider-kubernetes looks again at once.
    assert ttl == TTLS.creating
    # Crossplane applied the new spec; the provider has not reconciled it yet: its Ready is
    # still the one on create.
    applied = {
        **created,
        "spec": second["spec"],
        "metadata": {**created["metadata"], "generation": 2},
    }
    third, is_ready, ttl = call(applied)
    assert third == second
    assert not is_ready
    # Derived from Kyverno's report from now on: the settling TTL.
    assert ttl == TTLS.settling
    # Reconciled, Kyverno has not reported yet: not Ready, and it stays derived.
    for remote, want in (("False", False), ("True", True)):
        derived = _provider_kubernetes(second, applied, remote=remote)
        body, is_ready, _ = call(derived)
        assert body == second
        assert is_ready is want
    # Everything else Ready too: the tenant is, and called rarely.
    assert call(derived)[2] == TTLS.ready
    # An Object composed before Plinth recorded the intent (DeriveFromObject from the start,
    # no annotation) keeps its Ready as it is: an upgrade makes nothing unready.
    old = copy.deepcopy(derived)
    del old["metadata"]["annotations"][DERIVED_READINESS]
    old["metadata"]["generation"] = 7
    body, is_ready, _ = call(old)
    assert body["spec"]["readiness"] == {"policy": "DeriveFromObject"}
    assert is_ready
