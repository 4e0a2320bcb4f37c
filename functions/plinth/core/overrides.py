"""Overrides: a claim's merge patches of chosen fields of what it composes, applied in one place
for all three claims (docs/tenant.md#overrides).

An override is the escape hatch for the 20% that the defaults do not fit, so it is refused
wherever it could weaken what Plinth guarantees:

* only the provider's parameters may change: `spec.forProvider` / `spec.initProvider` of a
  managed resource, the manifest's `spec` inside a provider-kubernetes Object. Never metadata
  (names, labels), `providerConfigRef`, deletion or management policies;
* never a kind that is itself a boundary (namespaces, network policies, quotas, RBAC, security
  groups and routes, IAM trust and attachments, access entries, bucket and repository
  policies, protection Usages, Argo CD projects, Kyverno policies, ProviderConfigs);
* never a field that guards isolation or data wherever it appears (IAM policies and trust,
  references and selectors to other resources, networks, encryption, deletion protection,
  Argo CD destinations and sources, node pool taints);
* never a change of a field's shape (an object for a scalar or the reverse): the rest of the
  schema is the upstream CRD's, which `plinth validate --render` checks the result against.

A refused override raises Refused, which the function turns into a Fatal result: Crossplane
then applies nothing, so a refused override changes nothing.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from plinth.api.overrides import Override
from plinth.core.bodies import Body, at
from plinth.core.composition import Composition
from plinth.core.tenancy import Refused

OBJECT_KIND = "Object"

# Where a patch may write, by what the resource is.
MANAGED_ROOTS: tuple[tuple[str, ...], ...] = (("spec", "forProvider"), ("spec", "initProvider"))
OBJECT_ROOTS: tuple[tuple[str, ...], ...] = (("spec", "forProvider", "manifest", "spec"),)

# Kinds that are boundaries themselves: no field of theirs is an override's to change. Inside
# a provider-kubernetes Object, by the manifest's kind:
REFUSED_MANIFEST_KINDS = frozenset(
    {
        # Kubernetes
        "Namespace",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "ServiceAccount",
        "SecretStore",
        # Argo CD, Kyverno, Karpenter
        "AppProject",
        "ApplicationSet",
        "ClusterPolicy",
        "Policy",
        "PolicyException",
        "EC2NodeClass",
        # the platform's capacity limits are checked on the claim's capacity, not on a patch
        "NodePool",
    }
)
# And managed resources, by their kind:
REFUSED_MANAGED_KINDS = frozenset(
    {
        # Crossplane
        "Usage",
        "ClusterUsage",
        "ProviderConfig",
        "ClusterProviderConfig",
        # AWS: networks, IAM and access, policies, protection of data
        "VPC",
        "Subnet",
        "Route",
        "RouteTable",
        "RouteTableAssociation",
        "InternetGateway",
        "NATGateway",
        "EIP",
        "TransitGatewayVPCAttachment",
        "SecurityGroup",
        "SecurityGroupIngressRule",
        "SecurityGroupEgressRule",
        "RolePolicyAttachment",
        "OpenIDConnectProvider",
        "AccessEntry",
        "AccessPolicyAssociation",
        "PodIdentityAssociation",
        "AccountAssignment",
        "Account",
        "RepositoryPolicy",
        "BucketPublicAccessBlock",
        "AccountPublicAccessBlock",
        "BucketOwnershipControls",
        "BucketServerSideEncryptionConfiguration",
        "BucketVersioning",
        "EBSEncryptionByDefault",
        "Vault",
        "Selection",
        "User",
        "UserGroup",
        # GitHub
        "BranchProtection",
        "ActionsVariable",
    }
)

# Fields that guard isolation or data, wherever in a patch they appear.
GUARDED_FIELDS = frozenset(
    {
        # identity and placement
        "name",
        "namespace",
        "region",
        "clusterName",
        "accountId",
        "targetId",
        "principalId",
        "roleName",
        "providerConfigRef",
        "deletionPolicy",
        "managementPolicies",
        # IAM: trust and permissions
        "assumeRolePolicy",
        "inlinePolicy",
        "policy",
        "managedPolicyArns",
        "permissionsBoundary",
        # networks
        "vpcId",
        "subnetIds",
        "subnetGroupName",
        "dbSubnetGroupName",
        "securityGroupIds",
        "vpcSecurityGroupIds",
        "publiclyAccessible",
        "cidrBlock",
        # data: encryption, deletion, retention of what is lost
        "kmsKeyId",
        "kmsMasterKeyId",
        "storageEncrypted",
        "atRestEncryptionEnabled",
        "transitEncryptionEnabled",
        "authTokenEnabled",
        "deletionProtection",
        "skipFinalSnapshot",
        "finalSnapshotIdentifier",
        "forceDestroy",
        "redrivePolicy",
        "redriveAllowPolicy",
        "userGroupIds",
        "encryptionConfiguration",
        # Argo CD: where and what it syncs
        "project",
        "destination",
        "destinations",
        "source",
        "sources",
        "sourceRepos",
        "repoURL",
        # workloads and nodes
        "serviceAccountName",
        "taints",
        "nodeClassRef",
        "template",
    }
)

# Suffixes of fields that point at other resources, which could be another team's.
GUARDED_SUFFIXES = ("Ref", "Refs", "Selector", "Arn", "Arns")


def _guarded(key: str) -> bool:
    return key in GUARDED_FIELDS or key.endswith(GUARDED_SUFFIXES)


def _refused_kind(body: Body) -> str | None:
    """The kind of `body` (its manifest's, for an Object) when it is a boundary itself."""
    if body.get("kind") == OBJECT_KIND:
        manifest = ((body.get("spec") or {}).get("forProvider") or {}).get("manifest") or {}
        kind = str(manifest.get("kind", ""))
        return kind if kind in REFUSED_MANIFEST_KINDS else None
    kind = str(body.get("kind", ""))
    return kind if kind in REFUSED_MANAGED_KINDS else None


def _roots(body: Body) -> tuple[tuple[str, ...], ...]:
    return OBJECT_ROOTS if body.get("kind") == OBJECT_KIND else MANAGED_ROOTS


def _leaves(patch: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths a merge patch writes: every key it sets, down to its leaves."""
    out = []
    for key, value in patch.items():
        path = (*prefix, str(key))
        out.append(path)
        if isinstance(value, Mapping):
            out += _leaves(value, path)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Mapping):
                    out += _leaves(item, path)
    return out


def check(override: Override, body: Body) -> None:
    """Refused unless every field the patch writes may be overridden on `body`."""
    where = f"overrides[{override.resource}]"
    kind = _refused_kind(body)
    if kind is not None:
        raise Refused(
            f"{where}: a {kind} guards isolation or data and cannot be overridden "
            "(docs/tenant.md#overrides lists what can)"
        )
    roots = _roots(body)
    for path in _leaves(override.patch):
        shown = ".".join(path)
        depth = len(path)
        if not any(path[: len(r)] == r[:depth] for r in roots):
            allowed = " or ".join(".".join(r) for r in roots)
            raise Refused(
                f"{where}: {shown} is not under {allowed}, the fields an override may set"
            )
        inside = next((r for r in roots if path[: len(r)] == r), None)
        if inside is None:
            continue
        if any(_guarded(k) for k in path[len(inside) :]):
            raise Refused(
                f"{where}: {shown} guards isolation or data (names, ProviderConfigs, deletion "
                "policies, IAM trust and policies, references, networks, encryption) and "
                "cannot be overridden"
            )
    _check_shapes(where, override.patch, body, ())


def _check_shapes(where: str, patch: Mapping[str, Any], body: Any, path: tuple[str, ...]) -> None:
    for key, value in patch.items():
        sub = (*path, key)
        current = at(body, *sub)
        if current is None or value is None:
            continue
        if isinstance(current, dict) != isinstance(value, Mapping) or isinstance(
            current, list
        ) != isinstance(value, list):
            raise Refused(
                f"{where}: {'.'.join(sub)} is {type(current).__name__} in the composed "
                f"resource, the patch gives {type(value).__name__}"
            )
        if isinstance(value, Mapping):
            _check_shapes(where, value, body, sub)


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge(out.get(key), value)
    return out


def apply(out: Composition, overrides: Iterable[Override]) -> None:
    """Patch the composed resources as the claim's overrides say; Refused for any override that
    names no resource of this claim or writes a field it may not.

    An override of a resource that is pending (not composed yet in this phase) is applied once
    it is composed; the kept observed body of a pending resource is never patched here."""
    overrides = list(overrides)
    planned = out.planned()
    for o in overrides:
        if o.resource not in planned:
            near = difflib.get_close_matches(o.resource, sorted(planned), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise Refused(
                f"overrides[{o.resource}]: this claim composes no resource of that name{hint}; "
                "`plinth render` shows each one's crossplane.io/composition-resource-name"
            )
    # Check every override before applying any: one refused leaves every resource as it was.
    for o in overrides:
        if o.resource in out.resources:
            check(o, out.resources[o.resource])
    for o in overrides:
        if o.resource in out.resources:
            out.resources[o.resource] = merge(out.resources[o.resource], o.patch)
