"""The service template works on day one: its chart, rendered by the real Helm with what
Plinth's Argo CD Application passes, is valid for Kubernetes, admitted under the restricted Pod
Security Standard and uses exactly its values; the values contract, the image, the workflow and
the sample service agree with what Plinth sets up."""

from __future__ import annotations

import copy
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import assert_unique_names, assert_valid
from helm import (
    CHART,
    CI_VALUES_KEYS,
    TEMPLATE,
    VALUES_KEYS,
    WORKFLOW_VARIABLES,
    Level,
    pod_security_violations,
    render_chart,
    values_keys,
)
from plinth.tools.engine import binary
from plinth.tools.validate import Validator

WORKFLOW = TEMPLATE / ".github" / "workflows" / "build.yaml"
RUN_AS = 10001  # the chart's runAsUser/runAsGroup and the Dockerfile's USER


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        out[k] = _merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# What Plinth passes as valuesObject (every key but image.tag): the contract's example ...
EXAMPLE: dict[str, Any] = {
    "app": "checkout",
    "environment": "dev",
    "image": {"repository": "123456789012.dkr.ecr.us-east-1.amazonaws.com/payments-checkout"},
    "replicaCount": 2,
    "port": 8080,
    "healthPath": "/healthz",
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "256Mi"},
    },
    "serviceAccountName": "checkout",
    "configMapName": "checkout-config",
    "secretName": "checkout-credentials",
    "ingress": {
        "enabled": True,
        "host": "checkout.dev.apps.example.com",
        "className": "nginx",
        "tlsSecretName": "",
    },
    "autoscaling": {
        "enabled": False,
        "minReplicas": 2,
        "maxReplicas": 6,
        "targetCPUUtilizationPercentage": 75,
    },
}
# ... and both ends of it: an app with nothing optional, and one with everything.
BARE = _merged(
    EXAMPLE,
    {
        "app": "bare",
        "environment": "staging",
        "image": {"repository": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/team-bare"},
        "replicaCount": 1,
        "port": 9000,
        "healthPath": "/livez",
        "serviceAccountName": "bare-sa",
        "configMapName": "bare-settings",
        "secretName": "",
        "ingress": {"enabled": False, "host": "", "tlsSecretName": ""},
        "autoscaling": {"enabled": False, "minReplicas": 1, "maxReplicas": 1},
    },
) | {  # resources are passed through whole: no CPU limit here
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}}
}
FULL = _merged(
    EXAMPLE,
    {
        "app": "full",
        "environment": "prod",
        "replicaCount": 3,
        "secretName": "full-credentials",
        "serviceAccountName": "full",
        "configMapName": "full-config",
        "ingress": {
            "host": "full.prod.apps.example.com",
            "className": "internal",
            "tlsSecretName": "wildcard-prod-tls",
        },
        "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9},
    },
)
# An autoscaler that may go down to one replica: no minAvailable, one eviction at a time.
SCALES_FROM_ONE = _merged(FULL, {"app": "elastic", "autoscaling": {"minReplicas": 1}})
CASES = {"example": EXAMPLE, "bare": BARE, "full": FULL, "scales-from-one": SCALES_FROM_ONE}


