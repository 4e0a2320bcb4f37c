"""AppClaim: every phase of both examples is schema-valid in both flavors; the properties that
matter are asserted on what is rendered: least-privilege IAM, prod data kept, credentials only
through Secrets Manager, delivery confined to the tenant, nothing dropped or renamed."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from claim_fixtures import accounts_for, observe, with_status
from conftest import (
    EXAMPLES,
    assert_unique_names,
    assert_valid,
    example_platform,
    make_claim,
    render_claim,
)
from plinth.tools.render import Rendered
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

CRN = "crossplane.io/composition-resource-name"
FLAVOR_DIRS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
EXAMPLE_FILES = ("app.yaml", "app-full.yaml")
CASES = [(f, n) for f in FLAVOR_DIRS for n in EXAMPLE_FILES]
IDS = [f"{f}/{n}" for f, n in CASES]
PAYMENTS_ACCOUNT = "210987654321"


def load(name: str, flavor: str) -> dict[str, Any]:
    return next(iter(read_path(str(FLAVOR_DIRS[flavor] / name)))).body


def tenant_for(claim: dict[str, Any], *, ready: bool = True) -> list[dict[str, Any]]:
    """The app's TenantClaim (from the examples) as Crossplane would hand it over, and for an
    AccountClaim-backed tenant its AccountClaim with the status the account composer reports."""
    tenant_file = {"search": "tenant-search.yaml", "payments": "tenant.yaml"}[
        claim["spec"]["tenant"]
    ]
    tenant = next(iter(read_path(str(EXAMPLES / tenant_file)))).body
    tenant["apiVersion"] = claim["apiVersion"]
    out = with_status([tenant], PAYMENTS_ACCOUNT)
    known = {(d["kind"], d["metadata"]["name"]) for d in out}
    out += [
        d
        for d in accounts_for(tenant, PAYMENTS_ACCOUNT)
        if (d["kind"], d["metadata"]["name"]) not in known
    ]
    if not ready:
        out[0]["status"]["conditions"][0]["status"] = "False"
    return out


def render_app(
    claim: dict[str, Any],
    observed: list[dict[str, Any]] | None = None,
    extra: list[dict[str, Any]] | None = None,
) -> Rendered:
    return render_claim(
        claim, observed=observed, extra=tenant_for(claim) if extra is None else extra
    )


def phases(claim: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> list[Rendered]:
    out: list[Rendered] = []
    observed: list[dict[str, Any]] = []
    for _ in range(10):
        r = render_app(claim, observed, extra)
        assert not r.fatal, r.fatal
        out.append(r)
        if r.composite["status"]["phase"] == "Ready" or (
            len(out) > 1
            and _crns(r.resources) == _crns(out[-2].resources)
            and json.dumps(r.resources, sort_keys=True)
            == json.dumps(out[-2].resources, sort_keys=True)
        ):
            return out
        observed = observe(r.resources)
    raise AssertionError("the app did not converge")


def _crns(resources: list[dict[str, Any]]) -> dict[str, str]:
    return {r["metadata"]["annotations"][CRN]: r["metadata"]["name"] for r in resources}


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def lifecycle(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[Rendered]]:
    flavor, name = request.param
    claim = load(name, flavor)
    return claim, phases(claim)


def manifests(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [
        r["spec"]["forProvider"]["manifest"]
        for r in resources
        if r["kind"] == "Object" and r["spec"]["forProvider"]["manifest"]["kind"] == kind
    ]


def of_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


# --- every phase is real ----------------------------------------------------------------------


def test_every_phase_is_schema_valid_and_unique(
    validator: Validator, lifecycle: tuple[dict[str, Any], list[Rendered]]
) -> None:
    _, steps = lifecycle
    for i, step in enumerate(steps):
        assert_valid(validator, step.resources, f"phase {i}")
        assert_unique_names(step.resources)
        assert len(_crns(step.resources)) == len(step.resources)


def test_the_app_converges_to_ready(lifecycle: tuple[dict[str, Any], list[Rendered]]) -> None:
    _, steps = lifecycle
    final = steps[-1].composite["status"]
    assert final["phase"] == "Ready", final.get("message")
    assert len(steps) >= 2, "resources that wait on observed values come in later phases"


def test_no_phase_drops_what_an_earlier_one_composed(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    _, steps = lifecycle
    for before, after in itertools.pairwise(steps):
        lost = set(_crns(before.resources)) - set(_crns(after.resources))
        assert not lost, f"dropped: {sorted(lost)}"


def test_full_example_composes_everything_the_claim_asks_for() -> None:
    final = phases(load("app-full.yaml", "v2"))[-1].resources
    kinds: dict[str, int] = {}
    for r in final:
        kind = r["kind"] if r["kind"] != "Object" else r["spec"]["forProvider"]["manifest"]["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
    envs, prod_clusters, clusters = 2, 2, 3
    assert kinds["Repository"] == 2  # GitHub and ECR
    assert kinds["BranchProtection"] == 1
    assert kinds["ActionsVariable"] == 5
    assert kinds["LifecyclePolicy"] == 1
    assert kinds["RepositoryPolicy"] == 1  # the prod and dev clusters' accounts may pull
    assert kinds["Instance"] == envs
    assert kinds["Bucket"] == envs
    assert kinds["Queue"] == 2 * envs  # and their dead-letter queues
    assert kinds["ReplicationGroup"] == envs
    assert kinds["UserGroup"] == envs
    assert kinds["SecurityGroup"] == envs
    assert kinds["SubnetGroup"] == 2 * envs  # RDS and ElastiCache, in each environment's account
    assert kinds["PodIdentityAssociation"] == clusters
    for k in ("Application", "ServiceAccount", "ConfigMap", "SecretStore", "ExternalSecret"):
        assert kinds[k] == clusters, k
    assert kinds["ServiceMonitor"] == kinds["PrometheusRule"] == clusters
    assert kinds["Usage"] == 2  # the prod database and the prod bucket
    apps = manifests(final, "Application")
    assert sum("prod" in a["metadata"]["name"] for a in apps) == prod_clusters
    (pull,) = of_kind(final, "RepositoryPolicy")
    (statement,) = json.loads(pull["spec"]["forProvider"]["policy"])["Statement"]
    assert statement["Principal"]["AWS"] == [
        "arn:aws:iam::222222222222:root",  # the dev cluster's account
        "arn:aws:iam::444444444444:root",  # both prod clusters' account
    ]


# --- IAM ----------------------------------------------------------------------------------------


def _policies(resources: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for r in resources:
        fp = r["spec"].get("forProvider", {})
        for key in ("assumeRolePolicy", "policy"):
            if isinstance(fp.get(key), str) and fp[key].startswith("{"):
                doc = json.loads(fp[key])
                if "Statement" in doc:
                    out.append((f"{r['metadata']['name']}.{key}", doc))
        for inline in fp.get("inlinePolicy", []):
            out.append((f"{r['metadata']['name']}.{inline['name']}", json.loads(inline["policy"])))
    return out


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_no_policy_has_a_wildcard_beyond_what_the_service_requires(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    _, steps = lifecycle
    docs = _policies(steps[-1].resources)
    assert docs
    for where, doc in docs:
        for s in doc["Statement"]:
            if s["Effect"] != "Allow":
                continue
            for action in _listed(s.get("Action", [])):
                assert "*" not in action, f"{where}: wildcard action {action}"
            principal = s.get("Principal") or {}
            assert principal != "*", f"{where}: anyone may assume"
            assert "*" not in _listed(principal.get("AWS", [])), f"{where}: anyone may assume"
            for resource in _listed(s.get("Resource", [])):
                if resource == "*":
                    # ECR's token call has no resource-level permission: AWS requires "*".
                    assert _listed(s["Action"]) == ["ecr:GetAuthorizationToken"], where
                elif "*" in resource:
                    # Object-level S3 actions: the objects of one named bucket, nothing wider.
                    assert resource.startswith("arn:aws:s3:::"), where
                    assert resource.endswith("/*"), where
                    assert "*" not in resource[:-2], where


def test_workload_policy_names_only_this_apps_resources() -> None:
    claim = load("app-full.yaml", "v2")
    final = phases(claim)[-1].resources
    role = next(r for r in final if r["metadata"]["annotations"][CRN] == "workload-role")
    doc = json.loads(role["spec"]["forProvider"]["inlinePolicy"][0]["policy"])
    secrets = {
        i["status"]["atProvider"]["masterUserSecret"][0]["secretArn"]
        for i in observe(of_kind(final, "Instance"))
    }
    for s in doc["Statement"]:
        for resource in _listed(s["Resource"]):
            assert "search-api" in resource or resource in secrets, resource
    actions = {a for s in doc["Statement"] for a in _listed(s["Action"])}
    assert "secretsmanager:GetSecretValue" in actions
    assert "elasticache:Connect" in actions


def test_ci_role_is_assumable_only_by_this_repository() -> None:
    final = phases(load("app-full.yaml", "v2"))[-1].resources
    role = next(r for r in final if r["metadata"]["annotations"][CRN] == "ci-role")
    trust = json.loads(role["spec"]["forProvider"]["assumeRolePolicy"])
    (s,) = trust["Statement"]
    assert s["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert s["Principal"]["Federated"].endswith(
        ":oidc-provider/token.actions.githubusercontent.com"
    )
    subjects = s["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"]
    assert subjects == [
        "repo:example-org/search-api:ref:refs/heads/main",
        "repo:example-org/search-api:ref:refs/heads/deploy",
    ]


# --- data safety and credentials ----------------------------------------------------------------


def test_prod_data_is_kept_when_the_claim_goes(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    _claim, steps = lifecycle
    final = steps[-1].resources
    usages = {
        u["spec"]["of"]["resourceRef"]["name"]
        for u in final
        if u["kind"] in ("Usage", "ClusterUsage")
    }
    for r in final:
        if r["kind"] not in ("Instance", "Bucket"):
            continue
        prod = r["metadata"]["labels"].get("plinth.dev/environment") == "prod"
        spec = r["spec"]
        orphaned = spec.get("deletionPolicy") == "Orphan" or (
            "managementPolicies" in spec
            and "Delete" not in spec["managementPolicies"]
            and "*" not in spec["managementPolicies"]
        )
        assert orphaned == prod, r["metadata"]["name"]
        assert (r["metadata"]["name"] in usages) == prod
        if r["kind"] == "Instance":
            fp = spec["forProvider"]
            assert fp["deletionProtection"] == prod
            assert fp["skipFinalSnapshot"] == (not prod)
            assert fp["storageEncrypted"]
            assert fp["manageMasterUserPassword"]
            assert not fp["publiclyAccessible"]
            assert "passwordSecretRef" not in fp


def test_credentials_come_only_from_secrets_manager(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    _, steps = lifecycle
    for step in steps:
        for r in step.resources:
            assert r["kind"] != "Secret"
            if r["kind"] == "Object":
                assert r["spec"]["forProvider"]["manifest"]["kind"] != "Secret"
            text = json.dumps(r)
            assert "passwordSecretRef" not in text
            assert "authTokenSecretRef" not in text
            assert "writeConnectionSecretToRef" not in text
    final = steps[-1].resources
    for es in manifests(final, "ExternalSecret"):
        for item in es["spec"]["data"]:
            assert item["remoteRef"]["key"].startswith("arn:aws:secretsmanager:")
    for store in manifests(final, "SecretStore"):
        assert store["spec"]["provider"]["aws"]["role"].endswith("-workload")


def test_configmap_and_secret_keys_are_the_documented_contract() -> None:
    final = phases(load("app-full.yaml", "v2"))[-1].resources
    cm = next(m for m in manifests(final, "ConfigMap") if "prod" in json.dumps(m))
    keys = set(cm["data"])
    assert {
        "PLINTH_APP",
        "PLINTH_ENVIRONMENT",
        "AWS_REGION",
        "DB_CATALOG_HOST",
        "DB_CATALOG_PORT",
        "DB_CATALOG_NAME",
        "DB_CATALOG_ENGINE",
        "BUCKET_SNAPSHOTS_NAME",
        "BUCKET_SNAPSHOTS_REGION",
        "QUEUE_REINDEX_URL",
        "QUEUE_REINDEX_ARN",
        "QUEUE_REINDEX_DLQ_URL",
        "CACHE_SESSIONS_HOST",
        "CACHE_SESSIONS_PORT",
        "CACHE_SESSIONS_USER",
        "CACHE_SESSIONS_TLS",
    } == keys
    es = manifests(final, "ExternalSecret")[0]
    assert {d["secretKey"] for d in es["spec"]["data"]} == {
        "DB_CATALOG_USERNAME",
        "DB_CATALOG_PASSWORD",
    }
    docs = (Path(__file__).parents[1] / "docs" / "app.md").read_text()
    for key in keys | {"DB_<NAME>_USERNAME", "DB_<NAME>_PASSWORD"}:
        generic = key
        for name, prefix in (
            ("CATALOG", "DB_"),
            ("SNAPSHOTS", "BUCKET_"),
            ("REINDEX", "QUEUE_"),
            ("SESSIONS", "CACHE_"),
        ):
            generic = generic.replace(f"{prefix}{name}_", f"{prefix}<NAME>_")
        assert f"`{generic}`" in docs, f"docs/app.md does not document {generic}"


def test_dev_and_prod_data_are_separate_and_admit_only_their_clusters() -> None:
    final = phases(load("app-full.yaml", "v2"))[-1].resources
    rules = of_kind(final, "SecurityGroupIngressRule")
    platform = {
        c["name"]: c
        for c in next(iter(read_path(str(EXAMPLES / "platform.yaml")))).body["data"]["clusters"]
    }
    for rule in rules:
        env = rule["metadata"]["labels"]["plinth.dev/environment"]
        cidr = rule["spec"]["forProvider"]["cidrIpv4"]
        assert any(c["vpcCidr"] == cidr and c["environment"] == env for c in platform.values())
    instances = of_kind(final, "Instance")
    assert len({i["spec"]["forProvider"]["vpcSecurityGroupIds"][0] for i in instances}) == 2


# --- delivery -----------------------------------------------------------------------------------


def test_applications_stay_in_the_tenants_project_and_namespaces(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    claim, steps = lifecycle
    tenant = tenant_for(claim)[0]
    team = tenant["spec"]["team"]
    final = steps[-1].resources
    apps = manifests(final, "Application")
    assert apps
    for app in apps:
        spec = app["spec"]
        assert spec["project"] == team
        assert spec["destination"]["namespace"].startswith(team)
        repo = spec["source"]["repoURL"]
        name = repo.rsplit("/", 1)[1].removesuffix(".git")
        allowed = tenant["spec"].get("repositories") or [team]
        assert name in allowed or (
            not tenant["spec"].get("repositories") and name.startswith(f"{team}-")
        )
        prod = app["metadata"]["labels"]["plinth.dev/environment"] == "prod"
        assert ("automated" in spec["syncPolicy"]) == (not prod)
        values = spec["source"]["helm"]["valuesObject"]
        assert values["image"]["repository"].endswith(".amazonaws.com/" + name)
        assert "tag" not in values["image"], "the image tag is CI's, on the deploy branch"


def test_helm_values_follow_the_service_templates_contract(
    lifecycle: tuple[dict[str, Any], list[Rendered]],
) -> None:
    _, steps = lifecycle
    template = Path(__file__).parents[1] / "templates" / "service" / "chart" / "values.yaml"
    if not template.is_file():
        pytest.fail("templates/service/chart/values.yaml is missing")
    import yaml

    defaults = yaml.safe_load(template.read_text())
    for app in manifests(steps[-1].resources, "Application"):
        values = app["spec"]["source"]["helm"]["valuesObject"]
        assert _shape(values) == _shape(defaults, drop={("image", "tag")})


def _shape(
    values: dict[str, Any], prefix: tuple[str, ...] = (), drop: set[tuple[str, ...]] | None = None
) -> set[tuple[str, ...]]:
    out = set()
    for k, v in values.items():
        path = (*prefix, k)
        if drop and path in drop:
            continue
        if isinstance(v, dict) and k != "resources":
            out |= _shape(v, path, drop)
        else:
            out.add(path)
    return out


# --- the tenant as a required resource ----------------------------------------------------------


def test_a_missing_tenant_is_a_clear_wait_not_a_crash() -> None:
    claim = load("app-full.yaml", "v2")
    r = render_app(claim, extra=[])
    assert not r.fatal
    status = r.composite["status"]
    assert status["phase"] == "WaitingForTenant"
    assert "TenantClaim 'search' in namespace 'search'" in status["message"]
    assert "does not exist yet" in status["message"]
    # The repository needs no tenant; nothing of the cloud or the cluster is guessed.
    assert {r["kind"] for r in r.resources} <= {"Repository", "BranchProtection", "ActionsVariable"}


def test_a_tenant_that_is_not_ready_gets_no_in_cluster_objects() -> None:
    claim = load("app-full.yaml", "v2")
    r = render_app(claim, extra=tenant_for(claim, ready=False))
    status = r.composite["status"]
    assert status["phase"] == "WaitingForTenant"
    assert "TenantClaim 'search' in namespace 'search' to make namespace" in status["message"]
    assert not [x for x in r.resources if x["kind"] == "Object"]
    assert of_kind(r.resources, "Bucket"), "AWS resources need only the account"


def _placements(resources: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(cluster, namespace) the app put objects into."""
    clusters = {c.kubernetes_provider_config: c.name for c in example_platform().clusters}
    out = set()
    for r in resources:
        if r["kind"] != "Object":
            continue
        pc = r["spec"]["providerConfigRef"]["name"]
        ns = r["spec"]["forProvider"]["manifest"]["metadata"].get("namespace")
        if pc in clusters and ns:
            out.add((clusters[pc], ns))
    return out


