"""A local management cluster made of real components, each a local process on loopback:
etcd, kube-apiserver, kube-controller-manager (garbage collection, namespace deletion),
Crossplane core, provider-kubernetes and `plinth serve`. No container engine, no image pull.

How Crossplane reaches the function without a pod: core runs with the External package
runtime, so it deploys nothing. The Function references its package by digest with
`packagePullPolicy: Never`, and the package cache (`--xpkg-cache-dir`) is pre-filled with the
package's YAML under the name core derives from source and digest, so no registry is asked.
Nothing fills in a revision's endpoint under the External runtime, so `up` patches the
FunctionRevision's status with `endpoint: dns:///127.0.0.1:PORT` and the names of two TLS
Secrets; core then dials `plinth serve` with mTLS using its client certificate, and the
function serves a certificate from the same CA.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from plinth.api.catalog import CLAIMS
from plinth.api.flavor import Flavor
from plinth.api.platform import PlatformConfig
from plinth.devcluster import argocd, processes
from plinth.devcluster import legacy as legacy_flavor
from plinth.devcluster.pki import Pki
from plinth.generators.crossplane import composition, function_meta, xrd
from plinth.tools.crds import CrdsNotFound, default_crds_dir
from plinth.tools.engine import build_script

FUNCTION_NAME = "function-plinth"
PACKAGE_SOURCE = "xpkg.plinth.dev/plinth/function-plinth"
CROSSPLANE_NAMESPACE = "crossplane-system"
# provider-kubernetes binds its webhook server here and has no flag to move it.
PROVIDER_WEBHOOK_PORT = 9443

# The upstream CRDs a Plinth composition needs to create its resources, by folder and file
# prefix. provider-upjet-aws and provider-upjet-github run nowhere here: their managed
# resources are created and stay unready, which is what a test can check without a cloud.
CRD_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crossplane", ("",)),
    ("provider-kubernetes", ("",)),
    (
        "provider-upjet-aws",
        (
            "aws.m.upbound.io_",
            # An AccountClaim's first phase; later ones need a real AWS provider anyway.
            "organizations.aws.m.upbound.io_accounts.",
            "iam.aws.m.",
            "eks.aws.m.",
            "ecr.aws.m.",
            "sqs.aws.m.",
            # The five bucket kinds an app composes, not all of S3's.
            "s3.aws.m.upbound.io_buckets.",
            "s3.aws.m.upbound.io_bucketversionings.",
            "s3.aws.m.upbound.io_bucketserversideencryptionconfigurations.",
            "s3.aws.m.upbound.io_bucketpublicaccessblocks.",
            "s3.aws.m.upbound.io_bucketownershipcontrols.",
        ),
    ),
    ("provider-upjet-github", ("github.m.upbound.io_", "repo.github.m.", "actions.github.m.")),
    ("argo-cd", ("",)),
    ("cert-manager", ("",)),
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
    timings: dict[str, float]


Progress = Callable[[str], None]


def _print(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def binary(target: str) -> str:
    """A pinned binary from the build script (built once, cached outside the repository)."""
    env_name = f"PLINTH_{target.upper().replace('-', '_')}_BIN"
    if os.environ.get(env_name):
        return os.environ[env_name]
    r = subprocess.run(
        ["bash", str(build_script()), "--print-path", target],
        capture_output=True,
        text=True,
        check=False,
    )
    if r.returncode != 0:
        raise RuntimeError(f"building {target} failed:\n{r.stderr[-3000:]}")
    return r.stdout.strip()


def kubectl_run(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    # kubectl caches discovery per server under ~/.kube/cache; every dev cluster has a new port,
    # so keep the cache beside the kubeconfig, where `down` removes it with the rest.
    return subprocess.run(
        [
            "kubectl",
            "--kubeconfig",
            str(kubeconfig),
            "--cache-dir",
            str(kubeconfig.parent / "kube-cache"),
            *args,
        ],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def kubectl(kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True) -> str:
    r = kubectl_run(kubeconfig, *args, stdin=stdin)
    if check and r.returncode != 0:
        raise RuntimeError(f"kubectl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def apply(kubeconfig: Path, docs: Iterable[dict[str, Any]]) -> None:
    text = yaml.safe_dump_all(list(docs), sort_keys=False)
    kubectl(kubeconfig, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=text)


def _kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path, user: str) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "plinth-dev",
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
        "contexts": [{"name": "plinth-dev", "context": {"cluster": "plinth-dev", "user": user}}],
        "current-context": "plinth-dev",
    }
    text = yaml.safe_dump(config, sort_keys=False)
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
            for doc in yaml.safe_load_all(f.read_text()):
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


def _function_package(cache_dir: Path) -> str:
    """Pre-fill core's package cache with the Function package; return its digest reference."""
    text = yaml.safe_dump(function_meta(), sort_keys=True)
    digest = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    # crossplane-runtime xpkg.FriendlyID(source, digest) = ToDNSLabel(source[:50]-digest[:12]).
    raw = f"{PACKAGE_SOURCE[:50]}-{digest[:12]}"
    label = "".join(
        c
        if c.isascii() and (c.islower() or c.isdigit())
        else ("-" if c in "./:-" and 0 < i < len(raw) - 1 else "")
        for i, c in enumerate(raw[:63])
    ).strip("-")
    cache_dir.mkdir(parents=True, exist_ok=True)
    (cache_dir / f"{label}.gz").write_bytes(gzip.compress(text.encode()))
    return f"{PACKAGE_SOURCE}@{digest}"


