"""Claims through real Argo CD (`make e2e-gitops`): a claim repository laid out as
examples/claim-repo/ is pushed to a git server on loopback, gitops/claims/ is installed as
docs/gitops.md says, and Argo CD v3.5.1 (repo-server, application-controller,
applicationset-controller; `plinth dev up --with-argocd`) syncs each team's folder into its
namespace while real Crossplane composes the claims.

The tests run in order, each the next commit of the claim repository:

1. the examples: one Application per team (and one for its access), the claims in their
   namespaces with Argo CD's tracking annotation, composed by Crossplane, each claim's health
   in its Application as Plinth's Lua gives it (Progressing while waiting);
2. an edit: payments' tenant is given its account by id and goes to prod, its app gets a prod
   bucket; with the AWS provider played by the test (nothing else reports AWS resources
   ready here) the tenant goes Healthy in Argo CD; a claim for another team is Degraded;
3. refusals: a claim naming another team's namespace (Kubernetes RBAC, through impersonation)
   and kinds the AppProject does not admit, each said by its Application;
4. a commit removing the app: Argo CD prunes the claim, Crossplane removes what it composed,
   and the prod bucket, kept by its Usage until the app's role is gone, has no Delete policy;
5. the install itself: gitops/platform/ synced by its Application, wave by wave, as far as it
   can be here (see PLATFORM_WAVES in plinth.devcluster.argocd for what cannot, and why).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import REPO
from e2e import kube
from plinth.core.composition import condition_of
from plinth.devcluster import argocd, cluster, gitserver, processes
from plinth.devcluster.kubectl import kubectl, kubectl_run

pytestmark = [pytest.mark.e2e, pytest.mark.gitops]

CLAIM_REPO = REPO / "examples" / "claim-repo"
TEAMS = ("payments", "search")
ACCOUNT_ID = "210987654321"
PROD_ACCOUNT_ID = "310987654321"
TRACKING = "argocd.argoproj.io/tracking-id"
# Plinth's claims and the composites Crossplane makes of legacy ones.
CLAIM_GROUPS = ("platform.plinth.dev", "claims.plinth.dev")


def say(line: str) -> None:
    print(f"[e2e-gitops] {line}", flush=True)


@dataclass
class Env:
    kubeconfig: Path
    state: Path
    info: argocd.ArgoInfo
    platform: Path
    timings: dict[str, float] = field(default_factory=dict)
    # What each commit of the claim repository holds (path -> text).
    files: dict[str, str] = field(default_factory=dict)

    def took(self, what: str, seconds: float) -> None:
        self.timings[what] = round(seconds, 1)
        say(f"{what}: {seconds:.1f}s")


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    # Each of the platform's clusters is an API server of its own, both prod clusters too.
    platform = REPO / "examples" / "platform.yaml"
    info = cluster.up(platform, progress=say, with_argocd=True, legacy=True)
    state = Path(info.state)
    argo = argocd.load_state(state)
    assert argo is not None
    e = Env(kubeconfig=Path(info.kubeconfig), state=state, info=argo, platform=platform)
    e.took("plinth dev up --with-argocd --legacy, total", info.timings["total"])
    e.took("Argo CD start-up (redis, repo-server, controllers ready)", info.timings["argocd"])
    try:
        yield e
    finally:
        say("timings: " + json.dumps(e.timings))
        pids = [int(p.read_text()) for p in state.glob("*.pid")]
        cluster.down(progress=say)
    # `plinth dev down` leaves nothing behind: no process, no state (clones, redis, git).
    assert not [p for p in pids if processes.alive(p)]
    assert not state.exists()


# --- reading the cluster ---------------------------------------------------------------------


def get(env: Env, *args: str) -> Any:
    """The object (None when NotFound) or list; other kubectl failures are retried, then raised."""
    for attempt in range(5):
        r = kubectl_run(env.kubeconfig, "get", *args, "-o", "json")
        if r.returncode == 0:
            return json.loads(r.stdout)
        if "NotFound" in r.stderr:
            return None
        time.sleep(1 + attempt)
    raise AssertionError(f"kubectl get {' '.join(args)}: {r.stderr.strip()}")


def items(env: Env, *args: str) -> list[dict[str, Any]]:
    return list((get(env, *args) or {}).get("items", []))


def eventually(what: str, check: Callable[[], Any], timeout: float = 300) -> float:
    start = time.monotonic()
    last: Any = None
    while time.monotonic() - start < timeout:
        last = check()
        if last:
            return time.monotonic() - start
        time.sleep(1)
    raise AssertionError(f"{what}: not after {timeout:.0f}s (last: {last!r})")


def app(env: Env, name: str) -> dict[str, Any]:
    return dict(get(env, "application", name, "-n", argocd.NAMESPACE) or {})


def resource_health(env: Env, app_name: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """(group, kind, name) -> the health the controller gave the resource."""
    status = app(env, app_name).get("status", {})
    return {
        (r.get("group", ""), r["kind"], r["name"]): r.get("health", {})
        for r in status.get("resources", [])
    }


def operation(env: Env, app_name: str) -> dict[str, Any]:
    return dict(app(env, app_name).get("status", {}).get("operationState", {}))


def claims(env: Env, team: str) -> list[dict[str, Any]]:
    out = []
    for group in CLAIM_GROUPS:
        for plural in ("accountclaims", "tenantclaims", "appclaims"):
            out += items(env, f"{plural}.{group}", "-n", team)
    return out


def publish(env: Env, files: dict[str, str], message: str) -> float:
    env.files = files
    argocd.publish_claims(env.state, files, message)
    return time.monotonic()


# --- the claim repository --------------------------------------------------------------------


def _docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(text) if d]


def _dump(docs: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(docs, sort_keys=False)


def edited(files: dict[str, str]) -> dict[str, str]:
    """Commit 2: payments' account exists already (by id), the tenant goes to prod, the app gets
    a prod bucket; and a claim that reaches for another team's account."""
    out = dict(files)
    (tenant,) = _docs(out["teams/payments/tenant-payments.yaml"])
    tenant["spec"]["account"] = {"accountId": ACCOUNT_ID, "providerConfig": "payments-aws"}
    tenant["spec"]["environments"] = [
        {"name": "dev", "namespaces": ["api"]},
        # Prod never shares an account with non-prod (the XRD refuses it): its own account.
        {
            "name": "prod",
            "namespaces": ["api"],
            "account": {"accountId": PROD_ACCOUNT_ID, "providerConfig": "payments-prod-aws"},
        },
    ]
    out["teams/payments/tenant-payments.yaml"] = _dump([tenant])
    (checkout,) = _docs(out["teams/payments/app-checkout.yaml"])
    checkout["spec"]["environments"] = [{"name": "dev"}, {"name": "prod"}]
    checkout["spec"]["buckets"] = [{"name": "receipts"}]
    out["teams/payments/app-checkout.yaml"] = _dump([checkout])
    out["teams/payments/account-search-sandbox.yaml"] = _dump(
        [
            {
                "apiVersion": "platform.plinth.dev/v1alpha1",
                "kind": "AccountClaim",
                "metadata": {"name": "search-sandbox"},
                "spec": {
                    "email": "aws+search-sandbox@example.com",
                    "team": "search",
                    "environment": "dev",
                },
            }
        ]
    )
    return out


