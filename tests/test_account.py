"""AccountClaim model and composer: CIDR arithmetic, names at the limits, bad input."""

from __future__ import annotations

import copy
import ipaddress
import itertools
from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from hypothesis import given, settings
from hypothesis import strategies as st

import account_fixtures as fx
from conftest import EXAMPLES, assert_unique_names, assert_valid, platform_docs
from plinth.api.account import VPC_MAX_PREFIX, VPC_MIN_PREFIX, AccountSpec, Tier
from plinth.compose.account.cidrs import layout, subnet_cidr
from plinth.core.naming import AWS_NAME_LIMITS, DNS_LABEL_MAX
from plinth.runtime.function import run_function
from plinth.tools.render import build_request, render, to_composite
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

DEV = next(d.body for d in read_path(str(EXAMPLES / "account.yaml")))
PROD = next(d.body for d in read_path(str(EXAMPLES / "account-prod.yaml")))
LEGACY_PROD = next(d.body for d in read_path(str(EXAMPLES / "legacy" / "account-prod.yaml")))
PLATFORM = platform_docs()[0]
TIER_SETS = [
    list(c) for n in (1, 2, 3) for c in itertools.permutations(list(Tier), n)
]  # every non-empty tier list, in every order


# --- CIDR arithmetic ---------------------------------------------------------------------


def _check_layout(vpc: str, tiers: list[Tier], zones: int) -> None:
    net = ipaddress.IPv4Network(vpc)
    subnets = layout(vpc, tiers, zones)
    assert len(subnets) == len(tiers) * zones
    nets = [ipaddress.IPv4Network(s.cidr) for s in subnets]
    for n in nets:
        assert n.subnet_of(net), f"{n} is outside the VPC {net}"
        assert n.prefixlen <= 27, f"{n} is too small for NAT gateways and load balancers"
    for a, b in itertools.combinations(nets, 2):
        assert not a.overlaps(b), f"{a} overlaps {b}"
    for tier in tiers:
        zones_of_tier = [s.zone for s in subnets if s.tier is tier]
        assert zones_of_tier == list("abc"[:zones]), "one subnet per zone and tier"


@pytest.mark.parametrize("prefix", range(VPC_MIN_PREFIX, VPC_MAX_PREFIX + 1))
@pytest.mark.parametrize("zones", [2, 3])
def test_every_tier_set_fits_the_vpc_without_overlap(prefix: int, zones: int) -> None:
    for tiers in TIER_SETS:
        _check_layout(f"10.20.0.0/{prefix}" if prefix >= 16 else "10.0.0.0/16", tiers, zones)


@settings(max_examples=200)
@given(
    base=st.sampled_from(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]),
    prefix=st.integers(VPC_MIN_PREFIX, VPC_MAX_PREFIX),
    index=st.integers(0, 2**14),
    zones=st.sampled_from([2, 3]),
    tiers=st.sampled_from(TIER_SETS),
)
def test_layout_of_any_private_vpc(
    base: str, prefix: int, index: int, zones: int, tiers: list[Tier]
) -> None:
    parent = ipaddress.IPv4Network(base)
    prefix = max(prefix, parent.prefixlen)
    count = 2 ** (prefix - parent.prefixlen)
    start = int(parent.network_address) + (index % count) * 2 ** (32 - prefix)
    vpc = ipaddress.IPv4Network((start, prefix))
    _check_layout(str(vpc), tiers, zones)


def test_a_subnet_never_moves_when_tiers_or_zones_are_added() -> None:
    full = {s.key: s.cidr for s in layout("10.42.0.0/16", list(Tier), 3)}
    for tiers in TIER_SETS:
        for zones in (2, 3):
            for s in layout("10.42.0.0/16", tiers, zones):
                assert full[s.key] == s.cidr


def test_layout_of_a_slash_16() -> None:
    assert subnet_cidr("10.42.0.0/16", Tier.PRIVATE, 0) == "10.42.0.0/18"
    assert subnet_cidr("10.42.0.0/16", Tier.PRIVATE, 2) == "10.42.128.0/18"
    assert subnet_cidr("10.42.0.0/16", Tier.PUBLIC, 0) == "10.42.192.0/21"
    assert subnet_cidr("10.42.0.0/16", Tier.ISOLATED, 2) == "10.42.240.0/21"