def _tenant_reporting(
    claim: dict[str, Any], ready: set[tuple[str, str]], every: set[tuple[str, str]]
) -> list[dict[str, Any]]:
    extra = tenant_for(claim, ready=False)
    extra[0]["status"]["namespaces"] = [
        {
            "environment": "dev",
            "cluster": c,
            "region": "us-east-1",
            "namespace": ns,
            "ready": (c, ns) in ready,
        }
        for c, ns in sorted(every)
    ]
    return extra


def test_an_app_delivers_into_the_namespaces_its_tenant_reports_ready() -> None:
    """The tenant is not Ready (its people's IAM roles are on their way), but it reports some of
    the app's namespaces isolated and bound: the app delivers into those, and only those."""
    claim = load("app-full.yaml", "v2")
    every = _placements(render_app(claim).resources)
    assert len(every) > 1
    first = min(every)
    r = render_app(claim, extra=_tenant_reporting(claim, {first}, every))
    assert not r.fatal
    assert _placements(r.resources) == {first}
    status = r.composite["status"]
    assert status["phase"] == "WaitingForTenant"
    waiting = sorted(every - {first})[0]
    assert f"namespace {waiting[1]!r} on cluster {waiting[0]} ready" in status["message"]
    # All of them ready: everything the Ready tenant gets, though the tenant is not Ready.
    r = render_app(claim, extra=_tenant_reporting(claim, every, every))
    assert _placements(r.resources) == every
    assert r.composite["status"]["phase"] != "WaitingForTenant"


