"""TenantClaim: every phase validates, isolation holds, names are safe, nothing is dropped."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claim_fixtures import accounts_for, as_required
from conftest import (
    EXAMPLES,
    assert_unique_names,
    assert_valid,
    make_claim,
    platform_docs,
    render_claim,
)
from plinth.api.catalog import TENANT
from plinth.api.flavor import FLAVORS, Flavor
from plinth.api.platform import PlatformConfig
from plinth.api.tenant import TenantSpec
from plinth.compose.tenant import compose
from plinth.core.composition import Observed, Required
from plinth.core.tenancy import Refused
from plinth.tools.render import Rendered, render, to_composite
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

CRN = "crossplane.io/composition-resource-name"
EXAMPLE_FILES = ["tenant.yaml", "tenant-search.yaml"]
FLAVOR_DIRS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
ACCOUNT_ID = "210987654321"


def account_for(claim: dict[str, Any]) -> list[dict[str, Any]]:
    """The accounts a tenant names, as they report themselves once they exist."""
    return accounts_for(claim, ACCOUNT_ID)


def load(name: str, flavor: str) -> dict[str, Any]:
    return next(iter(read_path(str(FLAVOR_DIRS[flavor] / name)))).body


def ready(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**r, "status": {"conditions": [{"type": "Ready", "status": "True"}]}} for r in resources
    ]


def render_tenant(
    claim: dict[str, Any],
    observed: list[dict[str, Any]] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> Rendered:
    return render_claim(
        claim, observed=observed, extra=account_for(claim) if extra is None else extra
    )


def phases(claim: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> list[Rendered]:
    """Every step of a tenant's life, each step observing the last one all ready."""
    out: list[Rendered] = []
    observed: list[dict[str, Any]] = []
    for _ in range(8):
        r = render_tenant(claim, observed, extra)
        assert not r.fatal, r.fatal
        out.append(r)
        if r.composite["status"]["phase"] == "Ready" or (
            len(out) > 1 and len(r.resources) == len(out[-2].resources)
        ):
            return out
        observed = ready(r.resources)
    raise AssertionError("the tenant did not converge")


CASES = [(f, n) for f in FLAVOR_DIRS for n in EXAMPLE_FILES]
IDS = [f"{f}/{n}" for f, n in CASES]


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def lifecycle(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[Rendered]]:
    flavor, name = request.param
    claim = load(name, flavor)
    return claim, phases(claim)


def manifest(body: dict[str, Any]) -> dict[str, Any] | None:
    if body["kind"] != "Object":
        return None
    m: dict[str, Any] = body["spec"]["forProvider"]["manifest"]
    return m


def placed(body: dict[str, Any]) -> tuple[str, str, str, str] | None:
    """(provider config, kind, namespace, name) of an Object's manifest."""
    m = manifest(body)
    if m is None:
        return None
    meta = m["metadata"]
    return (
        body["spec"]["providerConfigRef"]["name"],
        m["kind"],
        meta.get("namespace", ""),
        meta["name"],
    )


def tenant_namespaces(claim: dict[str, Any]) -> dict[str, set[str]]:
    """provider config of each cluster -> the tenant's namespaces on it."""
    spec = TenantSpec.model_validate(claim["spec"])
    platform = PlatformConfig.model_validate(platform_docs()[0]["data"])
    out: dict[str, set[str]] = {}
    for _i, env in enumerate(spec.environments):
        names = {f"{spec.team}-{s}" for s in env.namespaces} or {spec.team}
        for c in platform.clusters_for(env.name):
            if not env.clusters or c.name in env.clusters:
                out.setdefault(c.kubernetes_provider_config, set()).update(names)
                out.setdefault(c.name, set()).update(names)
    return out


# --- every phase renders schema-valid resources with unique names ----------------------------


def test_every_phase_is_schema_valid(
    validator: Validator, lifecycle: tuple[dict[str, Any], list[Rendered]]
) -> None:
    _claim, steps = lifecycle
    for i, step in enumerate(steps):
        assert_valid(validator, step.resources, f"phase {i}")
        assert_unique_names(step.resources)
        assert_valid(validator, [step.composite], f"phase {i} status")
    assert steps[-1].composite["status"]["phase"] == "Ready"


