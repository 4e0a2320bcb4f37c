"""The service a new repository starts with: a health endpoint, /metrics in Prometheus' text
format, and a page that shows which Plinth settings reached it. Standard library only, so the
image stays small and the code is easy to replace.

Configuration comes from the environment: PORT and HEALTH_PATH (set by the chart from its
values), and whatever Plinth's ConfigMap and Secret hold (PLINTH_APP, PLINTH_ENVIRONMENT,
AWS_REGION, endpoints, DB_<NAME>_USERNAME/PASSWORD; see Plinth's docs/app.md).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Latency buckets in seconds; Plinth's PrometheusRule alerts on the p99 above 1 s.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
# Settings worth showing on /; never credentials.
SHOWN_PREFIXES = ("PLINTH_", "AWS_REGION")


class Metrics:
    """Request counts by status code and a latency histogram, in the metric names Plinth's
    PrometheusRule uses (http_requests_total, http_request_duration_seconds)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[int, int] = {}
        self._buckets = [0] * len(BUCKETS)  # cumulative, as Prometheus wants them
        self._count = 0
        self._sum = 0.0

    def observe(self, code: int, seconds: float) -> None:
        with self._lock:
            self._requests[code] = self._requests.get(code, 0) + 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._buckets[i] += 1
            self._count += 1
            self._sum += seconds

    def text(self) -> str:
        with self._lock:
            lines = [
                "# HELP http_requests_total HTTP requests answered, by status code.",
                "# TYPE http_requests_total counter",
                *(
                    f'http_requests_total{{code="{c}"}} {n}'
                    for c, n in sorted(self._requests.items())
                ),
                "# HELP http_request_duration_seconds Time to answer HTTP requests.",
                "# TYPE http_request_duration_seconds histogram",
                *(
                    f'http_request_duration_seconds_bucket{{le="{bound}"}} {n}'
                    for bound, n in zip(BUCKETS, self._buckets, strict=True)
                ),
                f'http_request_duration_seconds_bucket{{le="+Inf"}} {self._count}',
                f"http_request_duration_seconds_sum {self._sum}",
                f"http_request_duration_seconds_count {self._count}",
            ]
        return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    metrics = Metrics()
    health_path = "/healthz"

    def do_GET(self) -> None:
        start = time.perf_counter()
        path = urlsplit(self.path).path
        if path == self.health_path:
            code, body, kind = 200, "ok\n", "text/plain"
        elif path == "/metrics":
            code, body, kind = 200, self.metrics.text(), "text/plain; version=0.0.4"
        elif path == "/":
            shown = {k: v for k, v in sorted(os.environ.items()) if k.startswith(SHOWN_PREFIXES)}
            code, body, kind = 200, json.dumps(shown, indent=2) + "\n", "application/json"
        else:
            code, body, kind = 404, "not found\n", "text/plain"
        data = body.encode()
        # Probes and scrapes are not traffic: counting them would dilute the error rate.
        # Counted before the reply is sent, so a scrape that follows it sees it.
        if path not in (self.health_path, "/metrics"):
            self.metrics.observe(code, time.perf_counter() - start)
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per probe would drown the logs


def main() -> None:
    Handler.health_path = os.environ.get("HEALTH_PATH", "/healthz")
    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Handler)
    # As PID 1 the process gets no default SIGTERM action: without a handler Kubernetes would
    # wait the whole grace period and then kill it. shutdown() blocks until serve_forever
    # returns, so it runs in its own thread.
    signal.signal(
        signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start()
    )
    with server:
        server.serve_forever()


if __name__ == "__main__":
    main()