@pytest.mark.parametrize(
    "namespaces",
    [
        "ready",
        [None, 3, "x"],
        [{"cluster": "eks-dev-use1", "namespace": "search-api", "ready": "true"}],
        [{"cluster": ["eks-dev-use1"], "namespace": "search-api", "ready": True}],
    ],
)
def test_a_malformed_tenant_status_delivers_nothing(namespaces: Any) -> None:
    claim = load("app-full.yaml", "v2")
    extra = tenant_for(claim, ready=False)
    extra[0]["status"]["namespaces"] = namespaces
    r = render_app(claim, extra=extra)
    assert not r.fatal
    assert not _placements(r.resources)
    assert r.composite["status"]["phase"] == "WaitingForTenant"


def test_a_tenant_in_another_namespace_is_refused_even_if_handed_over() -> None:
    from plinth.api.app import AppSpec
    from plinth.api.catalog import APP
    from plinth.compose.app import compose
    from plinth.core.composition import Observed, Required
    from plinth.core.tenancy import Refused

    claim = load("app-full.yaml", "v2")
    foreign = tenant_for(claim)
    foreign[0]["metadata"]["namespace"] = "elsewhere"
    c = make_claim(APP, "api", "search")
    with pytest.raises(Refused, match="handed over from namespace 'elsewhere'"):
        compose(
            c, AppSpec.model_validate(claim["spec"]), Observed.of({}), Required({"tenant": foreign})
        )


