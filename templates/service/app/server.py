"""The service a new repository starts with: /healthz, /metrics in Prometheus' text format, and
a page that shows which Plinth settings reached it. Standard library only, so the image is
small and the code is easy to replace."""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Request counts by status code and a latency histogram, as Prometheus reads them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[str, int] = {}
        self._histogram = [0] * (len(BUCKETS) + 1)
        self._sum = 0.0

    def observe(self, code: int, seconds: float) -> None:
        with self._lock:
            self._requests[str(code)] = self._requests.get(str(code), 0) + 1
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    self._histogram[i] += 1
            self._histogram[-1] += 1
            self._sum += seconds

    def text(self) -> str:
        with self._lock:
            lines = ["# TYPE http_requests_total counter"]
            lines += [
                f'http_requests_total{{code="{c}"}} {n}' for c, n in sorted(self._requests.items())
            ]
            lines.append("# TYPE http_request_duration_seconds histogram")
            for bound, count in zip(BUCKETS, self._histogram, strict=False):
                lines.append(f'http_request_duration_seconds_bucket{{le="{bound}"}} {count}')
            total = self._histogram[-1]
            lines.append(f'http_request_duration_seconds_bucket{{le="+Inf"}} {total}')
            lines.append(f"http_request_duration_seconds_sum {self._sum}")
            lines.append(f"http_request_duration_seconds_count {total}")
        return "\n".join(lines) + "\n"


METRICS = Metrics()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        start = time.perf_counter()
        if self.path == "/healthz":
            code, body, kind = 200, "ok\n", "text/plain"
        elif self.path == "/metrics":
            code, body, kind = 200, METRICS.text(), "text/plain; version=0.0.4"
        elif self.path == "/":
            settings = {
                k: v for k, v in os.environ.items() if k.startswith(("PLINTH_", "AWS_REGION"))
            }
            code, body, kind = 200, json.dumps(settings, indent=2) + "\n", "application/json"
        else:
            code, body, kind = 404, "not found\n", "text/plain"
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        if self.path != "/metrics":
            METRICS.observe(code, time.perf_counter() - start)

    def log_message(self, format: str, *args: object) -> None:
        pass  # probes every few seconds would drown the logs


def main() -> None:
    port = int(os.environ.get("PORT", "8080"))
    ThreadingHTTPServer(("", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
