"""Tenant guardrails and dedicated-pool placement, evaluated by the real Kyverno CLI.

The policies are what Plinth composes for examples/tenant-dedicated.yaml (team media, a
dedicated pool on the dev cluster), taken from the last phase of its lifecycle. `kyverno apply`
runs them against sample pods in the tenant's namespace, another tenant's, an unlabelled one and
a platform one; every validation rule is shown to allow and to deny, the mutations to place the
tenant's pods (and only those) on its pool.
"""

from __future__ import annotations

import copy
import functools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, assert_valid
from kyverno_cli import final_resources, kyverno, manifests
from plinth.compose.tenant.capacity import DEDICATED
from plinth.tools.validate import Validator
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
TEAM = "media"
ACCOUNT = "585858585858"
OWN_IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/media-web:1"
REQUESTS = {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
# The namespaces of the samples, with the labels the CLI is told they carry.
NAMESPACES = {
    "media": {"plinth.dev/team": TEAM},
    "media-web-pr-7": {"plinth.dev/team": TEAM, "plinth.dev/preview": "true"},
    "other": {"plinth.dev/team": "other"},
    "unlabelled": {},
    "kube-system": {},
}


@functools.cache
def _policies(flavor: str) -> tuple[str, ...]:
    folder = EXAMPLES / ("legacy" if flavor == "legacy" else "")
    return tuple(
        json.dumps(p)
        for p in manifests(final_resources(folder / "tenant-dedicated.yaml"), "ClusterPolicy")
    )


def policies(flavor: str = "v2") -> list[Body]:
    return [json.loads(p) for p in _policies(flavor)]


def pod(name: str, namespace: str = "media", **spec: Any) -> Body:
    containers = spec.pop("containers", None) or [
        {
            "name": "app",
            "image": spec.pop("image", OWN_IMAGE),
            "resources": spec.pop("resources", REQUESTS),
        }
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": containers, **spec},
    }


def toleration(
    value: str | None = TEAM, key: str | None = DEDICATED, operator: str = "Equal"
) -> Body:
    t: Body = {"operator": operator, "effect": "NoSchedule"}
    if key is not None:
        t["key"] = key
    if value is not None:
        t["value"] = value
    return t


def apply(
    pols: list[Body], resources: list[Body], tmp: Path
) -> tuple[dict[tuple[str, str, str], str], dict[str, Body]]:
    """`kyverno apply`: each (policy, rule, namespace/name) result, and the mutated pods."""
    (tmp / "policies.yaml").write_text(yaml.safe_dump_all(pols))
    (tmp / "resources.yaml").write_text(yaml.safe_dump_all(resources))
    values = {
        "apiVersion": "cli.kyverno.io/v1alpha1",
        "kind": "Values",
        "namespaceSelector": [{"name": n, "labels": labels} for n, labels in NAMESPACES.items()],
    }
    (tmp / "values.yaml").write_text(yaml.safe_dump(values))
    r = subprocess.run(
        [
            kyverno(),
            "apply",
            str(tmp / "policies.yaml"),
            "--resource",
            str(tmp / "resources.yaml"),
            "--values-file",
            str(tmp / "values.yaml"),
            "--policy-report",
            "--output-format",
            "json",
            "--remove-color",
            "-o",
            str(tmp / "mutated.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    start = r.stdout.find('{"kind":"ClusterReport"')
    assert start >= 0, (
        f"no policy report (exit {r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    )
    report = json.JSONDecoder().raw_decode(r.stdout[start:])[0]
    assert report["summary"]["error"] == 0, report
    results = {}
    for res in report["results"]:
        for target in res["resources"]:
            key = (res["policy"], res["rule"], f"{target.get('namespace', '')}/{target['name']}")
            results[key] = res["result"]
    mutated = {}
    if (tmp / "mutated.yaml").exists():
        for body in yaml.safe_load_all((tmp / "mutated.yaml").read_text()):
            if body:
                mutated[f"{body['metadata'].get('namespace', '')}/{body['metadata']['name']}"] = (
                    body
                )
    return results, mutated


G = f"{TEAM}-guardrails"
P = f"{TEAM}-placement"

# (pod, what each named rule says of it). Rules not named for a pod are checked elsewhere.
CASES: list[tuple[Body, dict[tuple[str, str], str]]] = [
    (
        pod("good"),
        {
            (G, r): "pass"
            for r in (
                "allowed-registries",
                "require-requests",
                "no-host-namespaces",
                "no-privileged",
                "no-host-path",
                "no-foreign-tolerations",
            )
        },
    ),
    (
        pod("platform-registry", image="public.ecr.aws/docker/library/nginx:1.27"),
        {(G, "allowed-registries"): "pass"},
    ),
    # The platform allows ghcr.io/example-org/, the tenant narrowed it away.
    (pod("narrowed-out", image="ghcr.io/example-org/tool:1"), {(G, "allowed-registries"): "fail"}),
    (pod("docker-hub", image="nginx:1.27"), {(G, "allowed-registries"): "fail"}),
    (
        pod("other-account", image="111111111111.dkr.ecr.us-east-1.amazonaws.com/media-web:1"),
        {(G, "allowed-registries"): "fail"},
    ),
    (
        pod("other-team-repo", image=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/other-web:1"),
        {(G, "allowed-registries"): "fail"},
    ),
    (
        pod(
            "lookalike-host", image=f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com.evil.io/media-web:1"
        ),
        {(G, "allowed-registries"): "fail"},
    ),
    (
        pod(
            "bad-init",
            initContainers=[{"name": "init", "image": "busybox:1", "resources": REQUESTS}],
        ),
        {(G, "allowed-registries"): "fail"},
    ),
    (pod("no-requests", resources={}), {(G, "require-requests"): "fail"}),
    (
        pod("no-memory-limit", resources={"requests": REQUESTS["requests"]}),
        {(G, "require-requests"): "fail"},
    ),
    (pod("host-network", hostNetwork=True), {(G, "no-host-namespaces"): "fail"}),
    (pod("host-pid", hostPID=True), {(G, "no-host-namespaces"): "fail"}),
    (pod("host-ipc", hostIPC=True), {(G, "no-host-namespaces"): "fail"}),
    (pod("not-host-network", hostNetwork=False), {(G, "no-host-namespaces"): "pass"}),
    (
        pod(
            "privileged",
            containers=[
                {
                    "name": "app",
                    "image": OWN_IMAGE,
                    "resources": REQUESTS,
                    "securityContext": {"privileged": True},
                }
            ],
        ),
        {(G, "no-privileged"): "fail"},
    ),
    (
        pod(
            "privileged-init",
            initContainers=[
                {
                    "name": "init",
                    "image": OWN_IMAGE,
                    "resources": REQUESTS,
                    "securityContext": {"privileged": True},
                }
            ],
        ),
        {(G, "no-privileged"): "fail"},
    ),
    (
        pod(
            "unprivileged",
            containers=[
                {
                    "name": "app",
                    "image": OWN_IMAGE,
                    "resources": REQUESTS,
                    "securityContext": {"privileged": False},
                }
            ],
        ),
        {(G, "no-privileged"): "pass"},
    ),
    (
        pod("host-path", volumes=[{"name": "h", "hostPath": {"path": "/var/run"}}]),
        {(G, "no-host-path"): "fail"},
    ),
    (pod("empty-dir", volumes=[{"name": "e", "emptyDir": {}}]), {(G, "no-host-path"): "pass"}),
    (pod("own-toleration", tolerations=[toleration()]), {(G, "no-foreign-tolerations"): "pass"}),
    (pod("other-pool", tolerations=[toleration("other")]), {(G, "no-foreign-tolerations"): "fail"}),
    (
        pod("any-pool", tolerations=[toleration(None, operator="Exists")]),
        {(G, "no-foreign-tolerations"): "fail"},
    ),
    (
        pod("every-taint", tolerations=[toleration(None, None, "Exists")]),
        {(G, "no-foreign-tolerations"): "fail"},
    ),
    # Mutations of the tenant's pods, in its own namespace and a preview namespace of its app.
    (
        pod("placed"),
        {
            (P, "dedicated-node-selector"): "pass",
            (P, "dedicated-toleration-first"): "pass",
            (P, "dedicated-toleration-append"): "skip",
        },
    ),
    (
        pod("placed-preview", namespace="media-web-pr-7"),
        {(G, "allowed-registries"): "pass", (P, "dedicated-node-selector"): "pass"},
    ),
    (
        pod(
            "placed-with-tolerations",
            tolerations=[{"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        ),
        {(P, "dedicated-toleration-append"): "pass", (P, "dedicated-toleration-first"): "skip"},
    ),
    # Only the tenant's pods on its pool: everyone else's toleration of it is refused.
    (
        pod("intruder", namespace="other", tolerations=[toleration()]),
        {(P, "dedicated-pool-is-team-only"): "fail"},
    ),
    (
        pod(
            "intruder-any",
            namespace="unlabelled",
            tolerations=[toleration(None, operator="Exists")],
        ),
        {(P, "dedicated-pool-is-team-only"): "fail"},
    ),
    (
        pod(
            "intruder-every", namespace="unlabelled", tolerations=[toleration(None, None, "Exists")]
        ),
        {(P, "dedicated-pool-is-team-only"): "fail"},
    ),
    (
        pod("neighbour", namespace="other", image="nginx:1"),
        {(P, "dedicated-pool-is-team-only"): "pass"},
    ),
    (
        pod("neighbour-own-pool", namespace="other", tolerations=[toleration("other")]),
        {(P, "dedicated-pool-is-team-only"): "pass"},
    ),
]


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[tuple[str, str, str], str], dict[str, Body]]:
    extra = [pod("daemon", namespace="kube-system", tolerations=[toleration(None, None, "Exists")])]
    return apply(policies(), [c[0] for c in CASES] + extra, tmp_path_factory.mktemp("kyverno"))


def _id(case: tuple[Body, Any]) -> str:
    meta = case[0]["metadata"]
    return f"{meta['namespace']}/{meta['name']}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_rule_on_sample(evaluated: Any, case: tuple[Body, dict[tuple[str, str], str]]) -> None:
    results, _ = evaluated
    _, expected = case
    where = _id(case)
    for (policy, rule), want in expected.items():
        assert results.get((policy, rule, where)) == want, (
            policy,
            rule,
            where,
            results.get((policy, rule, where)),
        )


def test_every_rule_allows_and_denies() -> None:
    """Each validation rule has an allowed and a denied sample, each mutation a pod it places
    (test_policies_apply_to_no_other_namespace shows the pods it leaves alone)."""
    seen: dict[tuple[str, str], set[str]] = {}
    for _, expected in CASES:
        for key, want in expected.items():
            seen.setdefault(key, set()).add(want)
    for policy in policies():
        for rule in policy["spec"]["rules"]:
            key = (policy["metadata"]["name"], rule["name"])
            wanted = {"pass"} if "mutate" in rule else {"pass", "fail"}
            assert wanted <= seen.get(key, set()), f"{key}: samples show only {seen.get(key)}"


def test_mutation_places_the_tenants_pods_on_its_pool(evaluated: Any) -> None:
    _, mutated = evaluated
    for name in ("media/placed", "media-web-pr-7/placed-preview", "media/placed-with-tolerations"):
        spec = mutated[name]["spec"]
        assert spec["nodeSelector"] == {DEDICATED: TEAM}, name
        assert spec["tolerations"].count(toleration()) == 1, name
    kept = mutated["media/placed-with-tolerations"]["spec"]["tolerations"]
    assert {"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in kept


def test_policies_apply_to_no_other_namespace(evaluated: Any) -> None:
    """The guardrails and the mutations judge only the tenant's namespaces; in every other one
    only the rule that keeps others off the pool speaks, and never in the platform's own."""
    results, mutated = evaluated
    for (policy, rule, where), _ in results.items():
        namespace = where.split("/")[0]
        if namespace in ("media", "media-web-pr-7"):
            continue
        assert (policy, rule) == (P, "dedicated-pool-is-team-only"), (policy, rule, where)
        assert namespace != "kube-system", where
    for where, body in mutated.items():
        if not where.startswith(("media/", "media-web-pr-7/")):
            assert DEDICATED not in (body["spec"].get("nodeSelector") or {}), where


@pytest.mark.parametrize("flavor", ["v2", "legacy"])
def test_policies_are_schema_valid(validator: Validator, flavor: str) -> None:
    pols = policies(flavor)
    assert {p["metadata"]["name"] for p in pols} == {G, P}
    assert_valid(validator, pols, f"{flavor} ClusterPolicies")


def test_audit_mode_is_the_platforms_choice() -> None:
    """validationFailureAction comes from the platform config; a tenant cannot choose it."""
    for p in policies():
        for rule in p["spec"]["rules"]:
            if "validate" in rule:
                assert rule["validate"]["failureAction"] == "Enforce"
    from plinth.api.tenant import Guardrails

    assert "validation_failure_action" not in Guardrails.model_fields


def test_registries_only_narrow_the_platforms() -> None:
    from conftest import render_claim

    claim = copy.deepcopy(read_path(str(EXAMPLES / "tenant-dedicated.yaml"))[0].body)
    claim["spec"]["guardrails"]["registries"] = ["docker.io/"]
    rendered = render_claim(claim)
    assert "not among the registries the platform allows" in " ".join(rendered.fatal)
    assert not rendered.resources
