"""An upgrade, as users do one: a second version of the Configuration is published to the
registry and the Configuration's `spec.package` names it. Crossplane installs the new revision,
moves the XRDs, Compositions and activation policy to it and deactivates the old one; the
claims move to the new Compositions' revisions, and nothing is deleted."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from e2e.kube import clusters, condition, eventually, get, say
from plinth.devcluster.kubectl import kubectl
from plinth.generators import packages as catalog
from plinth.generators.crossplane import CONFIGURATION_PACKAGE
from plinth.tools import mirror, packages
from plinth.tools.engine import binary

pytestmark = pytest.mark.e2e

TEAM = "e2u"
NEXT = "0.1.1"
CLAIM = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "TenantClaim",
    "metadata": {"name": TEAM, "namespace": TEAM},
    "spec": {
        "team": TEAM,
        "account": {"accountId": "123456789012", "providerConfig": "e2u-aws"},
        "environments": [{"name": "dev", "namespaces": ["api"]}],
        "members": [{"permissionSet": "E2uDevelopers", "role": "view"}],
    },
}


def uids(kubeconfig: Path) -> dict[str, str]:
    """Every object the claim has, and the objects Plinth's install consists of, by kind/name."""
    out = {}
    claim = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
    out[f"TenantClaim/{TEAM}"] = claim["metadata"]["uid"]
    for o in get(kubeconfig, "managed", "-n", TEAM)["items"]:
        out[f"{o['kind']}/{o['metadata']['name']}"] = o["metadata"]["uid"]
    for kind in (
        "compositeresourcedefinitions",
        "compositions",
        "managedresourceactivationpolicies",
        "managedresourcedefinitions",
        "crds",
    ):
        for o in get(kubeconfig, kind)["items"]:
            out[f"{kind}/{o['metadata']['name']}"] = o["metadata"]["uid"]
    return out


def revision_ref(kubeconfig: Path) -> str:
    claim = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
    return str(
        ((claim["spec"].get("crossplane") or {}).get("compositionRevisionRef") or {}).get("name")
    )


def test_a_new_configuration_version_replaces_the_old_and_deletes_nothing(
    kubeconfig: Path, cluster_info: dict[str, Any], tmp_path: Path
) -> None:
    kubectl(kubeconfig, "create", "namespace", TEAM, check=False)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(CLAIM))

    dev = clusters(kubeconfig)["eks-dev-use1"]

    def composed() -> bool:
        claim = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
        objects = get(kubeconfig, "objects.kubernetes.m.crossplane.io", "-n", TEAM)["items"]
        return (
            bool(get(dev, "namespace", f"{TEAM}-api"))
            and bool(objects)
            and (condition(claim, "Synced").get("status") == "True")
        )

    eventually("the claim composed its first resources", composed, timeout=180)
    before = uids(kubeconfig)
    claim_before = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
    revision_before = revision_ref(kubeconfig)
    (config,) = get(kubeconfig, "configurations")["items"]
    old_revision = config["status"]["currentRevision"]

    # Publish the next version, as a release would: built from the same tree, pushed under
    # its public name (the ImageConfig sends the pull to the mirror).
    began = time.monotonic()
    built = packages.build(
        tmp_path,
        version=NEXT,
        crossplane=binary("crossplane"),
        crane=binary("crane"),
        examples=REPO / "examples",
        only=["configuration"],
    )
    (pkg,) = built.packages
    registry = str(cluster_info["registry"])
    ca = Path(str(cluster_info["state"])) / "pki" / "ca.crt"
    mirror.push(
        binary("crossplane"),
        tmp_path / pkg.file,
        mirror.mirror_reference(registry, pkg.reference),
        ca_file=ca,
    )
    say(f"configuration v{NEXT} built and pushed: {time.monotonic() - began:.1f}s")

    upgraded = time.monotonic()
    kubectl(
        kubeconfig,
        "patch",
        "configuration",
        config["metadata"]["name"],
        "--type=merge",
        "-p",
        json.dumps({"spec": {"package": f"{CONFIGURATION_PACKAGE}:v{NEXT}"}}),
    )

    def moved() -> Any:
        c = get(kubeconfig, "configuration", config["metadata"]["name"])
        new = c["status"].get("currentRevision")
        if new == old_revision or condition(c, "Healthy").get("status") != "True":
            return None
        rev = get(kubeconfig, "configurationrevisions", new)
        old = get(kubeconfig, "configurationrevisions", old_revision)
        xrds = get(kubeconfig, "compositeresourcedefinitions")["items"]
        return (
            rev["spec"]["desiredState"] == "Active"
            and condition(rev, "RevisionHealthy").get("status") == "True"
            and old["spec"]["desiredState"] == "Inactive"
            and all(x["metadata"]["labels"].get(catalog.VERSION_LABEL) == NEXT for x in xrds)
            and new
        )

    eventually("Crossplane moved to the new revision", moved, timeout=300)
    new_revision = get(kubeconfig, "configuration", config["metadata"]["name"])["status"][
        "currentRevision"
    ]
    say(
        f"Configuration v{NEXT} applied -> its revision active and Healthy: {time.monotonic() - upgraded:.1f}s"
    )
    for kind in (
        "compositeresourcedefinitions",
        "compositions",
        "managedresourceactivationpolicies",
    ):
        for o in get(kubeconfig, kind)["items"]:
            assert o["metadata"]["labels"][catalog.VERSION_LABEL] == NEXT, o["metadata"]["name"]
            (controller,) = [r for r in o["metadata"]["ownerReferences"] if r.get("controller")]
            assert controller["name"] == new_revision

    # The claim follows its Composition to the new revision (the default Automatic policy).
    eventually(
        "the claim uses the new Composition's revision",
        lambda: revision_ref(kubeconfig) != revision_before,
        timeout=180,
    )
    time.sleep(10)  # a reconcile on the new revision has run; anything it dropped would go
    after = uids(kubeconfig)
    gone = {k: v for k, v in before.items() if after.get(k) != v}
    assert not gone, f"deleted or replaced by the upgrade: {sorted(gone)[:20]}"
    claim_after = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
    user_spec = {k: v for k, v in claim_before["spec"].items() if k != "crossplane"}
    assert {k: v for k, v in claim_after["spec"].items() if k != "crossplane"} == user_spec
    assert condition(claim_after, "Synced")["status"] == "True"
    say(f"upgrade: {len(before)} objects before, all still there ({len(after)} now)")

    kubectl(kubeconfig, "delete", "tenantclaim", TEAM, "-n", TEAM, "--wait=false")
    eventually(
        "the upgraded claim's resources are gone",
        lambda: (
            not get(kubeconfig, "managed", "-n", TEAM)["items"]
            and not get(dev, "namespace", f"{TEAM}-api")
        ),
        timeout=240,
    )
