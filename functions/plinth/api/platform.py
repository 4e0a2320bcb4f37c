"""The platform's facts, kept in one EnvironmentConfig that no claim repeats.

The platform team maintains a single `EnvironmentConfig` (default name `plinth-platform`);
the function asks Crossplane for it as a required resource on every call. Sections that only
one claim kind needs are optional here, so a platform that only offers tenants need not
describe an AWS Organization; the composer that needs a missing section says so.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, model_validator

from plinth.api.base import (
    ApiModel,
    AwsAccountId,
    AwsRegion,
    Cidr,
    DnsLabel,
    Environment,
    TeamName,
)

DEFAULT_PLATFORM_CONFIG_NAME = "plinth-platform"

ProviderConfigName = Annotated[str, Field(min_length=1, max_length=253)]

# Namespaces no tenant may claim: the cluster's own and the platform's add-ons.
DEFAULT_RESERVED_NAMESPACES: tuple[str, ...] = (
    "default",
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "argocd",
    "crossplane-system",
    "cert-manager",
    "external-secrets",
    "ingress-nginx",
    "monitoring",
)


class SecretKeyRef(ApiModel):
    namespace: str
    name: str
    key: str


class AwsCredentials(ApiModel):
    """The `spec.credentials` of provider-upjet-aws ProviderConfigs Plinth creates."""

    source: Literal["IRSA", "PodIdentity", "WebIdentity", "Secret", "Upbound"] = Field(
        default="PodIdentity", description="Credential source of the AWS provider's pods."
    )
    secret_ref: SecretKeyRef | None = Field(
        default=None, description="The credentials Secret, when source is Secret."
    )

    @model_validator(mode="after")
    def _secret(self) -> AwsCredentials:
        if (self.source == "Secret") != (self.secret_ref is not None):
            raise ValueError("secretRef must be set exactly when source is Secret")
        return self


class ProviderConfigs(ApiModel):
    """Names of the provider configs that reach the platform's own accounts and clusters.

    In the v2 flavor these are `ClusterProviderConfig`s; in the legacy flavor, the
    cluster-scoped `ProviderConfig`s of the same name.
    """

    aws_management: ProviderConfigName = Field(
        default="aws-management",
        description="AWS provider config for the Organizations management account "
        "(creates accounts, Identity Center assignments).",
    )
    kubernetes_management: ProviderConfigName = Field(
        default="kubernetes-management",
        description="provider-kubernetes config that reaches the management cluster itself "
        "(Argo CD AppProjects and Applications live there).",
    )
    github: ProviderConfigName = Field(
        default="github", description="provider-upjet-github config for the GitHub organization."
    )
    aws_credentials: AwsCredentials = Field(
        default_factory=AwsCredentials,
        description="How provider-upjet-aws authenticates before assuming a role into a "
        "vended account; copied into every account's ProviderConfig.",
    )


class Organization(ApiModel):
    """Where new AWS accounts are created."""

    root_id: str = Field(pattern=r"^r-[0-9a-z]{4,32}$", description="Organization root id.")
    organizational_units: dict[Environment, str] = Field(
        description="Organizational unit id (ou-...) per environment; dev and prod accounts "
        "land in different OUs so that their SCPs differ.",
    )
    access_role_name: str = Field(
        default="OrganizationAccountAccessRole",
        pattern=r"^[\w+=,.@-]{1,64}$",
        description="Role that AWS Organizations creates in every new account and that the "
        "platform assumes to baseline it.",
    )

    @model_validator(mode="after")
    def _ou_ids(self) -> Organization:
        for env, ou in self.organizational_units.items():
            if not ou.startswith("ou-"):
                raise ValueError(
                    f"organizationalUnits.{env.value}: {ou!r} is not an OU id (ou-...)"
                )
        return self


class TransitGateway(ApiModel):
    """The shared transit gateway every account VPC attaches to."""

    id: str = Field(pattern=r"^tgw-[0-9a-f]{8,17}$", description="Transit gateway id.")
    region: AwsRegion = Field(description="Region of the transit gateway.")
    ram_share_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:ram:",
        description="RAM resource share that shares the transit gateway with the organization.",
    )
    routes: list[Cidr] = Field(
        default_factory=lambda: ["10.0.0.0/8"],
        description="Destination CIDRs routed from private subnets to the transit gateway.",
    )


class IdentityCenter(ApiModel):
    """IAM Identity Center, for human access to accounts."""

    instance_arn: str = Field(
        pattern=r"^arn:aws[a-z-]*:sso:::instance/", description="Instance ARN."
    )
    identity_store_id: str = Field(pattern=r"^d-[0-9a-f]{10}$", description="Identity store id.")


# Karpenter's resource quantities (CPU cores, memory): the subset NodePool limits use.
PoolQuantity = Annotated[
    str,
    Field(
        pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$",
        max_length=20,
        description="A Kubernetes quantity, for example 16 or 64Gi.",
    ),
]

TagSelector = Annotated[
    dict[str, str],
    Field(
        min_length=1,
        max_length=10,
        description="AWS tags that select the resources (Karpenter selector terms).",
    ),
]


class Karpenter(ApiModel):
    """Karpenter on a cluster: what the node classes of dedicated pools use."""

    node_role: str = Field(
        pattern=r"^[\w+=,.@-]{1,64}$",
        description="IAM role (name) of the nodes Karpenter launches; its access entry is the "
        "platform's.",
    )
    subnet_selector: TagSelector = Field(
        description="Tags of the subnets nodes launch in, e.g. karpenter.sh/discovery: <cluster>."
    )
    security_group_selector: TagSelector = Field(
        description="Tags of the security groups of the nodes."
    )
    ami_alias: str = Field(
        default="al2023@latest",
        pattern=r"^(al2023|bottlerocket)@(latest|v[0-9]+(\.[0-9]+)*)$",
        description="EC2NodeClass amiSelectorTerms alias: the AMI family and version.",
    )


class CapacityLimits(ApiModel):
    """What a tenant's dedicated node pool may ask for (TenantClaim environments[].capacity)."""

    instance_families: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,15}$")]] = Field(
        default_factory=lambda: ["c7g", "c7i", "m7g", "m7i", "r7g", "r7i"],
        min_length=1,
        max_length=50,
        description="EC2 instance families a pool may use; a pool that names none gets these.",
    )
    instance_sizes: list[Annotated[str, Field(pattern=r"^[a-z0-9]{1,12}$")]] = Field(
        default_factory=lambda: ["large", "xlarge", "2xlarge", "4xlarge"],
        min_length=1,
        max_length=30,
        description="EC2 instance sizes a pool may use; a pool that names none gets these.",
    )
    max_cpu: PoolQuantity = Field(
        default="64", description="Largest CPU limit (cores) of one pool."
    )
    max_memory: PoolQuantity = Field(
        default="256Gi", description="Largest memory limit of one pool."
    )