def refused(files: dict[str, str]) -> dict[str, str]:
    """Commit 3: payments writes a claim into search's namespace; search adds a ConfigMap and a
    legacy composite (cluster-scoped), neither of them a claim."""
    out = dict(files)
    out["teams/payments/app-in-search.yaml"] = _dump(
        [
            {
                "apiVersion": "platform.plinth.dev/v1alpha1",
                "kind": "AppClaim",
                "metadata": {"name": "intruder", "namespace": "search"},
                "spec": {"tenant": "search", "environments": [{"name": "dev"}]},
            }
        ]
    )
    out["teams/search/not-claims.yaml"] = _dump(
        [
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "not-a-claim"},
                "data": {"a": "b"},
            },
            {
                "apiVersion": "claims.plinth.dev/v1alpha1",
                "kind": "XApp",
                "metadata": {"name": "composite-by-hand"},
                "spec": {"tenant": "search", "environments": [{"name": "dev"}]},
            },
        ]
    )
    return out


# --- health as Plinth's Lua says -------------------------------------------------------------


def lua_health(body: dict[str, Any]) -> dict[str, str]:
    """What gitops/health/<group>_<Kind>.lua makes of this object, run as Argo CD runs it."""
    import lupa

    group = body["apiVersion"].split("/")[0]
    script = (REPO / "gitops" / "health" / f"{group}_{body['kind']}.lua").read_text()
    lua = lupa.LuaRuntime(unpack_returned_tuples=True)
    lua.globals().obj = lua.table_from(body, recursive=True)
    hs = lua.execute(script)
    return {"status": str(hs["status"]), "message": str(hs["message"])}


