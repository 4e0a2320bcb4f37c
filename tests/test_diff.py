"""`plinth diff`: every destructive and access-widening change is flagged, on the resources
Plinth really composes; a pure addition is never destructive; exit codes; git refs."""

from __future__ import annotations

import copy
import functools
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import EXAMPLES, REPO
from plinth.cli.claims import default_required, placed
from plinth.tools.diff import (
    Diff,
    Key,
    Owner,
    compare,
    format_markdown,
    format_text,
    key_of,
    render_settled,
)
from plinth.tools.render import CRN_ANNOTATION, to_composite
from plinth.tools.yamlio import read_path

Body = dict[str, Any]
OWNER = Owner("AppClaim", "payments", "checkout")


@functools.cache
def composed() -> tuple[Body, ...]:
    """Everything the examples compose once settled: an account, a tenant, a full app."""
    out: list[Body] = []
    for name in ("account.yaml", "tenant.yaml", "app-full.yaml"):
        for doc in read_path(str(EXAMPLES / name)):
            rendered = render_settled(
                to_composite(placed(doc).body), [d.body for d in default_required(doc.source)]
            )
            assert not rendered.fatal, rendered.fatal
            out += rendered.resources
    return tuple(out)


def pick(kind: str, makes: str | None = None, group: str | None = None) -> Body:
    for body in composed():
        if body["kind"] != kind or (group and not body["apiVersion"].startswith(group)):
            continue
        manifest = body["spec"].get("forProvider", {}).get("manifest", {})
        if makes is None or manifest.get("kind") == makes:
            return copy.deepcopy(body)
    raise AssertionError(f"the examples compose no {kind} {makes or ''} {group or ''}")


def iam_role() -> Body:
    """An app's role: trust and an inline policy."""
    for body in composed():
        if body["kind"] == "Role" and "inlinePolicy" in body["spec"]["forProvider"]:
            return copy.deepcopy(body)
    raise AssertionError("the examples compose no IAM role with an inline policy")


def diff_of(before: Body | None, after: Body | None) -> Diff:
    body = after if after is not None else before
    assert body is not None
    key = key_of(OWNER, body)
    return compare(
        {key: before} if before is not None else {},
        {key: after} if after is not None else {},
    )


def fp(body: Body) -> Body:
    return body["spec"]["forProvider"]


def manifest(body: Body) -> Body:
    return fp(body)["manifest"]


def setting(path: str, value: Any) -> Callable[[Body], None]:
    def change(body: Body) -> None:
        *parents, last = path.split(".")
        node = body
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return change


REMOVED = None  # the change removes the resource

STATEFUL = [
    ("organizations", "Account", None),
    ("rds", "Instance", None),
    ("s3", "Bucket", None),
    ("sqs", "Queue", None),
    ("elasticache", "ReplicationGroup", None),
    ("kubernetes", "Object", "Namespace"),
    ("repo.github", "Repository", None),
    ("ecr", "Repository", None),
]


@pytest.mark.parametrize(("group", "kind", "makes"), STATEFUL, ids=str)
def test_removing_a_stateful_resource_is_destructive(
    group: str, kind: str, makes: str | None
) -> None:
    body = pick(kind, makes, group)
    d = diff_of(body, None)
    assert [c.action for c in d.changes] == ["removed"]
    assert d.changes[0].destructive, d.changes[0]
    assert d.exit_code() == 2
    assert "DESTRUCTIVE" in format_text(d)
    assert "**destructive**" in format_markdown(d)


@pytest.mark.parametrize(("group", "kind", "makes"), STATEFUL, ids=str)
@pytest.mark.parametrize(
    "field",
    ["metadata.name", "spec.forProvider.region", "spec.providerConfigRef.name"],
)
def test_replacing_a_stateful_resource_is_destructive(
    group: str, kind: str, makes: str | None, field: str
) -> None:
    before = pick(kind, makes, group)
    after = copy.deepcopy(before)
    setting(field, "changed-value")(after)
    d = diff_of(before, after)
    assert [c.action for c in d.changes] == ["changed"]
    assert any(field in reason for reason in d.changes[0].destructive), d.changes[0].destructive
    assert d.exit_code() == 2


def test_renaming_a_namespace_inside_its_object_is_destructive() -> None:
    before = pick("Object", "Namespace")
    after = copy.deepcopy(before)
    manifest(after)["metadata"]["name"] = "payments-renamed"
    (change,) = diff_of(before, after).changes
    assert change.destructive
    assert "manifest.metadata.name" in change.destructive[0]


