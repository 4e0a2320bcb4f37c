"""End to end on a real local management cluster (`make e2e`): a TenantClaim becomes the
tenant's Namespaces, NetworkPolicies, RoleBindings and quotas in a real API server, created by
the real provider-kubernetes from what real Crossplane got from our function; AWS resources are
created as objects and stay unready (no cloud here); deleting the claim removes everything."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.kube import clusters, condition, eventually, get, ready, say
from plinth.devcluster.kubectl import kubectl, kubectl_run

pytestmark = pytest.mark.e2e

TEAM = "e2e"
CLAIM = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "TenantClaim",
    "metadata": {"name": TEAM, "namespace": TEAM},
    "spec": {
        "team": TEAM,
        "account": {"accountId": "123456789012", "providerConfig": "e2e-aws"},
        # An account per environment: dev in the default (home) account, staging in its own.
        "environments": [
            {"name": "dev", "namespaces": ["api", "worker"]},
            {
                "name": "staging",
                "namespaces": ["stage"],
                "account": {"accountId": "210987654321", "providerConfig": "e2e-staging-aws"},
            },
        ],
        "members": [{"permissionSet": "E2eDevelopers", "role": "edit"}],
    },
}
# Where each namespace goes: its environment's one cluster in examples/platform.yaml.
PLACED = {"e2e-api": "eks-dev-use1", "e2e-worker": "eks-dev-use1", "e2e-stage": "eks-staging-use1"}
NAMESPACES = tuple(PLACED)
ACCOUNT_PCS = {"123456789012": "e2e-aws", "210987654321": "e2e-staging-aws"}


@pytest.mark.usefixtures("kyverno")
def test_a_tenant_claim_reaches_the_api_server_and_goes_away(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "namespace", TEAM, check=False)
    on = {ns: clusters(kubeconfig)[c] for ns, c in PLACED.items()}
    applied = time.monotonic()
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(CLAIM))

    def namespaces_exist() -> bool:
        return all(get(on[ns], "namespace", ns) for ns in NAMESPACES)

    took = eventually("the tenant's namespaces exist", namespaces_exist)
    say(f"claim applied -> namespaces created: {took:.1f}s")

    def isolated_and_bound() -> bool:
        for ns in NAMESPACES:
            policies = {
                p["metadata"]["name"] for p in get(on[ns], "networkpolicy", "-n", ns)["items"]
            }
            bindings = get(on[ns], "rolebinding", "-n", ns)["items"]
            quotas = get(on[ns], "resourcequota", "-n", ns)["items"]
            limits = get(on[ns], "limitrange", "-n", ns)["items"]
            if not ({"default-deny", "allow-dns"} <= policies and bindings and quotas and limits):
                return False
        return True

    # The tenant composes in phases (namespaces, then default-deny, then the rest), and each
    # phase waits for the previous one's readiness. Crossplane's XR circuit breaker opens on
    # the first burst of watch events; the 5 s TTL while an Object settles bounds each phase.
    took = eventually(
        "NetworkPolicies, RoleBindings and quotas exist", isolated_and_bound, timeout=300
    )
    say(f"claim applied -> isolation, RBAC and quotas in place: {time.monotonic() - applied:.1f}s")
    responsive = condition(get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM), "Responsive")
    if responsive.get("status") == "False":
        say(f"Crossplane: {responsive.get('reason')}: {responsive.get('message')}")

    for ns in NAMESPACES:
        body = get(on[ns], "namespace", ns)
        labels = body["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        deny = get(on[ns], "networkpolicy", "default-deny", "-n", ns)
        assert deny["spec"]["podSelector"] == {}
        assert set(deny["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        # On its environment's cluster only: not on the other's, not in the management cluster.
        for elsewhere in {kubeconfig, *on.values()} - {on[ns]}:
            assert not get(elsewhere, "namespace", ns), (ns, elsewhere)
        for b in get(on[ns], "rolebinding", "-n", ns)["items"]:
            assert b["roleRef"]["kind"] == "ClusterRole"
            assert b["roleRef"]["name"] in ("admin", "edit", "view")

    def objects_ready() -> bool:
        items = get(kubeconfig, "objects.kubernetes.m.crossplane.io", "-n", TEAM)["items"]
        in_cluster = [
            o for o in items if o["spec"]["forProvider"]["manifest"]["kind"] != "AppProject"
        ]
        return bool(in_cluster) and all(ready(o) for o in in_cluster)

    # The guardrail policies are Ready once Kyverno (played from the start) has loaded them.
    eventually("every in-cluster Object is Ready", objects_ready, timeout=180)
    say(f"claim applied -> provider-kubernetes Objects Ready: {time.monotonic() - applied:.1f}s")
    # The guardrails: one ClusterPolicy on each of the tenant's clusters, naming its own
    # environment (in one API server, they were one object that two Objects fought over).
    for env, c in (("dev", "eks-dev-use1"), ("staging", "eks-staging-use1")):
        policy = get(clusters(kubeconfig)[c], "clusterpolicies.kyverno.io", f"{TEAM}-guardrails")
        assert policy["metadata"]["labels"]["plinth.dev/environment"] == env
    # Created with SuccessfulCreate, the guardrails were restated to take their readiness from
    # Kyverno's, and provider-kubernetes derived it (plinth.core.readiness).
    items = get(kubeconfig, "objects.kubernetes.m.crossplane.io", "-n", TEAM)["items"]
    guardrails = [
        o for o in items if o["spec"]["forProvider"]["manifest"]["kind"] == "ClusterPolicy"
    ]
    assert guardrails
    assert all(o["spec"]["readiness"]["policy"] == "DeriveFromObject" for o in guardrails)

    # AWS: the IAM role exists as an object with the right spec and stays unready (no cloud);
    # the access entries wait for it, and the claim says so.
    def role_exists() -> Any:
        return get(kubeconfig, "roles.iam.aws.m.upbound.io", "-n", TEAM)

    eventually(
        "the IAM role objects exist (one per account)",
        lambda: len((role_exists() or {}).get("items", [])) == 2,
    )
    roles = role_exists()["items"]
    # The same role name in each environment's account, each through that account's
    # ProviderConfig, trusting that account's Identity Center sessions.
    assert {r["spec"]["providerConfigRef"]["name"] for r in roles} == set(ACCOUNT_PCS.values())
    for role in roles:
        assert role["metadata"]["annotations"]["crossplane.io/external-name"] == "plinth-e2e-edit"
        account = next(
            a for a, pc in ACCOUNT_PCS.items() if pc == role["spec"]["providerConfigRef"]["name"]
        )
        trust = json.dumps(json.loads(role["spec"]["forProvider"]["assumeRolePolicy"]))
        assert "AWSReservedSSO_E2eDevelopers_" in trust
        assert f":{account}:" in trust
        assert all(f":{a}:" not in trust for a in ACCOUNT_PCS if a != account)
        assert condition(role, "Ready").get("status") != "True"
    assert not get(kubeconfig, "accessentries.eks.aws.m.upbound.io", "-n", TEAM)["items"]

    def claim_says_what_it_waits_for() -> bool:
        claim = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
        return (
            condition(claim, "Synced").get("status") == "True"
            and condition(claim, "Ready").get("status") == "False"
            and "IAM role plinth-e2e-edit" in condition(claim, "Provisioned").get("message", "")
        )

    eventually(
        "the claim is Synced, not Ready, and names the IAM role",
        claim_says_what_it_waits_for,
        timeout=180,
    )
    status = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)["status"]
    assert {n["namespace"] for n in status["namespaces"]} == set(NAMESPACES)
    assert {a["environment"]: a["accountId"] for a in status["accounts"]} == {
        "dev": "123456789012",
        "staging": "210987654321",
    }

    _an_app_finds_its_tenant_through_real_crossplane(kubeconfig)

    deleted = time.monotonic()
    kubectl(kubeconfig, "delete", "tenantclaim", TEAM, "-n", TEAM, "--wait=false")

    def all_gone() -> bool:
        objects = get(kubeconfig, "objects.kubernetes.m.crossplane.io", "-n", TEAM)["items"]
        return not objects and not any(get(on[ns], "namespace", ns) for ns in NAMESPACES)

    eventually("the tenant's Objects and namespaces are gone", all_gone, timeout=180)
    say(f"claim deleted -> namespaces and Objects gone: {time.monotonic() - deleted:.1f}s")
    assert not get(kubeconfig, "roles.iam.aws.m.upbound.io", "-n", TEAM)["items"]


APP = {
    "apiVersion": "platform.plinth.dev/v1alpha1",
    "kind": "AppClaim",
    "metadata": {"name": "api", "namespace": TEAM},
    "spec": {
        "tenant": TEAM,
        "environments": [
            {"name": "dev", "namespace": "e2e-api"},
            {"name": "staging", "namespace": "e2e-stage"},
        ],
        "buckets": [{"name": "assets"}],
        "queues": [{"name": "jobs"}],
    },
}


def _an_app_finds_its_tenant_through_real_crossplane(kubeconfig: Path) -> None:
    """Crossplane resolves the app's required TenantClaim (same namespace) and calls again: the
    app composes its repository and AWS resources in the tenant's account and, its tenant
    reporting its namespaces ready while the tenant's IAM role is not (no cloud here), delivers
    into them: its ConfigMap lands in its namespace on each environment's cluster."""
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump(APP))

    def composed() -> Any:
        repos = get(kubeconfig, "repositories.repo.github.m.upbound.io", "-n", TEAM)["items"]
        buckets = get(kubeconfig, "buckets.s3.aws.m.upbound.io", "-n", TEAM)["items"]
        queues = get(kubeconfig, "queues.sqs.aws.m.upbound.io", "-n", TEAM)["items"]
        return repos and len(buckets) == 2 and len(queues) == 4 and (repos, buckets)

    took = eventually("the app's repository, bucket and queues exist", composed)
    say(f"app applied -> repository, bucket and queues created: {took:.1f}s")
    (repo,) = get(kubeconfig, "repositories.repo.github.m.upbound.io", "-n", TEAM)["items"]
    assert repo["spec"]["forProvider"]["name"] == "e2e-api"
    # Each environment's bucket in its own account, through that account's ProviderConfig.
    buckets = get(kubeconfig, "buckets.s3.aws.m.upbound.io", "-n", TEAM)["items"]
    placed = {
        b["metadata"]["annotations"]["crossplane.io/external-name"].rsplit("-", 1)[1]: b["spec"][
            "providerConfigRef"
        ]
        for b in buckets
    }
    assert placed == {a: {"kind": "ProviderConfig", "name": pc} for a, pc in ACCOUNT_PCS.items()}

    tenant = get(kubeconfig, "tenantclaim", TEAM, "-n", TEAM)
    assert condition(tenant, "Ready").get("status") != "True"
    assert all(n["ready"] for n in tenant["status"]["namespaces"])

    def delivered() -> bool:
        return all(
            get(clusters(kubeconfig)[PLACED[ns]], "configmap", "api-config", "-n", ns)
            for ns in ("e2e-api", "e2e-stage")
        )

    took = eventually("the app's ConfigMap is in its namespace on each cluster", delivered)
    say(f"app applied -> delivered into its tenant's namespaces (tenant not Ready): {took:.1f}s")
    kubectl(kubeconfig, "delete", "appclaim", "api", "-n", TEAM)
    eventually(
        "the app's resources are gone",
        lambda: (
            not get(kubeconfig, "buckets.s3.aws.m.upbound.io", "-n", TEAM)["items"]
            and not get(
                clusters(kubeconfig)["eks-dev-use1"], "configmap", "api-config", "-n", "e2e-api"
            )
        ),
    )