def health_agrees(env: Env, team: str) -> Any:
    """Every claim of the team has, in its Application, the health Plinth's Lua gives its live
    object (compared on a fresh read; falsy while the controller has not caught up)."""
    live = {
        (c["apiVersion"].split("/")[0], c["kind"], c["metadata"]["name"]): c
        for c in claims(env, team)
    }
    health = resource_health(env, f"claims-{team}")
    if not live or set(live) - set(health):
        return False
    got = {
        k: {"status": health[k].get("status", ""), "message": health[k].get("message", "")}
        for k in live
    }
    want = {k: lua_health(v) for k, v in live.items()}
    return got if got == want else False


# --- the AWS provider, played ----------------------------------------------------------------


def play_aws(env: Env, namespace: str, composite: str) -> int:
    return kube.play_aws(env.kubeconfig, namespace, composite, account_id=ACCOUNT_ID)


# --- 1. the examples -------------------------------------------------------------------------


def test_1_one_application_per_team_syncs_its_claims_into_its_namespace(env: Env) -> None:
    # Onboarding, as the platform team does it: the team's management namespace. Its service
    # account and RoleBinding come from gitops/claims/access.yaml through Argo CD.
    for team in TEAMS:
        kubectl(env.kubeconfig, "create", "namespace", team)
    pushed = publish(env, gitserver.tree_of(CLAIM_REPO), "the example claim repository")

    def generated() -> bool:
        apps = {a["metadata"]["name"] for a in items(env, "applications", "-n", argocd.NAMESPACE)}
        return len(apps) == 2 * len(TEAMS)

    eventually("the ApplicationSets generated an Application per team and access", generated)
    env.took("commit -> Applications generated", time.monotonic() - pushed)
    eventually(
        "each team's RoleBinding is synced",
        lambda: all(get(env, "rolebinding", "plinth-claims", "-n", t) for t in TEAMS),
    )
    env.took("commit -> team access synced", time.monotonic() - pushed)

    def all_claims_applied() -> bool:
        return all(len(claims(env, t)) == n for t, n in (("payments", 3), ("search", 2)))

    eventually("every claim is in its team's namespace", all_claims_applied)
    env.took("commit -> claims applied (first sync, incl. team access)", time.monotonic() - pushed)

    names = {a["metadata"]["name"] for a in items(env, "applications", "-n", argocd.NAMESPACE)}
    assert names == {f"claims-{t}" for t in TEAMS} | {f"claims-{t}-access" for t in TEAMS}
    for team in TEAMS:
        claims_app = app(env, f"claims-{team}")
        assert claims_app["spec"]["destination"]["namespace"] == team
        assert claims_app["spec"]["source"]["path"] == f"teams/{team}"
        assert claims_app["spec"]["source"]["repoURL"] == env.info.claim_repo
        # The access Application made the identity the claims were synced as.
        sa = get(env, "serviceaccount", "plinth-claims", "-n", team)
        binding = get(env, "rolebinding", "plinth-claims", "-n", team)
        assert sa
        assert binding
        assert binding["roleRef"]["name"] == "plinth-claims-editor"
        assert TRACKING in sa["metadata"]["annotations"]
        r = kubectl_run(
            env.kubeconfig,
            "auth",
            "can-i",
            "create",
            "appclaims.platform.plinth.dev",
            "-n",
            team,
            "--as",
            f"system:serviceaccount:{team}:plinth-claims",
        )
        assert r.stdout.strip() == "yes"
        other = next(t for t in TEAMS if t != team)
        r = kubectl_run(
            env.kubeconfig,
            "auth",
            "can-i",
            "create",
            "appclaims.platform.plinth.dev",
            "-n",
            other,
            "--as",
            f"system:serviceaccount:{team}:plinth-claims",
        )
        assert r.stdout.strip() == "no"

    def synced() -> bool:
        return all(
            app(env, f"claims-{t}").get("status", {}).get("sync", {}).get("status") == "Synced"
            for t in TEAMS
        )

    eventually("both claim Applications are Synced", synced)


