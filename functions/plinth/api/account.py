"""The AccountClaim API: an AWS account, created in an OU and baselined."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from plinth.api.base import ApiModel, AwsRegion, DnsLabel, Environment, Tags
from plinth.api.status import ClaimStatus


class DeletionPolicy(StrEnum):
    ORPHAN = "Orphan"
    DELETE = "Delete"


class AccountSpec(ApiModel):
    """An AWS account for one team and one environment."""

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
    team: DnsLabel = Field(description="The owning team.")
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
    deletion_policy: DeletionPolicy = Field(
        default=DeletionPolicy.ORPHAN,
        description="Orphan (default) keeps the AWS account when the claim is deleted; Delete "
        "closes it. Closing an account is not something a deleted YAML file should do by "
        "accident.",
    )
    tags: Tags


class AccountStatus(ClaimStatus):
    account_id: str | None = Field(default=None, description="The AWS account id.")
