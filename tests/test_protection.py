"""Mistakes do not destroy prod (plinth.core.protection, docs/deletion.md): deleting a claim
leaves what holds prod data or serves prod in place, an edit that would delete it is refused
with the way to do it on purpose and changes nothing, and the deliberate path works; in both
flavors. The table in docs/deletion.md is checked against the rules and the composed output."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_tenant
from claim_fixtures import observe, with_status
from conftest import EXAMPLES, REPO
from plinth.builders.common import ORPHAN_POLICIES
from plinth.cli.claims import default_required, placed
from plinth.core import protection
from plinth.core.protection import RULES, keeps, rule_of
from plinth.tools.render import Rendered, render, to_composite
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
CRN = "crossplane.io/composition-resource-name"
FLAVORS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
TABLE = REPO / "docs" / "deletion.md"


def _crn(body: Body) -> str:
    return str(body["metadata"]["annotations"][CRN])


def _load(flavor: str, name: str) -> tuple[Body, list[Body]]:
    doc = read_path(str(FLAVORS[flavor] / name))[0]
    required = with_status([d.body for d in default_required(doc.source)])
    return placed(doc).body, required


def _settle(claim: Body, required: list[Body]) -> tuple[Rendered, list[Body]]:
    """The claim driven through its phases: the last render, and what it composed, observed."""
    observed: list[Body] = []
    for _ in range(10):
        r = render(to_composite(claim), observed=observed, extra_resources=required)
        assert not r.fatal, r.fatal
        nxt = observe(r.resources)
        if r.composite["status"].get("phase") == "Ready" or len(nxt) == len(observed):
            return r, nxt
        observed = nxt
    raise AssertionError("did not converge")


@functools.cache
def _settled(flavor: str, name: str) -> tuple[Body, list[Body], Rendered, list[Body]]:
    claim, required = _load(flavor, name)
    rendered, observed = _settle(claim, required)
    return claim, required, rendered, observed


def _edit(
    flavor: str, name: str, change: Callable[[Body], None], *, deliberate: bool = False
) -> tuple[Body, Rendered]:
    """The settled claim, edited, rendered against what it composed."""
    claim, required, _, observed = _settled(flavor, name)
    edited = copy.deepcopy(claim)
    change(edited["spec"])
    if deliberate:
        edited["spec"]["deletionProtection"] = False
    return edited, render(to_composite(edited), observed=observed, extra_resources=required)


# --- deleting the claim ---------------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", ["tenant-search.yaml", "app-full.yaml"])
def test_deleting_a_claim_keeps_exactly_what_its_status_says_it_protects(
    flavor: str, name: str
) -> None:
    claim, _, rendered, _ = _settled(flavor, name)
    kept = sorted(_crn(r) for r in rendered.resources if keeps(r))
    assert kept, "the example composes prod data or prod namespaces"
    assert rendered.composite["status"]["protected"] == kept
    for r in rendered.resources:
        rule = protection.rule_for(r, claim["kind"], with_prod=True)
        # Protected: kept; everything else follows the claim (the account is no rule of these).
        assert keeps(r) == (rule is not None), _crn(r)
        if flavor == "v2" and rule is not None:
            assert r["spec"]["managementPolicies"] == list(ORPHAN_POLICIES)
        elif rule is not None:
            assert r["spec"]["deletionPolicy"] == "Orphan"


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_prod_namespace_is_kept_with_what_keeps_it_isolated_and_reachable(flavor: str) -> None:
    _, _, rendered, _ = _settled(flavor, "tenant-search.yaml")
    kept: dict[str, set[str]] = {}
    for r in rendered.resources:
        manifest = r["spec"].get("forProvider", {}).get("manifest", {})
        if keeps(r):
            ns = manifest["metadata"].get("namespace") or manifest["metadata"]["name"]
            kept.setdefault(ns, set()).add(f"{manifest['kind']}/{manifest['metadata']['name']}")
    prod = {"search-api", "search-indexer"}
    assert set(kept) == prod
    for ns in prod:
        assert kept[ns] == {f"Namespace/{ns}"} | {
            f"NetworkPolicy/{p}" for p in protection.NAMESPACE_POLICIES
        }, kept[ns]


def test_the_namespace_policies_kept_are_those_every_namespace_always_has() -> None:
    # The egress allowances follow the spec: were they kept, a dropped one would stay open.
    from plinth.compose.tenant.network_policies import DENY

    claim, _, rendered, _ = _settled("v2", "tenant-search.yaml")
    assert claim["spec"]["egress"], "the example has egress allowances"
    composed = {
        r["spec"]["forProvider"]["manifest"]["metadata"]["name"]
        for r in rendered.resources
        if r["spec"].get("forProvider", {}).get("manifest", {}).get("kind") == "NetworkPolicy"
    }
    assert "allow-egress" in composed
    assert (composed - {"allow-egress"}) == protection.NAMESPACE_POLICIES
    assert DENY in protection.NAMESPACE_POLICIES


def test_keep_policies_are_the_builders_orphan_policies() -> None:
    assert list(protection.KEEP_POLICIES) == ORPHAN_POLICIES


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("name", ["tenant-search.yaml", "app-full.yaml"])
def test_with_protection_off_deleting_the_claim_deletes_prod_too(flavor: str, name: str) -> None:
    claim, required, _, observed = _settled(flavor, name)
    off = copy.deepcopy(claim)
    off["spec"]["deletionProtection"] = False
    r = render(to_composite(off), observed=observed, extra_resources=required)
    assert not r.fatal, r.fatal
    assert r.composite["status"]["protected"] == []
    assert not [_crn(b) for b in r.resources if keeps(b)]
    for b in r.resources:
        if protection.rule_for(b, claim["kind"], with_prod=True) is None:
            continue
        if flavor == "v2":
            assert b["spec"]["managementPolicies"] == ["*"]
        else:
            assert b["spec"]["deletionPolicy"] == "Delete"
        if b["kind"] == "Instance":
            # RDS would refuse the deletion otherwise; the final snapshot is still taken.
            assert b["spec"]["forProvider"]["deletionProtection"] is False
            assert b["spec"]["forProvider"]["skipFinalSnapshot"] is False


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_kept_prod_account_keeps_its_baseline_and_delete_closes_it_all(flavor: str) -> None:
    baseline = EXTRA_ROWS[("AccountClaim", "baseline")]
    _, _, rendered, _ = _settled(flavor, "account-prod.yaml")
    inside = [b for b in rendered.resources if baseline(b)]
    assert len(inside) > 40, "the network, backups and guardrails"
    assert all(keeps(b) for b in inside)
    (account,) = [b for b in rendered.resources if b["kind"] == "Account"]
    assert keeps(account)
    # Identity Center assignments are people's access: they go with the claim.
    assert not [b for b in rendered.resources if b["kind"] == "AccountAssignment" and keeps(b)]

    claim, required = _load(flavor, "account-prod.yaml")
    claim["spec"]["deletionPolicy"] = "Delete"
    closing, _ = _settle(claim, required)
    assert not [_crn(b) for b in closing.resources if keeps(b)]
    # A dev account is kept, its baseline is not.
    _, _, dev, _ = _settled(flavor, "account.yaml")
    assert [_crn(b) for b in dev.resources if keeps(b)] == ["account"]


# --- edits that would delete ------------------------------------------------------------------


def _drop_prod(spec: Body) -> None:
    spec["environments"] = [e for e in spec["environments"] if e["name"] != "prod"]


def _only_one_prod_cluster(spec: Body) -> None:
    for e in spec["environments"]:
        if e["name"] == "prod":
            e["clusters"] = ["eks-prod-use1"]


def _drop_prod_namespace(spec: Body) -> None:
    for e in spec["environments"]:
        if e["name"] == "prod":
            e["namespaces"] = ["api"]


def _rename_database(spec: Body) -> None:
    spec["databases"][0]["name"] = "catalog2"


def _drop(kind: str) -> Callable[[Body], None]:
    def change(spec: Body) -> None:
        spec[kind] = []

    return change


TENANT_EDITS = {
    "prod removed": (_drop_prod, "namespace-eks-prod-use1-search-api"),
    "prod off a cluster": (_only_one_prod_cluster, "namespace-eks-prod-usw2-search-api"),
    "a prod namespace removed": (_drop_prod_namespace, "namespace-eks-prod-use1-search-indexer"),
}
APP_EDITS = {
    "prod removed": (_drop_prod, "database-prod-catalog"),
    "database renamed": (_rename_database, "database-prod-catalog"),
    "bucket dropped": (_drop("buckets"), "bucket-prod-snapshots"),
    "queue dropped": (_drop("queues"), "queue-prod-reindex-dlq"),
    "cache dropped": (_drop("caches"), "cache-prod-sessions"),
}
EDITS = [("tenant-search.yaml", k, *v) for k, v in TENANT_EDITS.items()] + [
    ("app-full.yaml", k, *v) for k, v in APP_EDITS.items()
]


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    ("name", "edit", "change", "named"), EDITS, ids=[f"{e[0]}-{e[1]}" for e in EDITS]
)
def test_an_edit_that_would_delete_prod_is_refused_and_changes_nothing(
    flavor: str, name: str, edit: str, change: Callable[[Body], None], named: str
) -> None:
    claim, _, _, observed = _settled(flavor, name)
    _, r = _edit(flavor, name, change)
    (message,) = r.fatal
    who = f"{claim['kind']} {claim['metadata']['namespace']}/{claim['metadata']['name']}"
    assert message.startswith(f"{who} refused: the edit would delete"), message
    assert "protected resource(s)" in message, message
    assert named in message, message
    assert "spec.deletionProtection: false" in message
    assert "docs/deletion.md" in message
    # A Fatal result: Crossplane applies and deletes nothing, every observed resource stays.
    assert r.resources == []
    assert {_crn(b) for b in observed} >= {named}


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize(
    ("name", "edit", "change", "named"), EDITS, ids=[f"{e[0]}-{e[1]}" for e in EDITS]
)
def test_the_same_edit_on_purpose_deletes_only_what_it_drops(
    flavor: str, name: str, edit: str, change: Callable[[Body], None], named: str
) -> None:
    _, required, _, observed = _settled(flavor, name)
    edited, r = _edit(flavor, name, change, deliberate=True)
    assert not r.fatal, r.fatal
    now = {_crn(b) for b in r.resources}
    assert named not in now
    # What goes is exactly what the edited claim no longer implies: the same claim composed
    # from scratch has none of it, and everything else is still composed.
    implied = {_crn(b) for b in _settle(edited, required)[0].resources}
    gone = {_crn(b) for b in observed} - now
    assert gone == {_crn(b) for b in observed} - implied
    assert named in gone
    assert all(not keeps(b) for b in r.resources)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_non_prod_stays_easy_to_change(flavor: str) -> None:
    def drop_staging(spec: Body) -> None:
        spec["environments"] = [e for e in spec["environments"] if e["name"] != "staging"]

    _, r = _edit(flavor, "tenant-search.yaml", drop_staging)
    assert not r.fatal, r.fatal
    assert not [b for b in r.resources if "staging" in _crn(b)]

    def rename_dev_only(spec: Body) -> None:
        _drop_prod(spec)
        spec["databases"][0]["name"] = "catalog2"

    # An app without prod renames its database freely (its dev one is deleted and created).
    claim, required = _load(flavor, "app-full.yaml")
    _drop_prod(claim["spec"])
    _, observed = _settle(claim, required)
    edited = copy.deepcopy(claim)
    rename_dev_only(edited["spec"])
    r = render(to_composite(edited), observed=observed, extra_resources=required)
    assert not r.fatal, r.fatal
    crns = {_crn(b) for b in r.resources}
    assert "database-dev-catalog2" in crns
    assert "database-dev-catalog" not in crns


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_protected_resource_that_waits_is_kept_as_it_was(flavor: str) -> None:
    # The tenant is not Ready for a moment (an upgrade): the app's resources wait, and the
    # existing prod ones stay, still without the Delete policy, still listed as protected.
    claim, required, _, observed = _settled(flavor, "app-full.yaml")
    unready = copy.deepcopy(required)
    for d in unready:
        if d["kind"] == "TenantClaim":
            d["status"]["conditions"][0]["status"] = "False"
    r = render(to_composite(claim), observed=observed, extra_resources=unready)
    assert not r.fatal, r.fatal
    by_crn = {_crn(b): b for b in r.resources}
    assert "database-prod-catalog" in r.composite["status"]["protected"]
    assert keeps(by_crn["database-prod-catalog"])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), flavor=st.sampled_from(list(FLAVORS)))
def test_any_edit_is_refused_exactly_when_it_would_delete_something_protected(
    data: st.DataObject, flavor: str
) -> None:
    """Random tenant edits over a random part of what was composed: refused (and nothing
    composed, so Crossplane keeps it all) exactly when an observed prod namespace or its
    isolation is not implied by the new spec; otherwise every protected one is desired again."""
    before, after = data.draw(test_tenant.specs()), data.draw(test_tenant.specs())
    old, new = test_tenant._claim_of(before, flavor), test_tenant._claim_of(after, flavor)
    previous = test_tenant.ready(test_tenant.phases(old)[-1].resources)
    observed = data.draw(
        st.lists(st.sampled_from(previous), unique_by=lambda r: r["metadata"]["name"])
    )
    deliberate = test_tenant._claim_of({**after, "deletionProtection": False}, flavor)
    implied = test_tenant._planned(deliberate, observed, flavor)
    protected = {_crn(b) for b in observed if protection.rule_for(b, "TenantClaim", with_prod=True)}
    rendered = test_tenant.render_tenant(new, observed)
    if protected - implied:
        (message,) = rendered.fatal
        assert all(c in message for c in sorted(protected - implied)[:5]), message
        assert rendered.resources == []
    else:
        assert not rendered.fatal, rendered.fatal
        assert protected <= {_crn(b) for b in rendered.resources}


# --- the table in docs/deletion.md -----------------------------------------------------------


def _table() -> list[dict[str, str]]:
    text = TABLE.read_text()
    rows = [line for line in text.splitlines() if re.match(r"^\| (TenantClaim|AppClaim|Acc)", line)]
    header = ["claim", "resource", "environment", "deleting", "edit", "step"]
    return [
        dict(zip(header, [c.strip() for c in row.strip("|").split("|")], strict=True))
        for row in rows
    ]


EXTRA_ROWS: dict[tuple[str, str], Callable[[Body], bool]] = {
    ("AppClaim", "GitHub repository"): lambda b: (
        b["kind"] == "Repository" and b["apiVersion"].startswith("repo.github")
    ),
    ("AccountClaim", "AWS account"): lambda b: b["kind"] == "Account",
    ("AccountClaim", "baseline"): lambda b: (
        b["kind"] not in ("Account", "AccountAssignment", "ProviderConfig")
        and not b["apiVersion"].startswith("protection.crossplane.io")
    ),
}
SOURCES = {
    "TenantClaim": ["tenant-search.yaml"],
    "AppClaim": ["app-full.yaml", "app.yaml"],
    "AccountClaim": ["account-prod.yaml", "account.yaml"],
}


def _environment_matches(row_env: str, body: Body, claim: Body) -> bool:
    env = protection.environment_of(body)
    with_prod = any(e["name"] == "prod" for e in claim["spec"].get("environments", []))
    if row_env == "prod":
        return env == "prod"
    if row_env == "dev, staging":
        return env in ("dev", "staging")
    if row_env == "an app with prod":
        return with_prod
    if row_env == "an app without prod":
        return not with_prod
    assert row_env == "any", row_env
    return True


def _rendered_claims(flavor: str, kind: str) -> list[tuple[Body, list[Body]]]:
    out = []
    for name in SOURCES[kind]:
        claim, required = _load(flavor, name)
        rendered, _ = _settle(claim, required)
        out.append((claim, rendered.resources))
    return out


def test_the_deletion_table_covers_every_rule_in_and_out_of_prod() -> None:
    rows = {(r["claim"], r["resource"], r["environment"]) for r in _table()}
    for rule in RULES:
        envs = (
            ("prod", "dev, staging")
            if rule.scope is protection.Scope.PROD
            else ("an app with prod", "an app without prod")
        )
        for env in envs:
            assert (rule.claim, rule.what, env) in rows, (rule.what, env)
    for row in _table():
        kept = row["deleting"].startswith("kept")
        if kept and row["step"] == "`spec.deletionProtection: false`":
            assert row["edit"].startswith(("refused", "cannot be dropped")), row


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_deletion_table_says_what_the_function_does(flavor: str) -> None:
    for row in _table():
        rule = next(
            (r for r in RULES if (r.claim, r.what) == (row["claim"], row["resource"])), None
        )
        matcher = rule.matches if rule else EXTRA_ROWS[(row["claim"], row["resource"])]
        matched = [
            b
            for claim, resources in _rendered_claims(flavor, row["claim"])
            for b in resources
            if matcher(b) and _environment_matches(row["environment"], b, claim)
        ]
        assert matched, f"no composed resource for row {row}"
        for b in matched:
            if row["resource"] == "GitHub repository":
                assert b["spec"]["forProvider"]["archiveOnDestroy"] is True
                assert not keeps(b)
                continue
            assert keeps(b) == row["deleting"].startswith("kept"), (row, _crn(b))
            if rule is not None and keeps(b):
                assert rule_of(b, row["claim"]) is rule


def test_the_docs_link_to_the_deletion_table() -> None:
    for doc in ("README.md", "docs/tenant.md", "docs/app.md", "docs/account.md"):
        assert "deletion.md" in Path(REPO / doc).read_text(), doc