def test_2_crossplane_composes_the_synced_claims(env: Env) -> None:
    def composed() -> bool:
        account = items(env, "accounts.organizations.aws.m.upbound.io", "-n", "payments")
        objects = items(env, "objects.kubernetes.m.crossplane.io", "-n", "payments")
        repos = items(env, "repositories.repo.github.m.upbound.io", "-n", "payments")
        legacy = items(
            env, "objects.kubernetes.crossplane.io", "-l", "crossplane.io/claim-namespace=search"
        )
        legacy_repos = items(env, "repositories.repo.github.upbound.io")
        return bool(account and objects and repos and legacy and legacy_repos)

    took = eventually("Crossplane composed both teams' claims", composed)
    say(f"claims -> composed resources: {took:.1f}s")
    (xtenant,) = items(env, "xtenants.claims.plinth.dev")
    assert xtenant["spec"]["claimRef"] == {
        "apiVersion": "claims.plinth.dev/v1alpha1",
        "kind": "TenantClaim",
        "name": "search",
        "namespace": "search",
    }


def test_3_each_claims_health_is_what_plinths_lua_says(env: Env) -> None:
    for team in TEAMS:
        took = eventually(
            f"claims-{team}: health as Plinth's Lua says", lambda t=team: health_agrees(env, t)
        )
        got = health_agrees(env, team)
        say(f"claims-{team} health after {took:.1f}s: {got}")
        # Nothing here can be ready yet: each claim waits for an account, or for its tenant.
        assert {h["status"] for h in got.values()} == {"Progressing"}
        assert app(env, f"claims-{team}")["status"]["health"]["status"] == "Progressing"
    health = resource_health(env, "claims-payments")
    assert health[("platform.plinth.dev", "AccountClaim", "payments-dev")]["message"] == (
        "waiting for AWS Organizations to create the account"
    )
    search = resource_health(env, "claims-search")
    assert (
        "AccountClaim 'search-dev'"
        in search[("claims.plinth.dev", "TenantClaim", "search")]["message"]
    )


def _composed(env: Env) -> list[dict[str, Any]]:
    """Everything Crossplane composed for the claims, and what provider-kubernetes made of it."""
    out = []
    for team in TEAMS:
        out += items(env, "managed", "-n", team)
        out += items(env, "usages.protection.crossplane.io", "-n", team)
    out += items(env, "objects.kubernetes.crossplane.io")
    out += items(env, "repositories.repo.github.upbound.io")
    out += items(env, "actionsvariables.actions.github.upbound.io")
    out += items(env, "branchprotections.repo.github.upbound.io")
    # What provider-kubernetes made on the workload clusters, which Argo CD does not reach.
    for workload in kube.workloads(env.kubeconfig):
        for ns in kube.get(workload, "namespaces")["items"]:
            if any(ns["metadata"]["name"].startswith(team) for team in TEAMS):
                out.append(ns)
                for kind in ("networkpolicies", "resourcequotas", "limitranges", "rolebindings"):
                    out += kube.get(workload, kind, "-n", ns["metadata"]["name"])["items"]
    return out


def test_4_argo_cd_tracks_the_claims_and_nothing_plinth_composes(env: Env) -> None:
    for team in TEAMS:
        for c in claims(env, team):
            group = c["apiVersion"].split("/")[0]
            name = c["metadata"]["name"]
            # Annotation tracking, Argo CD v3's default: the id names the claim itself.
            assert c["metadata"]["annotations"][TRACKING] == (
                f"claims-{team}:{group}/{c['kind']}:{team}/{name}"
            )
            assert "app.kubernetes.io/instance" not in c["metadata"].get("labels", {})
    composed = _composed(env)
    assert len(composed) > 10
    for body in composed:
        text = json.dumps(body.get("metadata", {}))
        assert TRACKING not in text, f"{body['kind']}/{body['metadata']['name']} is tracked"
        assert "app.kubernetes.io/instance" not in text
    # Crossplane copies a legacy claim's annotations onto its composite (all but *.kubernetes.io
    # ones), tracking id included; the id names the claim, so Argo CD does not take the
    # composite for its own: it is neither listed in the Application nor pruned.
    for xr in items(env, "xtenants.claims.plinth.dev") + items(env, "xapps.claims.plinth.dev"):
        copied = xr["metadata"].get("annotations", {}).get(TRACKING, "")
        say(f"{xr['kind']}/{xr['metadata']['name']} carries the claim's tracking id: {copied!r}")
        assert copied.startswith("claims-search:claims.plinth.dev/")
        assert ":search/" in copied
    listed = {(k, n) for (_, k, n) in resource_health(env, "claims-search")}
    assert listed == {("TenantClaim", "search"), ("AppClaim", "indexer")}


