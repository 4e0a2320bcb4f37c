"""The dev cluster's pure parts, checked in the default run (the cluster itself: make e2e)."""

from __future__ import annotations

import gzip
from pathlib import Path

import yaml

from conftest import REPO, crds_dir
from plinth.devcluster import cluster, processes


def test_package_cache_entry_is_named_as_crossplane_looks_it_up(tmp_path: Path) -> None:
    ref = cluster._function_package(tmp_path)
    source, digest = ref.split("@")
    assert source == cluster.PACKAGE_SOURCE
    (entry,) = tmp_path.glob("*.gz")
    # crossplane-runtime: FriendlyID(source, digest) = ToDNSLabel(source[:50] + "-" + digest[:12])
    assert entry.name == f"xpkg-plinth-dev-plinth-function-plinth-sha256-{digest[7:12]}.gz"
    package = yaml.safe_load_all(gzip.decompress(entry.read_bytes()).decode())
    assert [d["kind"] for d in package if d] == ["Function"]


def test_crds_lose_conversion_webhooks_this_cluster_cannot_serve() -> None:
    docs = cluster._crds(crds_dir())
    names = {d["metadata"]["name"] for d in docs}
    assert "objects.kubernetes.crossplane.io" in names
    assert "compositeresourcedefinitions.apiextensions.crossplane.io" in names
    assert "roles.iam.aws.m.upbound.io" in names
    for d in docs:
        assert (d["spec"].get("conversion") or {}).get("strategy") != "Webhook"


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
    r = cluster.kubectl_run(kubeconfig, "config", "view", "-o", "jsonpath={.kind}")
    assert r.returncode == 0, r.stderr
    assert "--cache-dir" in r.args
    assert str(tmp_path / "kube-cache") in r.args
