"""The dev cluster's pure parts, checked in the default run (the cluster itself: make e2e)."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO, crds_dir
from plinth.api.platform import PlatformConfig
from plinth.devcluster import cluster, install, kubectl, processes, registry, runtime, workload
from plinth.devcluster.pki import Pair
from plinth.devcluster.runtime import LocalRuntime, RuntimeConfig


def test_the_cluster_applies_crossplane_s_crds_and_no_provider_s() -> None:
    docs = cluster._crds(crds_dir())
    names = {d["metadata"]["name"] for d in docs}
    assert "compositeresourcedefinitions.apiextensions.crossplane.io" in names
    assert "managedresourceactivationpolicies.apiextensions.crossplane.io" in names
    assert "applications.argoproj.io" in names
    # Providers' kinds come with their packages, installed by Crossplane's package manager;
    # the workload clusters' add-ons are theirs.
    assert not [n for n in names if n.endswith((".upbound.io", "kubernetes.crossplane.io"))]
    assert "clusterpolicies.kyverno.io" not in names
    for d in docs:
        assert (d["spec"].get("conversion") or {}).get("strategy") != "Webhook"


def test_workload_clusters_get_the_kinds_tenants_and_apps_create_there() -> None:
    names = {d["metadata"]["name"] for d in cluster._crds(crds_dir(), workload.CRD_SETS)}
    # Guardrails, dedicated node pools, certificates, apps' secrets and monitors.
    assert {
        "clusterpolicies.kyverno.io",
        "nodepools.karpenter.sh",
        "ec2nodeclasses.karpenter.k8s.aws",
        "certificates.cert-manager.io",
        "secretstores.external-secrets.io",
        "externalsecrets.external-secrets.io",
        "servicemonitors.monitoring.coreos.com",
    } <= names
    assert not [n for n in names if n.endswith(("crossplane.io", "argoproj.io", "upbound.io"))]


def _platform(**changes: Any) -> PlatformConfig:
    docs = list(yaml.safe_load_all((REPO / "examples" / "platform.yaml").read_text()))
    data = docs[0]["data"]
    for i, c in enumerate(data["clusters"]):
        c.update(changes.get(c["name"], {}))
        data["clusters"][i] = c
    return PlatformConfig.model_validate(data)


def test_each_cluster_the_platform_names_is_an_api_server_of_its_own(tmp_path: Path) -> None:
    platform = _platform()
    planned = workload.plan(platform, tmp_path)
    assert [w.clusters for w in planned] == [
        ("eks-dev-use1",),
        ("eks-prod-use1",),
        ("eks-prod-usw2",),
        ("eks-staging-use1",),
    ]
    assert len({w.port for w in planned}) == len({w.kubeconfig for w in planned}) == 4
    prefixes = set()
    for w in planned:
        argv = workload.workload_apiserver_argv(
            "kube-apiserver",
            w,
            etcd_url="http://127.0.0.1:2379",
            state=tmp_path,
            serving=Pair(tmp_path / "s.crt", tmp_path / "s.key"),
            ca=tmp_path / "ca.crt",
            sa=Pair(tmp_path / "sa.crt", tmp_path / "sa.key"),
        )
        # One etcd, a keyspace per cluster, none the management cluster's (/registry).
        prefixes.add(argv[argv.index("--etcd-prefix") + 1])
        assert argv[argv.index("--secure-port") + 1] == str(w.port)
        kcm = workload.controller_manager_argv(
            "kcm", w.kubeconfig, tmp_path / "sa.key", tmp_path / "ca"
        )
        assert kcm[kcm.index("--kubeconfig") + 1] == str(w.kubeconfig)
        # Namespaces a tenant leaves are emptied and deleted, as in a real cluster.
        assert "namespace" in kcm[-1]
        assert workload.kubeconfig_secret(platform, w.provider_config) == (
            f"{w.provider_config}-kubeconfig"
        )
    assert len(prefixes) == 4
    assert "/registry" not in prefixes
    assert workload.kubeconfig_secret(platform, "kubernetes-management") == (
        workload.MANAGEMENT_SECRET
    )


def test_clusters_sharing_a_provider_config_share_an_api_server(tmp_path: Path) -> None:
    platform = _platform(
        **{
            "eks-prod-usw2": {"kubernetesProviderConfig": "eks-prod-use1"},
            # Reached through the management cluster's own config: it is the management cluster.
            "eks-staging-use1": {"kubernetesProviderConfig": "kubernetes-management"},
        }
    )
    planned = workload.plan(platform, tmp_path)
    assert [(w.provider_config, w.clusters) for w in planned] == [
        ("eks-dev-use1", ("eks-dev-use1",)),
        ("eks-prod-use1", ("eks-prod-use1", "eks-prod-usw2")),
    ]


def test_stop_all_stops_what_was_started_and_leaves_no_pid_files(tmp_path: Path) -> None:
    pid = processes.start(tmp_path, "sleeper", ["sleep", "60"])
    assert processes.alive(pid)
    assert processes.stop_all(tmp_path) == ["sleeper"]
    assert not processes.alive(pid)
    assert not list(tmp_path.glob("*.pid"))


def test_make_e2e_is_documented() -> None:
    assert "make e2e" in (REPO / "README.md").read_text()
    assert "make e2e" in (REPO / "docs" / "development.md").read_text()


def test_the_usage_webhook_reaches_core_on_loopback_with_our_ca() -> None:
    hook = cluster.usage_webhook(40123, b"PEM")
    (webhook,) = hook["webhooks"]
    # Names and rules as Crossplane's cluster/webhookconfigurations/usage.yaml (v2.3.4), whose
    # handler core registers at /validate-no-usages.
    assert hook["metadata"]["name"] == "crossplane-no-usages"
    assert webhook["name"] == "nousages.protection.crossplane.io"
    assert webhook["clientConfig"] == {
        "url": "https://127.0.0.1:40123/validate-no-usages",
        "caBundle": "UEVN",
    }
    assert webhook["objectSelector"] == {"matchLabels": {"crossplane.io/in-use": "true"}}
    assert webhook["rules"][0]["operations"] == ["DELETE"]
    assert webhook["failurePolicy"] == "Fail"


def test_kubectl_keeps_its_discovery_cache_beside_the_kubeconfig(tmp_path: Path) -> None:
    # No server: kubectl fails, but only after choosing its cache directory.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    r = kubectl.kubectl_run(kubeconfig, "config", "view", "-o", "jsonpath={.kind}")
    assert r.returncode == 0, r.stderr
    assert "--cache-dir" in r.args
    assert str(tmp_path / "kube-cache") in r.args


# --- the External package runtime (runtime.py) ---------------------------------------------


def runtime_config(tmp_path: Path, function_port: int) -> RuntimeConfig:
    return RuntimeConfig(
        server="https://127.0.0.1:1",
        ca=tmp_path / "ca.crt",
        client_cert=tmp_path / "c.crt",
        client_key=tmp_path / "c.key",
        no_runtime_tls_dir=tmp_path / "none",
        client_tls_dir=tmp_path / "client",
        runtimes=[
            LocalRuntime(
                package="ghcr.io/plinth-dev/function-plinth",
                tls_dir=tmp_path / "fn",
                endpoint=f"dns:///127.0.0.1:{function_port}",
                health=f"tcp://127.0.0.1:{function_port}",
            )
        ],
    )


def revision(kind: str, package: str, image: str, *conditions: dict[str, str]) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {
            "name": f"{package}-0123456789ab",
            "labels": {runtime.PACKAGE_LABEL: package},
            "resourceVersion": "7",
        },
        "spec": {"image": image, "desiredState": "Active"},
        "status": {"conditions": list(conditions)},
    }


HEALTHY_REVISION = {
    "type": "RevisionHealthy",
    "status": "True",
    "reason": "HealthyPackageRevision",
    "lastTransitionTime": "2026-01-01T00:00:00Z",
}


def test_a_running_function_gets_its_endpoint_secrets_and_runtime_health(tmp_path: Path) -> None:
    port = processes.free_port()
    config = runtime_config(tmp_path, port)
    rev = revision(
        "FunctionRevision",
        "plinth-dev-function-plinth",
        "ghcr.io/plinth-dev/function-plinth:v0.1.0",
        HEALTHY_REVISION,
    )
    # Nothing listens yet: the revision is healthy, the runtime is not.
    want, local = runtime.desired_status(rev, config, "T1")
    assert local is config.runtimes[0]
    assert want["endpoint"] == f"dns:///127.0.0.1:{port}"
    # Crossplane's names for a package's TLS Secrets (`<package>-tls-server|client`).
    assert want["tlsServerSecretName"] == "plinth-dev-function-plinth-tls-server"
    assert want["tlsClientSecretName"] == "plinth-dev-function-plinth-tls-client"
    revision_healthy, runtime_healthy = want["conditions"]
    assert revision_healthy == HEALTHY_REVISION, "core's own condition is kept as it is"
    assert runtime_healthy["status"] == "False"
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        rev["status"]["conditions"] = want["conditions"]
        want, _ = runtime.desired_status(rev, config, "T2")
        assert want["conditions"][1] == {
            "type": "RuntimeHealthy",
            "status": "True",
            "reason": "HealthyPackageRevision",
            "lastTransitionTime": "T2",
        }
        # Unchanged health: no conditions in the patch, so nothing is written.
        rev["status"]["conditions"] = want["conditions"]
        again, _ = runtime.desired_status(rev, config, "T3")
        assert "conditions" not in again


def test_a_package_nothing_runs_gets_secrets_and_says_so(tmp_path: Path) -> None:
    config = runtime_config(tmp_path, processes.free_port())
    rev = revision(
        "ProviderRevision",
        "crossplane-contrib-provider-aws-s3",
        "xpkg.crossplane.io/crossplane-contrib/provider-aws-s3:v2.6.0",
        HEALTHY_REVISION,
    )
    want, local = runtime.desired_status(rev, config, "T")
    assert local is None
    assert "endpoint" not in want
    assert want["tlsServerSecretName"] == "crossplane-contrib-provider-aws-s3-tls-server"
    condition = want["conditions"][1]
    assert (condition["status"], condition["message"]) == ("False", runtime.NOT_RUN)


def test_runtime_health_waits_for_the_revision(tmp_path: Path) -> None:
    config = runtime_config(tmp_path, processes.free_port())
    rev = revision("ProviderRevision", "p", "xpkg.crossplane.io/crossplane-contrib/p:v1")
    want, _ = runtime.desired_status(rev, config, "T")
    assert want["conditions"][0]["message"] == "Package revision is not healthy yet"


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("ghcr.io/plinth-dev/function-plinth:v0.1.0", "ghcr.io/plinth-dev/function-plinth"),
        ("127.0.0.1:5443/ghcr.io/a/b@sha256:" + "0" * 64, "127.0.0.1:5443/ghcr.io/a/b"),
        ("127.0.0.1:5443/a/b", "127.0.0.1:5443/a/b"),
    ],
)
def test_a_revision_s_package_is_its_repository(image: str, repository: str) -> None:
    assert runtime.repository(image) == repository


def test_the_registry_serves_tls_on_loopback_from_the_state_directory(tmp_path: Path) -> None:
    cfg = yaml.safe_load(
        registry.config(tmp_path, 5443, Pair(tmp_path / "r.crt", tmp_path / "r.key")).read_text()
    )
    assert cfg["http"]["addr"] == "127.0.0.1:5443"
    assert cfg["http"]["tls"] == {
        "certificate": str(tmp_path / "r.crt"),
        "key": str(tmp_path / "r.key"),
    }
    assert cfg["storage"]["filesystem"]["rootdirectory"].startswith(str(tmp_path))


def test_plinth_is_installed_when_the_package_manager_says_so() -> None:
    def pkg(name: str, healthy: str, revision: str = "r") -> dict[str, Any]:
        return {
            "metadata": {"name": name},
            "spec": {"package": name},
            "status": {
                "currentRevision": revision,
                "conditions": [{"type": "Healthy", "status": healthy}],
            },
        }

    state: dict[str, Any] = {
        "configurations": [pkg("plinth", "True")],
        "functions": [pkg("plinth-dev-function-plinth", "True")],
        "providers": [
            pkg("crossplane-contrib-provider-kubernetes", "True"),
            pkg("crossplane-contrib-provider-aws-s3", "False"),
        ],
        "providerrevisions": {
            "status": {"conditions": [{"type": "RevisionHealthy", "status": "True"}]}
        },
        "configurationrevisions": {
            "status": {
                "objectRefs": [
                    {
                        "kind": "CompositeResourceDefinition",
                        "name": "tenantclaims.platform.plinth.dev",
                    },
                    {"kind": "ManagedResourceActivationPolicy", "name": "plinth"},
                ]
            }
        },
        "compositeresourcedefinitions": {
            "status": {"conditions": [{"type": "Established", "status": "True"}]}
        },
        "managedresourceactivationpolicies": {
            "spec": {
                "activate": ["buckets.s3.aws.m.upbound.io", "objects.kubernetes.m.crossplane.io"]
            },
            "status": {
                "activated": ["buckets.s3.aws.m.upbound.io", "objects.kubernetes.m.crossplane.io"]
            },
        },
        "crds": [
            {
                "metadata": {"name": n},
                "status": {"conditions": [{"type": "Established", "status": "True"}]},
            }
            for n in ("buckets.s3.aws.m.upbound.io", "objects.kubernetes.m.crossplane.io")
        ],
    }

    def get(kind: str, *names: str) -> Any:
        value = state[kind]
        if kind == "crds":
            return {"items": [c for c in value if c["metadata"]["name"] in names]}
        return value if names else {"items": value}

    # An AWS provider runs nowhere here: its revision's health (its CRDs) is what counts.
    assert install.installed(get, 2) == (True, "")
    assert install.installed(get, 3)[0] is False
    # A Healthy Configuration whose XRD's CRD the API server refused has no claim kind.
    state["compositeresourcedefinitions"] = {"status": {}}
    done, why = install.installed(get, 2)
    assert not done
    assert "XRD tenantclaims.platform.plinth.dev not Established" in why
    state["compositeresourcedefinitions"] = {
        "status": {"conditions": [{"type": "Established", "status": "True"}]}
    }
    # Providers' revisions are healthy before Crossplane has activated each MRD and the API
    # server serves its kind: a claim applied then would compose kinds that do not exist.
    state["managedresourceactivationpolicies"]["status"]["activated"].pop()
    done, why = install.installed(get, 2)
    assert (done, why) == (
        False,
        "1 of 2 managed resource kinds not active: objects.kubernetes.m.crossplane.io",
    )
    state["managedresourceactivationpolicies"]["status"]["activated"].append(
        "objects.kubernetes.m.crossplane.io"
    )
    state["crds"][0]["status"] = {}
    assert install.installed(get, 2) == (False, "CRD buckets.s3.aws.m.upbound.io not Established")
    state["crds"][0]["status"] = state["crds"][1]["status"]
    assert install.installed(get, 2) == (True, "")
    state["functions"][0]["status"]["conditions"][0]["status"] = "False"
    assert install.installed(get, 2) == (False, "Function plinth-dev-function-plinth not Healthy")


def test_a_killed_process_restarts_as_it_was_first_started(tmp_path: Path) -> None:
    argv = [
        sys.executable,
        "-u",
        "-c",
        "import os, time; print(os.environ['CHAOS']); time.sleep(60)",
    ]
    log = tmp_path / "sleeper.log"
    first = processes.start(tmp_path, "sleeper", argv, env={"CHAOS": "one"})
    processes.wait_for("it ran", lambda: log.read_text() != "", timeout=10)
    processes.kill(tmp_path, "sleeper")
    assert not processes.alive(first)
    second = processes.restart(tmp_path, "sleeper")
    try:
        assert second != first
        assert processes.alive(second)
        assert processes.pid_of(tmp_path, "sleeper") == second
        with pytest.raises(RuntimeError, match="still running"):
            processes.restart(tmp_path, "sleeper")
        # Started again with the same environment, logging on in the same file.
        processes.wait_for(
            "both ran", lambda: log.read_text().split() == ["one", "one"], timeout=10
        )
    finally:
        assert processes.stop_all(tmp_path) == ["sleeper"]
