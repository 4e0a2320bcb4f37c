"""Real Argo CD in the dev cluster (`plinth dev up --with-argocd`): the repo-server,
application-controller and applicationset-controller of one Argo CD v3.5.1 binary
(hack/build-tools.sh, dispatching on ARGOCD_BINARY_NAME), Debian's redis-server, and a git
daemon serving the platform and claim repositories from the state directory. All on loopback,
all stopped and removed by `plinth dev down` with the rest of the cluster.

Argo CD is configured as gitops/ says a management cluster's Argo CD must be: argocd-cm carries
Plinth's Lua health checks and enables impersonation (plinth.gitops.argocd_cm_data). What
differs from a cluster install, and why:

* `ARGOCD_FAKE_IN_CLUSTER`: the controllers read the admin kubeconfig and treat its cluster as
  `https://kubernetes.default.svc`, the in-cluster destination every Plinth object names.
* the controller persists each resource's health in the Application (`--persist-resource-health`,
  off by default since v3 and kept in Redis for the UI), so a test or `kubectl` can read the
  health Plinth's Lua gave each claim without an argocd-server;
* git is polled every RESYNC seconds instead of three minutes (no webhook without a server).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from plinth.devcluster import gitserver, processes
from plinth.generators import gitops

NAMESPACE = gitops.ARGOCD_NAMESPACE
# The controller derives its shard from the ordinal its StatefulSet pod name ends in.
CONTROLLER_HOSTNAME = "argocd-application-controller-0"
RESYNC_SECONDS = 10
PLATFORM_REPO = "platform"
CLAIM_REPO = "claims"
# The install waves that sync here. The others install Crossplane packages: the dev cluster's
# package manager has installed them already from its registry, and its AWS and GitHub
# providers are CRD-only mirrors that are never Healthy, so Argo CD would hold the next wave
# forever; see docs/gitops.md. With PLINTH_DEV_XPKG_REGISTRY set (host:port of a registry
# holding the packages, on a cluster where every provider runs) they are served too.
WAVE_PLATFORM_FILE = "30-platform.yaml"
PLATFORM_WAVES = ("10-provider-configs.yaml", WAVE_PLATFORM_FILE)
PACKAGE_WAVES = ("00-packages.yaml", "20-configurations.yaml")
PACKAGE_REGISTRIES = ("xpkg.crossplane.io", "ghcr.io")

Stage = Callable[[str, float], None]


@dataclass(frozen=True)
class Ports:
    redis: int
    repo_server: int
    repo_server_metrics: int
    controller_metrics: int
    appset_metrics: int
    appset_probe: int
    appset_webhook: int
    git: int

    @classmethod
    def free(cls) -> Ports:
        return cls(**{n: processes.free_port() for n in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Process:
    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    # An HTTP endpoint that answers 200 once the process serves, else a port that accepts.
    ready_url: str | None = None
    ready_port: int | None = None


@dataclass
class ArgoInfo:
    ports: Ports
    git_base: str
    platform_repo: str
    claim_repo: str


def settings() -> list[dict[str, Any]]:
    """The ConfigMaps and Secret every Argo CD process reads at start-up, labelled as Argo CD's
    settings informer selects them. argocd-cm is the one gitops/health ships."""
    labels = {"app.kubernetes.io/part-of": "argocd"}

    def meta(name: str) -> dict[str, Any]:
        return {"name": name, "namespace": NAMESPACE, "labels": labels}

    cm = gitops.argocd_cm_patch()
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta("argocd-cm"),
            "data": cm["data"],
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("argocd-rbac-cm")},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta("argocd-cmd-params-cm")},
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": meta("argocd-secret"),
            "type": "Opaque",
            # argocd-server generates it in a real install; the applicationset controller's
            # webhook handler refuses to start without one (and nothing here calls it).
            "stringData": {"server.secretkey": secrets.token_urlsafe(32)},
        },
    ]


def redis_server() -> str:
    found = os.environ.get("PLINTH_REDIS_SERVER_BIN") or shutil.which("redis-server")
    if not found:
        raise RuntimeError(
            "redis-server not found (Debian: apt-get install -y redis-server;"
            " or set PLINTH_REDIS_SERVER_BIN)"
        )
    return found


def scripts_dir(argocd: str) -> Path:
    """The folder of upstream scripts Argo CD's image has on PATH (hack/build-tools.sh)."""
    d = Path(f"{argocd}-scripts")
    if not (d / "git-verify-wrapper.sh").is_file():
        raise RuntimeError(
            f"{d}/git-verify-wrapper.sh is missing: run hack/build-tools.sh argocd"
            " (the repo-server runs it for every manifest it generates)"
        )
    return d


