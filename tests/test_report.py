"""`plinth report`: on the state of a platform made from what Plinth composes for the claim
repository example (every claim, settled, with what it composed), each finding is found, and
nothing that is fine is reported."""

from __future__ import annotations

import copy
import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from conftest import EXAMPLES
from plinth.cli.claims import default_required, placed
from plinth.tools.diff import render_settled
from plinth.tools.render import to_composite
from plinth.tools.report import UNATTRIBUTED, Report, build_report, format_text, schema_taggable
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
READY = [{"type": "Ready", "status": "True", "reason": "Available"}]


@functools.cache
def _platform() -> tuple[Body, ...]:
    """The claim repository's claims, Ready, and everything they compose, as a cluster holds
    them; Argo CD reports each app's Application Healthy."""
    out: list[Body] = []
    for path in sorted((EXAMPLES / "claim-repo" / "teams").rglob("*.yaml")):
        for doc in read_path(str(path)):
            claim = placed(doc).body
            rendered = render_settled(
                to_composite(claim), [d.body for d in default_required(doc.source)]
            )
            assert not rendered.fatal, rendered.fatal
            out.append({**claim, "status": {**rendered.composite["status"], "conditions": READY}})
            for body in rendered.resources:
                status: Body = {"conditions": READY}
                manifest = body["spec"].get("forProvider", {}).get("manifest", {})
                if manifest.get("kind") == "Application":
                    observed = {
                        **manifest,
                        "status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}},
                    }
                    status["atProvider"] = {"manifest": observed}
                out.append({**body, "status": status})
    return tuple(out)


def platform() -> list[Body]:
    return copy.deepcopy(list(_platform()))