class Guardrails(ApiModel):
    """The Kyverno policies every tenant namespace gets (docs/tenant.md#guardrails)."""

    allowed_registries: list[Annotated[str, Field(min_length=3, max_length=200)]] = Field(
        default_factory=list,
        max_length=30,
        description="Image prefixes every tenant may pull from besides its own ECR repositories "
        "(for example public.ecr.aws/docker/library/); a prefix ends in '/'.",
    )
    validation_failure_action: Literal["Enforce", "Audit"] = Field(
        default="Enforce",
        description="Enforce denies what breaks a rule; Audit only reports it (for rolling the "
        "policies out on a cluster with existing workloads). A platform setting: no tenant "
        "can choose it.",
    )

    @model_validator(mode="after")
    def _prefixes(self) -> Guardrails:
        for r in self.allowed_registries:
            # Without the trailing '/', registry.example.com would admit registry.example.com.evil.io.
            if not r.endswith("/") or any(c in r for c in "*?"):
                raise ValueError(
                    f"guardrails.allowedRegistries: {r!r} must be a prefix ending in '/', "
                    "without wildcards"
                )
        return self


class Cluster(ApiModel):
    """One shared, multi-tenant EKS cluster."""

    name: str = Field(pattern=r"^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$", description="EKS cluster name.")
    environment: Environment = Field(description="The environment this cluster serves.")
    region: AwsRegion
    account_id: AwsAccountId = Field(description="AWS account that owns the cluster.")
    kubernetes_provider_config: ProviderConfigName = Field(
        description="provider-kubernetes config that reaches this cluster."
    )
    aws_provider_config: ProviderConfigName = Field(
        description="AWS provider config for the account that owns the cluster (access "
        "entries, Pod Identity associations)."
    )
    endpoint: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.-]+(:[0-9]+)?/?$",
        description="API server endpoint (`aws eks describe-cluster --query cluster.endpoint`). "
        "Tenant access commands need it: a tenant role lives in the team's account and cannot "
        "describe a cluster in the platform's account.",
    )
    certificate_authority_data: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+/=]+$",
        max_length=16384,
        description="The cluster's CA bundle, base64 "
        "(`aws eks describe-cluster --query cluster.certificateAuthority.data`).",
    )
    vpc_cidr: Cidr | None = Field(
        default=None,
        description="CIDR the cluster's pods reach other VPCs from (its VPC's, through the transit "
        "gateway); app databases and caches admit only this. Without it they admit nothing.",
    )
    external_secrets_role_arn: str | None = Field(
        default=None,
        pattern=r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$",
        description="IAM role of the External Secrets controller on this cluster; each app's "
        "SecretStore assumes the app's own role through it. Without it, apps on this cluster get "
        "no ExternalSecret.",
    )
    argocd_destination: str | None = Field(
        default=None,
        description="Name under which Argo CD knows this cluster; defaults to `name`.",
    )
    ingress_namespace: str = Field(
        default="ingress-nginx", description="Namespace of the ingress controller."
    )
    ingress_class: str = Field(default="nginx", description="IngressClass apps use.")
    cluster_issuer: str = Field(
        default="letsencrypt", description="cert-manager ClusterIssuer for tenant certificates."
    )
    karpenter: Karpenter | None = Field(
        default=None,
        description="Karpenter on this cluster, for tenants' dedicated node pools. Without it, "
        "a tenant asking for dedicated capacity here gets a warning and the shared nodes.",
    )
    kyverno: bool = Field(
        default=True,
        description="Kyverno runs on this cluster: tenant guardrails and dedicated-pool "
        "placement are Kyverno policies. Without it they are not composed (a warning says so).",
    )

    @property
    def destination(self) -> str:
        return self.argocd_destination or self.name


