"""Pull request previews (compose/app/previews.py): an ApplicationSet with the pull request
generator, an AppProject admitting exactly the preview namespaces, and a Kyverno policy giving
each preview namespace the tenant's quota, limits and network policies (run by the real CLI)."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, assert_valid, render_claim
from kyverno_cli import final_resources, kyverno
from plinth.compose.tenant import network_policies, quotas
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
CRN = "crossplane.io/composition-resource-name"
FOLDERS = {"v2": EXAMPLES, "legacy": EXAMPLES / "legacy"}
PREFIX = "media-web-pr-"


def by_crn(resources: list[Body]) -> dict[str, Body]:
    return {r["metadata"]["annotations"][CRN]: r for r in resources}


def preview_parts(flavor: str = "v2") -> dict[str, Body]:
    res = by_crn(final_resources(FOLDERS[flavor] / "app-previews.yaml"))
    return {
        k: res[k]["spec"]["forProvider"]["manifest"]
        for k in ("previews-applicationset", "previews-appproject", "previews-policy")
    }


def instantiate(template: Body, number: int, sha: str) -> Body:
    """What Argo CD's Go template makes of the ApplicationSet's template for one pull request."""
    text = json.dumps(template).replace("{{.number}}", str(number)).replace("{{.head_sha}}", sha)
    assert "{{" not in text, "only the pull request generator's parameters are used"
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        **json.loads(text),
        "metadata": {**json.loads(text)["metadata"], "namespace": "argocd"},
    }


@pytest.mark.parametrize("flavor", FOLDERS)
def test_application_set_deploys_labelled_pull_requests(validator: Validator, flavor: str) -> None:
    parts = preview_parts(flavor)
    appset = parts["previews-applicationset"]
    assert appset["metadata"] == {
        **appset["metadata"],
        "name": "media-web-previews",
        "namespace": "argocd",
    }
    (generator,) = appset["spec"]["generators"]
    gh = generator["pullRequest"]["github"]
    assert gh == {
        "owner": "example-org",
        "repo": "media-web",
        "labels": ["preview"],
        "tokenRef": {"secretName": "github-pull-requests", "key": "token"},
    }
    app = instantiate(appset["spec"]["template"], 42, "0123abc")
    assert app["metadata"]["name"] == f"{PREFIX}42"
    assert app["spec"]["project"] == "media-web-previews"
    assert app["spec"]["destination"] == {"name": "eks-dev-use1", "namespace": f"{PREFIX}42"}
    assert app["spec"]["source"]["targetRevision"] == "0123abc"
    assert app["spec"]["source"]["repoURL"] == "https://github.com/example-org/media-web.git"
    values = app["spec"]["source"]["helm"]["valuesObject"]
    assert values["image"]["tag"] == "0123abc"
    assert values["serviceAccountName"] == "default", "a preview gets no AWS identity"
    assert values["secretName"] == "", "nor the dev environment's secrets"
    assert values["ingress"]["host"] == "web-pr-42.dev.media.apps.example.com"
    assert "resources-finalizer.argocd.argoproj.io" in app["metadata"]["finalizers"]
    ns_labels = app["spec"]["syncPolicy"]["managedNamespaceMetadata"]["labels"]
    assert ns_labels["plinth.dev/team"] == "media", "the tenant's guardrails select it"
    assert ns_labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert "CreateNamespace=true" in app["spec"]["syncPolicy"]["syncOptions"]
    assert_valid(validator, [appset, app, *parts.values()], f"{flavor} previews")


def test_app_project_admits_exactly_the_preview_namespaces() -> None:
    project = preview_parts()["previews-appproject"]
    spec = project["spec"]
    assert project["metadata"]["name"] == "media-web-previews"
    assert spec["destinations"] == [{"name": "eks-dev-use1", "namespace": f"{PREFIX}*"}]
    assert spec["sourceRepos"] == ["https://github.com/example-org/media-web.git"]
    assert spec["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    blacklisted = {(b["group"], b["kind"]) for b in spec["namespaceResourceBlacklist"]}
    assert {
        ("", "ResourceQuota"),
        ("", "LimitRange"),
        ("networking.k8s.io", "NetworkPolicy"),
    } <= blacklisted
    assert spec["destinationServiceAccounts"] == [
        {"server": "*", "namespace": f"{PREFIX}*", "defaultServiceAccount": "deployer"}
    ]


def _generate(policies: list[Body], namespaces: list[Body], tmp: Path) -> list[Body]:
    (tmp / "policies.yaml").write_text(yaml.safe_dump_all(policies))
    (tmp / "namespaces.yaml").write_text(yaml.safe_dump_all(namespaces))
    out = tmp / "generated"
    r = subprocess.run(
        [
            kyverno(),
            "apply",
            str(tmp / "policies.yaml"),
            "--resource",
            str(tmp / "namespaces.yaml"),
            "--remove-color",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(out.glob("*.yaml")) if out.is_dir() else []
    return [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]


def namespace(name: str, **labels: str) -> Body:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


PREVIEW_LABELS = {"plinth.dev/team": "media", "plinth.dev/app": "web", "plinth.dev/preview": "true"}


def test_each_preview_namespace_gets_the_tenants_quota_and_policies(
    tmp_path: Path, validator: Validator
) -> None:
    policy = preview_parts()["previews-policy"]
    generated = _generate(
        [policy],
        [
            namespace(f"{PREFIX}7", **PREVIEW_LABELS),
            # Another team's namespace of the same shape, another app's, an unlabelled one.
            namespace("other-web-pr-7", **{**PREVIEW_LABELS, "plinth.dev/team": "other"}),
            namespace("media-api-pr-7", **{**PREVIEW_LABELS, "plinth.dev/app": "api"}),
            namespace(f"{PREFIX}8"),
        ],
        tmp_path,
    )
    assert {g["metadata"]["namespace"] for g in generated} == {f"{PREFIX}7"}
    kinds = {(g["kind"], g["metadata"]["name"]) for g in generated}
    tenant = read_path(str(EXAMPLES / "tenant-dedicated.yaml"))[0].body
    expected_netpols = {("NetworkPolicy", network_policies.DENY)} | {
        ("NetworkPolicy", n) for n in ("allow-same-namespace", "allow-dns", "allow-from-ingress")
    }
    assert kinds == {
        ("ResourceQuota", "tenant-quota"),
        ("LimitRange", "tenant-limits"),
        ("ServiceAccount", "deployer"),
        ("RoleBinding", "deployer"),
        ("ConfigMap", "web-config"),
        *expected_netpols,
    }, tenant["spec"].get("egress")
    quota = next(g for g in generated if g["kind"] == "ResourceQuota")
    assert quota["spec"]["hard"] == {
        "requests.cpu": quotas.SIZES[quotas.QuotaSize.SMALL][0],
        "requests.memory": "8Gi",
        "limits.memory": "8Gi",
        "pods": "50",
        "requests.storage": "50Gi",
        "persistentvolumeclaims": "10",
        "services.loadbalancers": "0",
        "services.nodeports": "0",
    }
    binding = next(g for g in generated if g["kind"] == "RoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "deployer", "namespace": f"{PREFIX}7"}
    ]
    assert binding["roleRef"]["name"] == "edit"
    assert_valid(validator, generated, "generated")


def test_previews_wait_for_the_tenant() -> None:
    """As checked in, the tenant is not Ready: nothing of the previews is composed yet."""
    doc = read_path(str(EXAMPLES / "app-previews.yaml"))[0]
    tenant = read_path(str(EXAMPLES / "tenant-dedicated.yaml"))[0].body
    rendered = render_claim(doc.body, extra=[tenant])
    assert not rendered.fatal
    names = set(by_crn(rendered.resources))
    assert not names & {"previews-applicationset", "previews-appproject", "previews-policy"}


def test_previews_need_dev() -> None:
    claim = copy.deepcopy(read_path(str(EXAMPLES / "app-previews.yaml"))[0].body)
    claim["spec"]["environments"] = [{"name": "prod"}]
    rendered = render_claim(
        claim, extra=[read_path(str(EXAMPLES / "tenant-dedicated.yaml"))[0].body]
    )
    assert "previews run in the dev environment" in " ".join(rendered.fatal)


def test_a_name_too_long_for_preview_namespaces_is_refused() -> None:
    claim = copy.deepcopy(read_path(str(EXAMPLES / "app-previews.yaml"))[0].body)
    claim["metadata"]["name"] = "w" * 52
    rendered = render_claim(
        claim, extra=[read_path(str(EXAMPLES / "tenant-dedicated.yaml"))[0].body]
    )
    assert "previews need a shorter app name" in " ".join(rendered.fatal)
    assert not rendered.resources


def test_without_previews_nothing_is_composed() -> None:
    full = set(by_crn(final_resources(EXAMPLES / "app-previews.yaml")))
    plain = set(by_crn(final_resources(EXAMPLES / "app.yaml")))
    assert {"previews-applicationset", "previews-appproject", "previews-policy"} <= full
    assert not {n for n in plain if n.startswith("previews-")}
