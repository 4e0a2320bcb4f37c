"""A local management cluster made of real components, each a local process on loopback:
etcd, kube-apiserver, kube-controller-manager (garbage collection, namespace deletion),
Crossplane core, provider-kubernetes, `plinth serve`, and an OCI registry; beside it, an API
server with its controller manager for each workload cluster the platform names (workload.py,
which also builds both components' command lines). No container engine, no image pull from
the internet.

Plinth is installed as users install it (install.py): its packages and the providers' are
pushed to the registry under their public names, ImageConfigs point the public registries at
it, and one `Configuration` object is applied; Crossplane's package manager installs the rest.
Core runs with the External package runtime, so it deploys nothing: runtime.py is that
runtime for the processes this cluster starts (TLS Secrets, the function's endpoint,
RuntimeHealthy), and the only writer of a package revision's status here.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from plinth.api.platform import PlatformConfig
from plinth.devcluster import argocd, install, processes, registry, workload
from plinth.devcluster import legacy as legacy_flavor
from plinth.devcluster.kubectl import apply, kubectl, kubectl_run
from plinth.devcluster.pki import Pki
from plinth.devcluster.runtime import LocalRuntime, RuntimeConfig

try:  # libyaml parses the upstream CRDs an order of magnitude faster
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

from plinth.tools.crds import CrdsNotFound, default_crds_dir
from plinth.tools.engine import binary

CROSSPLANE_NAMESPACE = "crossplane-system"
# provider-kubernetes binds its webhook server here and has no flag to move it.
PROVIDER_WEBHOOK_PORT = 9443

# The upstream CRDs of what a management cluster runs besides Plinth: Crossplane itself (as
# its Helm chart installs them) and Argo CD, whose AppProjects and Applications tenants' and
# apps' Objects create there. The providers' CRDs come with their packages; the workload
# clusters get their add-ons' (workload.CRD_SETS).
CRD_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crossplane", ("",)),
    ("argo-cd", ("",)),
)


def state_dir() -> Path:
    return Path(os.environ.get("PLINTH_CACHE_DIR", Path.home() / ".cache" / "plinth")) / "dev"


@dataclass
class ClusterInfo:
    state: str
    kubeconfig: str
    apiserver_port: int
    etcd_port: int
    function_port: int
    registry: str
    timings: dict[str, float]
    # Every cluster the platform names -> the kubeconfig of the API server that plays it.
    clusters: dict[str, str]


Progress = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _kubeconfig(
    path: Path,
    server: str,
    ca: Path,
    cert: Path,
    key: Path,
    user: str,
    cluster: str = "plinth-dev",
) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca.read_bytes()).decode(),
                },
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": base64.b64encode(cert.read_bytes()).decode(),
                    "client-key-data": base64.b64encode(key.read_bytes()).decode(),
                },
            }
        ],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user}}],
        "current-context": cluster,
    }
    text = yaml.safe_dump(config, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return text


def _crds(
    crds_dir: Path, sets: tuple[tuple[str, tuple[str, ...]], ...] = CRD_SETS
) -> list[dict[str, Any]]:
    out = []
    for folder, prefixes in sets:
        for f in sorted((crds_dir / folder).glob("*.yaml")):
            if not any(f.name.startswith(p) for p in prefixes):
                continue
            for doc in yaml.load_all(f.read_text(), Loader=_Loader):
                if not doc:
                    continue
                # A conversion webhook needs a Service in the cluster; there is none here, and
                # every CRD this cluster serves has one stored version.
                if (doc["spec"].get("conversion") or {}).get("strategy") == "Webhook":
                    doc["spec"]["conversion"] = {"strategy": "None"}
                    doc["spec"]["versions"] = [
                        v for v in doc["spec"]["versions"] if v.get("storage")
                    ]
                out.append(doc)
    return out


def up(
    platform_file: Path,
    progress: Progress = _print,
    *,
    with_argocd: bool = False,
    legacy: bool = False,
) -> ClusterInfo:
    try:
        crds_dir = default_crds_dir()
    except CrdsNotFound as e:
        raise RuntimeError(f"{e} (a folder of upstream CRDs to install, or --crds)") from None
    platform_docs, platform = load_platform(platform_file)
    state = state_dir()
    if state.exists() and any(state.glob("*.pid")):
        raise RuntimeError(f"a dev cluster is already running ({state}); run `plinth dev down`")
    if processes.port_in_use(PROVIDER_WEBHOOK_PORT):
        raise RuntimeError(
            f"port {PROVIDER_WEBHOOK_PORT} is in use: provider-kubernetes binds its webhook there"
        )
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    timings: dict[str, float] = {}
    t0 = time.monotonic()

    def stage(name: str, began: float) -> None:
        timings[name] = round(time.monotonic() - began, 1)
        progress(f"[plinth dev] {name}: {timings[name]}s")

    try:
        began = time.monotonic()
        bins = {
            t: binary(t)
            for t in (
                "etcd",
                "kube-apiserver",
                "kube-controller-manager",
                "crossplane-core",
                "provider-kubernetes",
                "registry",
                "crossplane",
                "crane",
                *(("argocd",) if with_argocd else ()),
            )
        }
        stage("binaries", began)

        # Plinth's packages from this checkout, and the provider mirrors (built once).
        began = time.monotonic()
        output, index = install.packages(progress)
        stage("packages built", began)

        began = time.monotonic()
        pki = Pki(state / "pki")
        apiserver = pki.issue("apiserver", "kube-apiserver", server=True)
        admin = pki.issue(
            "admin", "plinth-dev-admin", organizations=("system:masters",), client=True
        )
        sa = pki.service_account_keys()
        function_dir = pki.tls_dir(
            "function", pki.issue("function", "function-plinth", server=True)
        )
        core_client = pki.tls_dir(
            "core-client", pki.issue("core-client", "crossplane", client=True)
        )
        core_server = pki.tls_dir(
            "core-server", pki.issue("core-server", "crossplane", server=True)
        )
        provider_dir = pki.tls_dir(
            "provider-kubernetes",
            pki.issue("provider-kubernetes", "provider-kubernetes", server=True),
        )
        registry_tls = pki.issue("registry", "registry", server=True)
        # The TLS Secret of a package nothing runs: core only reads its tls.crt.
        no_runtime_dir = pki.tls_dir(
            "no-runtime", pki.issue("no-runtime", "no-runtime", server=True)
        )
        stage("certificates", began)

        began = time.monotonic()
        etcd_port, peer_port = processes.free_port(), processes.free_port()
        etcd_url = f"http://127.0.0.1:{etcd_port}"
        pid = processes.start(
            state,
            "etcd",
            [
                bins["etcd"],
                "--data-dir",
                str(state / "etcd"),
                "--listen-client-urls",
                etcd_url,
                "--advertise-client-urls",
                etcd_url,
                "--listen-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{peer_port}",
                "--initial-cluster",
                f"default=http://127.0.0.1:{peer_port}",
                "--log-level",
                "warn",
            ],
        )
        processes.wait_for(
            "etcd",
            lambda: _http_ok(f"{etcd_url}/health"),
            timeout=30,
            pid=pid,
            log=state / "etcd.log",
        )
        stage("etcd", began)

        began = time.monotonic()
        api_port = processes.free_port()
        server = f"https://127.0.0.1:{api_port}"
        pid = processes.start(
            state,
            "kube-apiserver",
            workload.apiserver_argv(
                bins["kube-apiserver"],
                etcd_url=etcd_url,
                port=api_port,
                cert_dir=state / "apiserver-certs",
                serving=apiserver,
                ca=pki.ca,
                sa=sa,
            ),
        )
        kubeconfig = state / "kubeconfig"
        _kubeconfig(kubeconfig, server, pki.ca, admin.cert, admin.key, "admin")
        # The workload clusters' API servers start beside it: each needs only etcd.
        workloads = workload.plan(platform, state)
        workload_pids = {}
        for w in workloads:
            _kubeconfig(
                w.kubeconfig, w.server, pki.ca, admin.cert, admin.key, "admin", w.provider_config
            )
            workload_pids[w.process] = processes.start(
                state,
                w.process,
                workload.workload_apiserver_argv(
                    bins["kube-apiserver"],
                    w,
                    etcd_url=etcd_url,
                    state=state,
                    serving=apiserver,
                    ca=pki.ca,
                    sa=sa,
                ),
            )
        processes.wait_for(
            "kube-apiserver",
            lambda: _kubectl_ok(kubeconfig, "get", "--raw", "/readyz"),
            timeout=90,
            pid=pid,
            log=state / "kube-apiserver.log",
        )
        stage("kube-apiserver", began)

        began = time.monotonic()
        processes.start(
            state,
            "kube-controller-manager",
            workload.controller_manager_argv(
                bins["kube-controller-manager"],
                kubeconfig,
                sa.key,
                pki.ca,
                "*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service-lb-controller,-route,"
                "-bootstrapsigner,-tokencleaner",
            ),
        )
        stage("kube-controller-manager", began)

        began = time.monotonic()
        for w in workloads:
            processes.wait_for(
                f"{w.process} (clusters {', '.join(w.clusters)})",
                functools.partial(workload.ready, w),
                timeout=90,
                pid=workload_pids[w.process],
                log=state / f"{w.process}.log",
            )
            processes.start(
                state,
                f"{w.process}-controller-manager",
                workload.controller_manager_argv(
                    bins["kube-controller-manager"], w.kubeconfig, sa.key, pki.ca
                ),
            )
        stage(f"workload clusters ({len(workloads)} kube-apiservers)", began)

        # The workload clusters' CRDs go in while the management cluster is set up; joined
        # before the platform is configured.
        background = ThreadPoolExecutor(max_workers=1)
        workload_crds = background.submit(
            _timed,
            workload.install_crds,
            workloads,
            _crds(crds_dir, workload.CRD_SETS),
            wait_established,
        )
        background.shutdown(wait=False)

        began = time.monotonic()
        # A cluster the platform reaches through the management cluster's own provider config
        # is the management cluster: it gets the add-ons' kinds too.
        serves_workloads = any(
            c.kubernetes_provider_config == platform.provider_configs.kubernetes_management
            for c in platform.clusters
        )
        sets = CRD_SETS + (workload.CRD_SETS if serves_workloads else ())
        apply(kubeconfig, _crds(crds_dir, sets))
        stage("crds applied", began)
        began = time.monotonic()
        wait_established(kubeconfig, "crd", timeout=120)
        kubectl(kubeconfig, "create", "namespace", CROSSPLANE_NAMESPACE)
        stage("crds established", began)

        began = time.monotonic()
        mirror_host = registry.start(state, bins["registry"], registry_tls, pki.ca)
        pushed = install.publish(index, output, mirror_host, pki.ca, bins["crossplane"])
        progress(f"[plinth dev] pushed {len(pushed)} packages to {mirror_host}")
        stage("registry up, packages pushed", began)

        began = time.monotonic()
        function_port = processes.free_port()
        pid = processes.start(
            state,
            "plinth-serve",
            [
                sys.executable,
                "-m",
                "plinth.cli",
                "serve",
                "--address",
                f"127.0.0.1:{function_port}",
                "--tls-certs-dir",
                str(function_dir),
            ],
        )
        processes.wait_for(
            "plinth serve",
            lambda: processes.port_in_use(function_port),
            timeout=30,
            pid=pid,
            log=state / "plinth-serve.log",
        )
        stage("plinth serve", began)

        began = time.monotonic()
        cache = state / "xpkg"
        cache.mkdir()
        core_env = {"KUBECONFIG": str(kubeconfig), "POD_NAMESPACE": CROSSPLANE_NAMESPACE}
        core_health, webhook_port = processes.free_port(), processes.free_port()
        pid = processes.start(
            state,
            "crossplane",
            [
                bins["crossplane-core"],
                "core",
                "start",
                "--package-runtime=External",
                f"--xpkg-cache-dir={cache}",
                # Packages come from the cluster's own registry, whose certificate our CA signs.
                f"--ca-bundle-path={pki.ca}",
                f"--tls-client-certs-dir={core_client}",
                # Also the webhook server's certificate: Usages are enforced by its
                # /validate-no-usages, which _bootstrap registers with the API server.
                f"--tls-server-certs-dir={core_server}",
                f"--metrics-port={processes.free_port()}",
                f"--health-probe-port={core_health}",
                f"--webhook-port={webhook_port}",
                # For experiments with core's flags (e.g. its circuit breaker), not for tests.
                *shlex.split(os.environ.get("PLINTH_DEV_CROSSPLANE_ARGS", "")),
            ],
            env=core_env,
        )
        # readyz includes the webhook server's start, so the Usage webhook answers from here on.
        processes.wait_for(
            "crossplane",
            lambda: _http_ok(f"http://127.0.0.1:{core_health}/readyz"),
            timeout=60,
            pid=pid,
            log=state / "crossplane.log",
        )
        stage("crossplane", began)

        began = time.monotonic()
        health = processes.free_port()
        # provider-kubernetes derives its env var prefix from argv[0]; a fixed name keeps the
        # documented TLS_SERVER_CERTS_DIR and friends independent of the cached file name.
        # SafeStart: its controllers start once its package has installed their CRDs.
        pid = processes.start(
            state,
            "provider-kubernetes",
            ["provider", f"--health-probe-bind-addr=127.0.0.1:{health}"],
            env={"KUBECONFIG": str(kubeconfig), "TLS_SERVER_CERTS_DIR": str(provider_dir)},
            argv0=bins["provider-kubernetes"],
        )
        processes.wait_for(
            "provider-kubernetes",
            lambda: _http_ok(f"http://127.0.0.1:{health}/readyz"),
            timeout=60,
            pid=pid,
            log=state / "provider-kubernetes.log",
        )
        stage("provider-kubernetes", began)

        began = time.monotonic()
        runtime_config = RuntimeConfig(
            server=server,
            ca=pki.ca,
            client_cert=admin.cert,
            client_key=admin.key,
            namespace=CROSSPLANE_NAMESPACE,
            no_runtime_tls_dir=no_runtime_dir,
            client_tls_dir=core_client,
            runtimes=[
                LocalRuntime(
                    package=install.FUNCTION_SOURCE,
                    tls_dir=function_dir,
                    endpoint=f"dns:///127.0.0.1:{function_port}",
                    health=f"tcp://127.0.0.1:{function_port}",
                ),
                LocalRuntime(
                    package=install.PROVIDER_KUBERNETES_SOURCE,
                    tls_dir=provider_dir,
                    health=f"http://127.0.0.1:{health}/readyz",
                ),
            ],
        )
        (state / "runtime.json").write_text(runtime_config.model_dump_json(indent=2))
        processes.start(
            state,
            "package-runtime",
            [sys.executable, "-m", "plinth.devcluster.runtime", str(state / "runtime.json")],
        )
        stage("package runtime", began)

        began = time.monotonic()
        platform_path = platform_file
        install.apply_configuration(kubeconfig, mirror_host, index, progress)
        stage("plinth installed by the package manager", began)
        timings["workload clusters' crds established"] = workload_crds.result()
        began = time.monotonic()
        _bootstrap(kubeconfig, pki, platform_docs, platform, workloads, webhook_port)
        stage("platform configured", began)
        if legacy:
            began = time.monotonic()
            install.apply_configuration(
                kubeconfig, mirror_host, index, progress, package="configuration-legacy"
            )
            apply(kubeconfig, legacy_flavor.provider_configs_docs(platform_path))
            stage("legacy flavor installed by the package manager", began)
        if with_argocd:
            argocd.start(state, kubeconfig, bins["argocd"], platform_path, apply, stage)
        timings["total"] = round(time.monotonic() - t0, 1)
        info = ClusterInfo(
            state=str(state),
            kubeconfig=str(kubeconfig),
            apiserver_port=api_port,
            etcd_port=etcd_port,
            function_port=function_port,
            registry=mirror_host,
            timings=timings,
            clusters={
                c.name: str(
                    next(
                        (w.kubeconfig for w in workloads if c.name in w.clusters),
                        kubeconfig,
                    )
                )
                for c in platform.clusters
            },
        )
        (state / "cluster.json").write_text(json.dumps(asdict(info), indent=2))
        progress(
            f"[plinth dev] up in {timings['total']}s; export KUBECONFIG={kubeconfig}"
            f" KUBECACHEDIR={kubeconfig.parent / 'kube-cache'}"
        )
        return info
    except BaseException:
        # Keep a failed cluster for a look at its logs when asked to; otherwise leave nothing.
        if not os.environ.get("PLINTH_DEV_KEEP_ON_FAILURE"):
            processes.stop_all(state)
        raise


def load_platform(path: Path) -> tuple[list[dict[str, Any]], PlatformConfig]:
    """The platform file's documents, and its EnvironmentConfig's data as Plinth reads it."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs, PlatformConfig.model_validate(docs[0]["data"])


