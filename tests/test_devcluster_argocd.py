"""The dev cluster's Argo CD, its pure parts (the real processes: make e2e-gitops): argocd-cm,
process arguments, the repositories it serves, and a real git daemon round trip."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from plinth.devcluster import argocd, gitserver, legacy, processes
from plinth.generators import gitops

PLATFORM = REPO / "examples" / "platform.yaml"
PORTS = argocd.Ports(
    redis=1001,
    repo_server=1002,
    repo_server_metrics=1003,
    controller_metrics=1004,
    appset_metrics=1005,
    appset_probe=1006,
    appset_webhook=1007,
    git=1008,
)


def _specs(tmp_path: Path) -> dict[str, argocd.Process]:
    binary = tmp_path / "argocd-v3.5.1"
    scripts = tmp_path / "argocd-v3.5.1-scripts"
    scripts.mkdir()
    (scripts / "git-verify-wrapper.sh").write_text("#!/bin/sh\n")
    specs = argocd.process_specs(
        str(binary), "/usr/bin/redis-server", PORTS, tmp_path / "home", tmp_path / "kubeconfig"
    )
    return {p.name: p for p in specs}


def test_argocd_cm_is_the_one_gitops_health_ships() -> None:
    (cm, rbac, params, secret) = argocd.settings()
    checked_in = yaml.safe_load((REPO / "gitops/health/argocd-cm-patch.yaml").read_text())
    assert cm["metadata"]["name"] == "argocd-cm"
    assert cm["data"] == checked_in["data"]
    assert cm["data"][gitops.IMPERSONATION_KEY] == "true"
    for group, kind in gitops.health_kinds():
        assert cm["data"][gitops.health_key(group, kind)] == gitops.HEALTH_LUA
    # Argo CD's settings informer only sees objects with this label.
    for obj in (cm, rbac, params, secret):
        assert obj["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
        assert obj["metadata"]["namespace"] == "argocd"
    assert [o["kind"] for o in (rbac, params, secret)] == ["ConfigMap", "ConfigMap", "Secret"]


def test_the_helm_values_carry_the_same_settings() -> None:
    values = yaml.safe_load((REPO / "gitops/health/values.yaml").read_text())
    assert values["configs"]["cm"] == argocd.settings()[0]["data"]


def test_one_binary_dispatched_by_name_all_on_loopback(tmp_path: Path) -> None:
    specs = _specs(tmp_path)
    assert list(specs) == [
        "argocd-redis",
        "argocd-repo-server",
        "argocd-application-controller",
        "argocd-applicationset-controller",
    ]
    for name in list(specs)[1:]:
        assert specs[name].argv[0] == str(tmp_path / "argocd-v3.5.1")
        assert specs[name].env["ARGOCD_BINARY_NAME"] == name
        assert specs[name].env["ARGOCD_FAKE_IN_CLUSTER"] == "true"
        assert specs[name].env["KUBECONFIG"] == str(tmp_path / "kubeconfig")
        # Everything Argo CD writes stays in the state directory `down` removes.
        for var in ("TMPDIR", "HOME", "ARGOCD_TLS_DATA_PATH", "ARGOCD_GNUPGHOME"):
            assert specs[name].env[var].startswith(str(tmp_path / "home"))
    text = " ".join(a for p in specs.values() for a in p.argv)
    assert "0.0.0.0" not in text
    repo = specs["argocd-repo-server"].argv
    assert repo[repo.index("--address") + 1] == "127.0.0.1"
    assert repo[repo.index("--metrics-address") + 1] == "127.0.0.1"
    # With TLS off, the repo-server refuses its default client CA path.
    assert "--disable-tls" in repo
    assert repo[repo.index("--client-ca-path") + 1] == ""
    appset = specs["argocd-applicationset-controller"].argv
    for flag in ("--metrics-addr", "--probe-addr", "--webhook-addr"):
        assert appset[appset.index(flag) + 1].startswith("127.0.0.1:")
    redis = specs["argocd-redis"].argv
    assert redis[redis.index("--bind") + 1] == "127.0.0.1"
    assert redis[redis.index("--save") + 1] == ""


def test_controller_shard_health_and_polling(tmp_path: Path) -> None:
    ctrl = _specs(tmp_path)["argocd-application-controller"]
    # The controller derives its shard from a StatefulSet ordinal at the end of its hostname.
    assert ctrl.env["HOSTNAME"].rsplit("-", 1)[1].isdigit()
    assert "--persist-resource-health" in ctrl.argv
    assert ctrl.argv[ctrl.argv.index("--app-resync") + 1] == str(argocd.RESYNC_SECONDS)
    assert ctrl.argv[ctrl.argv.index("--repo-server") + 1] == "127.0.0.1:1002"
    assert ctrl.argv[ctrl.argv.index("--redis") + 1] == "127.0.0.1:1001"


def test_the_repo_server_finds_the_image_scripts_on_path(tmp_path: Path) -> None:
    repo = _specs(tmp_path)["argocd-repo-server"]
    assert repo.env["PATH"].split(":")[0] == str(tmp_path / "argocd-v3.5.1-scripts")


def test_missing_scripts_say_how_to_get_them(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match=r"hack/build-tools.sh argocd"):
        argocd.scripts_dir(str(tmp_path / "argocd-v3.5.1"))


def test_ports_are_distinct() -> None:
    ports = argocd.Ports.free()
    values = list(vars(ports).values())
    assert len(set(values)) == len(values)


def test_gitops_yaml_is_pointed_at_local_repositories() -> None:
    text = (REPO / "gitops/claims/access.yaml").read_text()
    text += (REPO / "gitops/claims/applicationset.yaml").read_text()
    out = argocd.point_at(text, "git://127.0.0.1:1/platform.git", "git://127.0.0.1:1/claims.git")
    assert gitops.CLAIM_REPO not in out
    assert gitops.PLATFORM_REPO not in out
    assert out.count("git://127.0.0.1:1/claims.git") == text.count(gitops.CLAIM_REPO)
    assert out.count("git://127.0.0.1:1/platform.git") == text.count(gitops.PLATFORM_REPO)


def test_the_platform_repository_serves_the_waves_that_can_sync_here() -> None:
    files = argocd.platform_files(PLATFORM)
    waves = sorted(Path(p).name for p in files if p.startswith("gitops/platform/manifests/"))
    assert waves == ["10-provider-configs.yaml", "30-platform.yaml"]
    # What `plinth generate` writes (the checked-in files, by the drift test)...
    served = yaml.safe_load_all(files["gitops/platform/manifests/10-provider-configs.yaml"])
    checked = yaml.safe_load_all(
        (REPO / "gitops/platform/manifests/10-provider-configs.yaml").read_text()
    )
    assert list(served) == list(checked)
    # ...and, for wave 3, this cluster's own platform: in a platform repository the file holds
    # the platform team's values, and here those are the ones `up` was started with.
    (env,) = yaml.safe_load_all(files["gitops/platform/manifests/30-platform.yaml"])
    (platform,) = [d for d in yaml.safe_load_all(PLATFORM.read_text()) if d]
    assert env["data"] == platform["data"]
    assert env["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "3"
    assert env["kind"] == "EnvironmentConfig"
    assert f"{gitops.TEAM_ACCESS_PATH}/plinth-claims.yaml" in files
    # Every wave is either served or deliberately left out.
    checked_in = {p.name for p in (REPO / "gitops/platform/manifests").glob("*.yaml")}
    assert checked_in == set(argocd.PLATFORM_WAVES) | set(argocd.PACKAGE_WAVES)


def test_a_local_registry_switches_the_package_waves_on() -> None:
    files = argocd.platform_files(PLATFORM, registry="127.0.0.1:5000")
    waves = sorted(Path(p).name for p in files if p.startswith("gitops/platform/manifests/"))
    assert waves == sorted(argocd.PLATFORM_WAVES + argocd.PACKAGE_WAVES)
    for name in argocd.PACKAGE_WAVES:
        docs = list(yaml.safe_load_all(files[f"gitops/platform/manifests/{name}"]))
        assert docs
        for d in docs:
            assert d["spec"]["package"].startswith("127.0.0.1:5000/"), d["spec"]["package"]


def test_git_daemon_serves_each_commit_as_the_whole_tree(tmp_path: Path) -> None:
    base = tmp_path / "git"
    first = gitserver.publish(base, "claims", {"teams/a/x.yaml": "a: 1\n", "b.txt": "b"}, "one")
    second = gitserver.publish(base, "claims", {"teams/a/x.yaml": "a: 2\n"}, "two")
    assert first != second
    port = processes.free_port()
    state = tmp_path / "state"
    state.mkdir()
    gitserver.start(state, base, port)
    try:
        remote = subprocess.run(
            ["git", "ls-remote", gitserver.url(port, "claims"), "refs/heads/main"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        assert remote.split()[0] == second
        clone = tmp_path / "clone"
        subprocess.run(
            ["git", "clone", "-q", gitserver.url(port, "claims"), str(clone)],
            check=True,
            timeout=60,
        )
        assert (clone / "teams/a/x.yaml").read_text() == "a: 2\n"
        assert not (clone / "b.txt").exists(), "a file left out of a commit is removed"
    finally:
        processes.stop_all(state)


def test_claims_docs_are_the_checked_in_files_pointed_here() -> None:
    info = argocd.ArgoInfo(
        ports=PORTS,
        git_base="/x",
        platform_repo="git://127.0.0.1:1008/platform.git",
        claim_repo="git://127.0.0.1:1008/claims.git",
    )
    docs = argocd.claims_docs(info)
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert "ApplicationSet/plinth-claims" in kinds
    assert "ApplicationSet/plinth-claims-access" in kinds
    assert "AppProject/plinth-claims" in kinds
    assert "AppProject/plinth-claims-access" in kinds
    text = yaml.safe_dump_all(docs)
    assert "github.com" not in text
    checked_in = [
        d
        for f in sorted((REPO / "gitops/claims").glob("*.yaml"))
        for d in yaml.safe_load_all(
            argocd.point_at(f.read_text(), info.platform_repo, info.claim_repo)
        )
        if d
    ]
    assert docs == checked_in


def test_the_legacy_flavor_gets_a_provider_config_per_cluster_name() -> None:
    configs = legacy.provider_configs_docs(PLATFORM)
    # Legacy Objects name cluster-scoped ProviderConfigs: one per name the platform uses.
    assert {c["metadata"]["name"] for c in configs} == {
        "kubernetes-management",
        "eks-dev-use1",
        "eks-staging-use1",
        "eks-prod-use1",
        "eks-prod-usw2",
    }
    # Each reaches its own cluster, through the Secret its v2 ClusterProviderConfig reads.
    secrets = {c["metadata"]["name"]: c["spec"]["credentials"]["secretRef"] for c in configs}
    assert secrets["kubernetes-management"]["name"] == "dev-cluster-kubeconfig"
    assert secrets["eks-prod-usw2"]["name"] == "eks-prod-usw2-kubeconfig"
    assert len({s["name"] for s in secrets.values()}) == len(secrets)
    for c in configs:
        assert c["kind"] == "ProviderConfig"
        assert c["apiVersion"] == "kubernetes.crossplane.io/v1alpha1"
        assert c["spec"]["credentials"]["secretRef"]["namespace"] == "crossplane-system"


def test_the_legacy_configuration_is_applied_under_its_own_name() -> None:
    from plinth.devcluster import install

    assert install.configuration("r/c:v1", "plinth-legacy")["metadata"]["name"] == "plinth-legacy"
    assert install.configuration("r/c:v1")["metadata"]["name"] == install.CONFIGURATION_NAME
