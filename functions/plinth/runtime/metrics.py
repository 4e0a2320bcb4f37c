"""Prometheus metrics of function-plinth: what `plinth serve --metrics-address` exposes.

Every series lives in one registry per server (not prometheus_client's global one), so tests
and the in-process render engine can run several servers without sharing counters. Label
values are bounded: a claim kind is one of the six Plinth serves or `unknown`, an outcome is
`ok`, `fatal` or `error`, so hostile requests cannot grow the number of series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from plinth.runtime.cache import CacheStats

OUTCOMES = ("ok", "fatal", "error")
KINDS = ("AccountClaim", "TenantClaim", "AppClaim", "XAccount", "XTenant", "XApp")
UNKNOWN_KIND = "unknown"

# Composition is milliseconds on a cache miss and microseconds on a hit; Crossplane's own
# function timeout is 30 s by default.
DURATION_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
RESOURCE_BUCKETS = (0, 1, 2, 5, 10, 20, 50, 100, 200, 500)


def kind_label(kind: str) -> str:
    return kind if kind in KINDS else UNKNOWN_KIND


class _CacheCollector(Collector):
    """Reads the response cache's figures at scrape time, so serving pays nothing for them."""

    def __init__(self, read: Callable[[], CacheStats]) -> None:
        self._read = read

    def collect(self) -> Iterator[Any]:
        stats = self._read()
        yield CounterMetricFamily(
            "plinth_function_cache_hits",
            "Requests answered from the response cache.",
            value=stats.hits,
        )
        yield CounterMetricFamily(
            "plinth_function_cache_misses",
            "Requests composed because no identical request was cached.",
            value=stats.misses,
        )
        yield GaugeMetricFamily(
            "plinth_function_cache_bytes",
            "Bytes held by the response cache (requests and responses, serialized).",
            value=stats.bytes,
        )
        yield GaugeMetricFamily(
            "plinth_function_cache_entries", "Responses held by the cache.", value=stats.entries
        )
        yield GaugeMetricFamily(
            "plinth_function_cache_max_bytes",
            "The cache's bound (--cache-mib); 0 when the cache is off.",
            value=stats.max_bytes,
        )
        yield CounterMetricFamily(
            "plinth_function_cache_evictions",
            "Entries dropped to stay within the bound: a cache too small for the claims.",
            value=stats.evictions,
        )


class Metrics:
    """The series of one server."""

    def __init__(self, cache_stats: Callable[[], CacheStats] | None = None) -> None:
        self.registry = CollectorRegistry()
        self.calls = Counter(
            "plinth_function_calls",
            "RunFunction calls by claim kind and outcome (ok, fatal: a Fatal result for the "
            "claim, error: an internal error or a request that could not be read).",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "plinth_function_call_duration_seconds",
            "Time to answer a RunFunction call, by claim kind and outcome.",
            ["kind", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.resources = Histogram(
            "plinth_function_composed_resources",
            "Composed resources returned per successful call, by claim kind.",
            ["kind"],
            buckets=RESOURCE_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "plinth_function_in_flight_calls",
            "RunFunction calls being answered now.",
            registry=self.registry,
        )
        # Zero-valued series exist from the start, so rate() and absent() work before the
        # first call of each kind.
        for kind in (*KINDS, UNKNOWN_KIND):
            for outcome in OUTCOMES:
                self.calls.labels(kind, outcome)
                self.duration.labels(kind, outcome)
        if cache_stats is not None:
            self.registry.register(_CacheCollector(cache_stats))

    def observe(self, kind: str, outcome: str, seconds: float, resources: int | None) -> None:
        kind = kind_label(kind)
        self.calls.labels(kind, outcome).inc()
        self.duration.labels(kind, outcome).observe(seconds)
        if resources is not None:
            self.resources.labels(kind).observe(resources)


def serve_http(address: str, registry: CollectorRegistry) -> int:
    """Serve /metrics on `address` (HOST:PORT or :PORT) in a daemon thread; return the port."""
    host, _, port = address.rpartition(":")
    host = host.strip("[]") or "0.0.0.0"
    server, _thread = start_http_server(int(port), addr=host, registry=registry)
    return int(server.server_address[1])