def test_an_account_claim_tenant_gives_region_network_and_provider_config() -> None:
    claim = load("app.yaml", "v2")
    claim = copy.deepcopy(claim)
    claim["spec"]["databases"] = [{"name": "main"}]
    final = phases(claim)[-1].resources
    (db,) = of_kind(final, "Instance")
    assert db["spec"]["providerConfigRef"] == {"kind": "ProviderConfig", "name": "payments-dev"}
    (group,) = [g for g in of_kind(final, "SubnetGroup") if "rds" in g["apiVersion"]]
    assert group["spec"]["forProvider"]["subnetIds"] == [
        "subnet-0123456789abcdef1",
        "subnet-0123456789abcdef2",
    ]


# --- nothing dropped or renamed -------------------------------------------------------------------


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    envs = draw(st.lists(st.sampled_from(["dev", "prod"]), min_size=1, max_size=2, unique=True))
    spec: dict[str, Any] = {"tenant": "search", "environments": [{"name": e} for e in envs]}
    names = st.lists(st.sampled_from(["a", "b"]), max_size=2, unique=True)
    spec["databases"] = [{"name": n} for n in draw(names)]
    spec["buckets"] = [{"name": n} for n in draw(names)]
    spec["queues"] = [{"name": n, "deadLetterQueue": draw(st.booleans())} for n in draw(names)]
    spec["caches"] = [{"name": n} for n in draw(names)]
    spec["network"] = {
        "vpcId": "vpc-0a1b2c3d4e5f60718",
        "subnetIds": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
    }
    return spec