# --- 2. an edit ------------------------------------------------------------------------------


def test_5_an_edit_reaches_the_cluster_and_the_tenant_goes_healthy(env: Env) -> None:
    pushed = publish(env, edited(env.files), "payments: account by id, prod, a bucket")

    def edit_applied() -> bool:
        t = get(env, "tenantclaim.platform.plinth.dev", "payments", "-n", "payments") or {}
        return t.get("spec", {}).get("account", {}).get("accountId") == ACCOUNT_ID

    eventually("the edited tenant is in the cluster", edit_applied)
    applied = time.monotonic()
    env.took("commit -> edited claim applied", applied - pushed)

    def tenant_healthy() -> bool:
        play_aws(env, "payments", "payments")
        kube.play_kyverno(env.kubeconfig)
        health = resource_health(env, "claims-payments")
        return (
            health.get(("platform.plinth.dev", "TenantClaim", "payments"), {}).get("status")
            == "Healthy"
        )

    # Phases: namespaces, default-deny, the rest, the IAM role, access entries, associations;
    # each may wait for Crossplane's poll (1 min) when its watch circuit breaker is open.
    eventually("the tenant is Healthy in Argo CD", tenant_healthy, timeout=900)
    env.took("claim applied -> Application shows it Healthy", time.monotonic() - applied)
    tenant = get(env, "tenantclaim.platform.plinth.dev", "payments", "-n", "payments")
    assert condition_of(tenant, "Ready")["status"] == "True"
    assert lua_health(tenant)["status"] == "Healthy"
    # The namespace the edit names, on the dev cluster.
    assert kube.get(kube.clusters(env.kubeconfig)["eks-dev-use1"], "namespace", "payments-api")

    def degraded() -> Any:
        h = resource_health(env, "claims-payments").get(
            ("platform.plinth.dev", "AccountClaim", "search-sandbox"), {}
        )
        return h if h.get("status") == "Degraded" else None

    eventually("the claim for another team is Degraded", degraded)
    message = degraded()["message"]
    say(f"AccountClaim search-sandbox: Degraded: {message}")
    assert "spec.team: team 'search'" in message
    assert "is not the team of namespace 'payments'" in message
    assert app(env, "claims-payments")["status"]["health"]["status"] == "Degraded"
    eventually(
        "every claim's health is what Plinth's Lua says", lambda: health_agrees(env, "payments")
    )

    def prod_bucket_protected() -> Any:
        usages = items(env, "usages.protection.crossplane.io", "-n", "payments")
        return [u for u in usages if (condition_of(u, "Ready") or {}).get("status") == "True"]

    eventually("the app's prod bucket has a Ready Usage", prod_bucket_protected)


# --- 3. refusals -----------------------------------------------------------------------------


OUT_OF_BOUNDS = ("teams/payments/app-in-search.yaml", "teams/search/not-claims.yaml")


def all_synced(env: Env) -> bool:
    """Both claim Applications Synced to the latest commit, their last operation succeeded."""
    head = gitserver.head(Path(env.info.git_base), argocd.CLAIM_REPO)
    for t in TEAMS:
        status = app(env, f"claims-{t}").get("status", {})
        if status.get("sync", {}).get("status") != "Synced":
            return False
        if status.get("sync", {}).get("revision") != head:
            return False
        if status.get("operationState", {}).get("phase") != "Succeeded":
            return False
    return True


