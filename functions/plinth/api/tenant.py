"""The TenantClaim API: a team onboarded onto the shared EKS clusters."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator
from pydantic.config import JsonDict

from plinth.api.base import (
    DNS_LABEL_PATTERN,
    ApiModel,
    AwsAccountId,
    Cidr,
    DnsLabel,
    Environment,
    TeamName,
    deletion_protection_field,
)
from plinth.api.overrides import Override, overrides_field
from plinth.api.platform import DEFAULT_RESERVED_NAMESPACES
from plinth.api.status import ProtectedStatus

# A namespace is <team>-<suffix>: 30 + 1 + 32 stays within a DNS label's 63 characters.
NamespaceSuffix = Annotated[str, Field(min_length=1, max_length=32, pattern=DNS_LABEL_PATTERN)]

# Kubernetes resource quantities (100m, 2, 4Gi, 1.5): the subset quotas use.
Quantity = Annotated[
    str,
    Field(
        pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
        max_length=20,
        description="A Kubernetes quantity, for example 500m, 4 or 8Gi.",
    ),
]

_RESERVED_CEL = "[" + ", ".join(f"'{n}'" for n in DEFAULT_RESERVED_NAMESPACES) + "]"
_LOWER = "^[a-z]([-a-z0-9]*[a-z0-9])?$"


class AccountRef(ApiModel):
    """The team's AWS account: an AccountClaim in the same namespace, or an account id."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.claimName) != has(self.accountId)",
                    "message": "set exactly one of account.claimName and account.accountId",
                },
                {
                    "rule": "!has(self.accountId) || has(self.providerConfig)",
                    "message": "account.providerConfig is required with account.accountId: "
                    "Plinth needs an AWS ProviderConfig that acts in that account",
                },
            ]
        }
    }

    claim_name: DnsLabel | None = Field(
        default=None,
        description="Name of an AccountClaim in this namespace; its status gives the account "
        "id and the ProviderConfig that acts in it.",
    )
    account_id: AwsAccountId | None = Field(default=None, description="An existing account id.")
    provider_config: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="AWS ProviderConfig (in this namespace, v2 flavor) that acts in the account. "
        "Required with accountId; with claimName it defaults to the AccountClaim's.",
    )

    @model_validator(mode="after")
    def _one(self) -> AccountRef:
        if (self.claim_name is None) == (self.account_id is None):
            raise ValueError("set exactly one of account.claimName and account.accountId")
        if self.account_id is not None and self.provider_config is None:
            raise ValueError("account.providerConfig is required with account.accountId")
        return self


class CapacityType(StrEnum):
    SPOT = "spot"
    ON_DEMAND = "on-demand"


class Architecture(StrEnum):
    AMD64 = "amd64"
    ARM64 = "arm64"


class Consolidation(StrEnum):
    WHEN_EMPTY = "WhenEmpty"
    WHEN_EMPTY_OR_UNDERUTILIZED = "WhenEmptyOrUnderutilized"


# Each value once, checked by the API server itself: a CEL rule comparing every pair costs
# more than the CRD's validation budget allows for lists inside a list (environments), and
# the API server refuses the whole CRD for it.
_UNIQUE_ITEMS: JsonDict = {"x-kubernetes-list-type": "set"}


class DedicatedCapacity(ApiModel):
    """A node pool of the tenant's own on each cluster of the environment (Karpenter)."""

    capacity_types: list[CapacityType] = Field(
        default_factory=lambda: [CapacityType.ON_DEMAND],
        min_length=1,
        max_length=2,
        description="spot, on-demand, or both (Karpenter prefers spot when both are listed).",
        json_schema_extra=_UNIQUE_ITEMS,
    )
    architectures: list[Architecture] = Field(
        default_factory=lambda: [Architecture.AMD64],
        min_length=1,
        max_length=2,
        description="amd64, arm64 (Graviton), or both: images must be built for each.",
        json_schema_extra=_UNIQUE_ITEMS,
    )
    instance_families: list[
        Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$", max_length=16)]
    ] = Field(
        default_factory=list,
        max_length=20,
        description="EC2 instance families (m7g, c7i, ...) within those the platform allows; "
        "empty means all of them.",
        json_schema_extra=_UNIQUE_ITEMS,
    )
    instance_sizes: list[Annotated[str, Field(pattern=r"^[a-z0-9]{1,12}$", max_length=12)]] = Field(
        default_factory=list,
        max_length=20,
        description="EC2 instance sizes (large, xlarge, ...) within those the platform allows; "
        "empty means all of them.",
        json_schema_extra=_UNIQUE_ITEMS,
    )
    cpu: Quantity = Field(
        default="16", description="CPU limit of the pool (cores, over all its nodes)."
    )
    memory: Quantity = Field(default="64Gi", description="Memory limit of the pool.")
    disruption_budget: str = Field(
        default="10%",
        pattern=r"^(100|[1-9]?[0-9])%$|^[0-9]+$",
        description="How many nodes Karpenter may disrupt at once: a count or a percentage.",
    )
    consolidation: Consolidation = Field(
        default=Consolidation.WHEN_EMPTY_OR_UNDERUTILIZED,
        description="WhenEmptyOrUnderutilized packs pods onto fewer nodes; WhenEmpty only "
        "removes empty nodes.",
    )
    consolidate_after: str = Field(
        default="5m",
        pattern=r"^([0-9]+(s|m|h))+$",
        description="How long a node must be consolidatable before Karpenter acts.",
    )