PROD_TEAM = "e2p"
PROD_TENANT = {
    **CLAIM,
    "metadata": {"name": PROD_TEAM, "namespace": PROD_TEAM},
    "spec": {
        **CLAIM["spec"],
        "team": PROD_TEAM,
        "environments": [{"name": "prod", "namespaces": ["api"]}],
    },
}
PROD_APP = {
    **APP,
    "metadata": {"name": "api", "namespace": PROD_TEAM},
    "spec": {
        "tenant": PROD_TEAM,
        "environments": [{"name": "prod", "namespace": "e2p-api"}],
        "buckets": [{"name": "assets"}],
    },
}


def test_a_prod_bucket_cannot_be_deleted_while_its_app_exists(kubeconfig: Path) -> None:
    """The app's prod Usage, enforced by Crossplane's real webhook: deleting the bucket is refused
    while the workload role exists; deleting the app removes both. (The tenant test covers
    in-cluster objects.)"""
    kubectl(kubeconfig, "create", "namespace", PROD_TEAM, check=False)
    kubectl(kubeconfig, "apply", "-f", "-", stdin=yaml.safe_dump_all([PROD_TENANT, PROD_APP]))

    def usage_ready() -> Any:
        usages = get(kubeconfig, "usages.protection.crossplane.io", "-n", PROD_TEAM)["items"]
        return [u for u in usages if condition(u, "Ready").get("status") == "True"]

    took = eventually("the prod bucket's Usage is Ready", usage_ready)
    say(f"app applied -> prod Usage Ready: {took:.1f}s")
    (usage,) = usage_ready()
    assert usage["spec"]["of"]["kind"] == "Bucket"
    assert usage["spec"]["by"]["kind"] == "Role"
    bucket_name = usage["spec"]["of"]["resourceRef"]["name"]
    bucket = get(kubeconfig, "buckets.s3.aws.m.upbound.io", bucket_name, "-n", PROD_TEAM)
    assert bucket["metadata"]["labels"]["crossplane.io/in-use"] == "true"
    assert get(
        kubeconfig,
        "roles.iam.aws.m.upbound.io",
        usage["spec"]["by"]["resourceRef"]["name"],
        "-n",
        PROD_TEAM,
    )

    refused = kubectl_run(
        kubeconfig,
        "delete",
        "buckets.s3.aws.m.upbound.io",
        bucket_name,
        "-n",
        PROD_TEAM,
        "--dry-run=server",
    )
    assert refused.returncode != 0
    assert 'admission webhook "nousages.protection.crossplane.io" denied' in refused.stderr
    assert usage["metadata"]["name"] in refused.stderr

    kubectl(kubeconfig, "delete", "appclaim", "api", "-n", PROD_TEAM, "--wait=false")

    def app_gone() -> bool:
        return (
            not get(kubeconfig, "usages.protection.crossplane.io", "-n", PROD_TEAM)["items"]
            and not get(kubeconfig, "buckets.s3.aws.m.upbound.io", "-n", PROD_TEAM)["items"]
        )

    took = eventually("the app's Usage and bucket are gone", app_gone)
    say(f"app deleted -> Usage and prod bucket gone: {took:.1f}s")

    kubectl(kubeconfig, "delete", "tenantclaim", PROD_TEAM, "-n", PROD_TEAM, "--wait=false")
    eventually(
        "the prod tenant's resources are gone",
        lambda: not get(kubeconfig, "managed", "-n", PROD_TEAM)["items"],
        timeout=180,
    )