def test_objects_are_unique_per_cluster(lifecycle: tuple[dict[str, Any], list[Rendered]]) -> None:
    _, steps = lifecycle
    keys = [placed(b) for b in steps[-1].resources if placed(b)]
    assert len(keys) == len(set(keys))


# Kinds whose controller reports a Ready condition: the claim waits for it.
READINESS = {
    "Certificate": "DeriveFromObject",
    "ClusterPolicy": "DeriveFromObject",
    "NodePool": "DeriveFromObject",
    "EC2NodeClass": "DeriveFromObject",
}


def test_readiness_policy_fits_the_kind(lifecycle: tuple[dict[str, Any], list[Rendered]]) -> None:
    _, steps = lifecycle
    for body in steps[-1].resources:
        m = manifest(body)
        if m is not None:
            want = READINESS.get(m["kind"], "SuccessfulCreate")
            assert body["spec"]["readiness"]["policy"] == want, m["kind"]


# --- isolation --------------------------------------------------------------------------------


ALLOW_KINDS = {"RoleBinding", "ServiceAccount"}


def test_default_deny_comes_before_any_allow_rule(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    observed_deny: set[tuple[str, str]] = set()
    for step in steps:
        deny = set()
        for body in step.resources:
            key = placed(body)
            if key is None:
                continue
            pc, kind, ns, name = key
            if kind == "NetworkPolicy" and name == "default-deny":
                m = manifest(body)
                assert m is not None
                assert m["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
                deny.add((pc, ns))
        for body in step.resources:
            key = placed(body)
            if key is None:
                continue
            pc, kind, ns, name = key
            if (kind == "NetworkPolicy" and name != "default-deny") or kind in ALLOW_KINDS:
                assert (pc, ns) in observed_deny, f"{kind}/{name} in {ns} before default-deny"
        observed_deny |= deny
    for pc, names in tenant_namespaces(claim).items():
        if pc.startswith("eks-"):  # provider config names of the example clusters
            assert {(pc, ns) for ns in names} <= observed_deny


def test_no_grant_reaches_outside_the_tenant(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    mine = tenant_namespaces(claim)
    final = steps[-1].resources
    kinds = {(manifest(b) or {}).get("kind") for b in final}
    assert not kinds & {"ClusterRoleBinding", "ClusterRole", "Role"}
    bindings = [b for b in final if (manifest(b) or {}).get("kind") == "RoleBinding"]
    assert bindings
    for b in bindings:
        pc, _, ns, _ = placed(b)  # type: ignore[misc]
        assert ns in mine[pc]
        for s in manifest(b)["subjects"]:  # type: ignore[index]
            assert s["kind"] != "ServiceAccount" or s["namespace"] == ns
            assert s["kind"] != "Group" or s["name"].startswith(f"plinth:{claim['spec']['team']}:")
    for b in final:
        if b["kind"] == "Object":
            ns = manifest(b)["metadata"].get("namespace")  # type: ignore[index]
            pc = placed(b)[0]  # type: ignore[index]
            if manifest(b)["kind"] != "AppProject":  # type: ignore[index]
                assert ns is None or ns in mine[pc], "an Object outside the tenant's namespaces"


def test_access_policies_are_namespace_scoped(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    mine = tenant_namespaces(claim)
    assoc = [b for b in steps[-1].resources if b["kind"] == "AccessPolicyAssociation"]
    assert assoc
    for b in assoc:
        fp = b["spec"]["forProvider"]
        assert fp["accessScope"]["type"] == "namespace"
        assert fp["accessScope"]["namespaces"]
        assert set(fp["accessScope"]["namespaces"]) <= mine[fp["clusterName"]]


def _project(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return next(m for b in resources if (m := manifest(b)) and m["kind"] == "AppProject")


def test_app_project_admits_only_the_tenants_namespaces(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    mine = tenant_namespaces(claim)
    spec = _project(steps[-1].resources)["spec"]
    assert spec["clusterResourceWhitelist"] == []
    for d in spec["destinations"]:
        assert "*" not in d["namespace"]
        assert "*" not in d["name"]
        assert d["namespace"] in mine[d["name"]]
    for repo in spec["sourceRepos"]:
        assert repo != "*"
        assert "/*" not in repo.split("github.com/", 1)[-1].split("/", 1)[0]


# --- two tenants side by side --------------------------------------------------------------


@pytest.mark.parametrize("flavor", FLAVOR_DIRS)
def test_two_tenants_share_nothing(flavor: str) -> None:
    a = load("tenant.yaml", flavor)
    b = load("tenant-search.yaml", flavor)
    ra, rb = phases(a)[-1].resources, phases(b)[-1].resources

    def ids(rs: list[dict[str, Any]]) -> set[tuple[str, str, str, str]]:
        return {
            (r["apiVersion"], r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"])
            for r in rs
        }

    def placements(rs: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
        out = set()
        for r in rs:
            p = placed(r)
            if p and p[1] == "AppProject":  # Argo CD's namespace is shared; names are not
                continue
            if p and p[2]:
                out.add((p[0], p[2], ""))
            if p and p[1] == "Namespace":
                out.add((p[0], p[3], ""))
        return out

    def roles(rs: list[dict[str, Any]]) -> set[str]:
        return {
            r["metadata"]["annotations"]["crossplane.io/external-name"]
            for r in rs
            if r["kind"] == "Role"
        }

    def projects(rs: list[dict[str, Any]]) -> set[str]:
        return {_project(rs)["metadata"]["name"]}

    assert not ids(ra) & ids(rb)
    assert not placements(ra) & placements(rb)
    assert roles(ra)
    assert roles(rb)
    assert not roles(ra) & roles(rb)
    assert not projects(ra) & projects(rb)
    other = {d["namespace"] for d in _project(rb)["spec"]["destinations"]}
    assert not other & {d["namespace"] for d in _project(ra)["spec"]["destinations"]}


# --- status and access commands ---------------------------------------------------------------


def test_status_lists_namespaces_roles_and_commands(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    status = steps[-1].composite["status"]
    mine = tenant_namespaces(claim)
    assert status["clusters"]
    for c in status["clusters"]:
        assert set(c["namespaces"]) == mine[c["cluster"]]
        assert c["access"]
        for a in c["access"]:
            assert a["roleArn"].startswith("arn:aws:iam::")
            _, _, creds, set_ctx, _ = a["commands"]
            assert f"--region,{c['region']}" in creds
            assert f"--role-arn,{a['roleArn']}" in creds
            assert set_ctx.endswith(f"--namespace={c['namespaces'][0]}")
    roles = {b["spec"]["forProvider"].get("assumeRolePolicy") for b in steps[-1].resources}
    assert all(json.loads(p) for p in roles if p)


def _in_namespace(resources: list[dict[str, Any]], pc: str, ns: str) -> set[tuple[str, str]]:
    """(kind, name) of what the tenant put on the cluster of `pc` for namespace `ns`."""
    out = set()
    for body in resources:
        key = placed(body)
        if (
            key is not None
            and key[0] == pc
            and (key[2] == ns or (key[1], key[3]) == ("Namespace", ns))
        ):
            out.add((key[1], key[3]))
    return out


def test_a_namespace_is_ready_for_apps_once_everything_it_needs_was_ready(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    """status.namespaces[].ready, what an app delivers on: never before the namespace's
    isolation, RBAC and deployer were observed Ready (each step here observes the step before
    all Ready), and for every namespace by the tenant's last step."""
    _, steps = lifecycle
    platform = PlatformConfig.model_validate(platform_docs()[0]["data"])
    pcs = {c.name: c.kubernetes_provider_config for c in platform.clusters}
    assert not any(n["ready"] for n in steps[0].composite["status"]["namespaces"])
    for before, step in itertools.pairwise(steps):
        for n in step.composite["status"]["namespaces"]:
            if not n["ready"]:
                continue
            pc, ns = pcs[n["cluster"]], n["namespace"]
            had = _in_namespace(before.resources, pc, ns)
            # Nothing new for it in this step: everything it gets was there, and Ready.
            assert _in_namespace(step.resources, pc, ns) <= had, (ns, n["cluster"])
            assert {("Namespace", ns), ("NetworkPolicy", "default-deny")} <= had
            assert ("ServiceAccount", "deployer") in had or not any(
                k == "ServiceAccount" for k, _ in _in_namespace(steps[-1].resources, pc, ns)
            )
            assert any(
                b["spec"]["forProvider"]["manifest"]["kind"] == "AppProject"
                for b in before.resources
                if b["kind"] == "Object"
            )
    assert all(n["ready"] for n in steps[-1].composite["status"]["namespaces"])


def test_namespaces_are_ready_for_apps_before_the_tenants_aws_access() -> None:
    """The IAM role people assume is not Ready (no cloud yet): the tenant is not Ready, but its
    namespaces are, so its apps deliver into them meanwhile."""
    claim = load("tenant.yaml", "v2")
    steps = phases(claim)
    in_cluster = [r for r in steps[-1].resources if r["kind"] == "Object"]
    others = [r for r in steps[-1].resources if r["kind"] != "Object"]
    r = render_tenant(claim, ready(in_cluster) + others)
    status = r.composite["status"]
    assert status["phase"] != "Ready"
    assert status["namespaces"]
    assert all(n["ready"] for n in status["namespaces"])
    # And none is while a guardrail on its cluster is not Ready.
    policies = [
        o for o in in_cluster if o["spec"]["forProvider"]["manifest"]["kind"] == "ClusterPolicy"
    ]
    assert policies
    r = render_tenant(
        claim, ready([o for o in in_cluster if o not in policies]) + policies + others
    )
    assert not any(n["ready"] for n in r.composite["status"]["namespaces"])


def test_each_member_level_gets_its_role_entry_and_policy() -> None:
    claim = load("tenant-search.yaml", "v2")
    final = phases(claim)[-1].resources
    policies = {
        (
            b["spec"]["forProvider"]["clusterName"],
            b["spec"]["forProvider"]["policyArn"].rsplit("/")[-1],
        )
        for b in final
        if b["kind"] == "AccessPolicyAssociation"
    }
    clusters = {c for c, _ in policies}
    assert clusters == {"eks-dev-use1", "eks-staging-use1", "eks-prod-use1", "eks-prod-usw2"}
    for c in clusters:
        assert {p for cc, p in policies if cc == c} == {
            "AmazonEKSAdminPolicy",
            "AmazonEKSEditPolicy",
            "AmazonEKSViewPolicy",
        }
    view = next(b for b in final if b["kind"] == "Role" and b["metadata"]["name"].endswith("view"))
    trust = json.loads(view["spec"]["forProvider"]["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {
        "AWS": ["arn:aws:iam::666666666666:role/security-audit"]
    }


@pytest.mark.parametrize(
    ("account", "message"),
    [
        ([], "does not exist yet"),
        # Crossplane selects only the tenant's own namespace: another's account is not found.
        ("other-namespace", "does not exist yet"),
        ("no-status", "to report its account id"),
    ],
)
def test_waits_for_the_account_and_still_isolates(account: Any, message: str) -> None:
    claim = load("tenant.yaml", "v2")
    extra = account_for(claim)
    if account == "other-namespace":
        extra[0]["metadata"]["namespace"] = "elsewhere"
    elif account == "no-status":
        del extra[0]["status"]
    else:
        extra = account
    # Once its namespaces exist, the tenant isolates them whatever its account's state.
    r = render_tenant(
        claim, observed=ready(render_tenant(claim, extra=extra).resources), extra=extra
    )
    assert not r.fatal
    status = r.composite["status"]
    assert status["phase"] == "WaitingForAccount"
    assert message in status["message"]
    kinds = {b["kind"] for b in r.resources}
    assert "Role" not in kinds
    assert "AccessEntry" not in kinds
    assert any((placed(b) or ())[1:4:2] == ("NetworkPolicy", "default-deny") for b in r.resources)


def test_platform_reserved_namespace_is_never_composed() -> None:
    claim = load("tenant.yaml", "v2")
    platform = copy.deepcopy(platform_docs()[0])
    platform["data"]["reservedNamespaces"] = ["payments"]
    r = render(to_composite(claim), extra_resources=[platform, *account_for(claim)])
    assert not any((placed(b) or ("", "", "", ""))[1] == "Namespace" for b in r.resources)
    assert any("reserved by the platform" in x.message for x in r.results)


# --- names the XRD rejects -------------------------------------------------------------------


def _with(**spec: Any) -> dict[str, Any]:
    claim = load("tenant.yaml", "v2")
    claim["spec"].update(spec)
    return claim


def _envs(*suffixes: str) -> list[dict[str, Any]]:
    return [{"name": "dev", "namespaces": list(suffixes)}]


BAD_NAMES = [
    ("upper-case", _with(team="Payments"), "team must be a lower-case DNS label"),
    ("too-long", _with(team="p" * 31), "team must be at most 30 characters"),
    ("kube-system", _with(team="kube-system"), "team collides with a reserved namespace"),
    ("default", _with(team="default"), "team collides with a reserved namespace"),
    ("kube-prefix", _with(team="kube-foo"), "team collides with a reserved namespace"),
    ("platform-ns", _with(team="argocd"), "team collides with a reserved namespace"),
    (
        "namespace-collision",
        _with(team="ingress", environments=_envs("nginx")),
        "collides with a reserved namespace",
    ),
    (
        "namespace-collision-kube",
        _with(team="kube", environments=_envs("system")),
        "collides with a reserved namespace",
    ),
    ("suffix-too-long", _with(environments=_envs("x" * 33)), "namespaces[0]"),
    ("suffix-upper", _with(environments=_envs("API")), "namespaces[0]"),
    (
        "account-both",
        _with(account={"claimName": "a", "accountId": "123456789012"}),
        "set exactly one of account.claimName and account.accountId",
    ),
    (
        "account-id-without-provider-config",
        _with(account={"accountId": "123456789012"}),
        "account.providerConfig is required",
    ),
    (
        "member-both",
        _with(members=[{"roleArn": "arn:aws:iam::123456789012:role/x", "permissionSet": "P"}]),
        "set exactly one of roleArn and permissionSet",
    ),
]


@pytest.mark.parametrize(
    ("claim", "message"), [c[1:] for c in BAD_NAMES], ids=[c[0] for c in BAD_NAMES]
)
def test_bad_claims_are_rejected_by_the_xrd_with_a_clear_message(
    validator: Validator, claim: dict[str, Any], message: str
) -> None:
    for flavor in Flavor:
        body = copy.deepcopy(claim)
        if flavor is Flavor.LEGACY:
            body["apiVersion"] = "claims.plinth.dev/v1alpha1"
        issues = validator.validate_body(body, "claim")
        assert any(message in str(i) for i in issues), [str(i) for i in issues]


def test_good_names_at_the_limits_are_accepted(validator: Validator) -> None:
    claim = _with(team="a" * 30, environments=_envs("b" * 32))
    claim["metadata"]["namespace"] = "a" * 30  # a claim acts for the team of its namespace
    assert not validator.validate_body(claim, "claim")
    TenantSpec.model_validate(claim["spec"])
    r = render_tenant(claim, extra=[])
    assert not r.fatal
    assert_unique_names(r.resources)


# --- deletion safety: nothing is dropped or renamed -------------------------------------------


PLATFORM = PlatformConfig.model_validate(platform_docs()[0]["data"])


def _claim_of(spec: dict[str, Any], flavor: str) -> dict[str, Any]:
    group = FLAVORS[Flavor(flavor)].group
    return {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "TenantClaim",
        "metadata": {"name": "team", "namespace": "team"},
        "spec": spec,
    }


def _planned(claim: dict[str, Any], observed: list[dict[str, Any]], flavor: str) -> set[str]:
    c = make_claim(TENANT, "team", "team", flavor, PLATFORM)
    bodies = {r["metadata"]["annotations"][CRN]: r for r in observed}
    out = compose(
        c,
        TenantSpec.model_validate(claim["spec"]),
        Observed.of(bodies),
        Required(as_required(account_for(claim))),
    )
    return out.planned()


def _crns(resources: list[dict[str, Any]]) -> dict[str, str]:
    return {r["metadata"]["annotations"][CRN]: r["metadata"]["name"] for r in resources}


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    envs = draw(
        st.lists(st.sampled_from(["dev", "staging", "prod"]), min_size=1, max_size=3, unique=True)
    )
    spec: dict[str, Any] = {
        "team": "team",
        "account": {"claimName": "team-account"},
        "environments": [
            {
                "name": e,
                "namespaces": draw(
                    st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True)
                ),
                # Prod in an account of its own; staging sometimes too.
                **(
                    {"account": {"claimName": f"team-{e}"}}
                    if e == "prod" or (e == "staging" and draw(st.booleans()))
                    else {}
                ),
            }
            for e in envs
        ],
    }
    levels = draw(st.lists(st.sampled_from(["admin", "edit", "view"]), max_size=3, unique=True))
    spec["members"] = [{"role": lvl, "permissionSet": f"P{lvl}"} for lvl in levels]
    if draw(st.booleans()):
        spec["certificate"] = {"domain": "team.apps.example.com"}
    if draw(st.booleans()):
        spec["egress"] = [{"cidr": "10.1.0.0/16", "ports": [443]}]
    return spec


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=specs(), after=specs(), flavor=st.sampled_from(["v2", "legacy"]), data=st.data())
def test_nothing_is_dropped_or_renamed(before, after, flavor, data) -> None:  # type: ignore[no-untyped-def]
    # The edit is made on purpose: refusing one that would delete prod is test_protection's.
    old, new = _claim_of(before, flavor), _claim_of({**after, "deletionProtection": False}, flavor)
    previous = ready(phases(old)[-1].resources)
    observed = data.draw(
        st.lists(st.sampled_from(previous), unique_by=lambda r: r["metadata"]["name"])
    )
    rendered = render_tenant(new, observed)
    assert not rendered.fatal, rendered.results
    desired = _crns(rendered.resources)
    implied = _planned(new, observed, flavor)
    assert implied == _planned(new, previous, flavor), (
        "what a spec implies never depends on what is observed"
    )
    kept = {c: n for c, n in _crns(observed).items() if c in implied}
    assert not set(kept) - set(desired), f"dropped: {sorted(set(kept) - set(desired))}"
    assert all(desired[c] == kept[c] for c in kept), "a resource was renamed"
    full_new = _crns(phases(new)[-1].resources)
    full_old = _crns(previous)
    assert all(full_new[c] == full_old[c] for c in set(full_new) & set(full_old))


def test_examples_exist_in_both_flavors() -> None:
    for name in EXAMPLE_FILES:
        for d in FLAVOR_DIRS.values():
            assert Path(d / name).is_file()


def test_an_account_from_another_namespace_is_refused_even_if_handed_over() -> None:
    claim = load("tenant.yaml", "v2")
    foreign = account_for(claim)
    foreign[0]["metadata"]["namespace"] = "elsewhere"
    c = make_claim(TENANT, "payments", "payments", Flavor.V2, PLATFORM)
    with pytest.raises(Refused, match="handed over from namespace 'elsewhere'"):
        compose(
            c,
            TenantSpec.model_validate(claim["spec"]),
            Observed.of({}),
            Required(as_required(foreign)),
        )


# --- plinth access ---------------------------------------------------------------------------


def test_plinth_access_prints_the_commands_from_rendered_status(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from plinth.cli import main
    from plinth.tools.yamlio import dump_yaml as dump

    steps = phases(load("tenant-search.yaml", "v2"))
    out = tmp_path / "rendered.yaml"
    out.write_text(dump([steps[-1].composite, *steps[-1].resources]))
    runner = CliRunner()
    r = runner.invoke(main, ["access", "-f", str(out), "--environment", "prod", "--role", "edit"])
    assert r.exit_code == 0, r.output
    assert r.output.count("kubectl config set-cluster") == 2  # two prod clusters
    assert "--region,us-west-2" in r.output
    # Prod's role, in prod's own account.
    assert "--role-arn,arn:aws:iam::575757575757:role/plinth-search-edit" in r.output
    assert "555555555555" not in r.output
    assert (
        "kubectl config set-context search-edit@eks-prod-usw2 --cluster=eks-prod-usw2 "
        "--user=search-edit@eks-prod-usw2 --namespace=search-api" in r.output
    )
    waiting = phases(load("tenant.yaml", "v2"), extra=[])[-1]
    out.write_text(dump([waiting.composite]))
    r = runner.invoke(main, ["access", "-f", str(out)])
    assert r.exit_code == 1
    assert "does not exist yet" in r.output
    assert runner.invoke(main, ["access"]).exit_code == 2


def test_docs_field_table_matches_the_model() -> None:
    from conftest import REPO
    from plinth.generators.reference import field_table

    text = (REPO / "docs" / "tenant.md").read_text()
    assert field_table(TenantSpec, "spec") in text, "docs/tenant.md is stale: regenerate its table"


def test_access_commands_build_a_working_kubeconfig(tmp_path: Path) -> None:
    """The printed commands, run by the real kubectl, give a context that reaches the cluster's
    endpoint as the tenant's role, in the tenant's namespace, without DescribeCluster."""
    import shlex
    import shutil
    import subprocess

    import yaml

    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to check the access commands"
    status = phases(load("tenant-search.yaml", "v2"))[-1].composite["status"]
    cluster = next(c for c in status["clusters"] if c["cluster"] == "eks-prod-usw2")
    access = next(a for a in cluster["access"] if a["role"] == "edit")
    env = {"KUBECONFIG": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    for command in access["commands"]:
        argv = shlex.split(command)
        assert argv[0] == "kubectl"
        subprocess.run([kubectl, *argv[1:]], env=env, check=True, capture_output=True)
    config = yaml.safe_load((tmp_path / "config").read_text())
    context = "search-edit@eks-prod-usw2"
    assert config["current-context"] == context
    ctx = next(c["context"] for c in config["contexts"] if c["name"] == context)
    assert ctx == {"cluster": "eks-prod-usw2", "user": context, "namespace": "search-api"}
    server = next(c["cluster"] for c in config["clusters"] if c["name"] == "eks-prod-usw2")
    assert server["server"].endswith(".us-west-2.eks.amazonaws.com")
    assert server["certificate-authority-data"]
    user = next(u["user"] for u in config["users"] if u["name"] == context)
    assert user["exec"]["command"] == "aws"
    assert user["exec"]["args"] == [
        "eks",
        "get-token",
        "--cluster-name",
        "eks-prod-usw2",
        "--region",
        "us-west-2",
        "--role-arn",
        access["roleArn"],
    ]


def test_a_cluster_without_endpoint_gets_no_commands_and_a_warning() -> None:
    from plinth.tools.render import render

    platform = platform_docs()
    for c in platform[0]["data"]["clusters"]:
        c.pop("endpoint", None)
    claim = load("tenant-search.yaml", "v2")
    r = render(to_composite(claim), observed=[], extra_resources=platform + account_for(claim))
    status = r.composite["status"]
    assert status["clusters"]
    assert all(a["commands"] == [] for c in status["clusters"] for a in c["access"])
    warnings = [x.message for x in r.results if "endpoint" in x.message]
    assert warnings
    assert "eks-prod-usw2" in warnings[0]


@pytest.mark.parametrize("flavor", ["v2", "legacy"])
def test_prod_on_an_account_claim_vended_for_dev_is_refused(flavor: str) -> None:
    # The schema cannot see it (two different references), the AccountClaim's own spec can.
    claim = copy.deepcopy(load("tenant.yaml", flavor))
    claim["spec"]["environments"].append({"name": "prod", "account": {"claimName": "other"}})
    accounts = account_for(claim)
    for a in accounts:
        if a["kind"] == "AccountClaim":
            a["spec"]["environment"] = "dev"
    r = render_tenant(claim, extra=accounts)
    (message,) = r.fatal
    assert "environment prod uses AccountClaim 'other', which is a dev account" in message
    assert "allowSharedProdAccount" in message
    claim["spec"]["allowSharedProdAccount"] = True
    assert not render_tenant(claim, extra=accounts).fatal, "the escape hatch"