class Guardrails(ApiModel):
    """Per-tenant choices of the Kyverno guardrails, all of them no weaker than the platform's."""

    registries: list[Annotated[str, Field(min_length=3, max_length=200)]] = Field(
        default_factory=list,
        max_length=30,
        description="Narrow the registries the platform allows to these (each one of the "
        "platform's allowedRegistries); empty means all of them. The tenant's own ECR "
        "repositories are always allowed.",
    )
    require_limits: bool = Field(
        default=False,
        description="Also require a memory limit on every container (stricter than the "
        "default, which requires requests).",
    )


class TenantEnvironment(ApiModel):
    """One environment the team runs in."""

    name: Environment = Field(description="dev, staging or prod.")
    namespaces: list[NamespaceSuffix] = Field(
        default_factory=list,
        max_length=10,
        description="Namespace suffixes; each becomes <team>-<suffix>. Empty means one "
        "namespace named after the team.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(n, self.exists_one(m, m == n))",
                    "message": "each namespace suffix may be listed once",
                }
            ]
        },
    )
    clusters: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list,
        max_length=10,
        description="Pin these clusters of the environment (by name) instead of all of them; "
        "the escape hatch for a team that must stay in one region.",
    )
    account: AccountRef | None = Field(
        default=None,
        description="This environment's AWS account (an AccountClaim in this namespace, or an "
        "account id with its ProviderConfig); defaults to spec.account. Every AWS resource of "
        "the environment's apps lands there. A prod environment never shares an account with a "
        "non-prod one.",
    )
    capacity: DedicatedCapacity | None = Field(
        default=None,
        description="Dedicated capacity: a Karpenter node pool of the tenant's own on each "
        "cluster of this environment, tainted for the tenant; every pod of the tenant's "
        "namespaces there lands on it. Empty means the shared nodes.",
    )


def ref_key(ref: AccountRef) -> str:
    """What identifies an account reference: its AccountClaim's name or its account id (an
    AccountClaim name is a DNS label, so the two never meet)."""
    return ref.claim_name or ref.account_id or ""


# CEL: the account key of environment `e`, its own or the tenant's default.
_KEY_OF_ACCOUNT = "(has({a}.claimName) ? {a}.claimName : {a}.accountId)"
_KEY_OF_ENV = (
    "(has({e}.account) ? "
    + _KEY_OF_ACCOUNT.format(a="{e}.account")
    + " : (has(self.account) ? "
    + _KEY_OF_ACCOUNT.format(a="self.account")
    + " : ''))"
)


def _key_of(env: str) -> str:
    return _KEY_OF_ENV.replace("{e}", env)