class GitHub(ApiModel):
    """Where application repositories are created."""

    owner: str = Field(
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$", description="GitHub organization."
    )
    template_owner: str | None = Field(
        default=None, description="Owner of the service template repository; defaults to `owner`."
    )
    template_repository: str = Field(
        default="plinth-service-template",
        description="Repository created from Plinth's templates/service, used as the template "
        "for every new app.",
    )
    deploy_branch: str = Field(
        default="deploy",
        pattern=r"^[A-Za-z0-9._/-]{1,100}$",
        description="Branch Argo CD syncs from: CI writes it (main plus the image tag bump), "
        "so main stays protected.",
    )
    pull_request_token_secret: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$",
        max_length=253,
        description="Secret in Argo CD's namespace (key `token`) with a GitHub token the "
        "ApplicationSet pull request generator of app previews reads pull requests with; "
        "without it the generator calls GitHub unauthenticated (rate limited).",
    )


class ArgoCd(ApiModel):
    """Argo CD in the management cluster."""

    namespace: str = Field(
        default="argocd", description="Namespace Argo CD watches for Applications."
    )


Domain = Annotated[
    str,
    Field(
        max_length=200,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$",
        description="A DNS domain, for example payments.example.com.",
    ),
]


def within(host: str, domain: str) -> bool:
    """True when `host` is `domain` or a name under it."""
    return host == domain or host.endswith("." + domain)


class Team(ApiModel):
    """A team the platform knows by name, and the management namespace its claims live in.

    Teams not listed here are still served: the team of a management namespace whose name has
    no '-' is the namespace itself. List a team to give it a name that differs from its
    namespace (or a name with '-'), domains of its own, or networks on the transit gateway.
    """

    name: TeamName = Field(
        description="Team name: prefixes its namespaces on the clusters and the names of its "
        "AWS and GitHub resources."
    )
    namespace: DnsLabel | None = Field(
        default=None,
        description="Management namespace whose claims act for this team; defaults to `name`. "
        "Only the platform may write this file, and Kubernetes RBAC lets a team write claims "
        "only in its own namespace: that is what ties a claim to its team.",
    )
    domains: list[Domain] = Field(
        default_factory=list,
        max_length=20,
        description="DNS domains the team's app hosts and certificates may use, besides "
        "`<team>.<domain>` under the platform's base domain.",
    )
    networks: list[Cidr] = Field(
        default_factory=list,
        max_length=20,
        description="IPv4 ranges the team's accounts may use for VPCs on the shared transit "
        "gateway; an AccountClaim that attaches must use a CIDR inside one of them.",
    )

    @property
    def management_namespace(self) -> str:
        return self.namespace or self.name

    @cached_property
    def ip_networks(self) -> tuple[ipaddress.IPv4Network, ...]:
        """`networks` parsed, once per validated config (every call of the team's claims
        asks)."""
        return tuple(ipaddress.IPv4Network(n, strict=False) for n in self.networks)


