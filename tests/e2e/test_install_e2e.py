"""Plinth as Crossplane's package manager installed it in the dev cluster: from one applied
Configuration, pulled through ImageConfig rewrites from the cluster's registry, its Function
and providers resolved as dependencies and Healthy as far as anything runs here, the XRDs and
Compositions owned by the Configuration's revision, and only the managed resource kinds the
compositions use installed as CRDs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from e2e.kube import condition, get, rss_mib, say
from plinth.api.flavor import Flavor
from plinth.devcluster import install, runtime
from plinth.generators import packages as catalog
from plinth.generators.crossplane import CONFIGURATION_PACKAGE, FUNCTION_NAME, FUNCTION_PACKAGE
from plinth.tools import mirror, packages

pytestmark = pytest.mark.e2e


def items(kubeconfig: Path, *args: str) -> list[dict[str, Any]]:
    return list(get(kubeconfig, *args)["items"])


def test_the_configuration_and_its_dependencies_are_installed_and_healthy(
    kubeconfig: Path, cluster_info: dict[str, Any]
) -> None:
    (config,) = items(kubeconfig, "configurations")
    assert config["spec"]["package"] == f"{CONFIGURATION_PACKAGE}:v0.1.0"
    assert condition(config, "Healthy")["status"] == "True"
    assert condition(config, "Installed")["status"] == "True"
    registry = cluster_info["registry"]
    assert config["status"]["resolvedPackage"] == f"{registry}/{config['spec']['package']}"

    # Crossplane created the Function and the Providers itself: they are in its dependency lock
    # under their public names, which the Configuration's dependsOn names.
    lock = get(kubeconfig, "lock", "lock")
    locked = {p["source"] for p in lock["packages"]}
    meta = packages.configuration_contents(Flavor.V2)["crossplane.yaml"][0]
    for dep in meta["spec"]["dependsOn"]:
        assert dep.get("provider", dep.get("function")) in locked
    assert condition(lock, "Resolved")["status"] == "True"

    (fn,) = items(kubeconfig, "functions")
    assert fn["metadata"]["name"] == FUNCTION_NAME
    assert fn["spec"]["package"].startswith(f"{FUNCTION_PACKAGE}:")
    assert condition(fn, "Healthy")["status"] == "True"
    rev = get(kubeconfig, "functionrevisions", fn["status"]["currentRevision"])
    assert rev["status"]["capabilities"] == ["composition"]
    assert rev["status"]["endpoint"].startswith("dns:///127.0.0.1:")
    refs = {(r["name"], r["reason"]) for r in rev["status"]["appliedImageConfigRefs"]}
    assert ("mirror-ghcr-io", "RewriteImage") in refs

    providers = {p["metadata"]["name"]: p for p in items(kubeconfig, "providers")}
    wanted = {catalog.dependency_name(p.source) for p in mirror.mirrored_providers()}
    assert set(providers) == wanted
    lines = []
    for name, p in sorted(providers.items()):
        rev = get(kubeconfig, "providerrevisions", p["status"]["currentRevision"])
        assert condition(rev, "RevisionHealthy")["status"] == "True", name
        assert p["status"]["resolvedPackage"].startswith(f"{registry}/xpkg.crossplane.io/")
        healthy = condition(p, "Healthy")
        if name.endswith("provider-kubernetes"):
            # Its controller runs here, a local process, and the runtime checked it answers.
            assert healthy["status"] == "True"
        else:
            # Nothing runs the AWS and GitHub providers: their kinds are installed, the
            # runtime says no controller runs them.
            assert condition(rev, "RuntimeHealthy")["message"] == runtime.NOT_RUN
        lines.append(f"{name}: revision healthy, Healthy={healthy['status']}")
    for line in install.summary(lambda *a: get(kubeconfig, *a)):
        say(line)
    say(
        "installed by the package manager (Configuration applied -> every package installed): "
        f"{cluster_info.get('timings', {}).get('plinth installed by the package manager')}s"
    )


def test_the_xrds_compositions_and_policy_belong_to_the_configuration(kubeconfig: Path) -> None:
    (config,) = items(kubeconfig, "configurations")
    revision = config["status"]["currentRevision"]
    for kind in (
        "compositeresourcedefinitions",
        "compositions",
        "managedresourceactivationpolicies",
    ):
        objs = items(kubeconfig, kind)
        assert objs, kind
        for o in objs:
            (controller,) = [r for r in o["metadata"]["ownerReferences"] if r.get("controller")]
            assert (controller["kind"], controller["name"]) == ("ConfigurationRevision", revision)
    for comp in items(kubeconfig, "compositions"):
        (step,) = comp["spec"]["pipeline"]
        assert step["functionRef"]["name"] == FUNCTION_NAME


def test_only_the_kinds_the_compositions_use_are_installed(
    kubeconfig: Path, cluster_info: dict[str, Any]
) -> None:
    mrds = items(kubeconfig, "managedresourcedefinitions")
    active = sorted(m["metadata"]["name"] for m in mrds if m["spec"].get("state") == "Active")
    assert active == catalog.activations(Flavor.V2)
    policy = get(kubeconfig, "managedresourceactivationpolicies", "plinth")
    assert sorted(policy["status"]["activated"]) == active
    crds = {c["metadata"]["name"]: c for c in items(kubeconfig, "crds")}
    for name in active:
        assert condition(crds[name], "Established")["status"] == "True", name
    inactive = [m["metadata"]["name"] for m in mrds if m["spec"].get("state") != "Active"]
    assert not [n for n in inactive if n in crds]
    provider_groups = (".upbound.io", "kubernetes.crossplane.io", "kubernetes.m.crossplane.io")
    provider_crds = [n for n in crds if n.endswith(provider_groups)]
    managed_crds = [n for n in provider_crds if n in {m["metadata"]["name"] for m in mrds}]
    figures = {
        "mrds": len(mrds),
        "active_mrds": len(active),
        "crds_total": len(crds),
        "provider_crds": len(provider_crds),
        "managed_resource_crds": len(managed_crds),
        "provider_config_crds": len(provider_crds) - len(managed_crds),
        "managed_resource_crds_with_default_wildcard_policy": len(mrds),
        "kube_apiserver_rss_mib": rss_mib(cluster_info.get("state", ""), "kube-apiserver"),
    }
    say(f"CRDs: {json.dumps(figures)}")
    assert len(managed_crds) == len(active)