def _timed(fn: Callable[..., None], *args: Any) -> float:
    began = time.monotonic()
    fn(*args)
    return round(time.monotonic() - began, 1)


def _bootstrap(
    kubeconfig: Path,
    pki: Pki,
    platform_docs: list[dict[str, Any]],
    platform: PlatformConfig,
    workloads: list[workload.Workload],
    webhook_port: int,
) -> None:
    """What a platform team applies beside the Configuration: the platform EnvironmentConfig,
    Argo CD's namespace, provider-kubernetes' ClusterProviderConfigs (their CRD came with the
    provider's package), each with the kubeconfig of the cluster it reaches, and Crossplane's
    Usage webhook."""
    # Argo CD's namespace: tenants' AppProjects and apps' Applications are created there.
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": platform.argocd.namespace}}
    ]
    docs += platform_docs
    provider_user = pki.issue(
        "provider-kubernetes-client",
        "provider-kubernetes",
        organizations=("system:masters",),
        client=True,
    )
    servers = {
        workload.MANAGEMENT_SECRET: yaml.safe_load(kubeconfig.read_text())["clusters"][0][
            "cluster"
        ]["server"],
        **{workload.kubeconfig_secret(platform, w.provider_config): w.server for w in workloads},
    }
    for secret, server in sorted(servers.items()):
        text = _kubeconfig(
            kubeconfig.parent / "provider-kubeconfigs" / secret,
            server,
            pki.ca,
            provider_user.cert,
            provider_user.key,
            "provider",
        )
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": secret, "namespace": CROSSPLANE_NAMESPACE},
                "stringData": {"kubeconfig": text},
            }
        )
    for name in workload.provider_configs(platform):
        docs.append(
            {
                "apiVersion": "kubernetes.m.crossplane.io/v1alpha1",
                "kind": "ClusterProviderConfig",
                "metadata": {"name": name},
                "spec": {
                    "credentials": {
                        "source": "Secret",
                        "secretRef": {
                            "namespace": CROSSPLANE_NAMESPACE,
                            "name": workload.kubeconfig_secret(platform, name),
                            "key": "kubeconfig",
                        },
                    }
                },
            }
        )
    docs.append(usage_webhook(webhook_port, pki.ca_pem))
    apply(kubeconfig, docs)