def workload_clusters(objects: list[Body]) -> dict[str, list[Body]]:
    """Each workload cluster (named after its provider-kubernetes config) with the Namespaces
    the tenants compose on it, one running pod in each."""
    out: dict[str, list[Body]] = {}
    for o in objects:
        manifest = o["spec"].get("forProvider", {}).get("manifest", {})
        if manifest.get("kind") != "Namespace":
            continue
        cluster = out.setdefault(o["spec"]["providerConfigRef"]["name"], [])
        name = manifest["metadata"]["name"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": name}}
        cluster += [manifest, {**pod, "status": {"phase": "Running"}}]
    return out


def report(
    objects: list[Body], clusters: dict[str, list[Body]] | None = None, tags: tuple[str, ...] = ()
) -> Report:
    return build_report(objects, clusters=clusters, required_tags=tags, taggable=schema_taggable())


def test_a_tidy_platform_has_no_findings() -> None:
    objects = platform()
    clusters = workload_clusters(objects)
    assert len(clusters) > 1
    r = report(objects, clusters, tags=("cost-center",))
    assert [t.name for t in r.teams] == ["payments", "search"]
    payments = r.teams[0]
    assert [a.name for a in payments.accounts] == ["payments-dev"]
    assert [t.name for t in payments.tenants] == ["payments"]
    assert [a.name for a in payments.apps] == ["checkout"]
    assert payments.environments == ["dev"]
    assert payments.managed_resources > 40
    search = r.teams[1]
    assert [a.flavor for a in search.apps] == ["legacy"]
    assert search.environments
    assert r.tenants_without_apps == []
    assert r.accounts_without_tenants == []
    assert r.unhealthy_deliveries == []
    assert r.idle_namespaces == []
    # Every AWS resource Plinth composes carries the team tag and the platform's tags.
    assert r.untagged == []
    assert r.required_tags == ["cost-center", "plinth.dev/team"]
    text = format_text(r)
    assert "tenants without apps: none" in text
    assert "payments  1         1        1     dev" in text


def test_teams_come_from_the_namespace_not_from_the_claim() -> None:
    objects = platform()
    tenant = next(
        o
        for o in objects
        if o["kind"] == "TenantClaim" and o["metadata"]["namespace"] == "payments"
    )
    tenant["spec"]["team"] = "search"  # what the claim says does not move it
    r = report(objects)
    assert [t.name for t in next(t for t in r.teams if t.name == "payments").tenants] == [
        "payments"
    ]


def test_tenants_without_apps_and_accounts_without_tenants() -> None:
    objects = [
        o
        for o in platform()
        if not (o["kind"] == "AppClaim" and o["metadata"]["name"] == "checkout")
    ]
    spare = copy.deepcopy(next(o for o in objects if o["kind"] == "AccountClaim"))
    spare["metadata"]["name"] = "payments-sandbox"
    spare["status"]["accountId"] = "123456789012"
    objects.append(spare)
    r = report(objects)
    assert [(x.team, x.name) for x in r.tenants_without_apps] == [("payments", "payments")]
    assert [(x.team, x.name, x.detail) for x in r.accounts_without_tenants] == [
        ("payments", "payments-sandbox", "account 123456789012")
    ]
    text = format_text(r)
    assert "tenants without apps: 1\n  payments/payments" in text
    assert "payments/payments-sandbox (account 123456789012)" in text


def test_an_account_used_by_one_environment_only_has_a_tenant() -> None:
    objects = platform()
    tenant = next(
        o
        for o in objects
        if o["kind"] == "TenantClaim" and o["metadata"]["namespace"] == "payments"
    )
    account = tenant["spec"].pop("account")
    tenant["spec"]["environments"][0]["account"] = account
    assert report(objects).accounts_without_tenants == []


def test_unhealthy_deliveries_name_the_app_and_why() -> None:
    objects = platform()
    app_object = next(
        o
        for o in objects
        if o["spec"].get("forProvider", {}).get("manifest", {}).get("kind") == "Application"
    )
    app_object["status"]["atProvider"]["manifest"]["status"] = {
        "health": {"status": "Degraded", "message": "Deployment checkout has 0/2 ready pods"},
        "sync": {"status": "Synced"},
    }
    r = report(objects)
    (d,) = r.unhealthy_deliveries
    assert (d.team, d.app, d.health, d.sync) == ("payments", "checkout", "Degraded", "Synced")
    assert d.environment == "dev"
    assert "0/2 ready pods" in format_text(r)


def test_an_application_not_yet_observed_is_unknown_not_healthy() -> None:
    objects = platform()
    for o in objects:
        if o["spec"].get("forProvider", {}).get("manifest", {}).get("kind") == "Application":
            o["status"].pop("atProvider")
    r = report(objects)
    assert r.unhealthy_deliveries
    assert {d.health for d in r.unhealthy_deliveries} == {"Unknown"}


def test_namespaces_without_workloads() -> None:
    objects = platform()
    clusters = workload_clusters(objects)
    name, cluster = sorted(clusters.items())[0]
    idle = next(o for o in cluster if o["kind"] == "Pod")
    cluster.remove(idle)
    other, second = sorted(clusters.items())[1]
    done = next(o for o in second if o["kind"] == "Pod")
    done["status"]["phase"] = "Succeeded"  # a finished job is no workload
    r = report(objects, clusters)
    assert sorted((n.cluster, n.namespace) for n in r.idle_namespaces) == sorted(
        [(name, idle["metadata"]["namespace"]), (other, done["metadata"]["namespace"])]
    )
    assert all(n.team != UNATTRIBUTED for n in r.idle_namespaces)
    assert "no cluster could be read" in format_text(report(objects))


def test_resources_lacking_cost_tags_are_listed_per_team() -> None:
    objects = platform()
    roles = [o for o in objects if o["kind"] == "Role" and "tags" in o["spec"]["forProvider"]]
    role = roles[0]
    del role["spec"]["forProvider"]["tags"]["plinth.dev/team"]
    role["status"]["atProvider"] = {"tagsAll": {"managed-by": "plinth"}}
    foreign: Body = {
        "apiVersion": "s3.aws.upbound.io/v1beta1",
        "kind": "Bucket",
        "metadata": {"name": "legacy-logs"},
        "spec": {"forProvider": {"region": "us-east-1"}},
    }
    tagged_by_provider = copy.deepcopy(foreign)
    tagged_by_provider["metadata"]["name"] = "default-tagged"
    tagged_by_provider["status"] = {"atProvider": {"tagsAll": {"plinth.dev/team": "search"}}}
    # A kind that takes no tags (per its upstream schema) is never reported.
    route: Body = {
        "apiVersion": "ec2.aws.m.upbound.io/v1beta1",
        "kind": "Route",
        "metadata": {"name": "r", "namespace": "payments"},
        "spec": {"forProvider": {"region": "us-east-1"}},
    }
    objects.append(route)
    r = report([*objects, foreign, tagged_by_provider])
    found = {(u.team, u.kind, u.name): u.missing for u in r.untagged}
    assert found == {
        ("payments", "Role", role["metadata"]["name"]): ["plinth.dev/team"],
        (UNATTRIBUTED, "Bucket", "legacy-logs"): ["plinth.dev/team"],
    }
    assert next(t for t in r.teams if t.name == "payments").untagged_resources == 1
    assert r.teams[-1].name == UNATTRIBUTED


def test_the_command_reports_recorded_objects_as_table_and_json(tmp_path: Path) -> None:
    objects = platform()
    objects += next(iter(workload_clusters(objects).values()))
    platform_config = next(d.body for d in read_path(str(EXAMPLES / "platform.yaml")))
    objects.append(platform_config)
    recorded = tmp_path / "recorded.yaml"
    recorded.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": objects}))

    def plinth(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plinth.cli", "report", "-f", str(recorded), *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    r = plinth("-o", "json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [t["name"] for t in out["teams"]] == ["payments", "search"]
    # The platform's own tags (data.tags of plinth-platform) are required too.
    assert out["requiredTags"] == ["cost-center", "plinth.dev/team"]
    assert out["untagged"] == []
    assert out["clustersRead"] == ["recorded"]
    table = plinth()
    assert table.returncode == 0, table.stderr
    assert table.stdout.startswith("TEAM")
    assert "namespaces without workloads: none" in table.stdout


def test_report_help_has_examples() -> None:
    from click.testing import CliRunner

    from plinth.cli import main

    r = CliRunner().invoke(main, ["report", "--help"])
    assert r.exit_code == 0
    assert "Examples:" in r.output
    assert "plinth report " in r.output.split("Examples:", 1)[1]
