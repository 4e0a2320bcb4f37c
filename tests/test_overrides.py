"""Overrides (plinth.core.overrides): a claim's patches of chosen fields of what it composes.

An allowed override changes exactly the fields it names, in all three claims and both flavors,
and the result still validates against the upstream schema. A refused one (names,
ProviderConfigs, deletion policies, IAM trust, network isolation, quotas, references, a
boundary kind) is a Fatal result that names why, and changes nothing: the function returns no
desired resources, so Crossplane applies and deletes nothing.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from claim_fixtures import with_status
from conftest import EXAMPLES, assert_valid
from lifecycles import phases
from plinth.api.overrides import Override
from plinth.cli.claims import default_required, placed
from plinth.core import overrides
from plinth.core.tenancy import Refused
from plinth.tools.render import render, to_composite
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
CRN = "crossplane.io/composition-resource-name"
FLAVORS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}


def _claim_and_required(path: Path) -> tuple[Body, list[Body]]:
    doc = read_path(str(path))[0]
    return copy.deepcopy(placed(doc).body), with_status(
        [d.body for d in default_required(doc.source)]
    )


def final(claim: Body, required: list[Body]) -> list[Body]:
    *_, last = phases(claim, required)
    return last


def by_crn(resources: list[Body]) -> dict[str, Body]:
    return {r["metadata"]["annotations"][CRN]: r for r in resources}


def settled_observed(resources: list[Body]) -> list[Body]:
    from claim_fixtures import observe

    return observe(resources)


def with_overrides(claim: Body, items: list[Body]) -> Body:
    out = copy.deepcopy(claim)
    out["spec"]["overrides"] = items
    return out


# (example, resource, patch, the path it changes): one allowed override per claim kind.
ALLOWED = [
    (
        "account.yaml",
        "budget",
        {"spec": {"forProvider": {"limitAmount": "2500"}}},
        ("spec", "forProvider", "limitAmount"),
    ),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"forProvider": {"maxSessionDuration": 3600}}},
        ("spec", "forProvider", "maxSessionDuration"),
    ),
    (
        "app-previews.yaml",
        "queue-dev-renders",
        {"spec": {"forProvider": {"delaySeconds": 5}}},
        ("spec", "forProvider", "delaySeconds"),
    ),
    (
        "app-previews.yaml",
        "application-dev-eks-dev-use1",
        {"spec": {"forProvider": {"manifest": {"spec": {"revisionHistoryLimit": 3}}}}},
        ("spec", "forProvider", "manifest", "spec", "revisionHistoryLimit"),
    ),
]


def _strip(body: Body, path: tuple[str, ...]) -> Body:
    out = copy.deepcopy(body)
    node = out
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)
    return out


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("case", ALLOWED, ids=lambda c: f"{c[0]}:{c[1]}")
def test_allowed_override_changes_exactly_its_fields(
    validator: Validator, flavor: str, case: Any
) -> None:
    example, crn, patch, path = case
    claim, required = _claim_and_required(FLAVORS[flavor] / example)
    claim["spec"].pop("overrides", None)
    before = by_crn(final(claim, required))
    after = by_crn(final(with_overrides(claim, [{"resource": crn, "patch": patch}]), required))
    assert set(before) == set(after), "an override adds or drops nothing"
    for name in before:
        if name != crn:
            assert before[name] == after[name], name
    node: Any = after[crn]
    for key in path:
        node = node[key]
    leaf: Any = patch
    for key in path:
        leaf = leaf[key]
    assert node == leaf
    assert _strip(after[crn], path) == _strip(before[crn], path)
    assert_valid(validator, [after[crn]], f"{example} {crn} overridden")


def test_the_examples_overrides_are_applied() -> None:
    for example, crn, field, value in (
        ("tenant-dedicated.yaml", "role-edit", "maxSessionDuration", 7200),
        ("app-previews.yaml", "queue-dev-renders", "messageRetentionSeconds", 86400),
    ):
        claim, required = _claim_and_required(EXAMPLES / example)
        assert by_crn(final(claim, required))[crn]["spec"]["forProvider"][field] == value


# (example, resource, patch, what the refusal says): fields and kinds that guard isolation or data.
REFUSED = [
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"metadata": {"name": "payments-admin"}},
        "is not under",
    ),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"providerConfigRef": {"name": "payments-prod"}}},
        "is not under",
    ),
    ("tenant-dedicated.yaml", "role-edit", {"spec": {"deletionPolicy": "Delete"}}, "is not under"),
    ("tenant-dedicated.yaml", "role-edit", {"spec": {"managementPolicies": ["*"]}}, "is not under"),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"forProvider": {"assumeRolePolicy": "{}"}}},
        "guards isolation",
    ),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"forProvider": {"inlinePolicy": [{"name": "x", "policy": "{}"}]}}},
        "guards isolation",
    ),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"forProvider": {"permissionsBoundary": ""}}},
        "guards isolation",
    ),
    (
        "tenant-dedicated.yaml",
        "netpol-eks-dev-use1-media-default-deny",
        {"spec": {"forProvider": {"manifest": {"spec": {"policyTypes": []}}}}},
        "NetworkPolicy guards",
    ),
    (
        "tenant-dedicated.yaml",
        "quota-eks-dev-use1-media",
        {"spec": {"forProvider": {"manifest": {"spec": {"hard": {"pods": "9999"}}}}}},
        "ResourceQuota guards",
    ),
    (
        "tenant-dedicated.yaml",
        "namespace-eks-dev-use1-media",
        {"spec": {"forProvider": {"manifest": {"spec": {}}}}},
        "Namespace guards",
    ),
    (
        "tenant-dedicated.yaml",
        "appproject",
        {"spec": {"forProvider": {"manifest": {"spec": {"destinations": []}}}}},
        "AppProject guards",
    ),
    (
        "tenant-dedicated.yaml",
        "guardrails-eks-dev-use1",
        {"spec": {"forProvider": {"manifest": {"spec": {"rules": []}}}}},
        "ClusterPolicy guards",
    ),
    (
        "tenant-dedicated.yaml",
        "nodepool-eks-dev-use1",
        {"spec": {"forProvider": {"manifest": {"spec": {"limits": {"cpu": "1000"}}}}}},
        "NodePool guards",
    ),
    (
        "tenant-dedicated.yaml",
        "nodeclass-eks-dev-use1",
        {"spec": {"forProvider": {"manifest": {"spec": {"role": "admin"}}}}},
        "EC2NodeClass guards",
    ),
    (
        "tenant-dedicated.yaml",
        "appproject",
        {"spec": {"forProvider": {"manifest": {"metadata": {"name": "x"}}}}},
        "AppProject guards",
    ),
    (
        "tenant-dedicated.yaml",
        "role-edit",
        {"spec": {"forProvider": {"tags": "x"}}},
        "the patch gives str",
    ),
    (
        "app-previews.yaml",
        "queue-dev-renders",
        {"spec": {"forProvider": {"kmsMasterKeyId": "alias/x"}}},
        "guards isolation",
    ),
    (
        "app-previews.yaml",
        "queue-dev-renders",
        {"spec": {"forProvider": {"redrivePolicy": "{}"}}},
        "guards isolation",
    ),
    (
        "app-previews.yaml",
        "queue-dev-renders",
        {"spec": {"forProvider": {"region": "eu-west-1"}}},
        "guards isolation",
    ),
    (
        "app-previews.yaml",
        "application-dev-eks-dev-use1",
        {
            "spec": {
                "forProvider": {"manifest": {"spec": {"destination": {"namespace": "payments"}}}}
            }
        },
        "guards isolation",
    ),
    (
        "app-previews.yaml",
        "application-dev-eks-dev-use1",
        {"spec": {"forProvider": {"manifest": {"spec": {"project": "payments"}}}}},
        "guards isolation",
    ),
    (
        "app-previews.yaml",
        "previews-appproject",
        {"spec": {"forProvider": {"manifest": {"spec": {"sourceRepos": ["*"]}}}}},
        "AppProject guards",
    ),
    (
        "app-previews.yaml",
        "previews-applicationset",
        {"spec": {"forProvider": {"manifest": {"spec": {}}}}},
        "ApplicationSet guards",
    ),
    (
        "app-previews.yaml",
        "no-such-resource",
        {"spec": {"forProvider": {"x": 1}}},
        "composes no resource of that name",
    ),
    ("account.yaml", "vpc", {"spec": {"forProvider": {"cidrBlock": "10.0.0.0/8"}}}, "VPC guards"),
    (
        "account.yaml",
        "account",
        {"spec": {"forProvider": {"email": "x@example.com"}}},
        "Account guards",
    ),
    (
        "account.yaml",
        "budget",
        {"spec": {"forProvider": {"accountId": "999999999999"}}},
        "guards isolation",
    ),
]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    "case", REFUSED, ids=lambda c: f"{c[0]}:{c[1]}:{'.'.join(_first_path(c[2]))}"
)
def test_refused_override_changes_nothing(flavor: str, case: Any) -> None:
    """A refused override is a Fatal result with no desired resources, at every phase: the
    resources composed before stay as Crossplane has them."""
    example, crn, patch, message = case
    claim, required = _claim_and_required(FLAVORS[flavor] / example)
    claim["spec"].pop("overrides", None)
    good = final(claim, required)
    bad = with_overrides(claim, [{"resource": crn, "patch": patch}])
    rendered = render(to_composite(bad), observed=settled_observed(good), extra_resources=required)
    assert rendered.fatal, f"{crn}: {patch} was not refused"
    assert message in " ".join(rendered.fatal), rendered.fatal
    assert "refused" in " ".join(rendered.fatal)
    assert not rendered.resources, "a Fatal result desires nothing, so nothing changes"


def _first_path(patch: Body) -> list[str]:
    out = []
    node: Any = patch
    while isinstance(node, dict) and node:
        key = next(iter(node))
        out.append(key)
        node = node[key]
    return out[-2:]


def test_one_refused_override_stops_the_others() -> None:
    claim, required = _claim_and_required(EXAMPLES / "tenant-dedicated.yaml")
    good = final(claim, required)
    claim["spec"]["overrides"].append(
        {
            "resource": "quota-eks-dev-use1-media",
            "patch": {"spec": {"forProvider": {"manifest": {"spec": {}}}}},
        }
    )
    rendered = render(
        to_composite(claim), observed=settled_observed(good), extra_resources=required
    )
    assert rendered.fatal
    assert not rendered.resources


def test_override_of_a_pending_resource_waits_for_it() -> None:
    """In an early phase the overridden resource may not be composed yet: nothing is refused,
    and the patch applies once it is."""
    claim, _required = _claim_and_required(EXAMPLES / "app-previews.yaml")
    claim = with_overrides(
        claim,
        [{"resource": "previews-applicationset", "patch": {"spec": {"forProvider": {"x": 1}}}}],
    )
    # The tenant is not Ready as checked in: the previews wait for it.
    doc = read_path(str(EXAMPLES / "app-previews.yaml"))[0]
    as_given = [d.body for d in default_required(doc.source)]
    rendered = render(to_composite(claim), extra_resources=as_given)
    assert not rendered.fatal, rendered.fatal
    names = {r["metadata"]["annotations"][CRN] for r in rendered.resources}
    assert "previews-applicationset" not in names


def test_schema_catches_what_the_guard_cannot(validator: Validator) -> None:
    """The function checks which fields may change; whether a field exists is the upstream
    schema's to say, and `plinth validate --render` says it."""
    claim, required = _claim_and_required(EXAMPLES / "app-previews.yaml")
    claim = with_overrides(
        claim,
        [
            {
                "resource": "queue-dev-renders",
                "patch": {"spec": {"forProvider": {"delaySecondz": 5}}},
            }
        ],
    )
    queue = by_crn(final(claim, required))["queue-dev-renders"]
    issues = validator.validate_body(queue, "queue")
    assert any("delaySecondz" in str(i) for i in issues), issues