def test_6_argo_cd_refuses_what_a_team_directory_may_not_create(env: Env) -> None:
    before = {t: {c["metadata"]["name"] for c in claims(env, t)} for t in TEAMS}
    pushed = publish(env, refused(env.files), "out of bounds")

    def said(team: str, *needles: str) -> Callable[[], Any]:
        def check() -> Any:
            op = operation(env, f"claims-{team}")
            text = json.dumps(op)
            return op if all(n in text for n in needles) else None

        return check

    eventually(
        "claims-payments says RBAC refused the claim in search's namespace",
        said(
            "payments",
            'User \\"system:serviceaccount:payments:plinth-claims\\" cannot',
            'in the namespace \\"search\\"',
        ),
    )
    env.took(
        "commit -> Application says the foreign namespace is refused", time.monotonic() - pushed
    )
    eventually(
        "claims-search says the project refuses the ConfigMap and the composite",
        said(
            "search",
            "resource :ConfigMap is not permitted in project plinth-claims",
            "resource claims.plinth.dev:XApp is not permitted in project plinth-claims",
        ),
    )
    for team in TEAMS:
        op = operation(env, f"claims-{team}")
        say(f"claims-{team}: {op.get('phase')}: {op.get('message')}")
        bad = [
            r
            for r in op.get("syncResult", {}).get("resources", [])
            if r.get("status") == "SyncFailed"
        ]
        for r in bad:
            say(f"  {r['kind']} {r.get('namespace', '')}/{r['name']}: {r.get('message', '')[:300]}")
    assert not get(env, "appclaim.platform.plinth.dev", "intruder", "-n", "search")
    assert not get(env, "configmap", "not-a-claim", "-n", "search")
    assert not items(
        env, "xapps.claims.plinth.dev", "--field-selector", "metadata.name=composite-by-hand"
    )
    # A refused sync applies nothing and prunes nothing.
    assert {t: {c["metadata"]["name"] for c in claims(env, t)} for t in TEAMS} == before

    # The fix is synced by the next retry (retry.refresh), not after all ten of the bad commit.
    fixed = {p: t for p, t in env.files.items() if p not in OUT_OF_BOUNDS}
    pushed = publish(env, fixed, "revert the out-of-bounds files")
    eventually("both Applications are Synced at the fix", lambda: all_synced(env))
    env.took("fix commit -> both Applications Synced again", time.monotonic() - pushed)


# --- 4. prune --------------------------------------------------------------------------------


def test_7_removing_a_claim_prunes_it_and_prod_data_is_kept_until_last(env: Env) -> None:
    (usage,) = items(env, "usages.protection.crossplane.io", "-n", "payments")
    bucket = usage["spec"]["of"]["resourceRef"]["name"]
    role = usage["spec"]["by"]["resourceRef"]["name"]
    body = get(env, "buckets.s3.aws.m.upbound.io", bucket, "-n", "payments")
    # A real provider would orphan the S3 bucket: the claim's deletion never deletes its data.
    assert "Delete" not in body["spec"]["managementPolicies"]
    assert "*" not in body["spec"]["managementPolicies"]
    # And while the app exists, Crossplane's webhook refuses to delete the bucket at all.
    r = kubectl_run(
        env.kubeconfig,
        "delete",
        "buckets.s3.aws.m.upbound.io",
        bucket,
        "-n",
        "payments",
        "--dry-run=server",
    )
    assert r.returncode != 0
    assert 'admission webhook "nousages.protection.crossplane.io" denied' in r.stderr

    files = {p: t for p, t in env.files.items() if p != "teams/payments/app-checkout.yaml"}
    pushed = publish(env, files, "checkout is gone")
    gone: dict[str, float] = {}

    def app_and_its_resources_gone() -> bool:
        now = time.monotonic()
        claim = get(env, "appclaim.platform.plinth.dev", "checkout", "-n", "payments")
        if "pruned" not in gone and (not claim or claim["metadata"].get("deletionTimestamp")):
            gone["pruned"] = now
        if "claim" not in gone and not claim:
            gone["claim"] = now
        if "role" not in gone and not get(
            env, "roles.iam.aws.m.upbound.io", role, "-n", "payments"
        ):
            gone["role"] = now
        if "bucket" not in gone and not get(
            env, "buckets.s3.aws.m.upbound.io", bucket, "-n", "payments"
        ):
            gone["bucket"] = now
        rest = items(env, "managed", "-n", "payments", "-l", "crossplane.io/composite=checkout")
        return len(gone) == 4 and not rest

    eventually(
        "the app and everything it composed are gone", app_and_its_resources_gone, timeout=600
    )
    env.took("commit -> Argo CD prunes the claim (deletion requested)", gone["pruned"] - pushed)
    env.took("commit -> claim gone (Crossplane's finalizer done)", gone["claim"] - pushed)
    env.took("commit -> all it composed gone", time.monotonic() - pushed)
    # The Usage refused the bucket's deletion while the app's workload role existed.
    assert gone["bucket"] >= gone["role"], gone
    op = operation(env, "claims-payments")
    pruned = [
        r for r in op.get("syncResult", {}).get("resources", []) if r.get("status") == "Pruned"
    ]
    # Argo CD pruned the claim and nothing else: what the claim composed, Crossplane removed.
    assert [(r["kind"], r["name"]) for r in pruned] == [("AppClaim", "checkout")], op

    eventually("both Applications are Synced at the latest commit", lambda: all_synced(env))
    assert get(env, "tenantclaim.platform.plinth.dev", "payments", "-n", "payments")


