"""Observability in the app's namespace on every cluster: a ServiceMonitor that scrapes the
template's /metrics, and a PrometheusRule with the default alerts (error rate, latency,
restarts). Metric names are the service template's (templates/service/app) and
kube-state-metrics'."""

from __future__ import annotations

from plinth.compose.app.context import Context, Placement

MONITORING_API = "monitoring.coreos.com/v1"
ERROR_RATE = 0.05  # 5% of requests answered 5xx
LATENCY_P99_SECONDS = 1.0
RESTARTS = 3  # in 30 minutes


def servicemonitor_crn(p: Placement) -> str:
    return f"servicemonitor-{p.cluster.name}"


def prometheusrule_crn(p: Placement) -> str:
    return f"prometheusrule-{p.cluster.name}"


def rules(ctx: Context, p: Placement) -> list[dict[str, object]]:
    app, ns = ctx.claim.name, p.namespace
    sel = f'namespace="{ns}",service="{app}"'
    severity = "critical" if ctx.prod(p.environment) else "warning"
    labels = {"severity": severity, "team": ctx.team, "app": app}
    return [
        {
            "alert": "AppHighErrorRate",
            "expr": f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[5m])) / '
            f"sum(rate(http_requests_total{{{sel}}}[5m])) > {ERROR_RATE}",
            "for": "10m",
            "labels": labels,
            "annotations": {
                "summary": f"{app} in {ns}: more than {ERROR_RATE:.0%} of requests fail",
            },
        },
        {
            "alert": "AppHighLatency",
            "expr": "histogram_quantile(0.99, sum by (le) "
            f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m]))) > {LATENCY_P99_SECONDS}",
            "for": "10m",
            "labels": labels,
            "annotations": {"summary": f"{app} in {ns}: p99 latency above {LATENCY_P99_SECONDS}s"},
        },
        {
            "alert": "AppRestarting",
            "expr": "sum(increase(kube_pod_container_status_restarts_total"
            f'{{namespace="{ns}",pod=~"{app}-.*"}}[30m])) > {RESTARTS}',
            "for": "5m",
            "labels": labels,
            "annotations": {"summary": f"{app} in {ns}: containers keep restarting"},
        },
    ]


def build(ctx: Context) -> None:
    for p in ctx.placements:
        crns = (servicemonitor_crn(p), prometheusrule_crn(p))
        if not ctx.delivers(p):
            for c in crns:
                ctx.out.wait(c, ctx.delivery_wait(p))
            continue
        app = ctx.claim.name
        ctx.in_namespace(
            crns[0],
            p,
            MONITORING_API,
            "ServiceMonitor",
            app,
            spec={
                "selector": {"matchLabels": {"app.kubernetes.io/name": app}},
                "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
            },
        )
        ctx.in_namespace(
            crns[1],
            p,
            MONITORING_API,
            "PrometheusRule",
            app,
            spec={"groups": [{"name": f"{app}.rules", "rules": rules(ctx, p)}]},
        )
