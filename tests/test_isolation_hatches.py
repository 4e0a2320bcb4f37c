"""Tenancy of the escape hatches: no dedicated pool, policy or preview namespace of one tenant
admits another's pods or applies to another's namespaces, and every name they take in a shared
place (cluster-scoped NodePools, EC2NodeClasses, ClusterPolicies; Argo CD's namespace) is
derived from the team of the claim's management namespace, whatever the claim says.

Two teams drawn at random (claims of the same name, the same app name, pools on the same
cluster), in both flavors: everything one composes is checked against what the other owns.
"""

from __future__ import annotations

import copy
import fnmatch
import functools
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claim_fixtures import legacy_provider_config, observe, ready_condition
from conftest import platform_docs
from plinth.api.flavor import FLAVORS, Flavor
from plinth.compose.tenant.capacity import DEDICATED
from plinth.tools.render import render, to_composite

Body = dict[str, Any]
CRN = "crossplane.io/composition-resource-name"
GROUPS = {f.value: FLAVORS[f].group for f in Flavor}


@functools.cache
def vocabulary() -> frozenset[str]:
    """Every word the composers write themselves (keys and values: `prune`, `spot`, ...).

    A team named like one of them would be "mentioned" by any tenant's output without a leak.
    """
    words: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                words.update(re.split(r"[^a-z0-9]+", str(key).lower()))
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            words.update(re.split(r"[^a-z0-9]+", node.lower()))

    for flavor in GROUPS:
        walk(hatches(flavor, "media", "web", "web", "111111111111", ["media"]))
    return frozenset(words - {""})


# Team names of unlisted teams: a management namespace without '-' is its team.
TEAMS = st.text("abcdefghijklmnopqrstuvwxyz", min_size=3, max_size=12).filter(
    lambda t: (
        not t.startswith("kube")
        and t not in {"default", "argocd", "monitoring"}
        and t not in vocabulary()
    )
)


def tenant_claim(flavor: str, team: str, name: str, account: str) -> Body:
    return {
        "apiVersion": f"{GROUPS[flavor]}/v1alpha1",
        "kind": "TenantClaim",
        "metadata": {"name": name, "namespace": team},
        "spec": {
            "account": {"accountId": account, "providerConfig": f"{team}-aws"},
            "environments": [
                {
                    "name": "dev",
                    "namespaces": ["web", "jobs"],
                    "capacity": {"architectures": ["arm64"], "capacityTypes": ["spot"]},
                }
            ],
        },
    }


def app_claim(flavor: str, team: str, tenant: str, name: str) -> Body:
    return {
        "apiVersion": f"{GROUPS[flavor]}/v1alpha1",
        "kind": "AppClaim",
        "metadata": {"name": name, "namespace": team},
        "spec": {
            "tenant": tenant,
            "environments": [{"name": "dev"}],
            "previews": {"label": "preview"},
        },
    }


def _required(flavor: str, teams: list[str]) -> list[Body]:
    out = platform_docs()
    if flavor == "legacy":
        out += [legacy_provider_config(f"{t}-aws", t) for t in teams]
    return out


def settle(claim: Body, required: list[Body]) -> list[Body]:
    observed: list[Body] = []
    resources: list[Body] = []
    for _ in range(6):
        rendered = render(to_composite(claim), observed=observed, extra_resources=required)
        assert not rendered.fatal, rendered.fatal
        if len(rendered.resources) == len(resources):
            return rendered.resources
        resources = rendered.resources
        observed = observe(resources)
    return resources


def hatches(
    flavor: str, team: str, claim_name: str, app: str, account: str, teams: list[str]
) -> list[Body]:
    """Everything the team's tenant and app compose once settled."""
    required = _required(flavor, teams)
    tenant = tenant_claim(flavor, team, claim_name, account)
    resources = settle(tenant, required)
    ready_tenant = {**copy.deepcopy(tenant), "status": {"conditions": ready_condition()}}
    resources += settle(app_claim(flavor, team, claim_name, app), [*required, ready_tenant])
    return resources


def inner(resources: list[Body], *kinds: str) -> list[Body]:
    return [
        r["spec"]["forProvider"]["manifest"]
        for r in resources
        if r["kind"] == "Object" and r["spec"]["forProvider"]["manifest"]["kind"] in kinds
    ]


def owns(team: str, name: str) -> bool:
    return name == team or name.startswith(team + "-")


def selectors(policy: Body) -> list[Body]:
    out = []
    for rule in policy["spec"]["rules"]:
        for block in ("match", "exclude"):
            for item in (rule.get(block) or {}).get("any", []):
                out.append((block, item["resources"]))
    return out


