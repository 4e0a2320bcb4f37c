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
