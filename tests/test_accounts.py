"""An AWS account per environment (plinth.compose.accounts): every AWS resource of an
environment lands in that environment's account; prod never shares one with non-prod unless the
claim says so on purpose; existing claims rename nothing; moving an environment's account is
refused while it has AWS resources."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claim_fixtures import accounts_for, observe, ready_condition
from conftest import example_platform, platform_docs
from old_style_corpus import CRN, required_of
from plinth.api.flavor import FLAVORS, Flavor
from plinth.tools.render import Rendered, render, to_composite
from plinth.tools.validate import Validator

FLAVOR_NAMES = [f.value for f in Flavor]
ARN_ACCOUNT = re.compile(r"arn:aws[a-z-]*:[a-z0-9-]*:[a-z0-9-]*:([0-9]{12}):")


def _group(flavor: str) -> str:
    return f"{FLAVORS[Flavor(flavor)].group}/v1alpha1"


def _phases(
    claim: dict[str, Any],
    required: list[dict[str, Any]],
    account_id: str = "210987654321",
    accounts: dict[str, str] | None = None,
) -> list[Rendered]:
    out: list[Rendered] = []
    observed: list[dict[str, Any]] = []
    for _ in range(10):
        r = render(
            to_composite(claim), observed=observed, extra_resources=platform_docs() + required
        )
        out.append(r)
        if r.fatal:
            return out
        nxt = observe(r.resources, account_id, accounts)
        if len(nxt) == len(observed):
            return out
        observed = nxt
    raise AssertionError("did not converge")


def _names(steps: list[Rendered]) -> dict[str, str]:
    return {
        r["metadata"]["annotations"][CRN]: r["metadata"]["name"]
        for step in steps
        for r in step.resources
    }


# --- existing claims ----------------------------------------------------------------------------


def _corpus() -> list[dict[str, Any]]:
    from conftest import REPO

    data: list[dict[str, Any]] = json.loads(
        (REPO / "tests" / "data" / "old_style_names.json").read_text()
    )
    return data


CORPUS = _corpus()


@pytest.mark.parametrize(
    "entry",
    CORPUS,
    ids=[f"{i}-{e['claim']['kind']}-{e['claim']['apiVersion'][:6]}" for i, e in enumerate(CORPUS)],
)
def test_an_old_style_claim_renames_and_drops_nothing(entry: dict[str, Any]) -> None:
    # One `spec.account` for every environment, as before accounts per environment: every
    # resource keeps its composition-resource-name and metadata.name. Those that put prod and
    # dev in one account are now refused (nothing is touched, a Fatal result) until the claim
    # sets the escape hatch, and then they keep their names too.
    claim, tenant = copy.deepcopy(entry["claim"]), copy.deepcopy(entry["tenant"])
    steps = _phases(claim, required_of(claim, tenant))
    envs = {e["name"] for e in tenant["spec"]["environments"]}
    # The recorded AccountClaim was vended for dev: prod in it shares dev's account.
    shares = "prod" in envs and (len(envs) > 1 or "claimName" in tenant["spec"]["account"])
    if shares:
        if claim["kind"] == "TenantClaim":
            (message,) = steps[0].fatal
            assert steps[0].resources == []
            assert "allowSharedProdAccount" in message, message
        else:
            message = " ".join(steps[-1].fatal) or steps[-1].composite["status"]["message"]
            assert "allowSharedProdAccount" in message or "its spec is not valid" in message
        tenant["spec"]["allowSharedProdAccount"] = True
        if claim["kind"] == "TenantClaim":
            claim["spec"]["allowSharedProdAccount"] = True
        steps = _phases(claim, required_of(claim, tenant))
    assert not steps[-1].fatal, steps[-1].fatal
    now = _names(steps)
    before = entry["names"]
    assert not set(before) - set(now), f"dropped: {sorted(set(before) - set(now))}"
    renamed = {k: (v, now[k]) for k, v in before.items() if now[k] != v}
    assert not renamed, f"renamed: {renamed}"


# --- prod never shares an account with non-prod --------------------------------------------------


def _tenant(flavor: str, environments: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": _group(flavor),
        "kind": "TenantClaim",
        "metadata": {"name": "payments", "namespace": "payments"},
        "spec": {"environments": environments, **spec},
    }


SHARING = [
    (
        "default-for-both",
        [{"name": "dev"}, {"name": "prod"}],
        {"account": {"claimName": "payments-main"}},
    ),
    (
        "same-claim-named-twice",
        [
            {"name": "staging", "account": {"claimName": "payments-one"}},
            {"name": "prod", "account": {"claimName": "payments-one"}},
        ],
        {},
    ),
    (
        "prod-falls-back-to-the-default",
        [{"name": "dev", "account": {"claimName": "payments-dev"}}, {"name": "prod"}],
        {"account": {"claimName": "payments-dev"}},
    ),
    (
        "same-id",
        [
            {"name": "dev", "account": {"accountId": "111122223333", "providerConfig": "a"}},
            {"name": "prod", "account": {"accountId": "111122223333", "providerConfig": "b"}},
        ],
        {},
    ),
]


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
@pytest.mark.parametrize(("case", "envs", "spec"), SHARING, ids=[c[0] for c in SHARING])
def test_the_schema_refuses_prod_sharing_an_account_with_non_prod(
    validator: Validator, flavor: str, case: str, envs: list[dict[str, Any]], spec: dict[str, Any]
) -> None:
    claim = _tenant(flavor, envs, **spec)
    issues = [str(i) for i in validator.validate_body(claim, "claim")]
    assert any("prod shares an account with a non-prod environment" in i for i in issues), issues
    # The function says the same for a claim that bypasses the API server.
    (message,) = render(to_composite(claim), extra_resources=platform_docs()).fatal
    assert "dev and prod never share an account" in message
    # The escape hatch, on purpose.
    claim["spec"]["allowSharedProdAccount"] = True
    assert not validator.validate_body(claim, "claim")
    r = render(to_composite(claim), extra_resources=platform_docs() + accounts_for(claim))
    assert not r.fatal, r.fatal


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_the_function_refuses_two_references_to_one_account(flavor: str) -> None:
    # Two AccountClaims that report the same account id: no schema can see it.
    claim = _tenant(
        flavor,
        [
            {"name": "dev", "account": {"claimName": "payments-a"}},
            {"name": "prod", "account": {"claimName": "payments-b"}},
        ],
    )
    accounts = accounts_for(claim)
    for a in accounts:
        if a["kind"] == "AccountClaim":
            a["status"]["accountId"] = "444455556666"
    (message,) = render(to_composite(claim), extra_resources=platform_docs() + accounts).fatal
    assert "environments prod and dev are both in account 444455556666" in message


def test_every_environment_needs_an_account(validator: Validator) -> None:
    claim = _tenant("v2", [{"name": "dev", "account": {"claimName": "a"}}, {"name": "staging"}])
    issues = [str(i) for i in validator.validate_body(claim, "claim")]
    assert any("every environment needs an account" in i for i in issues), issues


# --- moving an environment's account ---------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_moving_an_environment_with_aws_resources_to_another_account_is_refused(
    flavor: str,
) -> None:
    before = _tenant(
        flavor,
        [
            {"name": "dev", "account": {"claimName": "payments-dev"}},
            {"name": "staging", "account": {"claimName": "payments-staging"}},
        ],
    )
    steps = _phases(before, accounts_for(before))
    existing = observe(steps[-1].resources)
    after = copy.deepcopy(before)
    after["spec"]["environments"][1]["account"] = {"claimName": "payments-staging-2"}
    # What was composed where shows twice: the roles' ProviderConfigs ...
    r = render(
        to_composite(after),
        observed=existing,
        extra_resources=platform_docs() + accounts_for(after),
    )
    (message,) = r.fatal
    assert "would move to another account: role-edit-staging" in message, message
    assert r.resources == [], "a refused claim composes nothing: Crossplane keeps what exists"
    # ... and the claim's own status, which names each environment's account.
    observed_xr = {**to_composite(after), "status": steps[-1].composite["status"]}
    (message,) = render(
        observed_xr, observed=[], extra_resources=platform_docs() + accounts_for(after)
    ).fatal
    assert "the account of environment(s) staging from" in message, message
    assert "remove it from the apps and the tenant first" in message
    # Renaming what holds the account (the same AccountClaim, now the default) moves nothing.
    same = copy.deepcopy(before)
    same["spec"]["account"] = {"claimName": "payments-dev"}
    del same["spec"]["environments"][0]["account"]
    r = render(
        to_composite(same), observed=existing, extra_resources=platform_docs() + accounts_for(same)
    )
    assert not r.fatal, r.fatal


# --- every AWS resource of an environment lands in its account -------------------------------------

PLATFORM = example_platform()
CLUSTER_ACCOUNTS = {c.account_id for c in PLATFORM.clusters}
CLUSTER_ENV = {c.name: c.environment.value for c in PLATFORM.clusters}
PLATFORM_PCS = {c.aws_provider_config for c in PLATFORM.clusters}
MEMBER_ACCOUNT = "999988887777"


@st.composite
def tenants_and_apps(draw: st.DrawFn) -> dict[str, Any]:
    flavor = draw(st.sampled_from(FLAVOR_NAMES))
    envs = draw(
        st.lists(st.sampled_from(["dev", "staging", "prod"]), min_size=1, max_size=3, unique=True)
    )
    by_claim = draw(st.booleans())
    default = draw(st.booleans())
    environments: list[dict[str, Any]] = []
    ids = {"dev": "101010101010", "staging": "202020202020", "prod": "303030303030"}
    for e in envs:
        env: dict[str, Any] = {"name": e}
        # Non-prod environments may share the default account; prod always has its own.
        if e == "prod" or not default or draw(st.booleans()):
            env["account"] = (
                {"claimName": f"payments-{e}"}
                if by_claim
                else {"accountId": ids[e], "providerConfig": f"payments-{e}"}
            )
        environments.append(env)
    spec: dict[str, Any] = {"environments": environments}
    if default or any("account" not in e for e in environments):
        spec["account"] = (
            {"claimName": "payments-home"}
            if by_claim
            else {"accountId": "404040404040", "providerConfig": "payments-home"}
        )
    spec["members"] = [{"roleArn": f"arn:aws:iam::{MEMBER_ACCOUNT}:role/ops", "role": "admin"}]
    tenant = _tenant(flavor, environments, **{k: v for k, v in spec.items() if k != "environments"})
    app_envs = []
    for env in environments:
        item: dict[str, Any] = {"name": env["name"]}
        if not by_claim:
            # A network in the environment's own account (one per account).
            account = (env.get("account") or spec["account"])["accountId"]
            item["network"] = {
                "vpcId": f"vpc-0{account}",
                "subnetIds": [f"subnet-0{account}1", f"subnet-0{account}2"],
            }
        app_envs.append(item)
    app = {
        "apiVersion": _group(flavor),
        "kind": "AppClaim",
        "metadata": {"name": "checkout", "namespace": "payments"},
        "spec": {
            "tenant": "payments",
            "environments": app_envs,
            "buckets": [{"name": "data"}] if draw(st.booleans()) else [],
            "queues": [{"name": "jobs"}] if draw(st.booleans()) else [],
            "databases": [{"name": "main"}] if draw(st.booleans()) else [],
            "caches": [{"name": "hot"}] if draw(st.booleans()) else [],
        },
    }
    return {"tenant": tenant, "app": app}


def _team_accounts(tenant: dict[str, Any], required: list[dict[str, Any]]) -> dict[str, str]:
    """ProviderConfig name -> account id, for the tenant's own accounts."""
    out = {}
    spec = tenant["spec"]
    refs = [spec.get("account"), *(e.get("account") for e in spec["environments"])]
    for ref in refs:
        if ref and "accountId" in ref:
            out[ref["providerConfig"]] = ref["accountId"]
    for d in required:
        if d["kind"] == "AccountClaim":
            out[d["status"]["providerConfig"]] = d["status"]["accountId"]
    return out