# --- bad input -----------------------------------------------------------------------------


def _with(body: dict[str, Any], **spec: Any) -> dict[str, Any]:
    out = copy.deepcopy(body)
    out["spec"].update(spec)
    return out


def _net(**net: Any) -> dict[str, Any]:
    return _with(PROD, network={**PROD["spec"]["network"], **net})


def _platform(**data: Any) -> dict[str, Any]:
    out = copy.deepcopy(PLATFORM)
    for k, v in data.items():
        if v is None:
            out["data"].pop(k, None)
        else:
            out["data"][k] = v
    return out


OBSERVED_READY = [
    d.body
    for d in read_path(str(fx.fixture_path(EXAMPLES, "account-prod.yaml", "provider-config-ready")))
]

BAD = [
    pytest.param(
        _net(cidr="10.42.0.1/16"), None, "spec.network.cidr", "host bits", id="cidr-host-bits"
    ),
    pytest.param(
        _net(cidr="10.42.0.0/24"), None, "spec.network.cidr", "/16 to a /22", id="cidr-too-small"
    ),
    pytest.param(
        _net(cidr="10.0.0.0/8"), None, "spec.network.cidr", "/16 to a /22", id="cidr-too-big"
    ),
    pytest.param(_net(cidr="8.8.0.0/16"), None, "spec.network.cidr", "private", id="cidr-public"),
    pytest.param(
        _net(cidr="10.420.0.0/16"), None, "spec.network.cidr", "Octet 420", id="cidr-octet"
    ),
    pytest.param(_net(cidr="10.42.0.0"), None, "spec.network.cidr", "pattern", id="cidr-no-prefix"),
    pytest.param(_net(cidr=None), None, "spec.network", "cidr is required", id="tgw-without-cidr"),
    pytest.param(
        _net(tiers=["public", "isolated"], nat="None"),
        None,
        "spec.network",
        "private tier",
        id="tgw-without-private",
    ),
    pytest.param(
        _net(tiers=["private"], attachTransitGateway=False),
        None,
        "spec.network",
        "public tier",
        id="nat-without-public",
    ),
    pytest.param(
        _net(availabilityZones=4),
        None,
        "spec.network.availabilityZones",
        "less than or equal",
        id="four-zones",
    ),
    pytest.param(
        _with(DEV, environment="qa"),
        None,
        "spec.environment",
        "'dev', 'staging' or 'prod'",
        id="unknown-environment",
    ),
    pytest.param(
        _with(DEV, budget={"monthlyLimit": 0}),
        None,
        "spec.budget.monthlyLimit",
        "greater",
        id="zero-budget",
    ),
    pytest.param(
        _with(PROD, access=PROD["spec"]["access"] * 2),
        None,
        "spec.access",
        "once",
        id="duplicate-access",
    ),
    pytest.param(
        _with(DEV, config={"rules": ["not-a-rule"]}),
        None,
        "spec.config.rules.0",
        "pattern",
        id="bad-rule-id",
    ),
    pytest.param(
        DEV, _platform(organization=None), "lacks data.organization", "", id="no-organization"
    ),
    pytest.param(
        DEV,
        _platform(
            organization={
                **PLATFORM["data"]["organization"],
                "organizationalUnits": {"prod": "ou-a1b2-prodxxxx"},
            }
        ),
        "lacks data.organization.organizationalUnits.dev",
        "",
        id="no-ou-for-environment",
    ),
    pytest.param(
        PROD,
        _platform(transitGateway=None),
        "lacks data.transitGateway",
        "",
        id="no-transit-gateway",
    ),
    pytest.param(
        _with(PROD, region="eu-west-1"),
        None,
        "lacks a transit gateway in eu-west-1",
        "",
        id="tgw-other-region",
    ),
    pytest.param(
        PROD,
        _platform(identityCenter=None),
        "lacks data.identityCenter",
        "",
        id="no-identity-center",
    ),
]