def _claim_of(spec: dict[str, Any], flavor: str) -> dict[str, Any]:
    group = "platform.plinth.dev" if flavor == "v2" else "claims.plinth.dev"
    return {
        "apiVersion": f"{group}/v1alpha1",
        "kind": "AppClaim",
        "metadata": {"name": "api", "namespace": "search"},
        "spec": spec,
    }


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=specs(), after=specs(), flavor=st.sampled_from(["v2", "legacy"]), data=st.data())
def test_nothing_is_dropped_or_renamed(before, after, flavor, data) -> None:  # type: ignore[no-untyped-def]
    # The edit is made on purpose: refusing one that would delete prod is test_protection's.
    old, new = _claim_of(before, flavor), _claim_of({**after, "deletionProtection": False}, flavor)
    previous = observe(phases(old)[-1].resources)
    observed = data.draw(
        st.lists(st.sampled_from(previous), unique_by=lambda r: r["metadata"]["name"])
    )
    rendered = render_app(new, observed)
    assert not rendered.fatal, rendered.results
    desired = _crns(rendered.resources)
    full_new = _crns(phases(new)[-1].resources)
    kept = {c: n for c, n in _crns(observed).items() if c in full_new}
    # What the new spec still implies and was observed is desired again, under the same name.
    assert not set(kept) - set(desired), f"dropped: {sorted(set(kept) - set(desired))}"
    assert all(desired[c] == kept[c] for c in kept), "a resource was renamed"
    full_old = _crns(previous)
    assert all(full_new[c] == full_old[c] for c in set(full_new) & set(full_old))


