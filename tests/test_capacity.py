"""Dedicated capacity (compose/tenant/capacity.py): a Karpenter NodePool and EC2NodeClass of the
tenant's own on each cluster of an environment that asks for one."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from claim_fixtures import observe
from conftest import EXAMPLES, assert_valid, platform_docs, render_claim
from plinth.compose.tenant.capacity import DEDICATED, quantity
from plinth.tools.render import render, to_composite
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
CRN = "crossplane.io/composition-resource-name"


def tenant(flavor: str = "v2", **capacity: Any) -> Body:
    folder = EXAMPLES / ("legacy" if flavor == "legacy" else "")
    claim = copy.deepcopy(read_path(str(folder / "tenant-dedicated.yaml"))[0].body)
    claim["spec"].pop("overrides", None)
    claim["spec"]["environments"][0]["capacity"].update(capacity)
    return claim


def legacy_required(flavor: str) -> list[Body]:
    if flavor != "legacy":
        return []
    return [d.body for d in read_path(str(EXAMPLES / "legacy" / "provider-config-media.yaml"))]


def warnings(rendered: Any) -> list[str]:
    return [r.message for r in rendered.results if r.severity == fnv1.SEVERITY_WARNING]


def manifests(resources: list[Body], kind: str) -> dict[str, Body]:
    return {
        r["metadata"]["annotations"][CRN]: r["spec"]["forProvider"]["manifest"]
        for r in resources
        if r["kind"] == "Object" and r["spec"]["forProvider"]["manifest"]["kind"] == kind
    }


@pytest.mark.parametrize("flavor", ["v2", "legacy"])
def test_arm64_spot_pool_on_the_dev_cluster(validator: Validator, flavor: str) -> None:
    rendered = render_claim(tenant(flavor), extra=legacy_required(flavor))
    assert not rendered.fatal, rendered.fatal
    pools = manifests(rendered.resources, "NodePool")
    classes = manifests(rendered.resources, "EC2NodeClass")
    assert set(pools) == {"nodepool-eks-dev-use1"}
    assert set(classes) == {"nodeclass-eks-dev-use1"}
    pool, node_class = pools["nodepool-eks-dev-use1"], classes["nodeclass-eks-dev-use1"]
    assert pool["metadata"]["name"] == node_class["metadata"]["name"] == "media-dedicated"
    spec = pool["spec"]["template"]["spec"]
    reqs = {r["key"]: r["values"] for r in spec["requirements"]}
    assert reqs["karpenter.sh/capacity-type"] == ["spot"]
    assert reqs["kubernetes.io/arch"] == ["arm64"]
    assert reqs["karpenter.k8s.aws/instance-family"] == ["m7g", "c7g"]
    assert reqs["karpenter.k8s.aws/instance-size"] == ["large", "xlarge"]
    assert spec["taints"] == [{"key": DEDICATED, "value": "media", "effect": "NoSchedule"}]
    assert pool["spec"]["template"]["metadata"]["labels"][DEDICATED] == "media"
    assert spec["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "media-dedicated",
    }
    assert pool["spec"]["limits"] == {"cpu": "32", "memory": "128Gi"}
    assert pool["spec"]["disruption"] == {
        "consolidationPolicy": "WhenEmptyOrUnderutilized",
        "consolidateAfter": "10m",
        "budgets": [{"nodes": "20%"}],
    }
    # The node class is the platform's: role and networks from the platform config.
    assert node_class["spec"]["role"] == "KarpenterNodeRole-eks-dev-use1"
    assert node_class["spec"]["subnetSelectorTerms"] == [
        {"tags": {"karpenter.sh/discovery": "eks-dev-use1"}}
    ]
    assert node_class["spec"]["metadataOptions"]["httpPutResponseHopLimit"] == 1
    assert_valid(validator, [*pools.values(), *classes.values()], f"{flavor} pool")
    assert_valid(validator, rendered.resources, f"{flavor} tenant")


def test_defaults_come_from_the_platform() -> None:
    claim = tenant()
    claim["spec"]["environments"][0]["capacity"] = {}
    rendered = render_claim(claim)
    pool = manifests(rendered.resources, "NodePool")["nodepool-eks-dev-use1"]
    reqs = {r["key"]: r["values"] for r in pool["spec"]["template"]["spec"]["requirements"]}
    assert reqs["karpenter.sh/capacity-type"] == ["on-demand"]
    assert reqs["kubernetes.io/arch"] == ["amd64"]
    assert reqs["karpenter.k8s.aws/instance-family"] == ["c7g", "c7i", "m7g", "m7i", "r7g", "r7i"]
    assert pool["spec"]["limits"] == {"cpu": "16", "memory": "64Gi"}
    assert pool["spec"]["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"


@pytest.mark.parametrize(
    ("capacity", "message"),
    [
        ({"instanceFamilies": ["p5"]}, "instanceFamilies: p5 not allowed by the platform"),
        ({"instanceSizes": ["metal"]}, "instanceSizes: metal not allowed by the platform"),
        ({"cpu": "65"}, "cpu: 65 is above the platform's limit 64"),
        ({"memory": "1Ti"}, "memory: 1Ti is above the platform's limit 256Gi"),
    ],
)
def test_outside_the_platforms_limits_is_refused(capacity: Body, message: str) -> None:
    rendered = render_claim(tenant(**capacity))
    assert message in " ".join(rendered.fatal)
    assert not rendered.resources


def test_a_cluster_without_karpenter_warns_and_keeps_the_shared_nodes() -> None:
    claim = tenant()
    claim["spec"]["environments"][0]["name"] = "staging"
    rendered = render_claim(claim)
    assert not rendered.fatal
    assert not manifests(rendered.resources, "NodePool")
    names = {p["metadata"]["name"] for p in manifests(rendered.resources, "ClusterPolicy").values()}
    assert names == {"media-guardrails"}, "no placement without a pool"
    assert any("has no Karpenter" in w for w in warnings(rendered))


def test_a_pool_stays_when_the_platform_drops_karpenter() -> None:
    """An edit of the platform config never drains a tenant's nodes."""
    first = render_claim(tenant())
    docs = platform_docs()
    for c in docs[0]["data"]["clusters"]:
        c.pop("karpenter", None)
    again = render(to_composite(tenant()), observed=observe(first.resources), extra_resources=docs)
    before = {r["metadata"]["annotations"][CRN] for r in first.resources}
    after = {r["metadata"]["annotations"][CRN] for r in again.resources}
    assert {"nodepool-eks-dev-use1", "nodeclass-eks-dev-use1"} <= after
    assert before <= after


