"""AccountClaim phases: each example renders phase by phase from its observed fixtures, every
document validates in both flavors, and no reconcile ever drops or renames a resource."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import account_fixtures as fx
from conftest import EXAMPLES, assert_unique_names, assert_valid, make_claim, platform_docs
from plinth.api.account import DEFAULT_CONFIG_RULES, AccountSpec, AccountStatus
from plinth.api.catalog import ACCOUNT
from plinth.api.flavor import FLAVORS, Flavor
from plinth.compose.account import compose
from plinth.core.composition import Observed, Required
from plinth.tools.render import Rendered, render, to_composite
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

FLAVOR_DIRS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
CRN = "crossplane.io/composition-resource-name"


def _observed(flavor_dir: Path, example: str, phase: str | None) -> list[dict[str, Any]]:
    if phase is None:
        return []
    return [d.body for d in read_path(str(fx.fixture_path(flavor_dir, example, phase)))]


def _render(claim: dict[str, Any], observed: list[dict[str, Any]]) -> Rendered:
    return render(to_composite(claim), observed=observed, extra_resources=platform_docs())


def _crns(resources: list[dict[str, Any]]) -> dict[str, str]:
    return {r["metadata"]["annotations"][CRN]: r["metadata"]["name"] for r in resources}


# (observed fixture, expected phase, kinds that must appear)
PHASES = [
    (None, "CreatingAccount", {"Account"}),
    ("account-created", "ConnectingAccount", {"Account", "ProviderConfig"}),
    ("provider-config-ready", "Baselining", {"VPC", "Subnet", "RouteTable", "Budget"}),
    ("baseline-ready", "Ready", {"VPC", "Subnet", "EBSEncryptionByDefault", "ConfigRule"}),
]
CASES = [
    pytest.param(flavor, example, *phase, id=f"{flavor}-{example}-{phase[0] or 'new'}")
    for flavor in FLAVOR_DIRS
    for example in fx.EXAMPLE_DIRS
    for phase in PHASES
]


@pytest.mark.parametrize(("flavor", "example", "fixture", "phase", "kinds"), CASES)
def test_example_renders_phase_by_phase(  # type: ignore[no-untyped-def]
    validator: Validator, flavor, example, fixture, phase, kinds
) -> None:
    flavor_dir = FLAVOR_DIRS[flavor]
    claim = fx.claim_of(flavor_dir / example)
    observed = _observed(flavor_dir, example, fixture)
    rendered = _render(claim, observed)
    assert not rendered.fatal, rendered.results
    assert_valid(validator, rendered.resources, f"{flavor}/{example}@{fixture}")
    assert_unique_names(rendered.resources)
    assert kinds <= {r["kind"] for r in rendered.resources}
    status = rendered.composite["status"]
    assert status["phase"] == phase
    # Every status field the composer writes is one the XRD declares.
    AccountStatus.model_validate({k: v for k, v in status.items() if k != "conditions"})
    provisioned = next(c for c in status["conditions"] if c["type"] == "Provisioned")
    if phase == "Ready":
        assert provisioned["status"] == "True"
        assert "message" not in status
    else:
        assert provisioned["status"] == "False"
        assert status["message"] == provisioned["message"]
    assert set(_crns(observed)) <= set(_crns(rendered.resources)), "nothing observed is dropped"
    if fixture is not None:
        assert status["accountId"] == fx.ACCOUNT_ID[claim["metadata"]["name"]]


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_first_render_says_what_it_waits_for(flavor: str) -> None:
    claim = fx.claim_of(FLAVOR_DIRS[flavor] / "account.yaml")
    status = _render(claim, []).composite["status"]
    assert status["message"] == "waiting for AWS Organizations to create the account"


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_ready_account_reports_its_network(flavor: str) -> None:
    flavor_dir = FLAVOR_DIRS[flavor]
    claim = fx.claim_of(flavor_dir / "account-prod.yaml")
    observed = _observed(flavor_dir, "account-prod.yaml", "baseline-ready")
    status = _render(claim, observed).composite["status"]
    assert status["vpcId"].startswith("vpc-")
    assert status["vpcCidr"] == "10.42.0.0/16"
    assert {k: len(v) for k, v in status["subnetIds"].items()} == {
        "public": 3,
        "private": 3,
        "isolated": 3,
    }
    assert status["transitGatewayAttachmentId"].startswith("tgw-attach-")
    assert status["region"] == "us-east-1"


def test_fixtures_are_what_the_composer_produces() -> None:
    stale = [
        str(p.relative_to(fx.REPO))
        for p, text in fx.expected().items()
        if not p.is_file() or p.read_text() != text
    ]
    assert not stale, f"run `python tests/account_fixtures.py`: stale fixtures {stale}"


def test_transit_gateway_routes_wait_for_the_attachment() -> None:
    claim = fx.claim_of(EXAMPLES / "account-prod.yaml")
    observed = _observed(EXAMPLES, "account-prod.yaml", "provider-config-ready")
    crns = _crns(_render(claim, observed).resources)
    assert "tgw-attachment" in crns
    assert not [c for c in crns if "-tgw-" in c], "no route before the attachment is ready"
    done = _crns(
        _render(claim, _observed(EXAMPLES, "account-prod.yaml", "baseline-ready")).resources
    )
    assert {"route-private-a-tgw-10-0-0-0-8", "route-private-c-tgw-10-0-0-0-8"} <= set(done)


# --- isolation and deletion safety ---------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_baseline_acts_only_through_the_accounts_own_provider_config(flavor: str) -> None:
    flavor_dir = FLAVOR_DIRS[flavor]
    claim = fx.claim_of(flavor_dir / "account-prod.yaml")
    rendered = _render(claim, _observed(flavor_dir, "account-prod.yaml", "baseline-ready"))
    pc = next(r for r in rendered.resources if r["kind"] == "ProviderConfig")
    ns = claim["metadata"]["namespace"]
    role = pc["spec"]["assumeRoleChain"][0]["roleARN"]
    assert role == "arn:aws:iam::123456789012:role/OrganizationAccountAccessRole"
    assert rendered.composite["status"]["providerConfig"] == pc["metadata"]["name"]
    if flavor == "v2":
        assert pc["metadata"]["namespace"] == ns, "tenancy in AWS follows the claim's namespace"
    for r in rendered.resources:
        ref = r["spec"].get("providerConfigRef")
        if ref is None:
            continue
        management = r["kind"] in ("Account", "AccountAssignment")
        expected = "aws-management" if management else pc["metadata"]["name"]
        assert ref["name"] == expected, r["metadata"]["name"]
        if flavor == "v2":
            assert ref["kind"] == ("ClusterProviderConfig" if management else "ProviderConfig")
            assert r["metadata"]["namespace"] == ns


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_no_bucket_in_the_account_can_be_made_public(flavor: str) -> None:
    # The account-level block overrides every bucket's own settings; it names the new account,
    # so it can only land there.
    flavor_dir = FLAVOR_DIRS[flavor]
    claim = fx.claim_of(flavor_dir / "account.yaml")
    rendered = _render(claim, _observed(flavor_dir, "account.yaml", "provider-config-ready"))
    (block,) = [r for r in rendered.resources if r["kind"] == "AccountPublicAccessBlock"]
    fp = block["spec"]["forProvider"]
    assert fp == {
        "accountId": fx.ACCOUNT_ID["payments-dev"],
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    }
    assert block["apiVersion"].startswith("s3control.")
    pc = next(r for r in rendered.resources if r["kind"] == "ProviderConfig")
    assert block["spec"]["providerConfigRef"]["name"] == pc["metadata"]["name"]


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
@pytest.mark.parametrize("policy", ["Orphan", "Delete"])
def test_account_is_orphaned_unless_the_claim_opts_in_to_deletion(flavor: str, policy: str) -> None:
    claim = copy.deepcopy(fx.claim_of(FLAVOR_DIRS[flavor] / "account.yaml"))
    claim["spec"]["deletionPolicy"] = policy
    account = _render(claim, []).resources[0]
    spec = account["spec"]
    assert spec["forProvider"]["closeOnDeletion"] is (policy == "Delete")
    if flavor == "v2":
        orphaned = "managementPolicies" in spec and "Delete" not in spec["managementPolicies"]
    else:
        orphaned = spec.get("deletionPolicy") == "Orphan"
    assert orphaned is (policy == "Orphan")


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_usages_keep_the_account_while_the_baseline_exists(flavor: str) -> None:
    flavor_dir = FLAVOR_DIRS[flavor]
    claim = fx.claim_of(flavor_dir / "account-prod.yaml")
    resources = _render(
        claim, _observed(flavor_dir, "account-prod.yaml", "baseline-ready")
    ).resources
    account = next(r for r in resources if r["kind"] == "Account")
    usages = [r for r in resources if r["kind"] == FLAVORS[Flavor(flavor)].usage_kind]
    assert {u["spec"]["by"]["kind"] for u in usages} == {"VPC", "Vault", "Budget"}
    names = {(r["kind"], r["metadata"]["name"]) for r in resources}
    for u in usages:
        assert u["spec"]["of"]["resourceRef"]["name"] == account["metadata"]["name"]
        assert u["spec"]["of"]["apiVersion"] == account["apiVersion"]
        assert (u["spec"]["by"]["kind"], u["spec"]["by"]["resourceRef"]["name"]) in names


# The property: whatever the spec becomes and whichever previously composed resources are
# observed, the desired set keeps every observed resource the new spec still implies, and no
# resource changes its name.

PAIRS = [
    {
        "groupId": "9067a1b2c3-11111111-2222-3333-4444-555555555555",
        "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-0a1b2c3d4e5f6071",
    },
    {
        "groupId": "9067a1b2c3-66666666-7777-8888-9999-000000000000",
        "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-1b2c3d4e5f607182",
    },
    {
        "groupId": "aaaabbbb-cccc-dddd-eeee-ffff00001111",
        "permissionSetArn": "arn:aws:sso:::permissionSet/ssoins-7223a1b2c3d4e5f6/ps-0a1b2c3d4e5f6071",
    },
]


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    tiers = draw(
        st.lists(
            st.sampled_from(["public", "private", "isolated"]), min_size=1, max_size=3, unique=True
        )
    )
    network: dict[str, Any] = {
        "availabilityZones": draw(st.sampled_from([2, 3])),
        "tiers": tiers,
    }
    # Inside the networks examples/platform.yaml lists for team payments (10.42.0.0/15).
    cidr = draw(st.sampled_from([None, "10.42.0.0/16", "10.43.0.0/20", "10.43.4.0/22"]))
    if cidr:
        network["cidr"] = cidr
    nat = draw(st.sampled_from([None, "None", "Single", "PerAz"]))
    if nat and ("public" in tiers or nat == "None"):
        network["nat"] = nat
    if cidr and "private" in tiers:
        network["attachTransitGateway"] = draw(st.booleans())
    spec: dict[str, Any] = {
        "email": "aws+prop@example.com",
        "team": "payments",
        "environment": draw(st.sampled_from(["dev", "staging", "prod"])),
        "network": network,
        "backup": {"enabled": draw(st.sampled_from([None, True, False]))},
        "config": {
            "enabled": draw(st.booleans()),
            "rules": draw(
                st.lists(st.sampled_from(DEFAULT_CONFIG_RULES), min_size=1, max_size=4, unique=True)
            ),
        },
        "access": draw(
            st.lists(st.sampled_from(PAIRS), max_size=3, unique_by=lambda p: p["groupId"])
        ),
        "budget": {"monthlyLimit": draw(st.integers(1, 10**6))},
    }
    if draw(st.booleans()):
        spec["region"] = "us-east-1"
    return spec


def _claim(spec: dict[str, Any], flavor: str) -> dict[str, Any]:
    group = FLAVORS[Flavor(flavor)].group
    return {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "AccountClaim",
        "metadata": {"name": "prop", "namespace": "payments"},
        "spec": spec,
    }


def _planned(claim: dict[str, Any], observed: list[dict[str, Any]], flavor: str) -> set[str]:
    c = make_claim(ACCOUNT, "prop", "payments", flavor)
    obs = Observed.of({r["metadata"]["annotations"][CRN]: r for r in observed})
    return compose(c, AccountSpec.model_validate(claim["spec"]), obs, Required()).planned()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    before=specs(),
    after=specs(),
    flavor=st.sampled_from(["v2", "legacy"]),
    data=st.data(),
)
def test_nothing_is_dropped_or_renamed(before, after, flavor, data) -> None:  # type: ignore[no-untyped-def]
    old = _claim(before, flavor)
    new = _claim(after, flavor)
    previous = fx.phases(old)["baseline-ready"]
    observed = data.draw(
        st.lists(st.sampled_from(previous), unique_by=lambda r: r["metadata"]["name"])
    )
    rendered = _render(new, observed)
    assert not rendered.fatal, rendered.results
    desired = _crns(rendered.resources)
    implied = _planned(new, observed, flavor)
    assert implied == _planned(new, previous, flavor), (
        "what a spec implies never depends on what is observed"
    )
    kept = {c: n for c, n in _crns(observed).items() if c in implied}
    missing = set(kept) - set(desired)
    assert not missing, f"dropped: {sorted(missing)}"
    renamed = {c for c in kept if desired[c] != kept[c]}
    assert not renamed, f"renamed: {sorted(renamed)}"
    full_new = _crns(fx.phases(new)["baseline-ready"])
    both = set(full_new) & set(_crns(previous))
    assert all(full_new[c] == _crns(previous)[c] for c in both), "a resource changed its name"


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
@pytest.mark.parametrize("fixture", fx.PHASES)
def test_cli_renders_with_observed_resources(flavor: str, fixture: str) -> None:
    from click.testing import CliRunner

    from plinth.cli import main

    flavor_dir = FLAVOR_DIRS[flavor]
    observed = fx.fixture_path(flavor_dir, "account-prod.yaml", fixture).parent
    result = CliRunner().invoke(
        main,
        [
            "render",
            str(flavor_dir / "account-prod.yaml"),
            "--observed-resources",
            str(observed),
            "--extra-resources",
            str(EXAMPLES / "platform.yaml"),
        ],
    )
    assert result.exit_code == 0, result.output
    docs = list(yaml.safe_load_all(result.stdout))
    expected = _render(
        fx.claim_of(flavor_dir / "account-prod.yaml"),
        _observed(flavor_dir, "account-prod.yaml", fixture),
    )
    assert len(docs) == 1 + len(expected.resources)
    assert docs[0]["status"]["phase"] == expected.composite["status"]["phase"]