def test_merge_is_rfc7386() -> None:
    target = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert overrides.merge(target, {"a": {"b": None, "c": [3]}, "e": {"f": 1}}) == {
        "a": {"c": [3]},
        "d": 1,
        "e": {"f": 1},
    }
    assert target == {"a": {"b": 1, "c": [1, 2]}, "d": 1}, "the target is not modified"


def test_guarded_fields_are_refused_on_every_composed_resource() -> None:
    """Whatever resource of any example: its names, ProviderConfig and deletion policy, and any
    reference, are never an override's to change."""
    seen = 0
    for path in (
        EXAMPLES / "tenant-dedicated.yaml",
        EXAMPLES / "app-previews.yaml",
        EXAMPLES / "account.yaml",
    ):
        claim, required = _claim_and_required(path)
        for name, body in by_crn(final(claim, required)).items():
            root = (
                ("spec", "forProvider", "manifest", "spec")
                if body["kind"] == "Object"
                else ("spec", "forProvider")
            )
            for patch in (
                {"metadata": {"name": "x"}},
                {"spec": {"providerConfigRef": {"name": "x"}}},
                {"spec": {"deletionPolicy": "Delete"}},
                _nest(root, {"vpcIdRef": {"name": "x"}}),
                _nest(root, {"roleArn": "arn:aws:iam::111111111111:role/x"}),
                _nest(root, {"subnetIdSelector": {"matchLabels": {}}}),
            ):
                with pytest.raises(Refused):
                    overrides.check(Override(resource=name, patch=patch), body)
                seen += 1
    assert seen > 300


def _nest(path: tuple[str, ...], leaf: Body) -> Body:
    out: Body = leaf
    for key in reversed(path):
        out = {key: out}
    return out