def check_pair(flavor: str, a: str, b: str, same_name: bool) -> None:
    claim_a, claim_b = ("web", "web") if same_name else (f"{a}-tenant", "x")
    ra = hatches(flavor, a, claim_a, "web", "111111111111", [a, b])
    rb = hatches(flavor, b, claim_b, "web", "222222222222", [a, b])
    shared_kinds = ("NodePool", "EC2NodeClass", "ClusterPolicy", "ApplicationSet", "AppProject")
    names_a = {(m["kind"], m["metadata"]["name"]) for m in inner(ra, *shared_kinds)}
    names_b = {(m["kind"], m["metadata"]["name"]) for m in inner(rb, *shared_kinds)}
    assert {k for k, _ in names_a} >= {
        "NodePool",
        "EC2NodeClass",
        "ClusterPolicy",
        "ApplicationSet",
        "AppProject",
    }
    assert not names_a & names_b, "two tenants never share a cluster-scoped or Argo CD name"
    for team, other, resources in ((a, b, ra), (b, a, rb)):
        for m in inner(resources, *shared_kinds):
            assert owns(team, m["metadata"]["name"]), (team, m["metadata"]["name"])
        text = json.dumps(inner(resources, *shared_kinds))
        for mention in (f'"{other}"', f"/{other}-", f'"{other}-'):
            assert mention not in text, f"{team}'s hatches mention team {other}"
        for pool in inner(resources, "NodePool"):
            assert pool["spec"]["template"]["spec"]["taints"] == [
                {"key": DEDICATED, "value": team, "effect": "NoSchedule"}
            ]
            assert pool["spec"]["template"]["metadata"]["labels"][DEDICATED] == team
        for policy in inner(resources, "ClusterPolicy"):
            for block, res in selectors(policy):
                labels = (
                    (res.get("namespaceSelector") or res.get("selector") or {}).get("matchLabels")
                ) or {}
                if block == "match" and "Pod" in res.get("kinds", []) and labels:
                    assert labels == {"plinth.dev/team": team}, policy["metadata"]["name"]
                if block == "exclude" and labels:
                    assert labels == {"plinth.dev/team": team}, (
                        "only the team's pods may use its pool"
                    )
                for pattern in res.get("names", []):
                    # A preview pattern never matches a namespace of the other team.
                    for ns in (other, f"{other}-web", f"{other}-web-pr-1", f"{other}-jobs"):
                        assert not fnmatch.fnmatchcase(ns, pattern), (pattern, ns)
                if "Namespace" in res.get("kinds", []):
                    assert labels.get("plinth.dev/team") == team
        for project in inner(resources, "AppProject"):
            for dest in project["spec"]["destinations"]:
                for ns in (other, f"{other}-web", f"{other}-web-pr-1", f"{other}-jobs"):
                    assert not fnmatch.fnmatchcase(ns, dest["namespace"]), (dest, ns)
        for appset in inner(resources, "ApplicationSet"):
            template = appset["spec"]["template"]
            ns = template["spec"]["destination"]["namespace"]
            assert owns(team, ns.replace("{{.number}}", "1"))
            labels = template["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
            assert labels["plinth.dev/team"] == team
            assert appset["spec"]["template"]["spec"]["project"] in {
                p["metadata"]["name"] for p in inner(resources, "AppProject")
            }


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(a=TEAMS, b=TEAMS, same_name=st.booleans(), flavor=st.sampled_from(["v2", "legacy"]))
def test_two_tenants_hatches_never_meet(a: str, b: str, same_name: bool, flavor: str) -> None:
    if a == b or a.startswith(b) or b.startswith(a):
        return
    check_pair(flavor, a, b, same_name)


def test_the_usual_pair_in_both_flavors() -> None:
    for flavor in ("v2", "legacy"):
        check_pair(flavor, "media", "video", same_name=True)


def test_names_come_from_the_namespace_not_the_spec() -> None:
    """A claim that says another team is refused; one that says nothing gets its namespace's."""
    required = _required("v2", ["media"])
    claim = tenant_claim("v2", "media", "video", "111111111111")
    claim["spec"]["team"] = "video"
    rendered = render(to_composite(claim), extra_resources=required)
    assert rendered.fatal
    assert not rendered.resources
    claim["spec"].pop("team")
    names = {
        m["metadata"]["name"] for m in inner(settle(claim, required), "NodePool", "ClusterPolicy")
    }
    assert names == {"media-dedicated", "media-guardrails", "media-placement"}
