"""The dev cluster's External package runtime: the controller Crossplane defers to when core
runs with `--package-runtime=External`.

With the Deployment runtime, core's own runtime controller gives every active Provider and
Function revision what the rest of core waits for; with External, core sets none of it up and
expects another controller to (core v2.3.4):

* `status.tlsServerSecretName` naming a Secret with a `tls.crt`: the revision reconciler will
  not establish a package's CRDs and MRDs without it ("waiting for package runtime controller
  to set revision's webhook TLS secret"), because it injects that certificate into conversion
  webhooks; `status.tlsClientSecretName` likewise (the Deployment runtime's Pre hook);
* a Function revision's `status.endpoint`: the only thing core's function runner reads to
  dial a function;
* the `RuntimeHealthy` condition: a package is Healthy when its revision is RevisionHealthy
  (core's own verdict) and RuntimeHealthy (the runtime's).

This process is that controller for the processes `plinth dev up` runs on loopback, and the
one place the dev cluster writes to a package revision's status. It reports what is true:
function-plinth and provider-kubernetes are healthy when their process answers; a package
nothing runs (the AWS and GitHub providers: CRD-only mirrors) gets its TLS Secret, so Crossplane
installs its CRDs, and `RuntimeHealthy=False` saying that no controller runs here.

Run by `plinth dev up` as `python -m plinth.devcluster.runtime CONFIG.json`.
"""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

Body = dict[str, Any]
REVISIONS = ("providerrevisions", "functionrevisions")
PACKAGE_LABEL = "pkg.crossplane.io/package"
RUNTIME_HEALTHY = "RuntimeHealthy"
REVISION_HEALTHY = "RevisionHealthy"
NOT_RUN = (
    "plinth dev runs no controller for this package (a CRD-only mirror): its managed "
    "resources are created and stay unready"
)


class LocalRuntime(BaseModel):
    """A package whose runtime is a process `plinth dev up` started."""

    package: str = Field(description="Public repository the revision's package comes from.")
    tls_dir: Path = Field(description="tls.crt, tls.key, ca.crt the process serves with.")
    endpoint: str | None = Field(default=None, description="A function's gRPC target.")
    health: str = Field(description="tcp://127.0.0.1:PORT or http://127.0.0.1:PORT/readyz.")


class RuntimeConfig(BaseModel):
    """What `plinth dev up` hands this controller (written as JSON in the state directory)."""

    server: str
    ca: Path
    client_cert: Path
    client_key: Path
    namespace: str = "crossplane-system"
    # Certificates for the Secrets of packages nothing runs: core only reads tls.crt from them.
    no_runtime_tls_dir: Path
    client_tls_dir: Path = Field(description="Crossplane's client certificate (tls-client).")
    runtimes: list[LocalRuntime] = Field(default_factory=list)
    interval: float = 1.0


class Api:
    """Just enough of the Kubernetes API over HTTPS with a client certificate."""

    def __init__(self, config: RuntimeConfig) -> None:
        self.server = config.server.rstrip("/")
        self.context = ssl.create_default_context(cafile=str(config.ca))
        self.context.load_cert_chain(str(config.client_cert), str(config.client_key))

    def request(
        self, method: str, path: str, body: Body | None = None, content_type: str | None = None
    ) -> Body:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        if data is not None:
            req.add_header("Content-Type", content_type or "application/json")
        with urllib.request.urlopen(req, context=self.context, timeout=10) as r:
            return dict(json.loads(r.read() or b"{}"))


