"""What Plinth's packages declare, derived from the models: the managed resource kinds its
compositions create (the ManagedResourceActivationPolicy of each Configuration activates
exactly these; a test derives the set from every phase of every example and compares), the
provider packages that serve them, the function's capabilities, and the name Crossplane gives
a package it installs as a dependency. Pure: plinth.tools.packages builds the packages.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from plinth import __version__
from plinth.api.flavor import FLAVORS, Flavor

Body = dict[str, Any]

VERSION_LABEL = "plinth.dev/version"
# Where the providers Plinth composes for are published (upstream's own registry names).
PROVIDER_REGISTRY = "xpkg.crossplane.io/crossplane-contrib"
MRAP_API_VERSION = "apiextensions.crossplane.io/v1alpha1"
MRAP_KIND = "ManagedResourceActivationPolicy"
# A composition function that serves Composition pipelines (not Operations): Crossplane's
# CompositionRevision controller checks every function of a pipeline for this capability.
FUNCTION_CAPABILITIES = ("composition",)


class ManagedResource(NamedTuple):
    """One managed resource kind a Plinth composition creates, named flavor-independently:
    the provider family, the service (AWS) or API group's first label (GitHub), the plural.
    Its MRD is `<plural>.<group>`, the group depending on the flavor (`.m.` in v2)."""

    provider: Literal["aws", "github", "kubernetes"]
    service: str
    plural: str

    def group(self, flavor: Flavor) -> str:
        info = FLAVORS[flavor]
        if self.provider == "aws":
            return f"{self.service}.{info.aws_group_suffix}"
        if self.provider == "github":
            return f"{self.service}.{info.github_group_suffix}"
        return info.object_api_version.split("/")[0]

    def mrd_name(self, flavor: Flavor) -> str:
        return f"{self.plural}.{self.group(flavor)}"

    @property
    def package(self) -> str:
        """The provider package that serves this kind (its upstream name, without a tag)."""
        name = {
            "aws": f"provider-aws-{self.service}",
            "github": "provider-upjet-github",
            "kubernetes": "provider-kubernetes",
        }[self.provider]
        return f"{PROVIDER_REGISTRY}/{name}"


def _mr(
    provider: Literal["aws", "github", "kubernetes"], service: str, *plurals: str
) -> list[ManagedResource]:
    return [ManagedResource(provider, service, p) for p in plurals]


# Every managed resource kind any composer writes, in any phase, in both flavors (the same
# kinds: v2 composes the namespaced `.m.` groups, legacy the cluster-scoped ones).
# tests/test_packages.py renders every phase of every example and fails when this differs.
MANAGED_RESOURCES: tuple[ManagedResource, ...] = (
    *_mr("aws", "backup", "plans", "selections", "vaults"),
    *_mr("aws", "budgets", "budgets"),
    *_mr("aws", "configservice", "configrules"),
    *_mr(
        "aws",
        "ec2",
        "ebsencryptionbydefaults",
        "eips",
        "internetgateways",
        "natgateways",
        "routes",
        "routetables",
        "routetableassociations",
        "securitygroups",
        "securitygroupingressrules",
        "subnets",
        "transitgatewayvpcattachments",
        "vpcs",
    ),
    *_mr("aws", "ecr", "lifecyclepolicies", "repositories", "repositorypolicies"),
    *_mr("aws", "eks", "accessentries", "accesspolicyassociations", "podidentityassociations"),
    *_mr("aws", "elasticache", "replicationgroups", "subnetgroups", "users", "usergroups"),
    *_mr("aws", "iam", "openidconnectproviders", "roles", "rolepolicyattachments"),
    *_mr("aws", "organizations", "accounts"),
    *_mr("aws", "rds", "instances", "subnetgroups"),
    *_mr(
        "aws",
        "s3",
        "buckets",
        "bucketownershipcontrols",
        "bucketpublicaccessblocks",
        "bucketserversideencryptionconfigurations",
        "bucketversionings",
    ),
    *_mr("aws", "s3control", "accountpublicaccessblocks"),
    *_mr("aws", "sqs", "queues"),
    *_mr("aws", "ssoadmin", "accountassignments"),
    *_mr("github", "actions", "actionsvariables"),
    *_mr("github", "repo", "branchprotections", "repositories"),
    *_mr("kubernetes", "", "objects"),
)

# The lowest provider release each family's kinds (and their v2 namespaced groups) exist in.
PROVIDER_CONSTRAINTS = {"aws": ">=v2.0.0", "kubernetes": ">=v1.0.0", "github": ">=v0.19.0"}


def activations(flavor: Flavor) -> list[str]:
    """The MRD names a flavor's Configuration activates: exactly what its compositions create."""
    return sorted({mr.mrd_name(flavor) for mr in MANAGED_RESOURCES})


def aws_services() -> tuple[str, ...]:
    return tuple(sorted({mr.service for mr in MANAGED_RESOURCES if mr.provider == "aws"}))


def provider_dependencies() -> list[dict[str, str]]:
    """`dependsOn` entries for the providers: one per package serving a kind we compose."""
    constraint = {mr.package: PROVIDER_CONSTRAINTS[mr.provider] for mr in MANAGED_RESOURCES}
    return [{"provider": p, "version": constraint[p]} for p in sorted(constraint)]


def function_constraint(version: str = __version__) -> str:
    """The function-plinth releases a Configuration of `version` works with: its own minor
    series onwards. The function's input and behaviour change only with a minor release, so a
    patch release of a Configuration installs (or upgrades onto) the function already running
    without Crossplane's alpha dependency-upgrade feature."""
    major, minor, *_ = semver(version)
    return f">=v{major}.{minor}.0"


def semver(version: str) -> tuple[int, int, int]:
    parts = version.removeprefix("v").split("-", 1)[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValueError(f"{version!r} is not a MAJOR.MINOR.PATCH version")
    return int(parts[0]), int(parts[1]), int(parts[2])


def dependency_name(source: str) -> str:
    """The name Crossplane gives a package it installs as a dependency: its repository without
    the registry, as a DNS label (`NewPackage` in core's resolver: `ToDNSLabel(RepositoryStr)`).
    A Composition must reference function-plinth by this name, or a Configuration installed
    with its dependencies finds no function."""
    return to_dns_label(source.split("/", 1)[1] if "/" in source else source)


def to_dns_label(s: str) -> str:
    """crossplane-runtime `xpkg.ToDNSLabel`: keep [a-z0-9], map `./:-` to `-` except at the
    first and last index and at index 62, stop after index 62, trim `-`."""
    out = []
    for i, c in enumerate(s):
        if c.isascii() and (c.islower() or c.isdigit()):
            out.append(c)
        if c in "./:-" and i not in (0, 62, len(s) - 1):
            out.append("-")
        if i == 62:
            break
    return "".join(out).strip("-")


def activation_policy(flavor: Flavor, version: str = __version__) -> Body:
    legacy = flavor is Flavor.LEGACY
    return {
        "apiVersion": MRAP_API_VERSION,
        "kind": MRAP_KIND,
        "metadata": {
            "name": "plinth-legacy" if legacy else "plinth",
            "labels": {VERSION_LABEL: version},
        },
        "spec": {"activate": activations(flavor)},
    }
