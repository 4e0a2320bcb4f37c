"""Tenancy: a claim reaches nothing another team owns (plinth.core.tenancy, docs/security.md).

Two kinds of proof:
* plain tests of each refusal (the claim names what another team owns: a Fatal result that
  names the owner), in both flavors;
* adversarial property tests: two claims of any kinds from two management namespaces, specs
  drawn to collide on purpose (same claim names, teams, suffixes, hosts, bucket and queue
  names, account ids). Over every phase of both, no two composed resources share an identity
  and nothing one composes grants, trusts or targets what the other owns.
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import functools
import hashlib
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from claim_fixtures import legacy_provider_config, observe, ready_condition
from conftest import platform_docs
from plinth.api.flavor import FLAVORS, Flavor
from plinth.api.platform import PlatformConfig
from plinth.tools.render import Rendered, render, to_composite

GROUPS = {f.value: FLAVORS[f].group for f in Flavor}
PLATFORM_PROVIDER_CONFIGS = {
    "aws-management": "management",
    "kubernetes-management": "management-cluster",
    "github": "github",
}


def _claim(
    kind: str, flavor: str, namespace: str, name: str, spec: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUPS[flavor]}/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def _tenant_spec(
    account: str = "555555555555", pc: str = "team-aws", **extra: Any
) -> dict[str, Any]:
    return {
        "account": {"accountId": account, "providerConfig": pc},
        "environments": [{"name": "dev"}],
        **extra,
    }


def _required(claim: dict[str, Any], tenant: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What Crossplane hands the claim: its tenant (Ready) and, in legacy, the cluster-scoped
    ProviderConfigs of every team in this test, each labelled with its own team."""
    out: list[dict[str, Any]] = []
    if tenant is not None:
        out.append({**copy.deepcopy(tenant), "status": {"conditions": ready_condition()}})
    if claim["apiVersion"].startswith("claims."):
        for ns in {*NAMESPACES, "evil", "x", "team-data"}:
            out.append(legacy_provider_config(f"{ns}-aws", ns))
    return out


def render_one(
    claim: dict[str, Any],
    *,
    tenant: dict[str, Any] | None = None,
    observed: list[dict[str, Any]] | None = None,
    platform: list[dict[str, Any]] | None = None,
) -> Rendered:
    return render(
        to_composite(claim),
        observed=observed or [],
        extra_resources=(platform or platform_docs()) + _required(claim, tenant),
    )


# --- the two cases of the issue, and every refusal, in both flavors --------------------------

FLAVOR_NAMES = [f.value for f in Flavor]


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_a_tenant_for_another_team_is_refused_naming_the_owner(flavor: str) -> None:
    evil = _claim(
        "TenantClaim",
        flavor,
        "evil",
        "payments",
        _tenant_spec(
            "666666666666",
            "evil-aws",
            team="payments",
            members=[{"roleArn": "arn:aws:iam::777777777777:role/x", "role": "admin"}],
        ),
    )
    r = render_one(evil)
    assert r.resources == []
    (message,) = r.fatal
    assert "team 'payments' (management namespace 'payments')" in message, message
    assert "claims in 'evil' act for team 'evil'" in message


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_two_apps_of_the_same_name_in_two_teams_get_their_own_argo_cd_applications(
    flavor: str,
) -> None:
    names = {}
    for team in ("payments", "search"):
        tenant = _claim("TenantClaim", flavor, team, team, _tenant_spec(pc=f"{team}-aws"))
        app = _claim(
            "AppClaim",
            flavor,
            team,
            "checkout",
            {"tenant": team, "environments": [{"name": "dev"}]},
        )
        r = render_one(app, tenant=tenant)
        assert not r.fatal, r.fatal
        apps = [
            r["spec"]["forProvider"]["manifest"]
            for r in r.resources
            if r["kind"] == "Object"
            and r["spec"]["forProvider"]["manifest"]["kind"] == "Application"
        ]
        assert len(apps) == 1
        assert apps[0]["metadata"]["namespace"] == "argocd"
        assert apps[0]["spec"]["project"] == team
        names[team] = apps[0]["metadata"]["name"]
    assert names == {
        "payments": "payments-checkout-dev-eks-dev-use1",
        "search": "search-checkout-dev-eks-dev-use1",
    }