def test_an_object_stating_its_default_external_name_is_the_same_object() -> None:
    """Objects name their external name after themselves, as provider-kubernetes does when none
    is given: a render from before that (none stated) against one after it is no change."""
    after = pick("Object", "Namespace")
    assert (
        after["metadata"]["annotations"]["crossplane.io/external-name"]
        == (after["metadata"]["name"])
    )
    before = copy.deepcopy(after)
    del before["metadata"]["annotations"]["crossplane.io/external-name"]
    assert diff_of(before, after).changes == []
    renamed = copy.deepcopy(after)
    renamed["metadata"]["annotations"]["crossplane.io/external-name"] = "another"
    (change,) = diff_of(before, renamed).changes
    assert change.destructive


@pytest.mark.parametrize(
    ("kind", "makes", "group", "change"),
    [
        ("Bucket", None, "s3", setting("spec.forProvider.tags.cost-center", "search")),
        ("Instance", None, "rds", setting("spec.forProvider.allocatedStorage", 500)),
        ("Queue", None, "sqs", setting("spec.forProvider.visibilityTimeoutSeconds", 99)),
        ("Object", "Namespace", None, setting("spec.forProvider.manifest.metadata.labels.x", "y")),
    ],
    ids=["bucket-tags", "database-storage", "queue-timeout", "namespace-label"],
)
def test_changing_a_stateful_resource_in_place_is_not_destructive(
    kind: str, makes: str | None, group: str | None, change: Callable[[Body], None]
) -> None:
    before = pick(kind, makes, group)
    after = copy.deepcopy(before)
    change(after)
    d = diff_of(before, after)
    assert [c.action for c in d.changes] == ["changed"]
    assert not d.changes[0].destructive
    assert not d.changes[0].widening
    assert d.exit_code() == 1


def test_removing_a_stateless_resource_is_not_destructive() -> None:
    d = diff_of(pick("SubnetGroup", group="rds"), None)
    assert d.changes[0].action == "removed"
    assert not d.destructive
    assert d.exit_code() == 1


def _rbac(kind: str, **fields: Any) -> Body:
    body = pick("Object", "Namespace")
    body["metadata"]["annotations"][CRN_ANNOTATION] = f"rbac-{kind.lower()}"
    fp(body)["manifest"] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": "team"},
        **fields,
    }
    return body


def _edit(body: Body, change: Callable[[Body], None]) -> Body:
    out = copy.deepcopy(body)
    change(out)
    return out


RULES = [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]
SUBJECTS = [{"kind": "Group", "name": "payments", "apiGroup": "rbac.authorization.k8s.io"}]


def widening_rows() -> list[tuple[str, Body | None, Body | None]]:
    role = _rbac("Role", rules=RULES)
    binding = _rbac("RoleBinding", subjects=SUBJECTS, roleRef={"kind": "Role", "name": "team"})
    iam = iam_role()
    project = pick("Object", "AppProject")
    netpol = pick("Object", "NetworkPolicy")
    pab = pick("BucketPublicAccessBlock")
    return [
        ("rbac-role-added", None, role),
        (
            "rbac-role-rules",
            role,
            _edit(role, lambda b: manifest(b)["rules"][0]["verbs"].append("delete")),
        ),
        ("rbac-clusterrole-added", None, _rbac("ClusterRole", rules=RULES)),
        (
            "rbac-binding-subjects",
            binding,
            _edit(
                binding,
                lambda b: manifest(b)["subjects"].append({**SUBJECTS[0], "name": "everyone"}),
            ),
        ),
        (
            "rbac-binding-roleref",
            binding,
            _edit(binding, lambda b: manifest(b)["roleRef"].update(name="admin")),
        ),
        ("rbac-clusterrolebinding-added", None, _rbac("ClusterRoleBinding", subjects=SUBJECTS)),
        ("iam-role-added", None, iam),
        (
            "iam-trust",
            iam,
            _edit(
                iam,
                lambda b: fp(b).update(
                    assumeRolePolicy=json.dumps(
                        {
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Principal": {"AWS": "*"},
                                    "Action": "sts:AssumeRole",
                                }
                            ]
                        }
                    )
                ),
            ),
        ),
        (
            "iam-inline-policy",
            iam,
            _edit(
                iam,
                lambda b: fp(b)["inlinePolicy"].append(
                    {
                        "name": "more",
                        "policy": json.dumps(
                            {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
                        ),
                    }
                ),
            ),
        ),
        (
            "iam-managed-policy",
            iam,
            _edit(
                iam,
                lambda b: fp(b).update(
                    managedPolicyArns=["arn:aws:iam::aws:policy/AdministratorAccess"]
                ),
            ),
        ),
        ("iam-policy-attachment", None, _attachment(iam)),
        (
            "appproject-destinations",
            project,
            _edit(
                project,
                lambda b: manifest(b)["spec"]["destinations"].append(
                    {"server": "*", "namespace": "*"}
                ),
            ),
        ),
        (
            "appproject-source-repos",
            project,
            _edit(project, lambda b: manifest(b)["spec"].update(sourceRepos=["*"])),
        ),
        (
            "appproject-whitelist",
            project,
            _edit(
                project,
                lambda b: manifest(b)["spec"].update(
                    clusterResourceWhitelist=[{"group": "*", "kind": "*"}]
                ),
            ),
        ),
        ("appproject-added", None, project),
        (
            "networkpolicy-changed",
            netpol,
            _edit(netpol, lambda b: manifest(b)["spec"].update(ingress=[{}])),
        ),
        ("networkpolicy-removed", netpol, None),
        ("networkpolicy-added", None, netpol),
        ("eks-access-entry-added", None, pick("AccessEntry")),
        ("eks-access-policy-added", None, pick("AccessPolicyAssociation")),
        (
            "ecr-repository-policy-changed",
            pick("RepositoryPolicy"),
            _edit(
                pick("RepositoryPolicy"),
                lambda b: fp(b).update(
                    policy=json.dumps(
                        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*"}]}
                    )
                ),
            ),
        ),
        ("bucket-public-access-block-removed", pab, None),
        (
            "bucket-public-access-block-loosened",
            pab,
            _edit(pab, lambda b: fp(b).update(blockPublicPolicy=False)),
        ),
        ("security-group-ingress-added", None, pick("SecurityGroupIngressRule")),
    ]