class QuotaSize(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Quota(ApiModel):
    """A t-shirt size per namespace, with explicit overrides of single limits."""

    size: QuotaSize = Field(default=QuotaSize.SMALL, description="small, medium or large.")
    cpu: Quantity | None = Field(default=None, description="Override: total CPU requests.")
    memory: Quantity | None = Field(default=None, description="Override: total memory requests.")
    pods: int | None = Field(default=None, ge=1, le=5000, description="Override: pod count.")
    storage: Quantity | None = Field(
        default=None, description="Override: total persistent volume claim storage."
    )


class MemberRole(StrEnum):
    ADMIN = "admin"
    EDIT = "edit"
    VIEW = "view"


class Member(ApiModel):
    """Who may reach the tenant's namespaces, and with which Kubernetes ClusterRole."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.roleArn) != has(self.permissionSet)",
                    "message": "set exactly one of roleArn and permissionSet on a member",
                }
            ]
        }
    }

    role: MemberRole = Field(
        default=MemberRole.EDIT, description="admin, edit or view in the tenant's namespaces."
    )
    role_arn: str | None = Field(
        default=None,
        max_length=600,
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]+$",
        description="An IAM role whose sessions may assume the tenant's role for this level.",
    )
    permission_set: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_+=,.@-]{1,32}$",
        description="An IAM Identity Center permission set name: every Identity Center group "
        "assigned this permission set on the team's account (AccountClaim spec.access) may "
        "assume the tenant's role for this level.",
    )

    @model_validator(mode="after")
    def _one(self) -> Member:
        if (self.role_arn is None) == (self.permission_set is None):
            raise ValueError("set exactly one of roleArn and permissionSet on a member")
        return self


class EgressRule(ApiModel):
    """Traffic the tenant's pods may send outside the cluster, beyond DNS."""

    cidr: Cidr = Field(description="Destination CIDR.")
    ports: list[Annotated[int, Field(ge=1, le=65535)]] = Field(
        default_factory=list, max_length=10, description="Destination ports; empty means all."
    )
    protocol: str = Field(default="TCP", pattern=r"^(TCP|UDP)$", description="TCP or UDP.")


class PodSecurity(StrEnum):
    RESTRICTED = "restricted"
    BASELINE = "baseline"


class Certificate(ApiModel):
    """A wildcard certificate for the team's domain, issued by the cluster's ClusterIssuer."""

    domain: str = Field(
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$",
        max_length=200,
        description="The team's domain; the certificate covers it and *.<domain>.",
    )


class TenantSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": f"!has(self.team) || (!(self.team in {_RESERVED_CEL}) "
                    "&& !self.team.startsWith('kube-'))",
                    "message": "team collides with a reserved namespace (kube-*, default, or a "
                    "platform namespace): choose another team name",
                },
                {
                    "rule": "!has(self.team) || self.environments.all(e, !has(e.namespaces) || "
                    f"e.namespaces.all(n, !((self.team + '-' + n) in {_RESERVED_CEL})))",
                    "message": "a namespace <team>-<suffix> collides with a reserved namespace "
                    "(kube-*, default, or a platform namespace)",
                },
                {
                    "rule": "has(self.account) || self.environments.all(e, has(e.account))",
                    "message": "every environment needs an account: set spec.account (the "
                    "default) or environments[].account",
                },
                {
                    "rule": "(has(self.allowSharedProdAccount) && self.allowSharedProdAccount) "
                    "|| self.environments.all(p, p.name != 'prod' || self.environments.all(e, "
                    f"e.name == 'prod' || {_key_of('p')} != {_key_of('e')}))",
                    "message": "prod shares an account with a non-prod environment: dev and "
                    "prod never share an account (give prod an account of its own, or set "
                    "allowSharedProdAccount on purpose; see docs/tenant.md)",
                },
            ]
        }
    }

    team: TeamName | None = Field(
        default=None,
        description="The team this tenant is for. Optional: a claim acts for the team of its "
        "management namespace (docs/security.md), and a different team here is refused. The "
        "team prefixes every namespace.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": f"self.matches('{_LOWER}')",
                    "message": "team must be a lower-case DNS label: a-z, 0-9 and '-', "
                    "starting with a letter",
                },
                {
                    "rule": "size(self) <= 30",
                    "message": "team must be at most 30 characters: it prefixes namespaces "
                    "and IAM role names",
                },
            ]
        },
    )
    account: AccountRef | None = Field(
        default=None,
        description="The default AWS account: of every environment that names none, and where "
        "the team's app images live (ECR, CI roles). Optional when every environment names "
        "its own.",
    )
    environments: list[TenantEnvironment] = Field(
        min_length=1,
        max_length=3,
        description="Environments the team runs in.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(e, self.exists_one(f, f.name == e.name))",
                    "message": "each environment may be listed once",
                }
            ]
        },
    )
    quota: Quota = Field(
        default_factory=Quota, description="ResourceQuota and LimitRange of every namespace."
    )
    members: list[Member] = Field(
        default_factory=list,
        max_length=20,
        description="Who gets access. Empty means: sessions of the team's own account may "
        "assume the tenant's edit role.",
    )
    egress: list[EgressRule] = Field(
        default_factory=list,
        max_length=20,
        description="Extra egress allowed from every namespace (DNS is always allowed).",
    )
    pod_security: PodSecurity = Field(
        default=PodSecurity.RESTRICTED,
        description="Pod Security Admission level enforced in every namespace; baseline is the "
        "opt-out for workloads that cannot run restricted.",
    )
    certificate: Certificate | None = Field(
        default=None, description="A wildcard certificate in every namespace."
    )
    repositories: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list,
        max_length=20,
        description="Git repositories (names in the platform's GitHub organization, or URL "
        "globs) Argo CD may sync the tenant's apps from. Empty means <team> and <team>-*.",
    )

    guardrails: Guardrails = Field(
        default_factory=Guardrails,
        description="Kyverno policies in every namespace: images from allowed registries, "
        "requests required, no host namespaces, privileged containers or hostPath.",
    )
    overrides: list[Override] = overrides_field()

    allow_shared_prod_account: bool = Field(
        default=False,
        description="The escape hatch: let prod share an account with a non-prod environment. "
        "Off by default, because dev and prod never share an account (security, and cost per "
        "workload); set it only on purpose.",
    )
    deletion_protection: bool = deletion_protection_field()

    @model_validator(mode="after")
    def _accounts(self) -> TenantSpec:
        # The same rules as the CEL above, for claims that bypass the API server.
        refs = account_refs(self)
        missing = [e.name.value for e in self.environments if e.name not in refs]
        if missing:
            raise ValueError(
                f"environment(s) {', '.join(missing)} need an account: set spec.account (the "
                "default) or environments[].account"
            )
        if not self.allow_shared_prod_account and Environment.PROD in refs:
            prod = ref_key(refs[Environment.PROD])
            shared = sorted(
                e.value for e, r in refs.items() if e is not Environment.PROD and ref_key(r) == prod
            )
            if shared:
                raise ValueError(
                    f"prod shares account {prod} with {', '.join(shared)}: dev and prod never "
                    "share an account (give prod an account of its own, or set "
                    "allowSharedProdAccount on purpose)"
                )
        return self

    @model_validator(mode="after")
    def _not_reserved(self) -> TenantSpec:
        # The XRD's CEL rules say the same; this catches claims that bypass the API server.
        # Without spec.team the composer checks the derived team's namespaces instead.
        if self.team is None:
            return self
        for env in self.environments:
            for ns in namespace_names(self.team, env):
                if ns in DEFAULT_RESERVED_NAMESPACES or ns.startswith("kube-"):
                    raise ValueError(f"namespace {ns!r} is reserved")
        return self