def _refusal(claim: dict[str, Any], tenant: dict[str, Any] | None = None, **kw: Any) -> str:
    r = render_one(claim, tenant=tenant, **kw)
    assert r.resources == [], "a refused claim composes nothing"
    (message,) = r.fatal
    return message


def _app(flavor: str, namespace: str, **spec: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    tenant = _claim(
        "TenantClaim", flavor, namespace, namespace, _tenant_spec(pc=f"{namespace}-aws")
    )
    app = _claim(
        "AppClaim",
        flavor,
        namespace,
        "web",
        {"tenant": namespace, "environments": [{"name": "dev"}], **spec},
    )
    return app, tenant


REFUSALS: list[tuple[str, str, Any, str]] = [
    (
        "team-of-another-namespace",
        "TenantClaim",
        {"team": "search"},
        "team 'search' (management namespace 'search')",
    ),
    (
        "certificate-of-another-team",
        "TenantClaim",
        {"certificate": {"domain": "search.example.com"}},
        "certificate.domain 'search.example.com' belongs to team 'search'",
    ),
    (
        "certificate-under-another-teams-subdomain",
        "TenantClaim",
        {"certificate": {"domain": "x.search.apps.example.com"}},
        "belongs to team 'search' (management namespace 'search')",
    ),
    (
        "certificate-outside-every-domain",
        "TenantClaim",
        {"certificate": {"domain": "example.org"}},
        "outside the domains of team 'payments' (payments.apps.example.com)",
    ),
    (
        "repository-of-another-team",
        "TenantClaim",
        {"repositories": ["search-api"]},
        "repository 'search-api' belongs to team 'search'",
    ),
    (
        "repository-url-into-another-team",
        "TenantClaim",
        {"repositories": ["https://GitHub.com/Example-Org/search-api.git"]},
        "repository 'search-api' belongs to team 'search'",
    ),
    (
        "repository-glob-over-the-organization",
        "TenantClaim",
        {"repositories": ["https://github.com/*"]},
        "exact URL, not a glob",
    ),
    (
        "repository-glob-widening-the-team-prefix",
        "TenantClaim",
        {"repositories": ["payments*"]},
        "'payments*' belongs to team",
    ),
    (
        "host-of-another-team",
        "AppClaim",
        {"environments": [{"name": "dev", "host": "api.search.example.com"}]},
        "host 'api.search.example.com' belongs to team 'search'",
    ),
    (
        "host-under-another-teams-subdomain",
        "AppClaim",
        {"environments": [{"name": "dev", "host": "web.dev.search.apps.example.com"}]},
        "belongs to team 'search'",
    ),
    (
        "template-of-another-team",
        "AppClaim",
        {"repository": {"template": "example-org/search-api"}},
        "repository.template 'search-api' belongs to team 'search'",
    ),
]


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
@pytest.mark.parametrize(
    ("case", "kind", "spec", "message"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_what_another_team_owns_is_refused(
    flavor: str, case: str, kind: str, spec: dict[str, Any], message: str
) -> None:
    if kind == "TenantClaim":
        claim = _claim(
            "TenantClaim", flavor, "payments", "payments", _tenant_spec(pc="payments-aws", **spec)
        )
        got = _refusal(claim)
    else:
        app, tenant = _app(flavor, "payments", **spec)
        got = _refusal(app, tenant)
    assert message in got, got


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_own_names_domains_and_templates_are_accepted(flavor: str) -> None:
    tenant = _claim(
        "TenantClaim",
        flavor,
        "search",
        "search",
        _tenant_spec(
            pc="search-aws",
            team="search",
            certificate={"domain": "search.example.com"},
            repositories=["search-api", "search-*", "https://gitlab.com/search/tools.git"],
        ),
    )
    r = render_one(tenant)
    assert not r.fatal, r.fatal
    app = _claim(
        "AppClaim",
        flavor,
        "search",
        "web",
        {
            "tenant": "search",
            "repository": {"template": "example-org/search-template"},
            "environments": [
                {"name": "dev", "host": "web.search.example.com"},
                {"name": "prod", "host": "web.prod.search.apps.example.com"},
            ],
        },
    )
    tenant["spec"]["environments"].append({"name": "prod"})
    r = render_one(app, tenant=tenant)
    assert not r.fatal, r.fatal


NAMESPACE_REFUSALS = [
    (
        "dashed-unlisted",
        "pay-ments",
        "is not a team's: a namespace is its team's name only without '-'",
    ),
    ("reserved", "monitoring", "reserved for the platform"),
    ("default", "default", "reserved for the platform"),
    ("longer-than-a-team-name", "t" * 31, "within 30 characters"),
]


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
@pytest.mark.parametrize(
    ("case", "namespace", "message"), NAMESPACE_REFUSALS, ids=[c[0] for c in NAMESPACE_REFUSALS]
)
def test_a_namespace_that_is_no_teams_composes_nothing(
    flavor: str, case: str, namespace: str, message: str
) -> None:
    for kind, spec in (
        ("TenantClaim", _tenant_spec(pc="x-aws")),
        ("AccountClaim", {"email": "a@example.com", "environment": "dev"}),
        ("AppClaim", {"tenant": "x", "environments": [{"name": "dev"}]}),
    ):
        got = _refusal(_claim(kind, flavor, namespace, "x", spec))
        assert message in got, (kind, got)


def test_listed_teams_decide_which_namespace_acts_for_which_team() -> None:
    platform = platform_docs(
        [
            {"name": "data", "namespace": "team-data"},
            {"name": "ml-platform"},
        ]
    )
    # A listed namespace acts for its listed team, '-' or not ...
    tenant = _claim("TenantClaim", "v2", "team-data", "t", _tenant_spec(pc="pc"))
    r = render_one(tenant, platform=platform)
    assert not r.fatal, r.fatal
    namespaces = {
        o["spec"]["forProvider"]["manifest"]["metadata"]["name"]
        for o in r.resources
        if o["kind"] == "Object" and o["spec"]["forProvider"]["manifest"]["kind"] == "Namespace"
    }
    assert namespaces == {"data"}
    # ... the namespace named like a listed team acts for none ...
    got = _refusal(
        _claim("TenantClaim", "v2", "data", "t", _tenant_spec(pc="pc")), platform=platform
    )
    assert "team 'data' is registered to management namespace 'team-data'" in got
    # ... and a team name that begins a listed one ('ml' of 'ml-platform') is refused.
    got = _refusal(_claim("TenantClaim", "v2", "ml", "t", _tenant_spec(pc="pc")), platform=platform)
    assert "would begin the name of team 'ml-platform'" in got


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        ([{"name": "data"}, {"name": "data-ml"}], "begins with team 'data'"),
        ([{"name": "a"}, {"name": "b", "namespace": "a"}], "namespace a is listed twice"),
        ([{"name": "a", "domains": ["x.io"]}, {"name": "b", "domains": ["y.x.io"]}], "overlaps"),
        ([{"name": "a", "domains": ["a.apps.example.com"]}], "overlaps the platform domain"),
        (
            [{"name": "a", "networks": ["10.0.0.0/8"]}, {"name": "b", "networks": ["10.1.0.0/16"]}],
            "network 10.1.0.0/16 of b overlaps",
        ),
    ],
)
def test_the_platform_refuses_team_lists_whose_names_could_collide(
    teams: list[dict[str, Any]], message: str
) -> None:
    data = copy.deepcopy(platform_docs()[0]["data"])
    data["teams"] = teams
    with pytest.raises(ValueError, match=message):
        PlatformConfig.model_validate(data)


@pytest.mark.parametrize("flavor", FLAVOR_NAMES)
def test_an_account_on_the_transit_gateway_needs_its_teams_network(flavor: str) -> None:
    def account(namespace: str, cidr: str) -> dict[str, Any]:
        return _claim(
            "AccountClaim",
            flavor,
            namespace,
            "prod",
            {
                "email": "a@example.com",
                "environment": "prod",
                "network": {"cidr": cidr, "attachTransitGateway": True},
            },
        )

    # payments owns 10.42.0.0/15 (examples/platform.yaml): its range is fine, search's is not.
    assert not render_one(account("payments", "10.43.0.0/16")).fatal
    got = _refusal(account("search", "10.42.128.0/20"))
    assert (
        "overlaps network 10.42.0.0/15 of team 'payments' (management namespace 'payments')" in got
    )
    got = _refusal(account("search", "10.9.0.0/16"))
    assert "outside the networks the platform allocated to team 'search' (none yet)" in got


def test_a_legacy_provider_config_of_another_team_is_refused() -> None:
    # Legacy ProviderConfigs are cluster-scoped: naming payments' would act in its account.
    claim = _claim("TenantClaim", "legacy", "evil", "t", _tenant_spec(pc="payments-aws"))
    got = _refusal(claim)
    assert "ProviderConfig 'payments-aws' belongs to team 'payments'" in got
    unlabelled = _claim("TenantClaim", "legacy", "evil", "t", _tenant_spec(pc="aws-management"))
    r = render(
        to_composite(unlabelled),
        observed=[],
        extra_resources=[
            *platform_docs(),
            {
                **legacy_provider_config("aws-management", "x"),
                "metadata": {"name": "aws-management"},
            },
        ],
    )
    (message,) = r.fatal
    assert "is not labelled plinth.dev/team=evil" in message


# --- the adversarial property -----------------------------------------------------------------
# Namespaces and values are drawn from small pools so that prefixes (pay / pay-ments), equal
# names and equal suffixes meet often: what an attacker would try first.

NAMESPACES = ["pay", "payments", "pay-ments", "search", "evil", "a", "ab", "a-b"]
# Pairs where one name begins the other: the collisions a naive `<team>-<suffix>` would allow.
PREFIX_PAIRS = [("pay", "pay-ments"), ("a", "a-b"), ("pay", "payments"), ("a", "ab")]
CLAIM_NAMES = ["payments", "checkout", "api", "ments-api", "a"]
SUFFIXES = ["api", "ments", "ments-api", "b", "dev"]
HOSTS = [
    "api.search.example.com",
    "api.pay.apps.example.com",
    "checkout.dev.payments.apps.example.com",
    "ments-api.pay.apps.example.com",
]
ITEM_NAMES = ["data", "ments", "b"]
ACCOUNTS = ["555555555555", "666666666666"]


def _listed(namespace: str) -> list[dict[str, Any]]:
    """Some draws list a dashed namespace as a team of the same name: then a team named like
    its first part (pay of pay-ments) must be refused, or their names could collide."""
    return [{"name": namespace}] if "-" in namespace else []


@st.composite
def tenant_specs(draw: st.DrawFn, namespace: str, other: str) -> dict[str, Any]:
    """A sixth of the draws reach for the other team on purpose (its team, ProviderConfig,
    repositories); the rest stay honest but choose names that would collide if the platform
    trusted them (the same suffixes, account ids and repository stems as the other team)."""
    hostile = draw(st.integers(0, 5)) == 0
    team = namespace
    envs = draw(st.lists(st.sampled_from(["dev", "prod"]), min_size=1, max_size=2, unique=True))
    spec: dict[str, Any] = {
        "account": {
            "accountId": draw(st.sampled_from(ACCOUNTS)),
            "providerConfig": f"{other}-aws"
            if hostile and draw(st.booleans())
            else f"{namespace}-aws",
        },
        "environments": [
            {
                "name": e,
                "namespaces": draw(st.lists(st.sampled_from(SUFFIXES), max_size=2, unique=True)),
            }
            for e in envs
        ],
    }
    declared = draw(st.sampled_from([other, "payments"] if hostile else [None, team]))
    if declared is not None:
        spec["team"] = declared
    if draw(st.booleans()):
        spec["members"] = [{"roleArn": "arn:aws:iam::777777777777:role/ops", "role": "admin"}]
    if draw(st.booleans()):
        pool = (
            ["payments-api", "search-*", "a-*", f"{other}-api"]
            if hostile
            else [f"{team}-api", f"{team}-*"]
        )
        spec["repositories"] = draw(
            st.lists(st.sampled_from(pool), min_size=1, max_size=2, unique=True)
        )
    return spec


@st.composite
def app_specs(draw: st.DrawFn, tenant: dict[str, Any]) -> dict[str, Any]:
    envs = []
    for e in tenant["spec"]["environments"]:
        env: dict[str, Any] = {"name": e["name"]}
        if draw(st.booleans()):
            # Mostly the team's own hosts (equal to another team's if the platform trusted the
            # claim's team), sometimes another team's.
            team = tenant["metadata"]["namespace"]
            own = [f"{n}.{team}.apps.example.com" for n in ("api", "checkout.dev", "ments-api")]
            env["host"] = draw(st.sampled_from(HOSTS + own * 6))
        envs.append(env)
    return {
        "tenant": tenant["metadata"]["name"],
        "environments": envs,
        "buckets": [
            {"name": n}
            for n in draw(st.lists(st.sampled_from(ITEM_NAMES), max_size=2, unique=True))
        ],
        "queues": [
            {"name": n}
            for n in draw(st.lists(st.sampled_from(ITEM_NAMES), max_size=1, unique=True))
        ],
        "network": {
            "vpcId": "vpc-0a1b2c3d4e5f60718",
            "subnetIds": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
        },
    }


@st.composite
def account_specs(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "email": "aws@example.com",
        "environment": draw(st.sampled_from(["dev", "prod"])),
    }
    if draw(st.integers(0, 2)) == 0:
        spec["network"] = {
            "cidr": draw(st.sampled_from(["10.42.0.0/16", "10.43.0.0/16", "10.44.0.0/16"])),
            "attachTransitGateway": True,
        }
    return spec


@st.composite
def parties(draw: st.DrawFn, kind: str, flavor: str, namespace: str, other: str) -> dict[str, Any]:
    """One claim (with its tenant, for an app) in `namespace`, drawn to collide with `other`."""
    name = draw(st.sampled_from(CLAIM_NAMES))
    tenant = _claim(
        "TenantClaim",
        flavor,
        namespace,
        draw(st.sampled_from(CLAIM_NAMES)),
        draw(tenant_specs(namespace, other)),
    )
    if kind == "TenantClaim":
        return {
            "claim": {**tenant, "metadata": {"name": name, "namespace": namespace}},
            "tenant": None,
        }
    if kind == "AppClaim":
        return {
            "claim": _claim("AppClaim", flavor, namespace, name, draw(app_specs(tenant))),
            "tenant": tenant,
        }
    return {
        "claim": _claim("AccountClaim", flavor, namespace, name, draw(account_specs())),
        "tenant": None,
    }


def _account_of(claim: dict[str, Any]) -> str:
    """A distinct account id per AccountClaim, as AWS Organizations would report."""
    key = f"{claim['metadata']['namespace']}/{claim['metadata']['name']}"
    return str(int(hashlib.sha256(key.encode()).hexdigest()[:10], 16) % 10**12).zfill(12)


@functools.lru_cache(maxsize=512)
def _lifecycle(key: str) -> tuple[dict[str, Any], ...] | None:
    """Every resource a claim composes over all its phases (None when it is refused)."""
    party = json.loads(key)
    claim, tenant, platform = party["claim"], party["tenant"], party["platform"]
    seen: dict[str, dict[str, Any]] = {}
    observed: list[dict[str, Any]] = []
    for _ in range(8):
        r = render_one(claim, tenant=tenant, observed=observed, platform=platform)
        if r.fatal:
            assert not r.resources
            return None if not seen else tuple(seen.values())
        for res in r.resources:
            seen[res["metadata"]["annotations"]["crossplane.io/composition-resource-name"]] = res
        nxt = observe(r.resources, _account_of(claim))
        if len(nxt) == len(observed):
            break
        observed = nxt
    return tuple(seen.values())


def _strings(node: Any) -> Iterator[str]:
    """Every string in a body, and in the JSON documents (IAM policies) it carries."""
    if isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    elif isinstance(node, str):
        yield node
        if node.startswith("{"):
            with contextlib.suppress(ValueError):
                yield from _strings(json.loads(node))


def _manifest(r: dict[str, Any]) -> dict[str, Any] | None:
    if r["kind"] != "Object":
        return None
    m: dict[str, Any] = r["spec"]["forProvider"]["manifest"]
    return m


def _account(r: dict[str, Any], platform: PlatformConfig, vended: str | None) -> str:
    """The account a resource lives in, as far as names go: the platform's own accounts by
    ProviderConfig, an AccountClaim's baseline in its own new account (`vended`), and every
    account a tenant names counted as one, as if all teams shared it."""
    pc = r["spec"].get("providerConfigRef", {}).get("name", "")
    for c in platform.clusters:
        if pc == c.aws_provider_config:
            return c.account_id
    return PLATFORM_PROVIDER_CONFIGS.get(pc, vended or "team-accounts")


NAME_FIELDS = ("name", "identifier", "replicationGroupId", "userId", "userName", "userGroupId")


def identities(
    resources: tuple[dict[str, Any], ...], platform: PlatformConfig, vended: str | None = None
) -> set[tuple[str, ...]]:
    """What must be unique across claims: management-cluster objects, manifests per target
    cluster, AWS names per account and region (S3 and GitHub globally), EKS principals and
    Pod Identity bindings per cluster."""
    out: set[tuple[str, ...]] = set()
    for r in resources:
        meta = r["metadata"]
        out.add(
            (
                "mgmt",
                r["apiVersion"].split("/")[0],
                r["kind"],
                meta.get("namespace", ""),
                meta["name"],
            )
        )
        m = _manifest(r)
        if m is not None:
            pc = r["spec"]["providerConfigRef"]["name"]
            mm = m["metadata"]
            out.add(
                (
                    "manifest",
                    pc,
                    m["apiVersion"].split("/")[0],
                    m["kind"],
                    mm.get("namespace", ""),
                    mm["name"],
                )
            )
            continue
        fp = r["spec"].get("forProvider", {})
        service = r["apiVersion"].split(".")[0]
        account = _account(r, platform, vended)
        region = fp.get("region", "")
        names = {meta.get("annotations", {}).get("crossplane.io/external-name")}
        names |= {fp.get(f) for f in NAME_FIELDS if isinstance(fp.get(f), str)}
        for n in names - {None}:
            if (service, r["kind"]) in {("s3", "Bucket"), ("repo", "Repository")}:
                out.add(("global", service, r["kind"], str(n)))
            else:
                out.add(("aws", account, region, service, r["kind"], str(n)))
        if r["kind"] in ("AccessEntry", "AccessPolicyAssociation"):
            out.add(
                ("eks", r["kind"], fp["clusterName"], fp["principalArn"], fp.get("policyArn", ""))
            )
        if r["kind"] == "PodIdentityAssociation":
            out.add(("eks", r["kind"], fp["clusterName"], fp["namespace"], fp["serviceAccount"]))
    return out


def owned(resources: tuple[dict[str, Any], ...]) -> dict[str, set[str]]:
    """What a claim's team owns once composed: namespaces on the clusters, Kubernetes groups,
    IAM role names, bucket names, repository URLs, its Argo CD project."""
    out: dict[str, set[str]] = {
        "namespaces": set(),
        "groups": set(),
        "roles": set(),
        "buckets": set(),
        "repos": set(),
        "projects": set(),
    }
    for r in resources:
        m = _manifest(r)
        ext = r["metadata"].get("annotations", {}).get("crossplane.io/external-name")
        if m is not None:
            if m["kind"] == "Namespace":
                out["namespaces"].add(m["metadata"]["name"])
            if m["kind"] == "AppProject":
                out["projects"].add(m["metadata"]["name"])
            for s in m.get("subjects", []):
                if s["kind"] == "Group":
                    out["groups"].add(s["name"])
        elif r["kind"] == "Role" and ext:
            out["roles"].add(ext)
        elif r["kind"] == "Bucket" and ext:
            out["buckets"].add(ext)
        elif r["kind"] == "Repository" and ext:
            out["repos"].add(f"https://github.com/example-org/{ext}.git")
    return out


def reaches(resources: tuple[dict[str, Any], ...], theirs: dict[str, set[str]]) -> list[str]:
    """Every way `resources` grant, trust or target what `theirs` lists."""
    found = []
    for r in resources:
        m = _manifest(r)
        fp = r["spec"].get("forProvider", {})
        targets: set[str] = set()
        if m is not None:
            targets.add(m["metadata"].get("namespace", ""))
            spec = m.get("spec", {})
            targets |= {d.get("namespace", "") for d in spec.get("destinations", [])}
            targets |= {d.get("namespace", "") for d in spec.get("destinationServiceAccounts", [])}
            targets.add(spec.get("destination", {}).get("namespace", ""))
            if spec.get("project") in theirs["projects"]:
                found.append(f"{m['kind']} {m['metadata']['name']} uses project {spec['project']}")
            for s in m.get("subjects", []):
                if s.get("name") in theirs["groups"] or s.get("namespace") in theirs["namespaces"]:
                    found.append(f"{m['kind']} {m['metadata']['name']} binds {s}")
            for pattern in spec.get("sourceRepos", []):
                hit = [u for u in theirs["repos"] if fnmatch.fnmatchcase(u, pattern)]
                if hit:
                    found.append(f"AppProject admits {hit} by {pattern}")
            repo = spec.get("source", {}).get("repoURL")
            if repo in theirs["repos"]:
                found.append(f"Application syncs {repo}")
        targets |= set(fp.get("accessScope", {}).get("namespaces", []))
        targets.add(fp.get("namespace", ""))
        targets |= set(fp.get("kubernetesGroups", []))
        hit_ns = targets & (theirs["namespaces"] | theirs["groups"])
        if hit_ns:
            found.append(f"{r['kind']} {r['metadata']['name']} targets {sorted(hit_ns)}")
        for s in _strings(r["spec"]):
            for role in theirs["roles"]:
                if s.endswith(f":role/{role}"):
                    found.append(f"{r['kind']} {r['metadata']['name']} names role {role}")
            for bucket in theirs["buckets"]:
                if s.endswith(f":::{bucket}") or f":::{bucket}/" in s:
                    found.append(f"{r['kind']} {r['metadata']['name']} names bucket {bucket}")
    return found


KINDS = ["TenantClaim", "AppClaim", "AccountClaim"]
COMPOSED = {"pairs": 0, "both": 0}


@st.composite
def pairs(
    draw: st.DrawFn, kinds: tuple[str, str]
) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    flavor = draw(st.sampled_from(FLAVOR_NAMES))
    if draw(st.booleans()):
        ns_a, ns_b = draw(st.sampled_from(PREFIX_PAIRS))
        if draw(st.booleans()):
            ns_a, ns_b = ns_b, ns_a
    else:
        ns_a, ns_b = draw(
            st.lists(st.sampled_from(NAMESPACES), min_size=2, max_size=2, unique=True)
        )
    teams = []
    for ns in (ns_a, ns_b):
        if draw(st.integers(0, 3)) > 0:
            teams += _listed(ns)
    platform = platform_docs(teams)
    try:
        PlatformConfig.model_validate(platform[0]["data"])
    except ValueError:
        assume(False)
    a = draw(parties(kinds[0], flavor, ns_a, ns_b))
    b = draw(parties(kinds[1], flavor, ns_b, ns_a))
    return a, b, platform


def _check_pair(a: dict[str, Any], b: dict[str, Any], platform_docs_: list[dict[str, Any]]) -> None:
    platform = PlatformConfig.model_validate(platform_docs_[0]["data"])
    got = []
    for party in (a, b):
        key = json.dumps({**party, "platform": platform_docs_}, sort_keys=True)
        got.append(_lifecycle(key))
    COMPOSED["pairs"] += 1
    ra, rb = got
    if ra is None or rb is None:
        return  # a refused claim composes nothing: nothing to collide with
    COMPOSED["both"] += 1

    def vended(party: dict[str, Any]) -> str | None:
        c = party["claim"]
        return f"vended:{_account_of(c)}" if c["kind"] == "AccountClaim" else None

    shared = identities(ra, platform, vended(a)) & identities(rb, platform, vended(b))
    assert not shared, f"shared identities: {sorted(shared)}"
    for mine, theirs in ((ra, rb), (rb, ra)):
        reached = reaches(mine, owned(theirs))
        assert not reached, reached


PAIR_KINDS = [
    ("TenantClaim", "TenantClaim"),
    ("AppClaim", "AppClaim"),
    ("TenantClaim", "AppClaim"),
    ("AccountClaim", "AccountClaim"),
    ("AccountClaim", "TenantClaim"),
    ("AppClaim", "AccountClaim"),
]
# 600 generated pairs in the default run, the same ones every run (derandomized, so CI never
# flakes); a longer, random search: PLINTH_ISOLATION_EXAMPLES=2000 pytest tests/test_isolation.py
EXAMPLES_PER_KIND_PAIR = int(os.environ.get("PLINTH_ISOLATION_EXAMPLES", "100"))
RANDOM_SEARCH = "PLINTH_ISOLATION_EXAMPLES" in os.environ


@pytest.mark.parametrize("kinds", PAIR_KINDS, ids=["-".join(k) for k in PAIR_KINDS])
def test_two_teams_never_share_or_reach_each_others_resources(kinds: tuple[str, str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_KIND_PAIR,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        database=None,
        derandomize=not RANDOM_SEARCH,
    )
    @given(pairs(kinds))
    def check(pair: tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]) -> None:
        _check_pair(*pair)

    before = dict(COMPOSED)
    check()
    tried = COMPOSED["pairs"] - before["pairs"]
    both = COMPOSED["both"] - before["both"]
    assert tried >= EXAMPLES_PER_KIND_PAIR
    # The property is only as strong as the pairs where both claims composed something.
    print(f"{'-'.join(kinds)}: {tried} pairs, both claims composed in {both}")
    assert both >= tried // 5, (both, tried)
