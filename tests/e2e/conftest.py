"""The dev cluster every end-to-end test of the session shares: the one `PLINTH_DEV_KUBECONFIG`
names, or one started here (Plinth installed through Crossplane's package manager) and
stopped at the end."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.kube import kyverno_playing, say


@pytest.fixture(scope="session")
def cluster_info() -> Iterator[dict[str, object]]:
    from plinth.devcluster import cluster

    given = os.environ.get("PLINTH_DEV_KUBECONFIG")
    if given:
        state = Path(given).parent / "cluster.json"
        yield json.loads(state.read_text()) if state.is_file() else {"kubeconfig": given}
        return
    repo = Path(__file__).resolve().parents[2]
    info = cluster.up(repo / "examples" / "platform.yaml", progress=say)
    say(f"control plane up in {info.timings['total']}s: {json.dumps(info.timings)}")
    try:
        yield json.loads((Path(info.state) / "cluster.json").read_text())
    finally:
        cluster.down(progress=say)


@pytest.fixture(scope="session")
def kubeconfig(cluster_info: dict[str, object]) -> Path:
    return Path(str(cluster_info["kubeconfig"]))


@pytest.fixture
def kyverno(kubeconfig: Path) -> Iterator[None]:
    """Kyverno running in every workload cluster for the whole test, as it does in a real one:
    each ClusterPolicy is Ready moments after it is created (played: kube.kyverno_playing)."""
    with kyverno_playing(kubeconfig):
        yield
