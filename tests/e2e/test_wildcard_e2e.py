"""What the activation policy saves, measured: Crossplane's default `*` policy added to the dev
cluster, every inactive MRD becomes a CRD. Opt-in (`PLINTH_E2E_ALL_CRDS=1`), and last: it
adds about 500 CRDs to the API server for the rest of the session."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from e2e.kube import condition, get, rss_mib, say
from plinth.devcluster.cluster import wait_established
from plinth.devcluster.kubectl import apply

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.environ.get("PLINTH_E2E_ALL_CRDS") != "1",
        reason="PLINTH_E2E_ALL_CRDS=1 measures the CRDs of a `*` activation policy",
    ),
]


def test_the_default_wildcard_policy_would_install_every_managed_resource_crd(
    kubeconfig: Path, cluster_info: dict[str, Any]
) -> None:
    before = len(get(kubeconfig, "crds")["items"])
    mrds = get(kubeconfig, "managedresourcedefinitions")["items"]
    began = time.monotonic()
    # Crossplane's Helm chart's `default` policy (provider.defaultActivations: ["*"]).
    apply(
        kubeconfig,
        [
            {
                "apiVersion": "apiextensions.crossplane.io/v1alpha1",
                "kind": "ManagedResourceActivationPolicy",
                "metadata": {"name": "default"},
                "spec": {"activate": ["*"]},
            }
        ],
    )
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        states = [
            m["spec"].get("state") for m in get(kubeconfig, "managedresourcedefinitions")["items"]
        ]
        if all(s == "Active" for s in states):
            break
        time.sleep(2)
    wait_established(kubeconfig, "crd", timeout=900)
    took = time.monotonic() - began
    crds = get(kubeconfig, "crds")["items"]
    names = {c["metadata"]["name"] for c in crds}
    assert {m["metadata"]["name"] for m in mrds} <= names
    assert all(condition(c, "Established")["status"] == "True" for c in crds)
    say(
        "CRDs with the `*` policy: "
        + json.dumps(
            {
                "before": before,
                "after": len(crds),
                "mrds": len(mrds),
                "seconds": round(took, 1),
                "kube_apiserver_rss_mib": rss_mib(cluster_info.get("state", ""), "kube-apiserver"),
            }
        )
    )