class PlatformConfig(ApiModel):
    """The `data` of the platform EnvironmentConfig."""

    default_region: AwsRegion = Field(
        default="us-east-1", description="Region used when a claim names none."
    )
    provider_configs: ProviderConfigs = Field(default_factory=ProviderConfigs)
    organization: Organization | None = Field(
        default=None, description="Required for AccountClaims."
    )
    transit_gateway: TransitGateway | None = Field(
        default=None, description="Shared transit gateway; accounts attach only when it is set."
    )
    identity_center: IdentityCenter | None = Field(
        default=None, description="Required for SSO access in AccountClaims."
    )
    clusters: list[Cluster] = Field(
        default_factory=list, description="Shared EKS clusters; required for TenantClaims."
    )
    github: GitHub | None = Field(default=None, description="Required for AppClaims.")
    argocd: ArgoCd = Field(default_factory=ArgoCd)
    domain: str | None = Field(
        default=None,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$",
        description="Base DNS domain; app hosts default to <app>.<env>.<domain>.",
    )
    teams: list[Team] = Field(
        default_factory=list,
        description="Teams and their management namespaces (see docs/security.md). Team names "
        "are prefix-free: no team's name followed by '-' begins another's.",
    )
    reserved_namespaces: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RESERVED_NAMESPACES),
        description="Namespaces no tenant may claim.",
    )
    tags: dict[str, str] = Field(
        default_factory=dict, description="AWS tags added to every AWS resource Plinth composes."
    )
    capacity: CapacityLimits = Field(
        default_factory=CapacityLimits,
        description="Limits of tenants' dedicated node pools.",
    )
    guardrails: Guardrails = Field(
        default_factory=Guardrails, description="Platform defaults of tenant guardrails."
    )

    @model_validator(mode="after")
    def _unique_clusters(self) -> PlatformConfig:
        seen: set[str] = set()
        for c in self.clusters:
            if c.name in seen:
                raise ValueError(f"clusters: cluster {c.name!r} is listed twice")
            seen.add(c.name)
        return self

    @model_validator(mode="after")
    def _teams(self) -> PlatformConfig:
        # Every name Plinth derives in a shared place begins with `<team>` then '-' or nothing;
        # these rules are what makes two teams' names differ by construction.
        names = [t.name for t in self.teams]
        namespaces = [t.management_namespace for t in self.teams]
        for what, values in (("name", names), ("namespace", namespaces)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"teams: {what} {', '.join(dupes)} is listed twice")
        for a in names:
            for b in names:
                if b.startswith(a + "-"):
                    raise ValueError(
                        f"teams: {b!r} begins with team {a!r} and '-', so their derived names "
                        f"could collide ({a}-x); choose team names that do not extend another"
                    )
        owners: list[tuple[str, str]] = []
        for t in self.teams:
            for d in t.domains:
                if self.domain and (within(d, self.domain) or within(self.domain, d)):
                    raise ValueError(
                        f"teams: {t.name}: domain {d!r} overlaps the platform domain "
                        f"{self.domain!r}, whose subdomains belong to teams by name "
                        "(<team>.<domain>)"
                    )
                for other, od in owners:
                    if other != t.name and (within(d, od) or within(od, d)):
                        raise ValueError(
                            f"teams: domain {d!r} of {t.name} overlaps {od!r} of {other}"
                        )
                owners.append((t.name, d))
        nets: list[tuple[str, ipaddress.IPv4Network]] = []
        for t in self.teams:
            for cidr, net in zip(t.networks, t.ip_networks, strict=True):
                for other, onet in nets:
                    if other != t.name and net.overlaps(onet):
                        raise ValueError(
                            f"teams: network {cidr} of {t.name} overlaps {onet} of {other}"
                        )
                nets.append((t.name, net))
        return self

    def clusters_for(self, env: Environment) -> list[Cluster]:
        return [c for c in self.clusters if c.environment == env]
