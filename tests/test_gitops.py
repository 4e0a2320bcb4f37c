"""gitops/: schema-valid Argo CD objects, install order, claim-repo isolation, tracking metadata."""

from __future__ import annotations

import copy
import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, REPO, assert_valid, claim_docs, render_claim
from plinth.api.catalog import find_claim_api
from plinth.cli import main
from plinth.generators.gitops import (
    CLAIMS_ACCESS_PROJECT,
    CLAIMS_CLUSTER_ROLE,
    CLAIMS_PROJECT,
    CLAIMS_SERVICE_ACCOUNT,
    PLATFORM_PROJECT,
    TEAM_ACCESS_PATH,
    claims_access_application_set,
    claims_access_project,
    claims_access_rbac,
    claims_application_set,
    claims_cluster_role,
    claims_project,
    platform_application,
    render_application_set,
    team_access_manifests,
)
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

GITOPS = REPO / "gitops"
CLAIM_REPO = EXAMPLES / "claim-repo"
# Not Kubernetes objects: Helm values, Argo CD's health test index, a GitHub workflow.
NOT_OBJECTS = {
    GITOPS / "health" / "values.yaml",
    GITOPS / "health" / "health_test.yaml",
    GITOPS / "ci" / "validate-claims.yaml",
}
GITOPS_FILES = sorted(
    p
    for p in GITOPS.rglob("*.yaml")
    # Backstage templates are checked against Backstage's schema in test_backstage.py.
    if p not in NOT_OBJECTS and "backstage" not in p.parts
)


@pytest.mark.parametrize("path", GITOPS_FILES, ids=lambda p: str(p.relative_to(GITOPS)))
def test_everything_under_gitops_is_schema_valid(validator: Validator, path: Path) -> None:
    docs = [d.body for d in read_path(str(path))]
    assert docs
    assert_valid(validator, docs, str(path))


def test_argo_cd_objects_are_validated_against_the_argo_cd_crds(validator: Validator) -> None:
    kinds = {
        d.kind
        for p in GITOPS_FILES
        for d in read_path(str(p))
        if d.api_version.startswith("argoproj.io/")
    }
    assert kinds == {"Application", "ApplicationSet", "AppProject"}
    for kind in kinds:
        assert validator.crds.get("argoproj.io/v1alpha1", kind) is not None


# --- install order ---------------------------------------------------------------------------

PLATFORM = GITOPS / "platform" / "manifests"
CORE_GROUPS = {"pkg.crossplane.io", "apiextensions.crossplane.io", ""}


def _platform_docs() -> list[dict[str, Any]]:
    return [d.body for p in sorted(PLATFORM.glob("*.yaml")) for d in read_path(str(p))]