def test_examples_exist_in_both_flavors() -> None:
    for name in EXAMPLE_FILES:
        for d in FLAVOR_DIRS.values():
            assert (d / name).is_file()


def test_docs_field_table_matches_the_model() -> None:
    from conftest import REPO
    from plinth.api.app import AppSpec
    from plinth.generators.reference import field_table

    text = (REPO / "docs" / "app.md").read_text()
    assert field_table(AppSpec, "spec") in text, "docs/app.md is stale: regenerate its table"


def test_a_tenant_as_the_api_server_returns_it_is_understood() -> None:
    """A real API server hands over the TenantClaim with what Crossplane added to its spec
    (`spec.crossplane` in v2, `compositionRef` and friends in legacy)."""
    claim = load("app.yaml", "v2")
    required = tenant_for(claim)
    required[0]["spec"]["crossplane"] = {
        "compositionRef": {"name": "tenantclaims.platform.plinth.dev"},
        "resourceRefs": [],
    }
    required[0]["spec"]["compositionUpdatePolicy"] = "Automatic"
    required[0]["spec"]["resourceRef"] = {"kind": "XTenant", "name": "payments-x1y2z"}
    final = phases(claim, extra=required)[-1]
    assert final.composite["status"]["phase"] == "Ready", final.composite["status"]