ENVIRONMENT_ORDER = (Environment.DEV, Environment.STAGING, Environment.PROD)


def account_refs(spec: TenantSpec) -> dict[Environment, AccountRef]:
    """The account reference each environment uses: its own, else the tenant's default."""
    out = {}
    for env in spec.environments:
        ref = env.account or spec.account
        if ref is not None:
            out[env.name] = ref
    return out


def home_ref(spec: TenantSpec) -> AccountRef | None:
    """The tenant's home account, where per-team resources live (app images, CI roles) and
    whose resources keep the names they had before accounts per environment: spec.account,
    else the account of the first environment in the order dev, staging, prod (not the
    claim's list order, so reordering the list renames nothing)."""
    if spec.account is not None:
        return spec.account
    refs = account_refs(spec)
    return next((refs[e] for e in ENVIRONMENT_ORDER if e in refs), None)


def namespace_names(team: str, env: TenantEnvironment) -> list[str]:
    """The namespaces of one environment: <team>-<suffix>, or <team> alone."""
    return [f"{team}-{s}" for s in env.namespaces] or [team]


class TenantNamespace(ApiModel):
    environment: Environment = Field(description="The environment.")
    cluster: str = Field(description="The cluster.")
    region: str = Field(description="The cluster's region.")
    namespace: str = Field(description="The namespace.")
    ready: bool = Field(
        default=False,
        description="Isolated and bound (network policies, quota, limits, RBAC, deployer), the "
        "tenant's guardrails on its cluster in place, and its AppProject created: apps deliver "
        "into it from then on, while the tenant's IAM roles and EKS access may still be coming.",
    )


class TenantRoleAccess(ApiModel):
    role: MemberRole = Field(description="admin, edit or view.")
    role_arn: str = Field(description="The IAM role to assume for this level.")
    commands: list[str] = Field(
        default_factory=list, description="The commands a developer runs to get access."
    )


class TenantClusterStatus(ApiModel):
    environment: Environment = Field(description="The environment.")
    cluster: str = Field(description="The EKS cluster.")
    region: str = Field(description="The cluster's region.")
    namespaces: list[str] = Field(default_factory=list, description="The tenant's namespaces.")
    access: list[TenantRoleAccess] = Field(
        default_factory=list, description="Per access level: role ARN and commands."
    )


class TenantAccountStatus(ApiModel):
    environment: Environment = Field(description="The environment.")
    account_id: str = Field(description="The AWS account its apps' resources land in.")


class TenantStatus(ProtectedStatus):
    namespaces: list[TenantNamespace] = Field(
        default_factory=list, description="Namespaces per environment and cluster."
    )
    account_id: str | None = Field(
        default=None, description="The team's home AWS account id (spec.account's)."
    )
    accounts: list[TenantAccountStatus] = Field(
        default_factory=list, description="The AWS account of each environment, once known."
    )
    clusters: list[TenantClusterStatus] = Field(
        default_factory=list,
        description="Per environment and cluster: namespaces, roles and access commands.",
    )