def _env_account(
    tenant: dict[str, Any], env: str, team: dict[str, str], required: list[dict[str, Any]]
) -> str:
    spec = tenant["spec"]
    ref = (
        next(e for e in spec["environments"] if e["name"] == env).get("account") or spec["account"]
    )
    if "accountId" in ref:
        return str(ref["accountId"])
    return next(
        d["status"]["accountId"]
        for d in required
        if d["kind"] == "AccountClaim" and d["metadata"]["name"] == ref["claimName"]
    )


# Where one environment's resources may name another account: each is what the design needs.
EXCEPTIONS = {
    # The image repository lives in the home account; the clusters' accounts may pull from it.
    ("RepositoryPolicy", "cluster"),
    # The workload role trusts its clusters' Pod Identity roles and External Secrets roles.
    ("Role", "cluster"),
    # The tenant's roles trust the members' own roles, in the accounts the claim names.
    ("Role", "member"),
}


def _accounts_named(body: dict[str, Any]) -> set[str]:
    text = json.dumps(body["spec"])
    found = set(ARN_ACCOUNT.findall(text.replace("\\", "")))
    return found


def _check(tenant: dict[str, Any], app: dict[str, Any]) -> None:
    required = accounts_for(tenant)
    team = _team_accounts(tenant, required)
    tenant_steps = _phases(tenant, required, accounts=team)
    assert not tenant_steps[-1].fatal, tenant_steps[-1].fatal
    ready_tenant = {**tenant, "status": {"conditions": ready_condition()}}
    app_steps = _phases(app, [ready_tenant, *required], accounts=team)
    assert not app_steps[-1].fatal, app_steps[-1].fatal
    envs = [e["name"] for e in tenant["spec"]["environments"]]
    env_account = {e: _env_account(tenant, e, team, required) for e in envs}
    resources = {
        r["metadata"]["annotations"][CRN]: r
        for steps in (tenant_steps, app_steps)
        for step in steps
        for r in step.resources
    }
    aws_seen = 0
    for crn, r in resources.items():
        if ".aws." not in r["apiVersion"].split("/")[0] + ".":
            continue
        aws_seen += 1
        pc = r["spec"]["providerConfigRef"]["name"]
        env = r["metadata"].get("labels", {}).get("plinth.dev/environment")
        named = _accounts_named(r)
        if pc in team:
            own = team[pc]
            if env is not None:
                assert own == env_account[env], f"{crn}: {env} resource in account {own}"
            others = named - {own}
            members = {
                m["roleArn"].split(":")[4]
                for m in tenant["spec"].get("members", [])
                if "roleArn" in m
            }
            for account in others:
                kind = (
                    "member"
                    if account in members
                    else ("cluster" if account in CLUSTER_ACCOUNTS else "team")
                )
                assert (r["kind"], kind) in EXCEPTIONS, (
                    f"{crn} ({own}) names {kind} account {account}"
                )
        else:
            # In a platform account: EKS access and Pod Identity for the cluster's environment.
            assert pc in PLATFORM_PCS, (crn, pc)
            cluster = r["spec"]["forProvider"].get("clusterName")
            hosted = (
                {CLUSTER_ENV[cluster]}
                if cluster
                else {CLUSTER_ENV[c.name] for c in PLATFORM.clusters if c.aws_provider_config == pc}
                & set(envs)
            )
            allowed = {env_account[e] for e in hosted} | CLUSTER_ACCOUNTS
            assert named <= allowed, f"{crn} names {named - allowed} (allowed {allowed})"
    assert aws_seen


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
@given(tenants_and_apps())
def test_every_aws_resource_of_an_environment_is_in_its_account(case: dict[str, Any]) -> None:
    _check(case["tenant"], case["app"])


def test_the_examples_use_an_account_per_environment() -> None:
    from conftest import EXAMPLES
    from plinth.tools.yamlio import read_path

    for flavor_dir in (EXAMPLES, EXAMPLES / "legacy"):
        tenant = read_path(str(flavor_dir / "tenant-search.yaml"))[0].body
        refs = [e["account"]["accountId"] for e in tenant["spec"]["environments"]]
        assert len(set(refs)) == len(refs) == 3
        app = read_path(str(flavor_dir / "app-full.yaml"))[0].body
        assert all("network" in e for e in app["spec"]["environments"])
        _check(tenant, app)
