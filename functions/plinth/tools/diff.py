"""What a change to a claim repository will do: `plinth diff`'s engine.

Both versions are rendered offline, each claim driven through its phases as if everything it
composed so far had become ready (`render_settled`), so resources of later phases (databases,
caches, a new account's baseline) are in the preview too. Then resources are paired by the claim
that composes them and their composition-resource-name, the one key Crossplane itself matches
observed and desired resources by, and compared field by field.

Two markers matter for review, and decide the exit code:

* destructive: a stateful resource (an account, database, bucket, queue, cache, namespace, git
  or image repository) is removed, or a field that names it is changed (its provider recreates
  it: name, region, account through the ProviderConfig, ...);
* widens access: RBAC rules or subjects, IAM policies and trust, AppProject destinations,
  sources and whitelists, EKS access entries, resource policies and network rules are added or
  changed (or a NetworkPolicy or public access block removed).
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from plinth.builders.common import EXTERNAL_NAME
from plinth.tools.render import CRN_ANNOTATION, Call, Rendered, render

Body = dict[str, Any]
MAX_PHASES = 10
# What handed-back resources report where later phases read provider-assigned values. Equal in
# both versions, so they never show up as a change; only their shape has to be plausible.
KNOWN_AFTER_APPLY = "known-after-apply"

Action = Literal["added", "removed", "changed"]


class DiffError(Exception):
    """A version cannot be read or rendered; the message is for the user."""


# --- rendering a version --------------------------------------------------------------------


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _account_id(name: str) -> str:
    return str(int(_h(name), 16) % 10**12).zfill(12)


def observed_ready(resources: Iterable[Body]) -> list[Body]:
    """Each resource as observed once it exists and is Ready, with placeholders where later
    phases read what the provider reports (ids, endpoints, secret ARNs)."""
    out = []
    for r in resources:
        name = str((r.get("metadata") or {}).get("name", ""))
        at: Body = {
            "id": _account_id(name)
            if r.get("kind") == "Account"
            else f"{KNOWN_AFTER_APPLY}-{_h(name)}",
            "arn": f"arn:aws:{KNOWN_AFTER_APPLY}:::{_h(name)}",
            "address": f"{_h(name)}.{KNOWN_AFTER_APPLY}.invalid",
            "primaryEndpointAddress": f"{_h(name)}.{KNOWN_AFTER_APPLY}.invalid",
            "masterUserSecret": [
                {"secretArn": f"arn:aws:secretsmanager:us-east-1:000000000000:secret:{_h(name)}"}
            ],
        }
        ready = {"type": "Ready", "status": "True", "reason": "Available"}
        out.append({**r, "status": {"conditions": [ready], "atProvider": at}})
    return out


def settled_required(docs: Iterable[Body]) -> list[Body]:
    """The claims a claim requires (its tenant, its accounts) as they report once Ready."""
    out = []
    for given in docs:
        kind = given.get("kind")
        if kind not in ("AccountClaim", "TenantClaim") or given.get("status"):
            out.append(given)
            continue
        body = copy.deepcopy(given)
        name = str(body["metadata"].get("name", ""))
        status: Body = {"conditions": [{"type": "Ready", "status": "True", "reason": "Available"}]}
        if kind == "AccountClaim":
            status.update(
                accountId=_account_id(name),
                providerConfig=name,
                region=(body.get("spec") or {}).get("region", "us-east-1"),
                vpcId=f"vpc-{_h(name)}",
                subnetIds={"private": [f"subnet-a{_h(name)[:8]}", f"subnet-b{_h(name)[:8]}"]},
            )
        else:
            status["accountId"] = _account_id(name)
        body["status"] = status
        out.append(body)
    return out


def render_settled(
    xr: Body,
    required: list[Body],
    call: Call | None = None,
    fn_input: Body | None = None,
) -> Rendered:
    """Render `xr` phase by phase, handing back everything composed as Ready, until nothing new
    is composed. A Fatal result stops it: the caller reports it."""
    observed: list[Body] = []
    extra = settled_required(required)
    rendered = render(xr, call, observed=observed, extra_resources=extra, fn_input=fn_input)
    for _ in range(MAX_PHASES):
        if rendered.fatal:
            return rendered
        count = len(observed)
        observed = observed_ready(rendered.resources)
        if len(rendered.resources) == count:
            return rendered
        rendered = render(xr, call, observed=observed, extra_resources=extra, fn_input=fn_input)
    return rendered


def checkout(repo: Path, ref: str, dest: Path) -> Path:
    """The tree of `ref` in the git repository at `repo`, written to `dest` (git archive: no
    worktree, nothing in the repository changes). Returns the folder of `repo` inside `dest`."""
    top = _git(repo, "rev-parse", "--show-toplevel").decode().strip()
    prefix = _git(repo, "rev-parse", "--show-prefix").decode().strip()
    data = _git(Path(top), "archive", "--format=tar", ref)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest / prefix if prefix else dest


def _git(cwd: Path, *args: str) -> bytes:
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError as e:
        raise DiffError(f"cannot run git: {e}") from None
    if r.returncode != 0:
        raise DiffError(f"git {' '.join(args)} in {cwd}: {r.stderr.decode().strip()}")
    return r.stdout


# --- comparing ------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Owner:
    """The claim that composes a resource."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