def _of(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def _readme_example() -> dict[str, Any]:
    text = (TEMPLATE / "README.md").read_text()
    block = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert block, "templates/service/README.md has no yaml example of the values"
    example: dict[str, Any] = yaml.safe_load(block.group(1))
    return example


# --- the values contract ----------------------------------------------------------------------


def test_values_yaml_declares_exactly_the_contract() -> None:
    assert values_keys(yaml.safe_load((CHART / "values.yaml").read_text())) == VALUES_KEYS
    assert yaml.safe_load((CHART / "values-image.yaml").read_text()) == {"image": {"tag": "latest"}}
    assert values_keys({"image": {"tag": "latest"}}) == CI_VALUES_KEYS


def test_cases_are_what_plinth_passes() -> None:
    for name, values in CASES.items():
        assert values_keys(values) == VALUES_KEYS - CI_VALUES_KEYS, name


def test_readme_documents_the_contract() -> None:
    text = (TEMPLATE / "README.md").read_text()
    example = _readme_example()
    assert values_keys(example) == VALUES_KEYS
    assert {k: v for k, v in example.items() if k != "image"} == {
        k: v for k, v in EXAMPLE.items() if k != "image"
    }
    for key in yaml.safe_load((CHART / "values.yaml").read_text()):
        assert f"| `{key}` |" in text, f"templates/service/README.md has no row for {key}"
    for variable in WORKFLOW_VARIABLES:
        assert f"`{variable}`" in text


# --- the rendered chart -----------------------------------------------------------------------


@pytest.fixture(scope="module", params=sorted(CASES))
def rendered(request: pytest.FixtureRequest) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    values = CASES[request.param]
    return values, render_chart(values, release=f"{values['app']}-dev", namespace="payments-dev")


def test_chart_is_valid_unique_and_restricted(
    validator: Validator, rendered: tuple[dict[str, Any], list[dict[str, Any]]]
) -> None:
    values, docs = rendered
    assert_valid(validator, docs, values["app"])
    assert_unique_names(docs)
    assert pod_security_violations(docs, "restricted") == []
    assert pod_security_violations(docs, "baseline") == []


def test_every_manifest_has_the_standard_labels(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    want = {
        "app.kubernetes.io/name": values["app"],
        "app.kubernetes.io/instance": f"{values['app']}-dev",
        "app.kubernetes.io/version": "latest",
        "app.kubernetes.io/managed-by": "Helm",
        "plinth.dev/environment": values["environment"],
    }
    for d in docs:
        assert d["metadata"]["name"] == values["app"]
        assert d["metadata"]["labels"] == want, d["kind"]
    (deploy,) = _of(docs, "Deployment")
    assert deploy["spec"]["template"]["metadata"]["labels"] == want


def test_deployment_uses_exactly_the_values(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    (deploy,) = _of(docs, "Deployment")
    pod = deploy["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    # image.tag is not Plinth's: it comes from values-image.yaml (CI's, "latest" on main).
    assert c["image"] == f"{values['image']['repository']}:latest"
    assert c["ports"] == [{"name": "http", "containerPort": values["port"], "protocol": "TCP"}]
    assert {e["name"]: e["value"] for e in c["env"]} == {
        "PORT": str(values["port"]),
        "HEALTH_PATH": values["healthPath"],
    }
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": values["healthPath"], "port": "http"}, probe
    assert pod["serviceAccountName"] == values["serviceAccountName"]
    assert pod["automountServiceAccountToken"] is False
    # Required sources (no `optional`): a pod never starts without its configuration.
    assert c["envFrom"] == [{"configMapRef": {"name": values["configMapName"]}}] + (
        [{"secretRef": {"name": values["secretName"]}}] if values["secretName"] else []
    )
    assert c["resources"] == values["resources"]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    assert pod["securityContext"]["runAsUser"] == RUN_AS
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"]["matchLabels"] == deploy["spec"]["selector"]["matchLabels"]


def test_service_is_what_the_service_monitor_selects(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    (svc,) = _of(docs, "Service")
    (deploy,) = _of(docs, "Deployment")
    assert svc["metadata"]["labels"]["app.kubernetes.io/name"] == values["app"]
    assert svc["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    pod_labels = deploy["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert deploy["spec"]["selector"]["matchLabels"] == svc["spec"]["selector"]


def test_ingress_only_when_enabled_with_tls_only_when_named(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    want = values["ingress"]
    ingresses = _of(docs, "Ingress")
    assert len(ingresses) == int(want["enabled"])
    if not ingresses:
        return
    spec = ingresses[0]["spec"]
    assert spec["ingressClassName"] == want["className"]
    (rule,) = spec["rules"]
    assert rule["host"] == want["host"]
    (path,) = rule["http"]["paths"]
    assert path["backend"]["service"] == {"name": values["app"], "port": {"name": "http"}}
    if want["tlsSecretName"]:
        assert spec["tls"] == [{"hosts": [want["host"]], "secretName": want["tlsSecretName"]}]
    else:
        assert "tls" not in spec


def test_autoscaler_replaces_the_replica_count(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    scaling = values["autoscaling"]
    (deploy,) = _of(docs, "Deployment")
    hpas = _of(docs, "HorizontalPodAutoscaler")
    assert len(hpas) == int(scaling["enabled"])
    if not hpas:
        assert deploy["spec"]["replicas"] == values["replicaCount"]
        return
    assert "replicas" not in deploy["spec"]
    spec = hpas[0]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": values["app"],
    }
    assert (spec["minReplicas"], spec["maxReplicas"]) == (
        scaling["minReplicas"],
        scaling["maxReplicas"],
    )
    (metric,) = spec["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert (
        metric["resource"]["target"]["averageUtilization"]
        == (scaling["targetCPUUtilizationPercentage"])
    )


def test_disruption_budget_never_blocks_a_drain_of_one_replica(
    rendered: tuple[dict[str, Any], list[dict[str, Any]]],
) -> None:
    values, docs = rendered
    (pdb,) = _of(docs, "PodDisruptionBudget")
    (deploy,) = _of(docs, "Deployment")
    scaling = values["autoscaling"]
    floor = scaling["minReplicas"] if scaling["enabled"] else values["replicaCount"]
    budget = {k: v for k, v in pdb["spec"].items() if k in ("minAvailable", "maxUnavailable")}
    assert budget == ({"minAvailable": 1} if floor > 1 else {"maxUnavailable": 1})
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert pdb["spec"]["selector"] == deploy["spec"]["selector"]


def test_chart_lints_and_refuses_an_ingress_without_host() -> None:
    r = subprocess.run(
        [
            binary("helm"),
            "lint",
            "--strict",
            str(CHART),
            "-f",
            str(CHART / "values-image.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    with pytest.raises(AssertionError, match=r"ingress\.host is required"):
        render_chart(_merged(EXAMPLE, {"ingress": {"host": ""}}))


# --- the Pod Security Standards check itself ----------------------------------------------------
# Each case breaks the rendered Deployment in one way; the expected check IDs are what the Pod
# Security Admission library (k8s.io/pod-security-admission v0.34.4, latest policy) reports for
# the same pod, at baseline and at restricted.


def _container(pod: dict[str, Any]) -> dict[str, Any]:
    c: dict[str, Any] = pod["containers"][0]
    return c


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation of the pod (template): set `a.b.c` (`c0` is the first container)."""

    def mutate(template: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = template
        for p in parents:
            node = _container(node["spec"]) if p == "c0" else node.setdefault(p, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value

    return mutate


def _append(key: str, item: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    return lambda template: template["spec"].setdefault(key, []).append(item)


def _windows_without_container_context(template: dict[str, Any]) -> None:
    # PSA exempts Windows pods from the Linux-only restricted checks.
    _set("spec.os", {"name": "windows"})(template)
    _set("c0.securityContext", None)(template)


PSS_CASES: dict[str, tuple[Callable[[dict[str, Any]], None], list[str], list[str]]] = {
    # name: (mutation, baseline check IDs, restricted check IDs)
    "hostNetwork": (_set("spec.hostNetwork", True), ["hostNamespaces"], ["hostNamespaces"]),
    "privileged": (_set("c0.securityContext.privileged", True), ["privileged"], ["privileged"]),
    "add SYS_ADMIN": (
        _set("c0.securityContext.capabilities", {"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        ["capabilities_baseline"],
        ["capabilities_restricted"],
    ),
    "add NET_BIND_SERVICE": (
        _set("c0.securityContext.capabilities", {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
        [],
        [],
    ),
    "keep capabilities": (
        _set("c0.securityContext.capabilities", None),
        [],
        ["capabilities_restricted"],
    ),
    "hostPath": (
        _append("volumes", {"name": "host", "hostPath": {"path": "/"}}),
        ["hostPathVolumes"],
        ["restrictedVolumes"],
    ),
    "nfs": (
        _append("volumes", {"name": "nfs", "nfs": {"server": "nfs", "path": "/"}}),
        [],
        ["restrictedVolumes"],
    ),
    "hostPort": (
        _set("c0.ports", [{"containerPort": 80, "hostPort": 80}]),
        ["hostPorts"],
        ["hostPorts"],
    ),
    "seccomp Unconfined": (
        _set("c0.securityContext.seccompProfile", {"type": "Unconfined"}),
        ["seccompProfile_baseline"],
        ["seccompProfile_restricted"],
    ),
    "no seccomp": (
        _set("spec.securityContext.seccompProfile", None),
        [],
        ["seccompProfile_restricted"],
    ),
    "no runAsNonRoot": (_set("spec.securityContext.runAsNonRoot", None), [], ["runAsNonRoot"]),
    "runAsUser 0": (_set("c0.securityContext.runAsUser", 0), [], ["runAsUser"]),
    "privilege escalation": (
        _set("c0.securityContext.allowPrivilegeEscalation", True),
        [],
        ["allowPrivilegeEscalation"],
    ),
    "unsafe sysctl": (
        _set("spec.securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
        ["sysctls"],
        ["sysctls"],
    ),
    "safe sysctl": (
        _set("spec.securityContext.sysctls", [{"name": "net.ipv4.tcp_rmem", "value": "1 2 3"}]),
        [],
        [],
    ),
    "procMount": (_set("c0.securityContext.procMount", "Unmasked"), ["procMount"], ["procMount"]),
    "AppArmor Unconfined": (
        _set("c0.securityContext.appArmorProfile", {"type": "Unconfined"}),
        ["appArmorProfile"],
        ["appArmorProfile"],
    ),
    "AppArmor annotation": (
        _set(
            "metadata.annotations",
            {"container.apparmor.security.beta.kubernetes.io/a": "unconfined"},
        ),
        ["appArmorProfile"],
        ["appArmorProfile"],
    ),
    "SELinux type": (
        _set("spec.securityContext.seLinuxOptions", {"type": "spc_t"}),
        ["seLinuxOptions"],
        ["seLinuxOptions"],
    ),
    "SELinux user": (
        _set("c0.securityContext.seLinuxOptions", {"user": "system_u"}),
        ["seLinuxOptions"],
        ["seLinuxOptions"],
    ),
    "hostProcess": (
        _set("spec.securityContext.windowsOptions", {"hostProcess": True}),
        ["windowsHostProcess"],
        ["windowsHostProcess"],
    ),
    "probe host": (
        _set("c0.readinessProbe", {"tcpSocket": {"port": 80, "host": "10.0.0.1"}}),
        ["hostProbesAndHostLifecycle"],
        ["hostProbesAndHostLifecycle"],
    ),
    "bare init container": (
        _append("initContainers", {"name": "init", "image": "busybox"}),
        [],
        ["allowPrivilegeEscalation", "capabilities_restricted"],
    ),
    "privileged ephemeral container": (
        _append(
            "ephemeralContainers",
            {"name": "debug", "image": "busybox", "securityContext": {"privileged": True}},
        ),
        ["privileged"],
        ["allowPrivilegeEscalation", "capabilities_restricted", "privileged"],
    ),
    "Windows pod": (_windows_without_container_context, [], []),
}


@pytest.fixture(scope="module")
def deployment() -> dict[str, Any]:
    (deploy,) = _of(render_chart(EXAMPLE), "Deployment")
    return deploy


@pytest.mark.parametrize("case", sorted(PSS_CASES))
def test_pod_security_check_agrees_with_pod_security_admission(
    deployment: dict[str, Any], case: str
) -> None:
    mutate, baseline, restricted = PSS_CASES[case]
    broken = copy.deepcopy(deployment)
    mutate(broken["spec"]["template"])
    want: dict[Level, list[str]] = {"baseline": baseline, "restricted": restricted}
    for level, ids in want.items():
        found = pod_security_violations([broken], level)
        assert sorted({v.split(": ")[1] for v in found}) == ids, (level, found)
        assert all(v.startswith(f"Deployment/{EXAMPLE['app']}: ") for v in found)


def test_pod_security_check_reads_every_workload_kind(deployment: dict[str, Any]) -> None:
    template = copy.deepcopy(deployment["spec"]["template"])
    template["spec"]["hostPID"] = True
    job = {"spec": {"template": template}}
    manifests = [
        {"kind": "Pod", "metadata": {"name": "p"}, "spec": template["spec"]},
        {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": job}},
        *({"kind": k, "metadata": {"name": k.lower()}, "spec": {"template": template}}
          for k in ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")),
        {"kind": "Service", "metadata": {"name": "s"}, "spec": {"hostPID": True}},
    ]  # fmt: skip
    found = pod_security_violations(manifests, "baseline")
    assert [v.split(":")[0] for v in found] == [
        "Pod/p", "CronJob/c", "Deployment/deployment", "StatefulSet/statefulset",
        "DaemonSet/daemonset", "ReplicaSet/replicaset", "Job/job",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="privileged"):
        pod_security_violations(manifests, "privileged")  # type: ignore[arg-type]


# --- the image --------------------------------------------------------------------------------


def test_dockerfile_runs_as_the_charts_user_in_two_stages() -> None:
    lines = [
        line.strip()
        for line in (TEMPLATE / "Dockerfile").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    stages = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(stages) == 2
    # Dependencies are built with the runtime's Python: distroless' Debian 12 image has 3.11.
    assert stages[0].startswith("python:3.11-")
    assert stages[1].startswith("gcr.io/distroless/python3-debian12:")
    (user,) = [line for line in lines if line.startswith("USER ")]
    assert user == f"USER {RUN_AS}:{RUN_AS}"
    assert lines[-1] == 'ENTRYPOINT ["python3", "/app/server.py"]'
    assert (TEMPLATE / "app" / "server.py").is_file()
    assert (TEMPLATE / "app" / "requirements.txt").is_file()


# --- the workflow -----------------------------------------------------------------------------


def _workflow() -> dict[str, Any]:
    # YAML 1.1 (PyYAML) reads the key `on` as True.
    workflow: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    workflow["on"] = workflow.pop(True)
    return workflow


def _step(job: dict[str, Any], name: str) -> dict[str, Any]:
    (step,) = [s for s in job["steps"] if s.get("name") == name]
    found: dict[str, Any] = step
    return found


def test_workflow_builds_on_pull_requests_and_releases_from_main() -> None:
    workflow = _workflow()
    assert workflow["on"] == {
        "push": {"branches": ["main"]},
        "pull_request": {"branches": ["main"]},
    }
    assert workflow["permissions"] == {"contents": "read"}
    jobs = workflow["jobs"]
    assert set(jobs) == {"check", "release"}
    check, release = jobs["check"], jobs["release"]
    assert check["if"] == "github.event_name == 'pull_request'"
    assert "permissions" not in check
    check_text = yaml.safe_dump(check)
    assert "docker build" in check_text
    assert "helm lint" in check_text
    assert "helm template" in check_text
    assert "docker push" not in check_text
    assert "aws-actions" not in check_text

    assert release["if"] == "github.event_name == 'push'"
    assert release["permissions"] == {"id-token": "write", "contents": "write"}
    uses = [s["uses"] for s in release["steps"] if "uses" in s]
    assert uses == [
        "actions/checkout@v4",
        "aws-actions/configure-aws-credentials@v4",
        "aws-actions/amazon-ecr-login@v2",
    ]
    creds = release["steps"][1]["with"]
    assert creds == {
        "role-to-assume": "${{ vars.PLINTH_CI_ROLE_ARN }}",
        "aws-region": "${{ vars.PLINTH_AWS_REGION }}",
    }
    assert release["env"]["IMAGE"] == "${{ vars.PLINTH_IMAGE_REPOSITORY }}:${{ github.sha }}"
    push = _step(release, "Build and push the image")["run"]
    assert 'docker build -t "$IMAGE" .' in push
    assert 'docker push "$IMAGE"' in push


def test_workflow_reads_exactly_the_variables_plinth_sets() -> None:
    text = WORKFLOW.read_text()
    assert set(re.findall(r"\bvars\.(\w+)", text)) == WORKFLOW_VARIABLES
    # Expressions never go into scripts: a value with shell syntax in it cannot inject commands.
    for job in _workflow()["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step.get("name")


def test_workflow_passes_actionlint() -> None:
    # With shellcheck on PATH, actionlint also checks every run: script.
    r = subprocess.run(
        [binary("actionlint"), "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        cwd=TEMPLATE,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_release_rebuilds_the_deploy_branch_from_main(tmp_path: Path) -> None:
    """The tag bump script, run as GitHub runs it (bash -e) in a shallow checkout of a local
    origin: twice in a row, then racing another writer of deploy."""
    script = _step(_workflow()["jobs"]["release"], "Set the image tag on the deploy branch")["run"]
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),  # no user or system git configuration
        "GIT_CONFIG_NOSYSTEM": "1",
        "ENVIRONMENTS": "dev,staging,prod",
    }

    def git(cwd: Path, *args: str) -> str:
        r = subprocess.run(
            ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    origin, dev = tmp_path / "origin.git", tmp_path / "dev"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(origin))
    git(tmp_path, "clone", "-q", str(origin), str(dev))
    (dev / "chart").mkdir()
    (dev / "chart" / "values-image.yaml").write_text((CHART / "values-image.yaml").read_text())

    def commit_to_main(n: int) -> str:
        (dev / "app.txt").write_text(f"change {n}")
        git(dev, "add", "-A")
        git(dev, "-c", "user.name=dev", "-c", "user.email=dev@example.com", "commit", "-qm", f"{n}")
        git(dev, "push", "-q", "origin", "main")
        return git(dev, "rev-parse", "HEAD")

    def release(sha: str, pre_push: str = "") -> subprocess.CompletedProcess[str]:
        ci = tmp_path / f"ci-{sha}"  # as actions/checkout: the pushed commit, one level deep
        git(tmp_path, "clone", "-q", "--depth=1", "-b", "main", f"file://{origin}", str(ci))
        if pre_push:
            hook = ci / ".git" / "hooks" / "pre-push"
            hook.write_text(f"#!/bin/sh\nunset GIT_DIR\n{pre_push}\n")
            hook.chmod(0o755)
        return subprocess.run(
            ["bash", "-e", "-c", script],
            check=False,
            cwd=ci,
            env={**env, "SHA": sha},
            capture_output=True,
            text=True,
        )

    for n in (1, 2):
        sha = commit_to_main(n)
        r = release(sha)
        assert r.returncode == 0, r.stdout + r.stderr
        assert git(origin, "rev-parse", "deploy^") == sha, "deploy is main's commit plus one"
        assert git(origin, "diff", "--name-only", sha, "deploy") == "chart/values-image.yaml"
        bumped = yaml.safe_load(git(origin, "show", "deploy:chart/values-image.yaml"))
        assert bumped == {"image": {"tag": sha}}
        assert git(origin, "log", "-1", "--format=%an <%ae>|%s", "deploy") == (
            "github-actions[bot] <41898282+github-actions[bot]@users.noreply.github.com>"
            f"|Deploy {sha} (dev,staging,prod)"
        )
    # Someone else moves deploy after the job read it: the lease makes the job fail instead.
    racer = git(dev, "rev-parse", "HEAD~1")
    r = release(commit_to_main(3), pre_push=f"git -C {dev} push -q -f origin {racer}:deploy")
    assert r.returncode != 0
    assert "failed to update ref" in r.stderr or "stale info" in r.stderr, r.stderr
    assert git(origin, "rev-parse", "deploy") == racer


# --- the sample service -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_sample_service_answers_probes_metrics_and_stops_on_sigterm() -> None:
    port = _free_port()
    env = {
        "PORT": str(port),
        "HEALTH_PATH": "/livez",
        "PLINTH_APP": "svc",
        "DB_MAIN_PASSWORD": "hunter2",
        "PATH": os.environ["PATH"],
    }
    proc = subprocess.Popen([sys.executable, str(TEMPLATE / "app" / "server.py")], env=env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = _get(f"{base}/livez?probe=1")
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the sample service did not start")
        assert health == (200, "ok\n")
        assert _get(f"{base}/healthz")[0] == 404  # the health path is HEALTH_PATH's
        code, page = _get(base)
        assert code == 200
        assert '"PLINTH_APP": "svc"' in page
        assert "hunter2" not in page
        _get(f"{base}/metrics")
        code, text = _get(f"{base}/metrics")
        assert code == 200
        # Probes and scrapes are not counted: /, /healthz (404) only.
        assert 'http_requests_total{code="200"} 1\n' in text
        assert 'http_requests_total{code="404"} 1\n' in text
        assert 'http_request_duration_seconds_bucket{le="+Inf"} 2\n' in text
        assert "http_request_duration_seconds_count 2\n" in text
        buckets = [int(n) for n in re.findall(r"_bucket\{le=\"[^\"]+\"\} (\d+)", text)]
        assert buckets == sorted(buckets), "histogram buckets are cumulative"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(5) == 0, "SIGTERM stops the server cleanly"
    finally:
        proc.kill()
        proc.wait(5)
