"""A function you can watch: `plinth serve --metrics-address` is scraped and its series move as
calls are made; every log line about a call is JSON naming the claim and its phase; the
ServiceMonitor and PrometheusRule that ship in docs/ are schema-valid and use series that
exist."""

from __future__ import annotations

import io
import json
import logging
import re
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from prometheus_client.parser import text_string_to_metric_families

from conftest import REPO, assert_valid
from plinth.runtime.cache import CacheStats
from plinth.runtime.function import FunctionRunner
from plinth.runtime.observe import Observed, configure_logging
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

sys.path.insert(0, str(REPO / "benchmarks"))

from load_grpc import METHOD, Sample, corpus, serve

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Series:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    out: Series = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, tuple(sorted(labels.items()))), 0.0)


def _sample(kind: str) -> Sample:
    """The largest v2 request of a claim kind: requirements resolved, resources composed."""
    v2 = (s for s in corpus() if f" {kind} " in s.where and "legacy/" not in s.where)
    return max(v2, key=lambda s: len(s.data))


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with serve(metrics=True) as srv:
        yield srv


def test_the_series_move_as_calls_are_made(server: Any) -> None:
    tenant, app = _sample("TenantClaim"), _sample("AppClaim")
    unknown = fnv1.RunFunctionRequest.FromString(tenant.data)
    unknown.observed.composite.resource.fields["kind"].string_value = "Database"
    before = scrape(server.metrics_port)
    with grpc.insecure_channel(server.endpoint) as channel:
        call = channel.unary_unary(METHOD)
        for _ in range(3):  # the 2nd and 3rd are cache hits
            call(tenant.data, timeout=30)
        call(app.data, timeout=30)
        call(unknown.SerializeToString(), timeout=30)
        call(b"\xff\xff\xff", timeout=30)
    after = scrape(server.metrics_port)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    calls = "plinth_function_calls_total"
    assert moved(calls, kind="TenantClaim", outcome="ok") == 3
    assert moved(calls, kind="AppClaim", outcome="ok") == 1
    # An unknown kind is the claim's fault (Fatal); unreadable bytes are nobody's claim.
    assert moved(calls, kind="unknown", outcome="fatal") == 1
    assert moved(calls, kind="unknown", outcome="error") == 1
    duration = "plinth_function_call_duration_seconds_count"
    assert moved(duration, kind="TenantClaim", outcome="ok") == 3
    assert moved("plinth_function_call_duration_seconds_sum", kind="TenantClaim", outcome="ok") > 0
    resources = fnv1.RunFunctionResponse.FromString(
        grpc.insecure_channel(server.endpoint).unary_unary(METHOD)(tenant.data, timeout=30)
    ).desired.resources
    assert moved("plinth_function_composed_resources_sum", kind="TenantClaim") == 3 * len(resources)
    assert moved("plinth_function_cache_hits_total") >= 2
    assert moved("plinth_function_cache_misses_total") >= 2
    assert value(after, "plinth_function_cache_entries") >= 2
    assert value(after, "plinth_function_cache_bytes") > len(tenant.data)
    assert value(after, "plinth_function_in_flight_calls") == 0
    # Hostile kinds do not make series: only the six kinds Plinth serves and `unknown`.
    kinds = {dict(labels).get("kind") for (name, labels) in after if name == calls}
    assert kinds == {"AccountClaim", "TenantClaim", "AppClaim", "XAccount", "XTenant", "XApp"} | {
        "unknown"
    }


def test_the_cache_figures_come_from_the_cache_s_stats_when_it_has_them() -> None:
    class Runner(FunctionRunner):
        def stats(self) -> CacheStats:
            return CacheStats(hits=7, misses=3, bytes=4096, entries=2, max_bytes=8192, evictions=1)

    observed = Observed(Runner())
    observed.answer(fnv1.RunFunctionRequest().SerializeToString())
    from prometheus_client import generate_latest

    assert observed.metrics is not None
    text = generate_latest(observed.metrics.registry).decode()
    assert "plinth_function_cache_hits_total 7.0" in text
    assert "plinth_function_cache_bytes 4096.0" in text
    assert "plinth_function_cache_evictions_total 1.0" in text


