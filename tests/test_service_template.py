"""The service template works on day one: its chart, rendered by the real Helm with the values
each example's Argo CD Application passes, is valid for Kubernetes and admitted under the
tenant's Pod Security level; its workflow reads exactly the variables Plinth sets."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import assert_unique_names, assert_valid
from helm import CHART, pod_security_violations, render_chart
from plinth.validate import Validator
from test_app import CASES, IDS, load, manifests, phases

TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "service"


def _values_of_examples() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for flavor, name in CASES:
        final = phases(load(name, flavor))[-1].resources
        for app in manifests(final, "Application"):
            out.append(
                (
                    f"{flavor}/{name}/{app['metadata']['name']}",
                    app["spec"]["destination"]["namespace"],
                    app["spec"]["source"]["helm"]["valuesObject"],
                )
            )
    return out


@pytest.fixture(scope="module")
def example_values() -> list[tuple[str, str, dict[str, Any]]]:
    return _values_of_examples()


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_chart_renders_valid_and_restricted_for_every_example(
    validator: Validator, example_values: list[tuple[str, str, dict[str, Any]]]
) -> None:
    assert example_values
    for where, namespace, values in example_values:
        docs = render_chart(values, namespace=namespace)
        assert_valid(validator, docs, where)
        assert_unique_names(docs)
        assert pod_security_violations(docs, "restricted") == [], where
        (deploy,) = _by_kind(docs, "Deployment")
        pod = deploy["spec"]["template"]["spec"]
        (c,) = pod["containers"]
        assert c["image"] == f"{values['image']['repository']}:latest"
        assert c["ports"][0]["containerPort"] == values["port"]
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert c[probe]["httpGet"]["path"] == values["healthPath"]
        assert pod["serviceAccountName"] == values["serviceAccountName"]
        refs = [e.get("configMapRef", e.get("secretRef"))["name"] for e in c["envFrom"]]
        assert refs == [values["configMapName"]] + (
            [values["secretName"]] if values["secretName"] else []
        )
        assert c["resources"] == values["resources"]
        (svc,) = _by_kind(docs, "Service")
        assert svc["spec"]["ports"][0]["name"] == "http"
        assert svc["metadata"]["labels"]["app.kubernetes.io/name"] == values["app"]
        hpa = _by_kind(docs, "HorizontalPodAutoscaler")
        assert bool(hpa) == values["autoscaling"]["enabled"]
        assert ("replicas" in deploy["spec"]) == (not hpa)
        ingress = _by_kind(docs, "Ingress")
        assert bool(ingress) == values["ingress"]["enabled"]
        if ingress:
            assert ingress[0]["spec"]["rules"][0]["host"] == values["ingress"]["host"]
            assert bool(ingress[0]["spec"].get("tls")) == bool(values["ingress"]["tlsSecretName"])
        floor = values["autoscaling"]["minReplicas"] if hpa else values["replicaCount"]
        assert bool(_by_kind(docs, "PodDisruptionBudget")) == (floor > 1)


@pytest.mark.parametrize("case", ["bare", "full"])
def test_chart_covers_both_ends_of_the_contract(validator: Validator, case: str) -> None:
    values: dict[str, Any] = {
        "app": "svc",
        "serviceAccountName": "svc",
        "configMapName": "svc-config",
    }
    if case == "full":
        values |= {
            "replicaCount": 3,
            "secretName": "svc-credentials",
            "ingress": {
                "enabled": True,
                "host": "svc.example.com",
                "tlsSecretName": "wildcard-tls",
            },
            "autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9},
        }
    else:
        values |= {"replicaCount": 1}
    docs = render_chart(values)
    assert_valid(validator, docs, case)
    assert pod_security_violations(docs, "restricted") == []
    kinds = sorted(d["kind"] for d in docs)
    if case == "bare":
        assert kinds == ["Deployment", "Service"]
    else:
        assert kinds == [
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "PodDisruptionBudget",
            "Service",
        ]


def test_pod_security_check_catches_what_restricted_forbids() -> None:
    docs = render_chart({"app": "svc"})
    (deploy,) = _by_kind(docs, "Deployment")
    c = deploy["spec"]["template"]["spec"]["containers"][0]
    c["securityContext"]["allowPrivilegeEscalation"] = True
    c["securityContext"]["capabilities"] = {"add": ["SYS_ADMIN"]}
    deploy["spec"]["template"]["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
    found = pod_security_violations(docs, "restricted")
    assert any("allowPrivilegeEscalation" in v for v in found)
    assert any("SYS_ADMIN" in v for v in found)
    assert any("hostPath" in v for v in found)
    assert any("SYS_ADMIN" in v for v in pod_security_violations(docs, "baseline"))


def test_workflow_reads_exactly_the_variables_plinth_sets() -> None:
    from test_app import load as load_claim
    from test_app import of_kind

    text = (TEMPLATE / ".github" / "workflows" / "build.yaml").read_text()
    workflow = yaml.safe_load(text)
    jobs = workflow["jobs"]
    assert set(jobs) == {"build", "release"}
    assert jobs["release"]["permissions"] == {"id-token": "write", "contents": "write"}
    assert jobs["release"]["needs"] == "build"
    used = set(re.findall(r"vars\.([A-Z_]+)", text))
    final = phases(load_claim("app-full.yaml", "v2"))[-1].resources
    set_by_plinth = {
        v["spec"]["forProvider"]["variableName"] for v in of_kind(final, "ActionsVariable")
    }
    assert used == set_by_plinth
    steps = " ".join(str(s.get("uses", "")) for s in jobs["release"]["steps"])
    assert "aws-actions/configure-aws-credentials" in steps
    assert "aws-actions/amazon-ecr-login" in steps


def test_chart_values_are_the_documented_contract() -> None:
    readme = (TEMPLATE / "README.md").read_text()
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for key in defaults:
        assert f"`{key}`" in readme, f"templates/service/README.md does not list {key}"


@pytest.mark.parametrize(("flavor", "name"), CASES, ids=IDS)
def test_every_example_application_targets_the_chart(flavor: str, name: str) -> None:
    for app in manifests(phases(load(name, flavor))[-1].resources, "Application"):
        source = app["spec"]["source"]
        assert source["path"] == "chart"
        assert source["helm"]["valueFiles"] == ["values.yaml", "values-image.yaml"]
        for f in source["helm"]["valueFiles"]:
            assert (CHART / f).is_file()


def test_the_sample_service_answers_probes_and_metrics() -> None:
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, str(TEMPLATE / "app" / "server.py")],
        env={"PORT": str(port), "PLINTH_APP": "svc"},
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the sample service did not start")
        assert health == b"ok\n"
        assert b'"PLINTH_APP": "svc"' in urllib.request.urlopen(base, timeout=1).read()
        text = urllib.request.urlopen(f"{base}/metrics", timeout=1).read().decode()
        assert 'http_requests_total{code="200"} 2' in text
        assert 'http_request_duration_seconds_bucket{le="+Inf"} 2' in text
    finally:
        proc.terminate()
        proc.wait(5)