def process_specs(
    argocd: str, redis: str, ports: Ports, home: Path, kubeconfig: Path
) -> list[Process]:
    """The four processes, in start order. `home` holds everything Argo CD writes."""
    env = {
        "KUBECONFIG": str(kubeconfig),
        "ARGOCD_FAKE_IN_CLUSTER": "true",
        "ARGOCD_TLS_DATA_PATH": str(home / "tls"),
        "ARGOCD_SSH_DATA_PATH": str(home / "ssh"),
        "ARGOCD_GNUPGHOME": str(home / "gnupg"),
        "ARGOCD_GPG_ENABLED": "false",
        # Also the repo-server's cache of resolved revisions: a commit is seen within this.
        "ARGOCD_RECONCILIATION_TIMEOUT": f"{RESYNC_SECONDS}s",
        # Repository clones and kubectl's temporary files; git's own config stays out of $HOME.
        "TMPDIR": str(home / "tmp"),
        "HOME": str(home),
        "PATH": f"{scripts_dir(argocd)}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    redis_addr = f"127.0.0.1:{ports.redis}"
    repo_server = f"127.0.0.1:{ports.repo_server}"
    return [
        Process(
            "argocd-redis",
            [
                redis,
                "--port",
                str(ports.redis),
                "--bind",
                "127.0.0.1",
                # A cache only: nothing written to disk, nothing left behind.
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(home),
            ],
            ready_port=ports.redis,
        ),
        Process(
            "argocd-repo-server",
            [
                argocd,
                "--address",
                "127.0.0.1",
                "--port",
                str(ports.repo_server),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(ports.repo_server_metrics),
                "--redis",
                redis_addr,
                "--disable-tls",
                # Its default CA path is for TLS; with TLS off a non-empty one is refused.
                "--client-ca-path",
                "",
            ],
            {**env, "ARGOCD_BINARY_NAME": "argocd-repo-server"},
            ready_url=f"http://127.0.0.1:{ports.repo_server_metrics}/healthz",
        ),
        Process(
            "argocd-application-controller",
            [
                argocd,
                "--namespace",
                NAMESPACE,
                "--redis",
                redis_addr,
                "--repo-server",
                repo_server,
                "--repo-server-plaintext",
                "--metrics-port",
                str(ports.controller_metrics),
                "--app-resync",
                str(RESYNC_SECONDS),
                "--app-resync-jitter",
                "0",
                "--persist-resource-health",
            ],
            {
                **env,
                "ARGOCD_BINARY_NAME": "argocd-application-controller",
                "HOSTNAME": CONTROLLER_HOSTNAME,
            },
            ready_url=f"http://127.0.0.1:{ports.controller_metrics}/healthz",
        ),
        Process(
            "argocd-applicationset-controller",
            [
                argocd,
                "--namespace",
                NAMESPACE,
                "--argocd-repo-server",
                repo_server,
                "--repo-server-plaintext",
                "--metrics-addr",
                f"127.0.0.1:{ports.appset_metrics}",
                "--probe-addr",
                f"127.0.0.1:{ports.appset_probe}",
                "--webhook-addr",
                f"127.0.0.1:{ports.appset_webhook}",
            ],
            {
                **env,
                "ARGOCD_BINARY_NAME": "argocd-applicationset-controller",
                # How often a git generator looks for new team directories (default 3 min).
                "ARGOCD_APPLICATIONSET_CONTROLLER_REQUEUE_AFTER": f"{RESYNC_SECONDS}s",
            },
            # It registers no health checks, so its probe server answers 404 to both paths;
            # metrics are served once its manager has started.
            ready_url=f"http://127.0.0.1:{ports.appset_metrics}/metrics",
        ),
    ]


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _ready(p: Process) -> Callable[[], bool]:
    if p.ready_url is not None:
        url = p.ready_url
        return lambda: _http_ok(url)
    port = p.ready_port or 0
    return lambda: _redis_pong(port)


# --- repositories ----------------------------------------------------------------------------


def point_at(text: str, platform_repo: str, claim_repo: str) -> str:
    """gitops/ YAML with the example repositories replaced by these, as the docs tell a
    platform team to do with its own."""
    return text.replace(gitops.PLATFORM_REPO, platform_repo).replace(gitops.CLAIM_REPO, claim_repo)


def package_registry() -> str | None:
    return os.environ.get("PLINTH_DEV_XPKG_REGISTRY") or None


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def _generated(prefix: str) -> dict[str, list[dict[str, Any]]]:
    """gitops/ files as `plinth generate` writes them (what the repository holds, by the drift
    test), so a Plinth installed without a checkout serves the same."""
    return {str(p): docs for p, docs in gitops.files().items() if str(p).startswith(prefix)}


def platform_wave(platform_path: Path) -> list[dict[str, Any]]:
    """Wave 3, the platform's facts: in a platform repository 30-platform.yaml holds its own;
    here that is the EnvironmentConfig this cluster was started with."""
    docs = [d for d in yaml.safe_load_all(platform_path.read_text()) if d]
    for d in docs:
        annotations = d.setdefault("metadata", {}).setdefault("annotations", {})
        annotations["argocd.argoproj.io/sync-wave"] = str(gitops.WAVE_PLATFORM)
    return docs


def platform_files(platform_path: Path, registry: str | None = None) -> dict[str, str]:
    """The platform repository as this cluster's Argo CD reads it: gitops/team-access and the
    install waves that can sync here (all of them, packages pulled from `registry`, if given)."""
    files = {p: _dump(d) for p, d in _generated(gitops.TEAM_ACCESS_PATH + "/").items()}
    manifests = "gitops/platform/manifests/"
    generated = _generated(manifests)
    waves = PLATFORM_WAVES + (PACKAGE_WAVES if registry else ())
    for name in sorted(waves):
        docs = (
            platform_wave(platform_path)
            if name == WAVE_PLATFORM_FILE
            else generated[manifests + name]
        )
        text = _dump(docs)
        if registry and name in PACKAGE_WAVES:
            for upstream in PACKAGE_REGISTRIES:
                text = text.replace(f"package: {upstream}/", f"package: {registry}/")
        files[manifests + name] = text
    return files


def load_state(state: Path) -> ArgoInfo | None:
    f = state / "argocd.json"
    if not f.exists():
        return None
    raw = json.loads(f.read_text())
    return ArgoInfo(**{**raw, "ports": Ports(**raw["ports"])})


def git_base(state: Path) -> Path:
    return state / "git"


def publish_claims(state: Path, files: Mapping[str, str], message: str) -> str:
    """Commit `files` as the whole claim repository; Argo CD sees it within RESYNC_SECONDS."""
    return gitserver.publish(git_base(state), CLAIM_REPO, files, message)


def _pointed(docs: list[dict[str, Any]], info: ArgoInfo) -> list[dict[str, Any]]:
    text = point_at(_dump(docs), info.platform_repo, info.claim_repo)
    return [d for d in yaml.safe_load_all(text) if d]


def claims_docs(info: ArgoInfo) -> list[dict[str, Any]]:
    """gitops/claims/, pointed at this cluster's repositories."""
    generated = _generated("gitops/claims/")
    return _pointed([d for p in sorted(generated) for d in generated[p]], info)


def platform_docs(info: ArgoInfo) -> list[dict[str, Any]]:
    """gitops/platform/application.yaml, pointed at this cluster's platform repository."""
    return _pointed(
        _generated("gitops/platform/application.yaml")["gitops/platform/application.yaml"], info
    )


# --- start -----------------------------------------------------------------------------------


def start(
    state: Path,
    kubeconfig: Path,
    argocd: str,
    platform_path: Path,
    apply: Callable[[Path, Iterable[dict[str, Any]]], None],
    stage: Stage,
) -> ArgoInfo:
    """Start Argo CD and the git server, publish the platform repository and an empty claim
    repository, and install gitops/claims/ pointed at them."""
    began = time.monotonic()
    home = state / "argocd"
    for sub in ("tls", "ssh", "gnupg", "tmp"):
        (home / sub).mkdir(parents=True, exist_ok=True)
    (home / "gnupg").chmod(0o700)
    ports = Ports.free()
    apply(kubeconfig, settings())
    specs = process_specs(argocd, redis_server(), ports, home, kubeconfig)
    for p in specs:
        pid = processes.start(state, p.name, p.argv, env=p.env)
        processes.wait_for(p.name, _ready(p), timeout=180, pid=pid, log=state / f"{p.name}.log")
    stage("argocd", began)

    began = time.monotonic()
    base = git_base(state)
    gitserver.start(state, base, ports.git)
    files = platform_files(platform_path, package_registry())
    gitserver.publish(base, PLATFORM_REPO, files, "platform")
    # No team directory yet: the ApplicationSets generate nothing until the first push.
    publish_claims(state, {"README.md": "Claims, one folder per team under teams/.\n"}, "empty")
    info = ArgoInfo(
        ports=ports,
        git_base=str(base),
        platform_repo=gitserver.url(ports.git, PLATFORM_REPO),
        claim_repo=gitserver.url(ports.git, CLAIM_REPO),
    )
    # Projects first: an ApplicationSet whose project is not in the controller's cache yet
    # fails and is retried only three minutes later.
    docs = claims_docs(info)
    apply(kubeconfig, [d for d in docs if d["kind"] != "ApplicationSet"])
    apply(kubeconfig, [d for d in docs if d["kind"] == "ApplicationSet"])
    stage("argocd claims installed", began)
    (state / "argocd.json").write_text(json.dumps(asdict(info), indent=2))
    return info