def _attachment(role: Body) -> Body:
    body = copy.deepcopy(role)
    body["kind"] = "RolePolicyAttachment"
    body["metadata"]["annotations"][CRN_ANNOTATION] = "ci-role-admin"
    body["spec"]["forProvider"] = {
        "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        "roleRef": {"name": role["metadata"]["name"]},
    }
    return body


@pytest.mark.parametrize("row", widening_rows(), ids=lambda r: r[0])
def test_every_access_widening_change_is_flagged(row: tuple[str, Body | None, Body | None]) -> None:
    _, before, after = row
    d = diff_of(before, after)
    assert len(d.changes) == 1
    assert d.changes[0].widening, d.changes[0]
    assert not d.changes[0].destructive
    assert d.exit_code() == 2
    assert "WIDENS ACCESS" in format_text(d)
    assert "**widens access**" in format_markdown(d)


@pytest.mark.parametrize(
    ("name", "body", "change"),
    [
        (
            "rbac-role-label",
            lambda: _rbac("Role", rules=RULES),
            lambda b: manifest(b)["metadata"].update(labels={"a": "b"}),
        ),
        (
            "iam-role-description",
            iam_role,
            lambda b: fp(b).update(description="other"),
        ),
        (
            "appproject-description",
            lambda: pick("Object", "AppProject"),
            lambda b: manifest(b)["spec"].update(description="other"),
        ),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_changes_beside_access_are_not_widening(
    name: str, body: Callable[[], Body], change: Callable[[Body], None]
) -> None:
    before = body()
    d = diff_of(before, _edit(before, change))
    assert len(d.changes) == 1
    assert not d.changes[0].widening, d.changes[0].widening


def test_identical_versions_have_no_changes() -> None:
    resources = {key_of(OWNER, b): b for b in composed()}
    d = compare(resources, copy.deepcopy(resources))
    assert d.changes == []
    assert d.exit_code() == 0
    assert "no changes" in format_text(d)


def test_a_claim_that_cannot_render_removes_nothing() -> None:
    """A claim the function refuses keeps what it composed: nothing of it shows as removed."""
    resources = {key_of(OWNER, b): b for b in composed()}
    d = compare(resources, {}, skip_owners={OWNER})
    assert d.changes == []


def test_policy_statements_are_compared_by_content_not_position() -> None:
    before = iam_role()
    policy = json.loads(fp(before)["inlinePolicy"][0]["policy"])
    extra = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::x/*"]}
    policy["Statement"].insert(0, extra)
    after = _edit(before, lambda b: fp(b)["inlinePolicy"][0].update(policy=json.dumps(policy)))
    (change,) = diff_of(before, after).changes
    assert [(f.action, f.after) for f in change.fields] == [("added", extra)]


# --- the command, on folders and git refs ----------------------------------------------------


def plinth(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "plinth.cli", "diff", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=300,
    )


def claim_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "claims"
    shutil.copytree(EXAMPLES / "claim-repo", repo)
    shutil.copy(EXAMPLES / "platform.yaml", repo / "platform.yaml")
    return repo


def git(repo: Path, *args: str) -> None:
    env = {"GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent), "PATH": "/usr/bin:/bin"}
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )


def test_a_pure_addition_prints_nothing_destructive(tmp_path: Path) -> None:
    old = claim_repo(tmp_path)
    new = tmp_path / "new"
    shutil.copytree(old, new)
    app = yaml.safe_load((new / "teams/payments/app-checkout.yaml").read_text())
    app["metadata"]["name"] = "ledger"
    app["spec"]["databases"] = [{"name": "ledger", "engine": "postgres"}]
    app["spec"]["buckets"] = [{"name": "statements"}]
    (new / "teams/payments/app-ledger.yaml").write_text(yaml.safe_dump(app))
    r = plinth(str(old), str(new), "-o", "json")
    assert r.returncode == 2, r.stderr  # a new app brings IAM roles: widening, for review
    out = json.loads(r.stdout)
    assert out["summary"]["added"] > 0
    assert out["summary"]["removed"] == out["summary"]["changed"] == 0
    assert out["summary"]["destructive"] == 0
    assert {c["claim"]["name"] for c in out["changes"]} == {"ledger"}
    assert {c["kind"] for c in out["changes"]} >= {"Instance", "Bucket", "Repository"}
    text = plinth(str(old), str(new)).stdout
    assert "DESTRUCTIVE" not in text
    assert "0 destructive" in text
    assert "destructive**:" not in plinth(str(old), str(new), "-o", "markdown").stdout


def test_git_refs_and_exit_codes(tmp_path: Path) -> None:
    repo = claim_repo(tmp_path)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "claims")
    # 0: the working tree is the commit
    r = plinth("HEAD", "--repo", str(repo))
    assert r.returncode == 0, r.stdout + r.stderr
    # 1: an account's own tags change its resources' tags, in place
    account = repo / "teams/payments/account-payments-dev.yaml"
    body = yaml.safe_load(account.read_text())
    body["spec"]["tags"] = {"cost-center": "checkout"}
    account.write_text(yaml.safe_dump(body))
    r = plinth("HEAD", "--repo", str(repo))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "~ spec.forProvider.tags.cost-center: platform -> checkout" in r.stdout
    git(repo, "commit", "-qam", "tags")
    # 2: removing the app deletes its repositories; HEAD~1..HEAD still exits 1
    (repo / "teams/payments/app-checkout.yaml").unlink()
    r = plinth("HEAD", "--repo", str(repo), "-o", "markdown")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "| - | AppClaim payments/checkout | `repository` |" in r.stdout
    assert plinth("HEAD~1", "HEAD", "--repo", str(repo)).returncode == 1
    # 3: what cannot be computed
    assert plinth("no-such-ref", "--repo", str(repo)).returncode == 3
    assert plinth().returncode == 3


def test_a_claim_the_function_refuses_is_an_error_not_a_removal(tmp_path: Path) -> None:
    old = claim_repo(tmp_path)
    new = tmp_path / "new"
    shutil.copytree(old, new)
    path = new / "teams/payments/tenant-payments.yaml"
    tenant = yaml.safe_load(path.read_text())
    tenant["spec"]["team"] = "search"  # another team's: refused
    path.write_text(yaml.safe_dump(tenant))
    r = plinth(str(old), str(new), "-o", "json")
    assert r.returncode == 3, r.stderr
    out = json.loads(r.stdout)
    assert out["errors"]
    assert "TenantClaim payments/payments" in out["errors"][0]
    assert not [c for c in out["changes"] if c["claim"]["kind"] == "TenantClaim"]


def test_keys_pair_resources_by_claim_and_composition_resource_name() -> None:
    body = pick("Bucket")
    assert key_of(OWNER, body) == Key(OWNER, body["metadata"]["annotations"][CRN_ANNOTATION])


WORKFLOW = REPO / "gitops" / "ci" / "validate-claims.yaml"


def test_the_claim_repository_workflow_posts_the_markdown_diff() -> None:
    from plinth.tools.engine import binary

    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    runs = "\n".join(s.get("run", "") for s in jobs["diff"]["steps"])
    assert 'plinth diff "origin/$BASE_REF" HEAD -o markdown' in runs
    assert "gh pr comment" in runs
    assert jobs["diff"]["permissions"]["pull-requests"] == "write"
    # With shellcheck on PATH, actionlint also checks every run: script.
    r = subprocess.run(
        [binary("actionlint"), "-no-color", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_diff_help_has_examples() -> None:
    from click.testing import CliRunner

    from plinth.cli import main

    r = CliRunner().invoke(main, ["diff", "--help"])
    assert r.exit_code == 0
    assert "Examples:" in r.output
    assert "plinth diff " in r.output.split("Examples:", 1)[1]


def test_moving_a_stateful_resource_to_another_api_is_a_replacement() -> None:
    """The same claim in the other flavor composes the cluster-scoped kind: another object."""
    before = pick("Bucket", group="s3")
    after = copy.deepcopy(before)
    after["apiVersion"] = "s3.aws.upbound.io/v1beta1"
    (change,) = diff_of(before, after).changes
    assert change.destructive == ["replaces a bucket (apiVersion changed)"]