# --- 5. the install through Argo CD ----------------------------------------------------------


def _argocd_applied_at(body: dict[str, Any]) -> str:
    times = [
        m["time"]
        for m in body["metadata"].get("managedFields", [])
        if m.get("manager") == "argocd-controller"
    ]
    return max(times) if times else ""


def test_8_the_platform_installs_through_argo_cd_wave_by_wave(env: Env) -> None:
    """Last: the platform's ClusterProviderConfigs replace this cluster's (which reach its API
    server through a kubeconfig Secret) with the production ones of gitops/platform."""
    registry = argocd.package_registry()
    skipped = [] if registry else list(argocd.PACKAGE_WAVES)
    if skipped:
        say(
            f"not synced here: {', '.join(skipped)} (Crossplane packages: installed by the"
            " package manager already, and the CRD-only AWS and GitHub providers are never"
            " Healthy; see docs/gitops.md)"
        )
    docs = argocd.platform_docs(env.info)
    began = time.monotonic()
    cluster.apply(env.kubeconfig, [d for d in docs if d["kind"] != "Application"])
    cluster.apply(env.kubeconfig, [d for d in docs if d["kind"] == "Application"])

    def installed() -> Any:
        a = app(env, "plinth-platform").get("status", {})
        ok = (
            a.get("sync", {}).get("status") == "Synced"
            and a.get("health", {}).get("status") == "Healthy"
        )
        return a if ok else None

    eventually("the plinth-platform Application is Synced and Healthy", installed, timeout=600)
    env.took("platform Application applied -> Synced and Healthy", time.monotonic() - began)
    status = installed()
    synced = {(r["kind"], r["name"]) for r in status["resources"]}
    served = argocd.platform_files(env.platform, registry)
    expected = set()
    waves: dict[int, list[str]] = {}
    for path, text in served.items():
        if not path.startswith("gitops/platform/manifests/"):
            continue
        for d in _docs(text):
            expected.add((d["kind"], d["metadata"]["name"]))
            wave = int(d["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
            resource = f"{d['kind'].lower()}.{d['apiVersion'].split('/')[0]}"
            live = get(env, resource, d["metadata"]["name"], "--show-managed-fields")
            assert live, d["metadata"]["name"]
            waves.setdefault(wave, []).append(_argocd_applied_at(live))
            assert live["metadata"]["annotations"][TRACKING].startswith("plinth-platform:")
    assert synced == expected
    order = sorted(waves)
    say("waves applied at: " + json.dumps({w: sorted(waves[w]) for w in order}))
    for earlier, later in itertools.pairwise(order):
        assert max(waves[earlier]) < min(waves[later]), (earlier, later, waves)
    env_config = get(env, "environmentconfigs.apiextensions.crossplane.io", "plinth-platform")
    assert env_config["data"]["domain"] == "apps.example.com"
    assert fnmatch.fnmatch(
        json.dumps(app(env, "plinth-platform")["spec"]["source"]), f"*{env.info.platform_repo}*"
    )