def test_architecture_without_a_family_warns() -> None:
    rendered = render_claim(tenant(architectures=["amd64", "arm64"], instanceFamilies=["m7g"]))
    assert any("no instance family for amd64" in w for w in warnings(rendered))


def test_names_come_from_the_team_not_the_claim() -> None:
    claim = tenant()
    claim["metadata"]["name"] = "anything"
    claim["spec"].pop("team")
    rendered = render_claim(claim)
    for kind in ("NodePool", "EC2NodeClass"):
        (m,) = manifests(rendered.resources, kind).values()
        assert m["metadata"]["name"] == "media-dedicated"


def test_the_quota_still_applies_on_a_pool() -> None:
    """docs/tenant.md#dedicated-capacity: a pool is counted against the namespace quota."""
    with_pool = manifests(render_claim(tenant()).resources, "ResourceQuota")
    claim = tenant()
    claim["spec"]["environments"][0].pop("capacity")
    without = manifests(render_claim(claim).resources, "ResourceQuota")
    assert with_pool == without
    assert not manifests(render_claim(claim).resources, "NodePool")


def test_quantity() -> None:
    assert quantity("500m") == Decimal("0.5")
    assert quantity("64Gi") == 64 * 2**30
    assert quantity("1Ti") > quantity("256Gi")
    with pytest.raises(ValueError, match="not a quantity"):
        quantity("1Xi")