def _secret(
    name: str, files: dict[str, Path], namespace: str = CROSSPLANE_NAMESPACE
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "Opaque",
        "data": {k: base64.b64encode(p.read_bytes()).decode() for k, p in files.items()},
    }


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
                *(("argocd",) if with_argocd else ()),
            )
        }
        stage("binaries", began)

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
            [
                bins["kube-apiserver"],
                "--etcd-servers",
                etcd_url,
                "--secure-port",
                str(api_port),
                "--bind-address",
                "127.0.0.1",
                "--advertise-address",
                "127.0.0.1",
                "--cert-dir",
                str(state / "apiserver-certs"),
                "--tls-cert-file",
                str(apiserver.cert),
                "--tls-private-key-file",
                str(apiserver.key),
                "--client-ca-file",
                str(pki.ca),
                "--authorization-mode",
                "Node,RBAC",
                "--service-cluster-ip-range",
                "10.96.0.0/16",
                "--service-account-issuer",
                "https://kubernetes.default.svc",
                "--service-account-key-file",
                str(sa.cert),
                "--service-account-signing-key-file",
                str(sa.key),
            ],
        )
        kubeconfig = state / "kubeconfig"
        _kubeconfig(kubeconfig, server, pki.ca, admin.cert, admin.key, "admin")
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
            [
                bins["kube-controller-manager"],
                "--kubeconfig",
                str(kubeconfig),
                "--leader-elect=false",
                "--secure-port=0",
                "--service-account-private-key-file",
                str(sa.key),
                "--root-ca-file",
                str(pki.ca),
                "--use-service-account-credentials=false",
                "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,"
                "-service-lb-controller,-route,-bootstrapsigner,-tokencleaner",
            ],
        )
        stage("kube-controller-manager", began)

        began = time.monotonic()
        apply(kubeconfig, _crds(crds_dir, CRD_SETS + (legacy_flavor.CRD_SETS if legacy else ())))
        stage("crds applied", began)
        began = time.monotonic()
        wait_established(kubeconfig, "crd")
        kubectl(kubeconfig, "create", "namespace", CROSSPLANE_NAMESPACE)
        stage("crds established", began)

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
        package = _function_package(cache)
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
        platform_path = platform_file
        _bootstrap(
            kubeconfig,
            package,
            function_port,
            pki,
            platform_path,
            core_client,
            function_dir,
            webhook_port,
        )
        stage("plinth installed", began)
        if legacy:
            began = time.monotonic()
            apply(kubeconfig, legacy_flavor.install_docs(platform_path))
            wait_established(kubeconfig, "xrd")
            stage("legacy flavor installed", began)
        if with_argocd:
            argocd.start(state, kubeconfig, bins["argocd"], platform_path, apply, stage)
        timings["total"] = round(time.monotonic() - t0, 1)
        info = ClusterInfo(
            state=str(state),
            kubeconfig=str(kubeconfig),
            apiserver_port=api_port,
            etcd_port=etcd_port,
            function_port=function_port,
            timings=timings,
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


def _bootstrap(
    kubeconfig: Path,
    package: str,
    function_port: int,
    pki: Pki,
    platform_path: Path,
    core_client: Path,
    function_dir: Path,
    webhook_port: int,
) -> None:
    platform_docs = [d for d in yaml.safe_load_all(platform_path.read_text()) if d]
    platform = PlatformConfig.model_validate(platform_docs[0]["data"])
    # Argo CD's namespace: tenants' AppProjects and apps' Applications are created there.
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": platform.argocd.namespace}}
    ]
    docs += [xrd(api, Flavor.V2) for api in CLAIMS]
    docs += [composition(api, Flavor.V2) for api in CLAIMS]
    docs += platform_docs
    docs.append(
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Function",
            "metadata": {"name": FUNCTION_NAME},
            "spec": {"package": package, "packagePullPolicy": "Never"},
        }
    )
    # Every provider-kubernetes config the platform names reaches this same API server.
    names = {platform.provider_configs.kubernetes_management} | {
        c.kubernetes_provider_config for c in platform.clusters
    }
    provider_user = pki.issue(
        "provider-kubernetes-client",
        "provider-kubernetes",
        organizations=("system:masters",),
        client=True,
    )
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    provider_kubeconfig = kubeconfig.parent / "provider-kubeconfig"
    text = _kubeconfig(
        provider_kubeconfig, server, pki.ca, provider_user.cert, provider_user.key, "provider"
    )
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "dev-cluster-kubeconfig", "namespace": CROSSPLANE_NAMESPACE},
            "stringData": {"kubeconfig": text},
        }
    )
    for name in sorted(names):
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
                            "name": "dev-cluster-kubeconfig",
                            "key": "kubeconfig",
                        },
                    }
                },
            }
        )
    docs.append(
        _secret(
            "function-plinth-tls-server",
            {n: function_dir / n for n in ("tls.crt", "tls.key", "ca.crt")},
        )
    )
    docs.append(
        _secret(
            "function-plinth-tls-client",
            {n: core_client / n for n in ("tls.crt", "tls.key", "ca.crt")},
        )
    )
    docs.append(usage_webhook(webhook_port, pki.ca_pem))
    apply(kubeconfig, docs)
    wait_established(kubeconfig, "xrd")
    # The revision appears once core has read the package from its cache.
    name = ""
    deadline = time.monotonic() + 60
    while not name and time.monotonic() < deadline:
        name = kubectl(
            kubeconfig,
            "get",
            "functionrevisions",
            "-l",
            f"pkg.crossplane.io/package={FUNCTION_NAME}",
            "-o",
            "jsonpath={.items[0].metadata.name}",
            check=False,
        ).strip()
        if not name:
            time.sleep(0.5)
    if not name:
        status = kubectl(kubeconfig, "get", "function", FUNCTION_NAME, "-o", "yaml", check=False)
        raise RuntimeError(f"Crossplane created no FunctionRevision:\n{status}")
    kubectl(
        kubeconfig,
        "patch",
        "functionrevision",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(
            {
                "status": {
                    "endpoint": f"dns:///127.0.0.1:{function_port}",
                    "tlsServerSecretName": "function-plinth-tls-server",
                    "tlsClientSecretName": "function-plinth-tls-client",
                    # The External runtime never reports the runtime's health; the process
                    # this cluster started is the runtime, and it answered on its port.
                    "conditions": [
                        {
                            "type": t,
                            "status": "True",
                            "reason": reason,
                            "lastTransitionTime": time.strftime(
                                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()
                            ),
                        }
                        for t, reason in (
                            ("RevisionHealthy", "HealthyPackageRevision"),
                            ("RuntimeHealthy", "HealthyPackageRuntime"),
                        )
                    ],
                }
            }
        ),
    )
    kubectl(
        kubeconfig, "wait", "--for=condition=Healthy", "function", FUNCTION_NAME, "--timeout=120s"
    )


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


def wait_established(kubeconfig: Path, kind: str, timeout: float = 120) -> None:
    """`kubectl wait --for=condition=Established KIND --all`, again while an object has no
    conditions yet: kubectl fails at once on those (".status.conditions accessor error")
    instead of waiting, which a loaded machine hits right after a large apply."""
    deadline = time.monotonic() + timeout
    while True:
        left = max(1, int(deadline - time.monotonic()))
        r = kubectl_run(
            kubeconfig, "wait", "--for=condition=Established", kind, "--all", f"--timeout={left}s"
        )
        if r.returncode == 0:
            return
        if "accessor error" not in r.stderr or time.monotonic() > deadline:
            raise RuntimeError(f"kubectl wait {kind} Established: {r.stderr.strip()}")
        time.sleep(1)


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