@pytest.mark.parametrize(("flavor", "name"), CASES, ids=IDS)
def test_the_chart_runs_what_each_example_application_passes(
    validator: Validator, flavor: str, name: str
) -> None:
    """The real Helm renders the service template with each Application's valuesObject: valid
    for Kubernetes, admitted under the tenant's Pod Security level, and the values are used."""
    from helm import WORKFLOW_VARIABLES, pod_security_violations, render_chart

    claim = load(name, flavor)
    final = phases(claim)[-1].resources
    tenant = tenant_for(claim)[0]
    level = tenant["spec"].get("podSecurity", "restricted")
    apps = manifests(final, "Application")
    assert apps
    for app in apps:
        values = app["spec"]["source"]["helm"]["valuesObject"]
        namespace = app["spec"]["destination"]["namespace"]
        docs = render_chart(values, release=values["app"], namespace=namespace)
        where = app["metadata"]["name"]
        assert_valid(validator, docs, where)
        assert_unique_names(docs)
        assert pod_security_violations(docs, level) == [], where
        (deploy,) = [d for d in docs if d["kind"] == "Deployment"]
        pod = deploy["spec"]["template"]["spec"]
        assert pod["serviceAccountName"] == values["serviceAccountName"]
        assert pod["containers"][0]["image"].startswith(values["image"]["repository"] + ":")
    variables = {
        v["spec"]["forProvider"]["variableName"] for v in of_kind(final, "ActionsVariable")
    }
    assert variables == set(WORKFLOW_VARIABLES)
