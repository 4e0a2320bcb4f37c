"""The platform's workload clusters in the dev cluster: one kube-apiserver per cluster the
platform config names, on the management cluster's etcd under a key prefix of its own, with a
kube-controller-manager for what a cluster does by itself when a tenant goes (namespace
deletion, garbage collection), and the CRDs of the add-ons tenants' Objects create there
(Kyverno, Karpenter, cert-manager, External Secrets, prometheus-operator; none of their
controllers run).

Why not the management API server for every cluster: a cluster-scoped object a tenant puts on
each of its clusters (its Kyverno ClusterPolicy, which names its environment) was then one
object held by two Objects, each taking it over from the other and waiting out
provider-kubernetes' 30 s re-look every time; a tenant's default namespace (the team's name)
was the team's management namespace; two prod clusters were two Objects fighting over every
prod namespace; and no test could see which cluster an object landed on.

Every API server here trusts the one CA, so the admin's and provider-kubernetes' client
certificates reach each of them; only the server differs in their kubeconfigs.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plinth.api.platform import PlatformConfig
from plinth.devcluster import processes
from plinth.devcluster.kubectl import apply, kubectl_run
from plinth.devcluster.pki import Pair

# The kinds tenants' and apps' Objects create in a workload cluster (the management cluster
# gets Crossplane's and Argo CD's: cluster.CRD_SETS). An Object whose kind its cluster lacks is
# never Ready, which holds a claim back as no real cluster with the add-on would.
CRD_SETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("kyverno", ("kyverno.io_",)),
    ("karpenter", ("",)),
    ("cert-manager", ("",)),
    ("external-secrets", ("",)),
    ("prometheus-operator", ("",)),
)

# What a workload cluster needs of kube-controller-manager: a deleted namespace is emptied and
# goes, and objects whose owner went are collected. Nothing schedules or runs pods here.
CONTROLLERS = "namespace-controller,garbage-collector-controller"


@dataclass(frozen=True)
class Workload:
    """One workload API server: the provider-kubernetes config that reaches it (the platform's
    `kubernetesProviderConfig`) and the platform's clusters that name that config."""

    provider_config: str
    clusters: tuple[str, ...]
    port: int
    kubeconfig: Path

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def process(self) -> str:
        return f"workload-{self.provider_config}"


# The Secret (in crossplane-system) with the kubeconfig provider-kubernetes reaches the
# management cluster through; a workload cluster's is named after its provider config.
MANAGEMENT_SECRET = "dev-cluster-kubeconfig"


def kubeconfig_secret(platform: PlatformConfig, provider_config: str) -> str:
    """The kubeconfig Secret a provider-kubernetes config of the platform reads."""
    if provider_config == platform.provider_configs.kubernetes_management:
        return MANAGEMENT_SECRET
    return f"{provider_config}-kubeconfig"


def provider_configs(platform: PlatformConfig) -> list[str]:
    """Every provider-kubernetes config the platform names: its management cluster's and its
    clusters'."""
    return sorted(
        {platform.provider_configs.kubernetes_management}
        | {c.kubernetes_provider_config for c in platform.clusters}
    )


def plan(platform: PlatformConfig, state: Path) -> list[Workload]:
    """An API server per distinct provider config of the platform's clusters. A cluster reached
    through the management cluster's own config is the management cluster, and gets none."""
    by_config: dict[str, list[str]] = {}
    for c in platform.clusters:
        if c.kubernetes_provider_config != platform.provider_configs.kubernetes_management:
            by_config.setdefault(c.kubernetes_provider_config, []).append(c.name)
    return [
        Workload(
            provider_config=pc,
            clusters=tuple(names),
            port=processes.free_port(),
            kubeconfig=state / "clusters" / pc / "kubeconfig",
        )
        for pc, names in sorted(by_config.items())
    ]


def apiserver_argv(
    binary: str,
    *,
    etcd_url: str,
    port: int,
    cert_dir: Path,
    serving: Pair,
    ca: Path,
    sa: Pair,
    etcd_prefix: str | None = None,
) -> list[str]:
    """A kube-apiserver on loopback: RBAC, client certificates from `ca`, service accounts
    signed with `sa`; `etcd_prefix` puts a workload cluster in a keyspace of its own (the
    management cluster keeps the default, /registry)."""
    return [
        binary,
        "--etcd-servers",
        etcd_url,
        *(("--etcd-prefix", etcd_prefix) if etcd_prefix else ()),
        "--secure-port",
        str(port),
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--cert-dir",
        str(cert_dir),
        "--tls-cert-file",
        str(serving.cert),
        "--tls-private-key-file",
        str(serving.key),
        "--client-ca-file",
        str(ca),
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
    ]


def workload_apiserver_argv(
    binary: str, w: Workload, *, etcd_url: str, state: Path, serving: Pair, ca: Path, sa: Pair
) -> list[str]:
    return apiserver_argv(
        binary,
        etcd_url=etcd_url,
        port=w.port,
        cert_dir=state / "clusters" / w.provider_config / "apiserver-certs",
        serving=serving,
        ca=ca,
        sa=sa,
        etcd_prefix=f"/workload/{w.provider_config}",
    )


def controller_manager_argv(
    binary: str, kubeconfig: Path, sa_key: Path, ca: Path, controllers: str = CONTROLLERS
) -> list[str]:
    """A kube-controller-manager running `controllers` (a workload cluster's by default)."""
    return [
        binary,
        "--kubeconfig",
        str(kubeconfig),
        "--leader-elect=false",
        "--secure-port=0",
        "--service-account-private-key-file",
        str(sa_key),
        "--root-ca-file",
        str(ca),
        "--use-service-account-credentials=false",
        f"--controllers={controllers}",
    ]


def install_crds(
    workloads: list[Workload],
    docs: list[dict[str, Any]],
    wait_established: Callable[[Path, str, float], None],
) -> None:
    """The add-ons' CRDs applied to every workload cluster at once, each waited Established."""

    def one(w: Workload) -> None:
        apply(w.kubeconfig, docs)
        wait_established(w.kubeconfig, "crd", 180)

    with ThreadPoolExecutor(max_workers=max(1, len(workloads))) as pool:
        for f in [pool.submit(one, w) for w in workloads]:
            f.result()


def ready(w: Workload) -> bool:
    return (
        kubectl_run(w.kubeconfig, "get", "--raw", "/readyz", "--request-timeout=2s").returncode == 0
    )