@dataclass(frozen=True, order=True)
class Key:
    owner: Owner
    resource: str  # composition-resource-name, else apiVersion/kind/namespace/name


def key_of(owner: Owner, body: Body) -> Key:
    meta = body.get("metadata") or {}
    crn = (meta.get("annotations") or {}).get(CRN_ANNOTATION)
    if not crn:
        group = str(body.get("apiVersion", "")).split("/")[0]
        crn = f"{group}/{body.get('kind')}/{meta.get('namespace', '')}/{meta.get('name', '')}"
    return Key(owner, str(crn))


@dataclass
class FieldChange:
    path: str
    before: Any = None
    after: Any = None
    # "added" (no value before), "removed" (none after) or "changed"
    action: Action = "changed"


@dataclass
class Change:
    key: Key
    action: Action
    kind: str
    api_version: str
    name: str
    fields: list[FieldChange] = field(default_factory=list)
    # What an Object makes (its manifest's kind), else empty.
    makes: str = ""
    destructive: list[str] = field(default_factory=list)
    widening: list[str] = field(default_factory=list)

    @property
    def what(self) -> str:
        """`kind` plus what an Object carries, e.g. `Object (Namespace)`."""
        what = f"{_service(_group(self.api_version))}/{self.kind}"
        return f"{what} ({self.makes})" if self.makes else what

    def as_dict(self) -> Body:
        return {
            "claim": {
                "kind": self.key.owner.kind,
                "namespace": self.key.owner.namespace,
                "name": self.key.owner.name,
            },
            "resource": self.key.resource,
            "action": self.action,
            "apiVersion": self.api_version,
            "kind": self.kind,
            **({"makes": self.makes} if self.makes else {}),
            "name": self.name,
            "destructive": self.destructive,
            "widensAccess": self.widening,
            "fields": [
                {"path": f.path, "action": f.action, "before": f.before, "after": f.after}
                for f in self.fields
            ],
        }


@dataclass
class Diff:
    changes: list[Change] = field(default_factory=list)
    # Claims a version could not render (invalid, Fatal): their resources are not compared.
    errors: list[str] = field(default_factory=list)
    resources_before: int = 0
    resources_after: int = 0

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def destructive(self) -> list[Change]:
        return [c for c in self.changes if c.destructive]

    @property
    def widening(self) -> list[Change]:
        return [c for c in self.changes if c.widening]

    def exit_code(self) -> int:
        """0: nothing changes; 1: changes, none destructive or widening access; 2: some are;
        3: a version could not be rendered (what could be compared is still reported)."""
        if self.errors:
            return 3
        if self.destructive or self.widening:
            return 2
        return 1 if self.changes else 0

    def as_dict(self) -> Body:
        return {
            "summary": {
                "resourcesBefore": self.resources_before,
                "resourcesAfter": self.resources_after,
                "added": self.count("added"),
                "removed": self.count("removed"),
                "changed": self.count("changed"),
                "destructive": len(self.destructive),
                "widensAccess": len(self.widening),
                "errors": len(self.errors),
            },
            "errors": self.errors,
            "changes": [c.as_dict() for c in self.changes],
        }


# Fields `status` and what the API server or Crossplane fills in never belong to a diff.
IGNORED_TOP = ("status",)
IGNORED_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields")


