"""Karpenter manifests (NodePool, EC2NodeClass), delivered to a workload cluster through
provider-kubernetes Objects."""

from __future__ import annotations

from typing import Any

from plinth.builders.kubernetes import manifest

NODEPOOL_API = "karpenter.sh/v1"
NODECLASS_API = "karpenter.k8s.aws/v1"
NODECLASS_GROUP = "karpenter.k8s.aws"

CAPACITY_TYPE = "karpenter.sh/capacity-type"
ARCH = "kubernetes.io/arch"
OS = "kubernetes.io/os"
INSTANCE_FAMILY = "karpenter.k8s.aws/instance-family"
INSTANCE_SIZE = "karpenter.k8s.aws/instance-size"


def requirement(key: str, values: list[str]) -> dict[str, Any]:
    return {"key": key, "operator": "In", "values": values}


def node_pool(
    name: str,
    *,
    labels: dict[str, str],
    node_class: str,
    node_labels: dict[str, str],
    taints: list[dict[str, str]],
    requirements: list[dict[str, Any]],
    limits: dict[str, str],
    disruption: dict[str, Any],
    expire_after: str = "720h",
) -> dict[str, Any]:
    return manifest(
        NODEPOOL_API,
        "NodePool",
        name,
        labels=labels,
        spec={
            "template": {
                "metadata": {"labels": node_labels},
                "spec": {
                    "nodeClassRef": {
                        "group": NODECLASS_GROUP,
                        "kind": "EC2NodeClass",
                        "name": node_class,
                    },
                    "taints": taints,
                    "requirements": requirements,
                    "expireAfter": expire_after,
                },
            },
            "limits": limits,
            "disruption": disruption,
        },
    )


def ec2_node_class(
    name: str,
    *,
    labels: dict[str, str],
    role: str,
    ami_alias: str,
    subnet_tags: dict[str, str],
    security_group_tags: dict[str, str],
    tags: dict[str, str],
) -> dict[str, Any]:
    return manifest(
        NODECLASS_API,
        "EC2NodeClass",
        name,
        labels=labels,
        spec={
            "role": role,
            "amiSelectorTerms": [{"alias": ami_alias}],
            "subnetSelectorTerms": [{"tags": dict(subnet_tags)}],
            "securityGroupSelectorTerms": [{"tags": dict(security_group_tags)}],
            # IMDSv2 with one hop: a pod cannot reach the node's instance role.
            "metadataOptions": {
                "httpEndpoint": "enabled",
                "httpTokens": "required",
                "httpPutResponseHopLimit": 1,
            },
            "tags": tags,
        },
    )