def healthy(check: str) -> bool:
    scheme, _, rest = check.partition("://")
    if scheme == "tcp":
        host, _, port = rest.rpartition(":")
        with socket.socket() as s:
            s.settimeout(1)
            return s.connect_ex((host, int(port))) == 0
    try:
        with urllib.request.urlopen(check, timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def repository(image: str) -> str:
    """`registry/repo:tag` or `registry/repo@sha256:...` -> `registry/repo`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rindex(":")]
    return name


def condition(status: Body, kind: str) -> Body:
    return next((c for c in status.get("conditions") or [] if c.get("type") == kind), {})


def desired_status(rev: Body, config: RuntimeConfig, now: str) -> tuple[Body, LocalRuntime | None]:
    """The status fields this runtime owns for one active revision."""
    name = rev["metadata"]["labels"].get(PACKAGE_LABEL) or rev["metadata"]["name"]
    source = repository(str(rev["spec"].get("image", "")))
    local = next((r for r in config.runtimes if r.package == source), None)
    status = rev.get("status") or {}
    out: Body = {
        "tlsServerSecretName": f"{name}-tls-server",
        "tlsClientSecretName": f"{name}-tls-client",
    }
    if local is not None and local.endpoint and rev["kind"] == "FunctionRevision":
        out["endpoint"] = local.endpoint
    if condition(status, REVISION_HEALTHY).get("status") != "True":
        verdict = ("False", "UnhealthyPackageRevision", "Package revision is not healthy yet")
    elif local is None:
        verdict = ("False", "UnhealthyPackageRevision", NOT_RUN)
    elif healthy(local.health):
        verdict = ("True", "HealthyPackageRevision", "")
    else:
        verdict = ("False", "UnhealthyPackageRevision", f"{local.health} does not answer")
    current = condition(status, RUNTIME_HEALTHY)
    wanted = {"type": RUNTIME_HEALTHY, "status": verdict[0], "reason": verdict[1]}
    if verdict[2]:
        wanted["message"] = verdict[2]
    if all(
        (current.get(k) or "") == (wanted.get(k) or "") for k in ("status", "reason", "message")
    ):
        return out, local
    wanted["lastTransitionTime"] = (
        current.get("lastTransitionTime", now) if current.get("status") == verdict[0] else now
    )
    others = [c for c in status.get("conditions") or [] if c.get("type") != RUNTIME_HEALTHY]
    out["conditions"] = [*others, wanted]
    return out, local


def _secret(name: str, namespace: str, tls_dir: Path) -> Body:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {
            k: base64.b64encode((tls_dir / k).read_bytes()).decode()
            for k in ("tls.crt", "tls.key", "ca.crt")
        },
    }


class Runtime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.api = Api(config)
        self.secrets: set[str] = set()

    def ensure_secret(self, name: str, tls_dir: Path) -> None:
        if name in self.secrets:
            return
        ns = self.config.namespace
        try:
            self.api.request("POST", f"/api/v1/namespaces/{ns}/secrets", _secret(name, ns, tls_dir))
        except urllib.error.HTTPError as e:
            if e.code != 409:  # AlreadyExists: made by an earlier run of this loop
                raise
        self.secrets.add(name)

    def reconcile(self) -> int:
        """One pass over every revision; returns how many statuses it patched."""
        patched = 0
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for plural in REVISIONS:
            items = self.api.request("GET", f"/apis/pkg.crossplane.io/v1/{plural}")["items"]
            for rev in items:
                if rev["spec"].get("desiredState") != "Active":
                    continue
                rev.setdefault(
                    "kind", "FunctionRevision" if plural[0] == "f" else "ProviderRevision"
                )
                want, local = desired_status(rev, self.config, now)
                self.ensure_secret(
                    want["tlsServerSecretName"],
                    local.tls_dir if local else self.config.no_runtime_tls_dir,
                )
                self.ensure_secret(want["tlsClientSecretName"], self.config.client_tls_dir)
                status = rev.get("status") or {}
                if all(status.get(k) == v for k, v in want.items()):
                    continue
                body = {
                    "metadata": {"resourceVersion": rev["metadata"]["resourceVersion"]},
                    "status": want,
                }
                try:
                    self.api.request(
                        "PATCH",
                        f"/apis/pkg.crossplane.io/v1/{plural}/{rev['metadata']['name']}/status",
                        body,
                        "application/merge-patch+json",
                    )
                    patched += 1
                except urllib.error.HTTPError as e:
                    if e.code != 409:  # Conflict: core wrote first; the next pass sees it
                        raise
        return patched

    def run(self) -> None:
        while True:
            try:
                n = self.reconcile()
                if n:
                    print(f"[runtime] patched {n} revision status(es)", flush=True)
            except (OSError, urllib.error.URLError, KeyError) as e:
                print(f"[runtime] {type(e).__name__}: {e}", flush=True)
            time.sleep(self.config.interval)


def main(argv: list[str]) -> None:
    config = RuntimeConfig.model_validate_json(Path(argv[1]).read_text())
    Runtime(config).run()


if __name__ == "__main__":
    main(sys.argv)