def _log_lines(
    level: str, data: list[bytes], runner: FunctionRunner | None = None
) -> list[dict[str, Any]]:
    stream = io.StringIO()
    configure_logging(level, stream)
    try:
        observed = Observed(runner or FunctionRunner(), metrics=False)
        for d in data:
            observed.answer(d)
    finally:
        logging.getLogger().handlers = []
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_every_log_line_about_a_call_is_json_naming_the_claim_and_its_phase() -> None:
    tenant = _sample("TenantClaim")
    legacy = next(s for s in corpus() if "legacy/" in s.where and " XApp" not in s.where)
    bad = fnv1.RunFunctionRequest.FromString(tenant.data)
    bad.observed.composite.resource.fields["spec"].struct_value.fields[
        "environments"
    ].string_value = "prod"
    lines = _log_lines("debug", [tenant.data, legacy.data, bad.SerializeToString()])
    assert len(lines) == 3
    req = fnv1.RunFunctionRequest.FromString(tenant.data)
    meta = req.observed.composite.resource.fields["metadata"].struct_value.fields
    first = lines[0]
    assert first["kind"] == "TenantClaim"
    assert first["name"] == meta["name"].string_value
    assert first["namespace"] == meta["namespace"].string_value
    assert "phase" in first
    assert first["outcome"] == "ok"
    assert first["resources"] > 0
    # A legacy composite names the claim, not the X<Kind> Crossplane made of it.
    legacy_req = fnv1.RunFunctionRequest.FromString(legacy.data)
    ref = legacy_req.observed.composite.resource.fields["spec"].struct_value.fields["claimRef"]
    assert lines[1]["name"] == ref.struct_value.fields["name"].string_value
    assert lines[1]["kind"].startswith("X")
    assert lines[2]["outcome"] == "fatal"
    assert lines[2]["level"] == "info"
    assert "environments" in lines[2]["message"]
    for line in lines:
        assert {"ts", "level", "msg", "kind", "namespace", "name", "phase"} <= set(line)


def test_the_log_level_filters_and_the_function_s_own_lines_carry_the_claim() -> None:
    tenant = _sample("TenantClaim")
    assert _log_lines("info", [tenant.data]) == []
    assert _log_lines("error", [b"\xff\xff"])[0]["outcome"] == "error"

    class Broken(FunctionRunner):
        def compose(self, req: fnv1.RunFunctionRequest) -> fnv1.RunFunctionResponse:
            logging.getLogger("plinth").warning("about to fail")
            raise RuntimeError("boom")

    lines = _log_lines("warning", [tenant.data], Broken())
    assert [line["msg"] for line in lines][:2] == [
        "about to fail",
        "internal error composing the claim",
    ]
    assert all(line["kind"] == "TenantClaim" for line in lines)
    assert "RuntimeError: boom" in lines[1]["error"]
    assert lines[-1]["outcome"] == "error"


def test_the_cli_takes_the_metrics_and_log_flags() -> None:
    from click.testing import CliRunner

    from plinth.cli.serve import serve_cmd

    out = CliRunner().invoke(serve_cmd, ["--help"]).output
    assert "--metrics-address" in out
    assert "--log-level [debug|info|warning|error]" in out


MONITORING = REPO / "docs" / "observability.yaml"


def test_the_servicemonitor_and_prometheusrule_are_schema_valid(validator: Validator) -> None:
    docs = [d.body for d in read_path(str(MONITORING))]
    assert {d["kind"] for d in docs} == {"Service", "ServiceMonitor", "PrometheusRule"}
    assert_valid(validator, docs, str(MONITORING))
    service = next(d for d in docs if d["kind"] == "Service")
    monitor = next(d for d in docs if d["kind"] == "ServiceMonitor")
    # The ServiceMonitor finds the Service, and the Service the function's pods' named port.
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"


def test_the_rules_use_series_the_function_exposes(server: Any) -> None:
    (rule,) = [d.body for d in read_path(str(MONITORING)) if d.kind == "PrometheusRule"]
    exposed = {name for name, _ in scrape(server.metrics_port)}
    used = {
        m
        for group in rule["spec"]["groups"]
        for r in group["rules"]
        for m in re.findall(r"\b(plinth_[a-z_]+)", r["expr"])
    }
    assert used
    assert used <= exposed, used - exposed
    alerts = {r.get("alert") for g in rule["spec"]["groups"] for r in g["rules"]}
    assert {"PlinthFunctionInternalErrors", "PlinthFunctionLatencyHigh"} <= alerts
    assert "PlinthFunctionFatalResults" in alerts


def test_the_docs_name_every_series(server: Any) -> None:
    text = (REPO / "docs" / "observability.md").read_text()
    families = {
        re.sub(r"_(bucket|count|sum|total|created)$", "", name)
        for name, _ in scrape(server.metrics_port)
        if name.startswith("plinth_")
    }
    missing = {f for f in families if f not in text}
    assert not missing
