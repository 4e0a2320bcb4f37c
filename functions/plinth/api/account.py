"""The AccountClaim API: an AWS account, created in an OU and baselined."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from plinth.api.base import ApiModel, AwsRegion, Cidr, DnsLabel, Environment, Tags
from plinth.api.overrides import Override, overrides_field
from plinth.api.status import ClaimStatus

# A VPC is at most a /16 (AWS); at most a /22 so that the smallest subnet of the layout
# (VPC prefix + 5, see plinth.compose.account.cidrs) is a /27 with room for a NAT gateway,
# load balancers and interface endpoints.
VPC_MIN_PREFIX = 16
VPC_MAX_PREFIX = 22

# AWS Config managed rules every account gets unless the claim lists its own. They check what
# the baseline itself promises (encryption, no public buckets, no root keys) and need no
# parameters, so they fit every account.
DEFAULT_CONFIG_RULES: tuple[str, ...] = (
    "ENCRYPTED_VOLUMES",
    "EC2_EBS_ENCRYPTION_BY_DEFAULT",
    "S3_BUCKET_PUBLIC_READ_PROHIBITED",
    "S3_BUCKET_PUBLIC_WRITE_PROHIBITED",
    "S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED",
    "RDS_STORAGE_ENCRYPTED",
    "RDS_INSTANCE_PUBLIC_ACCESS_CHECK",
    "IAM_ROOT_ACCESS_KEY_CHECK",
    "ROOT_ACCOUNT_MFA_ENABLED",
    "INCOMING_SSH_DISABLED",
)

Email = Annotated[str, Field(max_length=254, pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$")]
ConfigRuleId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Z0-9_]+$")]


class DeletionPolicy(StrEnum):
    ORPHAN = "Orphan"
    DELETE = "Delete"


class Tier(StrEnum):
    """A subnet tier: how a subnet reaches the internet."""

    PUBLIC = "public"  # routes to the internet gateway: load balancers, NAT gateways
    PRIVATE = "private"  # egress through NAT, and to the transit gateway: workloads
    ISOLATED = "isolated"  # no route out of the VPC: databases, caches


class NatMode(StrEnum):
    NONE = "None"
    SINGLE = "Single"
    PER_AZ = "PerAz"


class Network(ApiModel):
    """The account's VPC. Subnets are derived from the CIDR; see docs/account.md."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.attachTransitGateway) || !self.attachTransitGateway "
                    "|| has(self.cidr)",
                    "message": "network.cidr is required when attachTransitGateway is true: "
                    "every VPC on the shared transit gateway needs a CIDR no other account "
                    "uses, so Plinth does not guess one",
                },
                {
                    "rule": "!has(self.attachTransitGateway) || !self.attachTransitGateway "
                    "|| !has(self.tiers) || 'private' in self.tiers",
                    "message": "attaching to the transit gateway needs the private tier",
                },
                {
                    "rule": "!has(self.nat) || self.nat == 'None' || !has(self.tiers) "
                    "|| 'public' in self.tiers",
                    "message": "NAT gateways live in the public tier: add it or set nat: None",
                },
            ]
        }
    }

    cidr: Cidr | None = Field(
        default=None,
        description="IPv4 CIDR of the VPC, a /16 to a /22. Required when the VPC attaches to "
        "the transit gateway; otherwise defaults to 10.0.0.0/16, which is fine for a VPC "
        "that never routes to another one.",
    )
    availability_zones: int = Field(
        default=3, ge=2, le=3, description="Number of availability zones (2 or 3)."
    )
    tiers: list[Tier] = Field(
        default_factory=lambda: [Tier.PUBLIC, Tier.PRIVATE, Tier.ISOLATED],
        min_length=1,
        max_length=3,
        description="Subnet tiers, one subnet per tier and availability zone.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(t, self.exists_one(u, u == t))",
                    "message": "each tier may be listed once",
                }
            ]
        },
    )
    nat: NatMode | None = Field(
        default=None,
        description="NAT gateways for the private tier: None, Single (one, in the first "
        "zone) or PerAz (one per zone, survives a zone outage). Defaults to PerAz in prod "
        "and Single elsewhere.",
    )
    attach_transit_gateway: bool = Field(
        default=False,
        description="Attach the VPC to the platform's shared transit gateway and route the "
        "platform's CIDRs there from the private tier.",
    )

    @field_validator("cidr")
    @classmethod
    def _cidr(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            net = ipaddress.IPv4Network(value)
        except ValueError as e:
            raise ValueError(f"{value!r} is not a network address: {e}") from None
        if not VPC_MIN_PREFIX <= net.prefixlen <= VPC_MAX_PREFIX:
            raise ValueError(
                f"{value!r}: a VPC CIDR must be a /{VPC_MIN_PREFIX} to a /{VPC_MAX_PREFIX}"
            )
        if not net.is_private:
            raise ValueError(f"{value!r} is not a private (RFC 1918) range")
        return value

    @field_validator("tiers")
    @classmethod
    def _tiers(cls, value: list[Tier]) -> list[Tier]:
        if len(set(value)) != len(value):
            raise ValueError("each tier may be listed once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Network:
        # The same rules as the CEL above: the function must not compose what the API
        # server would have rejected (a claim can reach it through `plinth render`).
        if self.attach_transit_gateway and self.cidr is None:
            raise ValueError(
                "cidr is required when attachTransitGateway is true: every VPC on the shared "
                "transit gateway needs a CIDR no other account uses"
            )
        if self.attach_transit_gateway and Tier.PRIVATE not in self.tiers:
            raise ValueError("attaching to the transit gateway needs the private tier")
        if self.nat not in (None, NatMode.NONE) and Tier.PUBLIC not in self.tiers:
            raise ValueError("NAT gateways live in the public tier: add it or set nat: None")
        return self


class Backup(ApiModel):
    """AWS Backup of the account's resources into one vault."""

    enabled: bool | None = Field(
        default=None, description="Back up the account; defaults to true in prod only."
    )
    schedule: str = Field(
        default="cron(0 5 ? * * *)",
        max_length=128,
        pattern=r"^(cron|rate)\(.+\)$",
        description="When backups run, as an AWS cron() or rate() expression (UTC).",
    )
    retention_days: int = Field(
        default=35, ge=1, le=36500, description="Days a recovery point is kept."
    )


class ConfigRules(ApiModel):
    """AWS Config managed rules evaluated in the account's region."""

    enabled: bool = Field(default=True, description="Create the Config rules.")
    rules: list[ConfigRuleId] = Field(
        default_factory=lambda: list(DEFAULT_CONFIG_RULES),
        max_length=50,
        description="AWS managed rule identifiers; listing any replaces the default baseline.",
    )


class Access(ApiModel):
    """An IAM Identity Center group that gets a permission set in the account."""

    group_id: str = Field(
        max_length=47,
        pattern=r"^([0-9a-f]{10}-)?[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-"
        r"[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$",
        description="Identity store group id.",
    )
    permission_set_arn: str = Field(
        max_length=1224,
        pattern=r"^arn:aws[a-z-]*:sso:::permissionSet/ssoins-[0-9a-f]{16}/ps-[0-9a-f]{16}$",
        description="ARN of the permission set the group gets.",
    )


class Budget(ApiModel):
    """A monthly cost budget with e-mail alerts."""

    monthly_limit: int = Field(
        default=1000, ge=1, le=100_000_000, description="Monthly limit in USD."
    )
    alert_emails: list[Email] = Field(
        default_factory=list,
        max_length=10,
        description="Who is alerted; defaults to the account's root email.",
    )
    alert_thresholds: list[int] = Field(
        default_factory=lambda: [80, 100],
        min_length=1,
        max_length=5,
        description="Percentages of the limit at which actual spend alerts; a forecast above "
        "100% alerts too.",
    )


class AccountSpec(ApiModel):
    """An AWS account for one team and one environment."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.access) || self.access.all(a, self.access.exists_one("
                    "b, b.groupId == a.groupId && b.permissionSetArn == a.permissionSetArn))",
                    "message": "each access pair may be listed once",
                }
            ]
        }
    }

    account_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        pattern=r"^[\w+=,.@ -]+$",
        description="Display name of the AWS account; defaults to <team>-<environment>.",
    )
    email: str = Field(
        max_length=64,
        pattern=r"^[^\s@]+@[^\s@]+\.[^\s@]+$",
        description="Root email address of the account; must be unique across AWS.",
    )
    team: DnsLabel | None = Field(
        default=None,
        description="The owning team. Optional: a claim acts for the team of its management "
        "namespace (docs/security.md), and a different team here is refused.",
    )
    environment: Environment = Field(
        description="dev, staging or prod. Dev and prod never share an account."
    )
    organizational_unit: str | None = Field(
        default=None,
        pattern=r"^ou-[0-9a-z]{4,32}-[0-9a-z]{8,32}$",
        description="OU id to create the account in; defaults to the platform's OU for the "
        "environment.",
    )
    region: AwsRegion | None = Field(
        default=None, description="Primary region; defaults to the platform's default region."
    )
    network: Network = Field(default_factory=Network, description="The account's VPC.")
    backup: Backup = Field(default_factory=Backup, description="AWS Backup.")
    config: ConfigRules = Field(default_factory=ConfigRules, description="AWS Config rules.")
    access: list[Access] = Field(
        default_factory=list,
        max_length=20,
        description="IAM Identity Center groups and the permission sets they get.",
    )
    budget: Budget = Field(default_factory=Budget, description="The monthly budget.")
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.ORPHAN,
        description="Orphan (default) keeps the AWS account when the claim is deleted; Delete "
        "closes it. Closing an account is not something a deleted YAML file should do by "
        "accident.",
    )
    tags: Tags
    overrides: list[Override] = overrides_field()

    @field_validator("access")
    @classmethod
    def _unique_access(cls, value: list[Access]) -> list[Access]:
        pairs = [(a.group_id, a.permission_set_arn) for a in value]
        if len(set(pairs)) != len(pairs):
            raise ValueError("each access pair may be listed once")
        return value


class SubnetIds(ApiModel):
    public: list[str] = Field(default_factory=list, description="Public subnet ids.")
    private: list[str] = Field(default_factory=list, description="Private subnet ids.")
    isolated: list[str] = Field(default_factory=list, description="Isolated subnet ids.")


class AccountStatus(ClaimStatus):
    account_id: str | None = Field(default=None, description="The AWS account id.")
    provider_config: str | None = Field(
        default=None,
        description="AWS ProviderConfig that acts in the account (in the claim's namespace "
        "in the v2 flavor).",
    )
    region: str | None = Field(default=None, description="The account's primary region.")
    vpc_id: str | None = Field(default=None, description="The VPC id.")
    vpc_cidr: str | None = Field(default=None, description="The VPC CIDR.")
    subnet_ids: SubnetIds | None = Field(default=None, description="Subnet ids per tier.")
    transit_gateway_attachment_id: str | None = Field(
        default=None, description="The transit gateway VPC attachment id."
    )