@pytest.mark.parametrize(("claim", "platform", "where", "what"), BAD)
def test_bad_input_is_a_fatal_result_naming_the_field(claim, platform, where, what) -> None:  # type: ignore[no-untyped-def]
    # Observed as far as the baseline, so that every phase's checks run.
    req = build_request(
        to_composite(claim),
        required={"platform": [platform or PLATFORM]},
        observed=OBSERVED_READY,
    )
    rsp = run_function(req)
    fatal = [r.message for r in rsp.results if r.severity == fnv1.SEVERITY_FATAL]
    assert len(fatal) == 1, fatal
    assert where in fatal[0], fatal[0]
    assert what in fatal[0], fatal[0]
    assert not rsp.desired.resources, "a fatal response must not state desired resources"


@pytest.mark.parametrize(
    "claim",
    [
        _net(cidr=None),
        _net(tiers=["public", "isolated"], nat="None"),
        _net(tiers=["private"], attachTransitGateway=False),
        _with(PROD, access=PROD["spec"]["access"] * 2),
    ],
    ids=["tgw-without-cidr", "tgw-without-private", "nat-without-public", "duplicate-access"],
)
def test_the_api_server_rejects_what_the_function_rejects(validator: Validator, claim) -> None:  # type: ignore[no-untyped-def]
    # The CEL rules of the generated XRD and the model's validators say the same thing.
    issues = validator.validate_body(claim, "claim")
    assert issues, "the XRD must reject this claim too"


def test_a_claim_with_only_name_email_team_and_environment_is_enough() -> None:
    spec = AccountSpec.model_validate(DEV["spec"])
    assert set(DEV["spec"]) == {"email", "team", "environment"}
    assert spec.network.cidr is None
    assert not spec.network.attach_transit_gateway


# --- names at the limits -------------------------------------------------------------------

LONG = "a" * 62 + "z"


@pytest.mark.parametrize("legacy", [False, True], ids=["v2", "legacy"])
def test_names_at_the_kubernetes_and_aws_limits(validator: Validator, legacy: bool) -> None:
    claim = copy.deepcopy(LEGACY_PROD if legacy else PROD)
    # A legacy claim's composite is named <claim>-<5 random characters> and Crossplane labels
    # every composed resource with that name: 57 characters is the longest legacy claim name.
    name = LONG[-57:] if legacy else LONG
    # The longest namespace, listed for the longest team name (plinth.core.tenancy).
    namespace = "n" * 62 + "s"
    claim["metadata"] = {"name": name, "namespace": namespace}
    claim["spec"]["team"] = "t" * 30
    claim["spec"].pop("accountName")
    claim["spec"]["network"]["cidr"] = "10.60.0.0/16"
    platform = platform_docs(
        [{"name": "t" * 30, "namespace": namespace, "networks": ["10.60.0.0/16"]}]
    )
    phases = fx.phases(claim, platform)
    resources = render(
        to_composite(claim), observed=phases["baseline-ready"], extra_resources=platform
    ).resources
    assert len(resources) == len(phases["baseline-ready"])
    assert_valid(validator, resources, "long names")
    assert_unique_names(resources)
    for r in resources:
        name = r["metadata"]["name"]
        assert len(name) <= DNS_LABEL_MAX, name
        for value in r["metadata"].get("labels", {}).values():
            assert len(value) <= DNS_LABEL_MAX, value
        ext = r["metadata"].get("annotations", {}).get("crossplane.io/external-name")
        fp = r["spec"].get("forProvider", {})
        key = f"{r['apiVersion'].split('.')[0]}.{r['kind']}"
        for value in (ext, fp.get("name")):
            if value and key in AWS_NAME_LIMITS:
                assert len(value) <= AWS_NAME_LIMITS[key], (key, value)
        for k, v in (fp.get("tags") or {}).items():
            assert len(k) <= 128, k
            assert len(v) <= 256, v
    account = next(r for r in resources if r["kind"] == "Account")
    assert len(account["spec"]["forProvider"]["name"]) <= AWS_NAME_LIMITS["organizations.Account"]


def test_docs_field_table_matches_the_model() -> None:
    from conftest import REPO
    from plinth.generators.reference import field_table

    text = (REPO / "docs" / "account.md").read_text()
    assert field_table(AccountSpec, "spec") in text, "docs/account.md is stale: regenerate it"