def _wave(body: dict[str, Any]) -> int:
    return int(body["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])


def test_install_waves_packages_then_provider_configs_then_apis() -> None:
    by_kind: dict[str, set[int]] = {}
    for body in _platform_docs():
        by_kind.setdefault(body["kind"], set()).add(_wave(body))
    assert max(by_kind["Provider"] | by_kind["Function"]) < min(by_kind["ClusterProviderConfig"])
    assert max(by_kind["ClusterProviderConfig"]) < min(by_kind["Configuration"])
    assert max(by_kind["Configuration"]) < _wave(
        next(d.body for d in read_path(str(PLATFORM / "30-platform.yaml")))
    )


def test_kinds_whose_crd_comes_from_an_earlier_wave_skip_the_dry_run() -> None:
    for body in _platform_docs():
        group = body["apiVersion"].rpartition("/")[0]
        options = body["metadata"]["annotations"].get("argocd.argoproj.io/sync-options", "")
        if group not in CORE_GROUPS:
            assert "SkipDryRunOnMissingResource=true" in options, body["metadata"]["name"]


def test_platform_application_retries_with_backoff() -> None:
    app = next(
        d.body
        for d in read_path(str(GITOPS / "platform" / "application.yaml"))
        if d.kind == "Application"
    )
    retry = app["spec"]["syncPolicy"]["retry"]
    assert retry["limit"] >= 5
    assert retry["backoff"]["factor"] > 1


def test_platform_wave_carries_a_valid_platform_config(validator: Validator) -> None:
    env = [d.body for d in read_path(str(PLATFORM / "30-platform.yaml"))]
    assert [b["kind"] for b in env] == ["EnvironmentConfig"]
    assert_valid(validator, env, "30-platform.yaml")


def test_every_provider_the_configuration_depends_on_is_installed() -> None:
    from plinth.api.flavor import Flavor
    from plinth.generators.crossplane import configuration_meta

    installed = {
        b["spec"]["package"].rsplit(":", 1)[0]
        for b in _platform_docs()
        if b["kind"] in ("Provider", "Function")
    }
    for dep in configuration_meta(Flavor.V2)["spec"]["dependsOn"]:
        assert dep.get("provider", dep.get("function")) in installed


# --- claim repositories ----------------------------------------------------------------------

TEAMS = sorted(p for p in (CLAIM_REPO / "teams").iterdir() if p.is_dir())


def _apps() -> list[dict[str, Any]]:
    appset = next(d.body for d in read_path(str(GITOPS / "claims" / "applicationset.yaml")))
    assert appset == claims_application_set()
    return render_application_set(appset, [str(t.relative_to(CLAIM_REPO)) for t in TEAMS])


def _cluster_scoped(body: dict[str, Any]) -> bool:
    claim = find_claim_api(body["apiVersion"], body["kind"])
    if claim is not None:
        return body["kind"] == claim[0].legacy_xr_kind  # legacy XRs are cluster-scoped
    return body["kind"] in {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "Composition",
        "CompositeResourceDefinition",
        "Provider",
        "EnvironmentConfig",
    }


def admitted(app: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether Argo CD (project rules) and Kubernetes (the impersonated account's RBAC) let the
    Application sync this object, as the AppProject and ClusterRole in gitops/claims/ say."""
    project = claims_project()["spec"]
    assert app["spec"]["project"] == CLAIMS_PROJECT
    group = body["apiVersion"].rpartition("/")[0]
    if _cluster_scoped(body):
        whitelist = project["clusterResourceWhitelist"]
    else:
        whitelist = project["namespaceResourceWhitelist"]
    if not any(w["group"] == group and w["kind"] == body["kind"] for w in whitelist):
        return False
    dest_ns = app["spec"]["destination"]["namespace"]
    ns = body["metadata"].get("namespace", dest_ns)
    denied = {d["namespace"][1:] for d in project["destinations"] if d["namespace"].startswith("!")}
    if any(ns == d or (d.endswith("*") and ns.startswith(d[:-1])) for d in denied):
        return False
    # Sync runs as <destination namespace>:plinth-claims, bound to the ClusterRole there only.
    sa = project["destinationServiceAccounts"][0]
    assert sa["namespace"] == "*"
    assert sa["defaultServiceAccount"] == CLAIMS_SERVICE_ACCOUNT
    role = claims_cluster_role()["rules"][0]
    plural = body["kind"].lower() + "s"
    return ns == dest_ns and group in role["apiGroups"] and plural in role["resources"]


def test_one_application_per_team_syncing_its_directory_into_its_namespace() -> None:
    apps = _apps()
    assert [a["metadata"]["name"] for a in apps] == [f"claims-{t.name}" for t in TEAMS]
    for app, team in zip(apps, TEAMS, strict=True):
        assert app["spec"]["destination"]["namespace"] == team.name
        assert app["spec"]["source"]["path"] == f"teams/{team.name}"
        assert "SkipDryRunOnMissingResource=true" in app["spec"]["syncPolicy"]["syncOptions"]


def test_rendered_applications_are_valid(validator: Validator) -> None:
    assert_valid(validator, _apps(), "rendered ApplicationSet")


def test_every_claim_in_the_claim_repo_is_admitted() -> None:
    for app, team in zip(_apps(), TEAMS, strict=True):
        for path in team.glob("*.yaml"):
            for doc in read_path(str(path)):
                assert admitted(app, doc.body), path


def _foreign(team: str, other: str) -> list[tuple[str, dict[str, Any]]]:
    claim = {
        "apiVersion": "platform.plinth.dev/v1alpha1",
        "kind": "AppClaim",
        "metadata": {"name": "x"},
        "spec": {},
    }
    return [
        ("a ConfigMap", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}),
        ("a Namespace", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}),
        (
            "a Composition",
            {
                "apiVersion": "apiextensions.crossplane.io/v1",
                "kind": "Composition",
                "metadata": {"name": "x"},
            },
        ),
        (
            "a legacy composite",
            {"apiVersion": "claims.plinth.dev/v1alpha1", "kind": "XApp", "metadata": {"name": "x"}},
        ),
        (
            "a managed resource",
            {
                "apiVersion": "s3.aws.m.upbound.io/v1beta1",
                "kind": "Bucket",
                "metadata": {"name": "x"},
            },
        ),
        (
            "an Argo CD Application",
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "x"},
            },
        ),
        (
            "a claim in another team's namespace",
            {**claim, "metadata": {"name": "x", "namespace": other}},
        ),
        ("a claim in argocd", {**claim, "metadata": {"name": "x", "namespace": "argocd"}}),
        (
            "a claim in kube-system",
            {**claim, "metadata": {"name": "x", "namespace": "kube-system"}},
        ),
    ]


@pytest.mark.parametrize("what", [w for w, _ in _foreign("a", "b")])
def test_a_team_directory_cannot_create_anything_else(what: str) -> None:
    apps = _apps()
    for app in apps:
        team = app["spec"]["destination"]["namespace"]
        other = next(a["spec"]["destination"]["namespace"] for a in apps if a is not app)
        body = dict(_foreign(team, other))[what]
        assert not admitted(app, body), f"{team}: {what} admitted"


def test_project_admits_only_plinth_claim_kinds_and_nothing_cluster_scoped() -> None:
    spec = claims_project()["spec"]
    assert spec["clusterResourceWhitelist"] == []
    assert {w["group"] for w in spec["namespaceResourceWhitelist"]} == {
        "platform.plinth.dev",
        "claims.plinth.dev",
    }
    assert {w["kind"] for w in spec["namespaceResourceWhitelist"]} == {
        "AccountClaim",
        "TenantClaim",
        "AppClaim",
    }
    assert "*" not in json.dumps(spec["namespaceResourceWhitelist"])
    assert claims_cluster_role()["metadata"]["name"] == CLAIMS_CLUSTER_ROLE


def test_plinth_validate_accepts_the_claim_repo() -> None:
    result = CliRunner().invoke(
        main, ["validate", "--crds", str(CLAIM_REPO), str(CLAIM_REPO / "teams")]
    )
    assert result.exit_code == 0, result.output
    assert "5 document(s)" in result.output


def test_plinth_validate_names_file_field_and_reason(tmp_path: Path) -> None:
    bad = tmp_path / "teams" / "payments" / "app-checkout.yaml"
    bad.parent.mkdir(parents=True)
    text = (CLAIM_REPO / "teams" / "payments" / "app-checkout.yaml").read_text()
    bad.write_text(text.replace("name: dev", "name: qa"))
    result = CliRunner().invoke(
        main, ["validate", "--crds", str(tmp_path), str(tmp_path / "teams")]
    )
    assert result.exit_code == 1
    assert str(bad) in result.output
    assert "spec.environments[0].name" in result.output
    assert "'qa'" in result.output


# --- Argo CD tracking metadata ---------------------------------------------------------------

TRACKING_ID = "claims-payments:platform.plinth.dev/AppClaim:payments/checkout-tracking"
INSTANCE = "claims-argo-instance"


def _example_claims() -> list[tuple[str, dict[str, Any], list[dict[str, Any]]]]:
    """(id, claim, tenants beside it): examples/ and the claim repo with Argo CD's namespace."""
    out = []
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        if "observed" in str(path):
            continue
        in_repo = "claim-repo" in path.parts
        for doc in claim_docs(path):
            tenants = [d.body for d in read_path(str(path.parent)) if d.kind == "TenantClaim"]
            claim = copy.deepcopy(doc.body)
            if in_repo:  # Argo CD sets the destination namespace on namespace-less claims
                claim["metadata"]["namespace"] = path.parent.name
                tenants = [
                    {**t, "metadata": {**t["metadata"], "namespace": path.parent.name}}
                    for t in tenants
                ]
            out.append((str(path.relative_to(EXAMPLES)), claim, tenants))
    return out


EXAMPLE_CLAIMS = _example_claims()


@pytest.mark.parametrize(
    ("source", "claim", "tenants"), EXAMPLE_CLAIMS, ids=[c[0] for c in EXAMPLE_CLAIMS]
)
def test_argo_cd_tracking_metadata_never_reaches_composed_resources(
    validator: Validator, source: str, claim: dict[str, Any], tenants: list[dict[str, Any]]
) -> None:
    meta = claim["metadata"]
    meta.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = TRACKING_ID
    meta.setdefault("labels", {})["app.kubernetes.io/instance"] = INSTANCE
    rendered = render_claim(claim, extra=tenants)
    assert not rendered.fatal, rendered.fatal
    assert rendered.resources, "an example must compose something"
    for body in rendered.resources:
        text = json.dumps(body)
        assert TRACKING_ID not in text, f"{source}: tracking id copied onto {body['kind']}"
        assert INSTANCE not in text, f"{source}: instance label copied onto {body['kind']}"
        assert "argocd.argoproj.io/tracking-id" not in text
    assert_valid(validator, rendered.resources, f"{source} rendered")


# --- impersonation and per-team access ---------------------------------------------------------


def _projects() -> list[dict[str, Any]]:
    return [d.body for p in GITOPS_FILES for d in read_path(str(p)) if d.kind == "AppProject"]


def test_every_project_names_whom_argo_cd_syncs_as() -> None:
    # argocd-cm enables impersonation and Argo CD v3.5 enforces it by default: a project
    # without a service account matching its destination cannot sync at all.
    assert {p["metadata"]["name"] for p in _projects()} == {
        PLATFORM_PROJECT,
        CLAIMS_PROJECT,
        CLAIMS_ACCESS_PROJECT,
    }
    for project in _projects():
        accounts = project["spec"]["destinationServiceAccounts"]
        for dest in project["spec"]["destinations"]:
            if dest["namespace"].startswith("!"):
                continue
            assert any(
                a["server"] == dest["server"] and fnmatch.fnmatch(dest["namespace"], a["namespace"])
                for a in accounts
            ), (project["metadata"]["name"], dest)
        for a in accounts:
            assert not set(a["defaultServiceAccount"]) & set("!*[]{}\\/"), a


def test_failed_syncs_are_retried_with_the_latest_commit() -> None:
    appsets = [claims_application_set(), claims_access_application_set()]
    for spec in [a["spec"]["template"]["spec"] for a in appsets] + [platform_application()["spec"]]:
        assert spec["syncPolicy"]["retry"]["refresh"] is True


def _rbac_docs(path: str) -> list[dict[str, Any]]:
    return [d.body for d in read_path(str(GITOPS / path))]


def test_the_platform_syncs_as_an_account_that_can_write_exactly_its_kinds() -> None:
    docs = {d["kind"]: d for d in _rbac_docs("platform/application.yaml")}
    project = docs["AppProject"]["spec"]
    (dsa,) = project["destinationServiceAccounts"]
    ns, name = dsa["defaultServiceAccount"].split(":")
    assert (
        docs["ServiceAccount"]["metadata"]["namespace"],
        docs["ServiceAccount"]["metadata"]["name"],
    ) == (ns, name)
    binding = docs["ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": ns}]
    assert binding["roleRef"]["name"] == docs["ClusterRole"]["metadata"]["name"]
    granted = {
        (g, r)
        for rule in docs["ClusterRole"]["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
    }
    assert granted == {
        (w["group"], w["kind"].lower() + "s") for w in project["clusterResourceWhitelist"]
    }


def test_each_team_directory_gets_its_namespace_access_from_the_platform_repository() -> None:
    appset = next(
        d.body
        for d in read_path(str(GITOPS / "claims" / "access.yaml"))
        if d.kind == "ApplicationSet"
    )
    assert appset == claims_access_application_set()
    assert appset["spec"]["generators"] == claims_application_set()["spec"]["generators"]
    apps = render_application_set(appset, [str(t.relative_to(CLAIM_REPO)) for t in TEAMS])
    assert [a["metadata"]["name"] for a in apps] == [f"claims-{t.name}-access" for t in TEAMS]
    for app, team in zip(apps, TEAMS, strict=True):
        assert app["spec"]["project"] == CLAIMS_ACCESS_PROJECT
        assert app["spec"]["destination"]["namespace"] == team.name
        assert app["spec"]["source"]["path"] == TEAM_ACCESS_PATH
        assert "CreateNamespace=false" in app["spec"]["syncPolicy"]["syncOptions"]


def test_team_access_is_the_service_account_and_its_binding_in_the_synced_namespace() -> None:
    docs = [
        d.body for p in sorted((REPO / TEAM_ACCESS_PATH).glob("*.yaml")) for d in read_path(str(p))
    ]
    assert docs == team_access_manifests()
    sa, binding = docs
    assert sa["kind"] == "ServiceAccount"
    assert sa["metadata"] == {"name": CLAIMS_SERVICE_ACCOUNT}
    # No namespace anywhere: Argo CD places both in the destination, and RBAC reads a service
    # account subject without one as the RoleBinding's own namespace.
    assert "namespace" not in binding["metadata"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": CLAIMS_CLUSTER_ROLE,
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": CLAIMS_SERVICE_ACCOUNT}]
    project = claims_access_project()["spec"]
    assert {(w["group"], w["kind"]) for w in project["namespaceResourceWhitelist"]} == {
        ("", "ServiceAccount"),
        ("rbac.authorization.k8s.io", "RoleBinding"),
    }
    assert project["clusterResourceWhitelist"] == []
    assert project["destinations"] == claims_project()["spec"]["destinations"]


def test_team_access_can_bind_the_claim_editor_role_and_nothing_else() -> None:
    sa, role, binding = claims_access_rbac()
    rules = role["rules"]
    bind = [r for r in rules if "bind" in r["verbs"] or "escalate" in r["verbs"]]
    assert bind == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "resourceNames": [CLAIMS_CLUSTER_ROLE],
            "verbs": ["bind"],
        }
    ]
    for rule in rules:
        if rule["resources"] == ["namespaces"]:
            assert rule["verbs"] == ["get"]
            continue
        assert set(rule["resources"]) <= {"serviceaccounts", "rolebindings", "clusterroles"}
        # Creation cannot be limited by name; every other verb is.
        if rule["verbs"] != ["create"]:
            assert rule["resourceNames"], rule
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": "argocd"}
    ]
    (dsa,) = claims_access_project()["spec"]["destinationServiceAccounts"]
    assert dsa["defaultServiceAccount"] == f"argocd:{sa['metadata']['name']}"