def usage_webhook(port: int, ca_pem: bytes) -> dict[str, Any]:
    """Crossplane's `crossplane-no-usages` webhook (cluster/webhookconfigurations/usage.yaml,
    v2.3.4), which `crossplane core init` installs in a cluster pointing at its Service; here
    it points at core's webhook server on loopback. Without it Usages are created, label what
    they protect, and block nothing."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "crossplane-no-usages"},
        "webhooks": [
            {
                "name": "nousages.protection.crossplane.io",
                "admissionReviewVersions": ["v1"],
                "clientConfig": {
                    "url": f"https://127.0.0.1:{port}/validate-no-usages",
                    "caBundle": base64.b64encode(ca_pem).decode(),
                },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "objectSelector": {"matchLabels": {"crossplane.io/in-use": "true"}},
                "rules": [
                    {
                        "apiGroups": ["*"],
                        "apiVersions": ["*"],
                        "operations": ["DELETE"],
                        "resources": ["*"],
                    }
                ],
            }
        ],
    }


def wait_established(kubeconfig: Path, kind: str, timeout: float) -> None:
    """Every object of `kind` Established. Not `kubectl wait --all`: it fails outright on an
    object whose status has no conditions yet, which a just-applied CRD on a busy API server
    can be."""
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    while time.monotonic() < deadline:
        r = kubectl_run(kubeconfig, "get", kind, "-o", "json")
        if r.returncode == 0:
            items = json.loads(r.stdout)["items"]
            pending = [
                i["metadata"]["name"]
                for i in items
                if not any(
                    c.get("type") == "Established" and c.get("status") == "True"
                    for c in (i.get("status") or {}).get("conditions") or []
                )
            ]
            if not pending:
                return
        time.sleep(0.5)
    raise RuntimeError(f"{kind}s not Established after {timeout:.0f}s: {', '.join(pending[:5])}")


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _kubectl_ok(kubeconfig: Path, *args: str) -> bool:
    return kubectl_run(kubeconfig, *args, "--request-timeout=2s").returncode == 0


def down(progress: Progress = _print) -> list[str]:
    state = state_dir()
    if not state.exists():
        progress("[plinth dev] no dev cluster")
        return []
    stopped = processes.stop_all(state)
    shutil.rmtree(state, ignore_errors=True)
    progress(f"[plinth dev] stopped {', '.join(stopped) or 'nothing'}; removed {state}")
    return stopped