def _clean(body: Body) -> Body:
    out = {k: v for k, v in body.items() if k not in IGNORED_TOP}
    meta = {k: v for k, v in (out.get("metadata") or {}).items() if k not in IGNORED_METADATA}
    annotations = meta.get("annotations")
    if (
        _is_object(str(body.get("apiVersion", "")), str(body.get("kind", "")))
        and isinstance(annotations, dict)
        and annotations.get(EXTERNAL_NAME) == meta.get("name")
    ):
        # provider-kubernetes names an Object's external name after the Object when none is
        # given: stated (as Plinth does) or not, it is the same Object.
        annotations = {k: v for k, v in annotations.items() if k != EXTERNAL_NAME}
        meta["annotations"] = annotations
        if not annotations:
            del meta["annotations"]
    out["metadata"] = meta
    return out


def _json_doc(value: Any) -> Any:
    """A JSON document held in a string (IAM policies): compared by its content."""
    if isinstance(value, str) and value.lstrip().startswith(("{", "[")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def flatten(value: Any, path: str = "") -> dict[str, Any]:
    """Leaves of `value` by path: `spec.forProvider.tags.team`, `rules[0].verbs[1]`; a JSON
    string is flattened inside braces, `assumeRolePolicy{Statement[0].Effect}`."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        if not value:
            out[path] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        return out
    if isinstance(value, list):
        if not value:
            out[path] = []
        for i, v in enumerate(value):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    doc = _json_doc(value)
    if doc is not value and isinstance(doc, dict | list):
        for k, v in flatten(doc).items():
            out[f"{path}{{{k}}}"] = v
        return out
    out[path] = value
    return out


def field_changes(before: Body, after: Body) -> list[FieldChange]:
    out: list[FieldChange] = []
    _walk(_clean(before), _clean(after), "", out)
    return out


LIST_KEYS = ("name", "Sid")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _leaves(value: Any, path: str, action: Action, out: list[FieldChange]) -> None:
    for p, v in flatten(value, path).items():
        out.append(
            FieldChange(p, v, None, action)
            if action == "removed"
            else FieldChange(p, None, v, action)
        )


def _keyed(*lists: list[Any]) -> str | None:
    """The field that names each item of lists of objects (containers, statements by Sid)."""
    for k in LIST_KEYS:
        if all(_names_unique(items, k) for items in lists):
            return k
    return None


def _names_unique(items: list[Any], k: str) -> bool:
    names = [i.get(k) for i in items if isinstance(i, dict)]
    return len(names) == len(items) and None not in names and len(set(names)) == len(names)


def _walk(old: Any, new: Any, path: str, out: list[FieldChange]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(old.keys() | new.keys(), key=str):
            sub = _join(path, str(k))
            if k not in new:
                _leaves(old[k], sub, "removed", out)
            elif k not in old:
                _leaves(new[k], sub, "added", out)
            else:
                _walk(old[k], new[k], sub, out)
        return
    if isinstance(old, list) and isinstance(new, list):
        key = _keyed(old, new) if old and new else None
        if key is not None:
            before = {i[key]: i for i in old}
            after = {i[key]: i for i in new}
            for name in sorted(before.keys() | after.keys(), key=str):
                sub = f"{path}[{key}={name}]"
                if name not in after:
                    _leaves(before[name], sub, "removed", out)
                elif name not in before:
                    _leaves(after[name], sub, "added", out)
                else:
                    _walk(before[name], after[name], sub, out)
        elif len(old) == len(new) and not any(isinstance(i, dict | list) for i in old + new):
            for i, (a, b) in enumerate(zip(old, new, strict=True)):
                _walk(a, b, f"{path}[{i}]", out)
        else:
            # Unnamed items (policy statements, rules): what is gone and what is new, whole.
            out += [FieldChange(f"{path}[]", i, None, "removed") for i in old if i not in new]
            out += [FieldChange(f"{path}[]", None, i, "added") for i in new if i not in old]
        return
    a, b = _json_doc(old), _json_doc(new)
    if (a is not old or b is not new) and isinstance(a, dict | list) and isinstance(b, dict | list):
        inner: list[FieldChange] = []
        _walk(a, b, "", inner)
        for f in inner:
            f.path = f"{path}{{{f.path}}}"
        out += inner
        return
    out.append(FieldChange(path, old, new, "changed"))


# --- what is destructive, what widens access -----------------------------------------------


def _group(api_version: str) -> str:
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def _is_object(api_version: str, kind: str) -> bool:
    group = _group(api_version)
    return kind == "Object" and group.startswith("kubernetes.") and group.endswith("crossplane.io")


def _manifest(body: Body) -> Body:
    m = ((body.get("spec") or {}).get("forProvider") or {}).get("manifest")
    return m if isinstance(m, dict) else {}


def effective_kind(body: Body) -> tuple[str, str]:
    """(group, kind) of what a resource makes: a provider-kubernetes Object's manifest, else
    the resource itself."""
    api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
    if _is_object(api_version, kind):
        m = _manifest(body)
        return _group(str(m.get("apiVersion", ""))), str(m.get("kind", ""))
    return _group(api_version), kind


def _service(group: str) -> str:
    return group.split(".", maxsplit=1)[0]


# (service: first label of the API group, kind) -> what it is, for the message.
STATEFUL: dict[tuple[str, str], str] = {
    ("organizations", "Account"): "an AWS account",
    ("rds", "Instance"): "a database",
    ("rds", "Cluster"): "a database cluster",
    ("s3", "Bucket"): "a bucket",
    ("sqs", "Queue"): "a queue",
    ("elasticache", "ReplicationGroup"): "a cache",
    ("ecr", "Repository"): "an image repository",
    ("repo", "Repository"): "a git repository",
    ("", "Namespace"): "a namespace",
}

# Fields whose change makes the provider replace the resource: what names it, where it lives,
# the account it is in (through its ProviderConfig), its engine.
IDENTITY_FIELDS = (
    "apiVersion",  # another flavor's or version's kind is another object
    "kind",
    "metadata.name",
    "metadata.namespace",
    "metadata.annotations.crossplane.io/external-name",
    "spec.providerConfigRef.name",
    "spec.providerConfigRef.kind",
    "spec.forProvider.region",
    "spec.forProvider.name",
    "spec.forProvider.identifier",
    "spec.forProvider.replicationGroupId",
    "spec.forProvider.engine",
    "spec.forProvider.email",
    "spec.forProvider.manifest.metadata.name",
)


def stateful_kind(body: Body) -> str | None:
    group, kind = effective_kind(body)
    if kind == "Namespace" and group == "":
        return STATEFUL[("", "Namespace")]
    if not group:
        return None
    return STATEFUL.get((_service(group), kind))


# Access-relevant fields per (group, kind) of what is made; None: any field.
RBAC = {
    ("rbac.authorization.k8s.io", "Role"): ("rules",),
    ("rbac.authorization.k8s.io", "ClusterRole"): ("rules", "aggregationRule"),
    ("rbac.authorization.k8s.io", "RoleBinding"): ("subjects", "roleRef"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): ("subjects", "roleRef"),
}
APPPROJECT_FIELDS = (
    "spec.destinations",
    "spec.sourceRepos",
    "spec.sourceNamespaces",
    "spec.clusterResourceWhitelist",
    "spec.namespaceResourceWhitelist",
    "spec.clusterResourceBlacklist",
    "spec.namespaceResourceBlacklist",
    "spec.roles",
    "spec.destinationServiceAccounts",
)
IAM_FIELDS = (
    "spec.forProvider.assumeRolePolicy",
    "spec.forProvider.inlinePolicy",
    "spec.forProvider.managedPolicyArns",
    "spec.forProvider.permissionsBoundary",
    "spec.forProvider.policy",
    "spec.forProvider.policyArn",
    "spec.forProvider.role",
)
# AWS resources that grant access by existing: what they attach, associate or allow.
GRANTS: dict[tuple[str, str], str] = {
    ("iam", "RolePolicyAttachment"): "attaches an IAM policy",
    ("iam", "RolePolicy"): "an IAM inline policy",
    ("iam", "Policy"): "an IAM policy",
    ("iam", "UserPolicyAttachment"): "attaches an IAM policy",
    ("eks", "AccessEntry"): "EKS cluster access",
    ("eks", "AccessPolicyAssociation"): "EKS cluster access",
    ("eks", "PodIdentityAssociation"): "a pod's AWS identity",
    ("ecr", "RepositoryPolicy"): "an image repository policy",
    ("s3", "BucketPolicy"): "a bucket policy",
    ("sqs", "QueuePolicy"): "a queue policy",
    ("ec2", "SecurityGroupIngressRule"): "a network ingress rule",
    ("ec2", "SecurityGroupRule"): "a network rule",
}
# Guards whose removal or loosening opens access.
GUARDS: dict[tuple[str, str], str] = {
    ("networking.k8s.io", "NetworkPolicy"): "a NetworkPolicy",
    ("s3", "BucketPublicAccessBlock"): "a bucket's public access block",
    ("s3control", "AccountPublicAccessBlock"): "the account's S3 public access block",
}


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith((f"{p}.", f"{p}[", f"{p}{{")) for p in prefixes)


def classify(change: Change, before: Body | None, after: Body | None) -> None:
    """Fill in why `change` is destructive or widens access (both lists stay empty if not)."""
    body = after if after is not None else before
    assert body is not None
    group, kind = effective_kind(body)
    service = _service(group)
    paths = [f.path for f in change.fields]
    if before is not None and (stateful := stateful_kind(before)):
        if change.action == "removed":
            change.destructive.append(f"deletes {stateful}")
        elif change.action == "changed" and after is not None:
            replaced = [p for p in paths if p in IDENTITY_FIELDS]
            if stateful_kind(after) != stateful and "kind" not in replaced:
                replaced.append("kind")
            if replaced:
                change.destructive.append(f"replaces {stateful} ({', '.join(replaced)} changed)")
    if change.action == "removed":
        if (guard := GUARDS.get((group, kind)) or GUARDS.get((service, kind))) is not None:
            change.widening.append(f"removes {guard}")
        return
    manifest_paths = [
        p.removeprefix("spec.forProvider.manifest.")
        for p in paths
        if p.startswith("spec.forProvider.manifest.")
    ]
    inner = manifest_paths if _is_object(change.api_version, change.kind) else paths
    added = change.action == "added"
    if (group, kind) in RBAC:
        touched = [p for p in inner if _under(p, RBAC[(group, kind)])]
        if added or touched:
            change.widening.append(
                f"RBAC {kind} {'added' if added else 'changed: ' + _few(touched)}"
            )
    elif (group, kind) == ("argoproj.io", "AppProject"):
        touched = [p for p in inner if _under(p, APPPROJECT_FIELDS)]
        if added or touched:
            change.widening.append(
                f"AppProject {'added' if added else 'changed: ' + _few(touched)}"
            )
    elif (group, kind) in GUARDS or (service, kind) in GUARDS:
        guard = GUARDS.get((group, kind)) or GUARDS[(service, kind)]
        if not added:
            change.widening.append(f"changes {guard}: {_few(inner)}")
        elif kind == "NetworkPolicy":
            change.widening.append("adds a NetworkPolicy")
    elif service == "iam" and (service, kind) not in GRANTS:
        touched = [p for p in paths if _under(p, IAM_FIELDS)]
        if added and kind == "Role":
            change.widening.append("adds an IAM role (trust and policies)")
        elif touched:
            change.widening.append(f"IAM {kind} changed: {_few(touched)}")
    elif (service, kind) in GRANTS:
        change.widening.append(f"{'adds' if added else 'changes'} {GRANTS[(service, kind)]}")


def _few(given: list[str], n: int = 3) -> str:
    paths = list(dict.fromkeys(given))
    shown = ", ".join(paths[:n])
    return shown + (f" (+{len(paths) - n} more)" if len(paths) > n else "")


def compare(
    before: dict[Key, Body],
    after: dict[Key, Body],
    *,
    skip_owners: Iterable[Owner] = (),
) -> Diff:
    """The changes from `before` to `after`, with what is destructive and widens access.
    Resources of `skip_owners` (claims a version could not render) are not compared: a claim
    the function refuses keeps what it composed, so none of it is removed."""
    skip = set(skip_owners)
    diff = Diff(resources_before=len(before), resources_after=len(after))
    for key in sorted(before.keys() | after.keys()):
        if key.owner in skip:
            continue
        old, new = before.get(key), after.get(key)
        body = new if new is not None else old
        assert body is not None
        meta = body.get("metadata") or {}
        api_version, kind = str(body.get("apiVersion", "")), str(body.get("kind", ""))
        if old is None:
            change = Change(key, "added", kind, api_version, str(meta.get("name", "")))
        elif new is None:
            change = Change(key, "removed", kind, api_version, str(meta.get("name", "")))
        else:
            fields = field_changes(old, new)
            if not fields:
                continue
            change = Change(key, "changed", kind, api_version, str(meta.get("name", "")), fields)
        if _is_object(api_version, kind):
            change.makes = effective_kind(body)[1]
        classify(change, old, new)
        diff.changes.append(change)
    return diff


# --- printing -------------------------------------------------------------------------------

SYMBOL = {"added": "+", "removed": "-", "changed": "~"}
# GitHub refuses comments over 65,536 characters; the summary table always fits.
MARKDOWN_LIMIT = 60_000


def _value(v: Any, width: int = 100) -> str:
    text = v if isinstance(v, str) and v else json.dumps(v, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def summary(diff: Diff) -> str:
    if not diff.changes and not diff.errors:
        return f"no changes ({diff.resources_after} resources)"
    parts = [
        f"{diff.count('added')} to add",
        f"{diff.count('removed')} to remove",
        f"{diff.count('changed')} to change",
    ]
    marks = [f"{len(diff.destructive)} destructive", f"{len(diff.widening)} widening access"]
    text = f"{', '.join(parts)}; {', '.join(marks)}"
    if diff.errors:
        text += f"; {len(diff.errors)} claim(s) could not be rendered"
    return text


def _marks(c: Change) -> list[str]:
    return [f"DESTRUCTIVE: {d}" for d in c.destructive] + [
        f"WIDENS ACCESS: {w}" for w in c.widening
    ]


def _field_lines(c: Change) -> list[str]:
    out = []
    for f in c.fields:
        if f.action == "added":
            out.append(f"+ {f.path}: {_value(f.after)}")
        elif f.action == "removed":
            out.append(f"- {f.path}: {_value(f.before)}")
        else:
            out.append(f"~ {f.path}: {_value(f.before)} -> {_value(f.after)}")
    return out


def format_text(diff: Diff, *, fields: bool = True) -> str:
    lines: list[str] = []
    owner: Owner | None = None
    for c in diff.changes:
        if c.key.owner != owner:
            owner = c.key.owner
            lines.append(str(owner))
        lines.append(f"  {SYMBOL[c.action]} {c.key.resource}  {c.what} {c.name}")
        lines += [f"      {m}" for m in _marks(c)]
        if fields and c.action == "changed":
            lines += [f"      {line}" for line in _field_lines(c)]
    lines += [f"error: {e}" for e in diff.errors]
    lines.append(summary(diff))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def format_markdown(diff: Diff, *, fields: bool = True, title: str = "plinth diff") -> str:
    """A pull request comment: the summary, a table of what needs a reviewer's eye, then every
    change in a collapsed section."""
    flagged = [c for c in diff.changes if c.destructive or c.widening]
    head = "No changes." if not diff.changes and not diff.errors else summary(diff)
    icon = ":warning: " if flagged or diff.errors else ""
    out = [f"### {title}", "", f"{icon}**{head}**", ""]
    if diff.errors:
        out += ["Claims that could not be rendered (their resources are not compared):", ""]
        out += [f"- `{_cell(e)}`" for e in diff.errors] + [""]
    if flagged:
        out += ["| | claim | resource | kind | why |", "| --- | --- | --- | --- | --- |"]
        for c in flagged:
            why = "; ".join(
                [f"**destructive**: {d}" for d in c.destructive]
                + [f"**widens access**: {w}" for w in c.widening]
            )
            out.append(
                f"| {SYMBOL[c.action]} | {c.key.owner} | `{c.key.resource}` | {c.what} | "
                f"{_cell(why)} |"
            )
        out.append("")
    if diff.changes:
        body = ["<details><summary>All changes</summary>", "", "```diff"]
        # Column 0 is what GitHub colours in a diff block: +, - and the @@ of each claim.
        for raw in format_text(Diff(changes=diff.changes), fields=fields).splitlines()[:-1]:
            line = raw.replace("```", "'''")
            body.append(line.strip() if line.startswith(" ") else f"@@ {line} @@")
        body += ["```", "", "</details>"]
        size = sum(len(line) + 1 for line in out)
        text = "\n".join(body)
        if size + len(text) > MARKDOWN_LIMIT:
            text = "(every change is too long for a comment: run `plinth diff` locally)"
        out.append(text)
    return "\n".join(out) + "\n"


def format_json(diff: Diff) -> str:
    return json.dumps(diff.as_dict(), indent=2, sort_keys=False) + "\n"
