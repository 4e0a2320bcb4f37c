"""The dev cluster's OCI registry: CNCF distribution (`registry`, built by hack/build-tools.sh)
as a local process on loopback, serving TLS with a certificate from the cluster's CA.

It is the air-gapped mirror of `plinth.tools.mirror`: every package a Plinth Configuration
needs is pushed under its public name (`127.0.0.1:PORT/ghcr.io/plinth-dev/...`), and
ImageConfigs point Crossplane's package manager at it. Crossplane trusts it through
`--ca-bundle-path`, the pushing CLI through `SSL_CERT_FILE`; nothing trusts it without TLS.
"""

from __future__ import annotations

import secrets
import ssl
import urllib.request
from pathlib import Path

import yaml

from plinth.devcluster import processes
from plinth.devcluster.pki import Pair


def config(state: Path, port: int, tls: Pair) -> Path:
    """distribution's configuration: filesystem storage in the state directory, TLS only."""
    body = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(state / "registry" / "data")},
            "delete": {"enabled": True},
            # No background upload purging: the registry lives as long as the cluster.
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {
            "addr": f"127.0.0.1:{port}",
            # One process, so any secret will do; set it to keep the startup warning away.
            "secret": secrets.token_hex(16),
            "tls": {"certificate": str(tls.cert), "key": str(tls.key)},
        },
    }
    path = state / "registry" / "config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def ready(port: int, ca: Path) -> bool:
    """The registry answers its API base over TLS that verifies against our CA."""
    context = ssl.create_default_context(cafile=str(ca))
    try:
        with urllib.request.urlopen(
            f"https://127.0.0.1:{port}/v2/", context=context, timeout=1
        ) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def start(state: Path, binary: str, tls: Pair, ca: Path) -> str:
    """Start the registry; return its host:port once it answers."""
    port = processes.free_port()
    cfg = config(state, port, tls)
    pid = processes.start(state, "registry", [binary, "serve", str(cfg)])
    processes.wait_for(
        "registry", lambda: ready(port, ca), timeout=30, pid=pid, log=state / "registry.log"
    )
    return f"127.0.0.1:{port}"


def tags(host: str, repository: str, ca: Path) -> list[str]:
    """The tags of a repository (the Distribution API's tag list)."""
    import json

    context = ssl.create_default_context(cafile=str(ca))
    with urllib.request.urlopen(
        f"https://{host}/v2/{repository}/tags/list", context=context, timeout=5
    ) as r:
        return list(json.loads(r.read()).get("tags") or [])
