"""Shared building blocks of the Plinth APIs: the base model and common field types."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """Base of every Plinth API object: camelCase on the wire, unknown fields rejected.

    Unknown fields are errors rather than silently ignored because a typo in a claim
    (`replica: 3`) must not turn into a default the user did not ask for.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as it appears in Kubernetes: camelCase keys, no unset optionals."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")


class Environment(StrEnum):
    """A deployment environment. Dev and prod never share an AWS account."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


# Kubernetes DNS-1123 label, as used for team, namespace and app names. The XRD carries the
# same pattern so the API server rejects a bad name before the function ever sees it.
DNS_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"

DnsLabel = Annotated[str, Field(min_length=1, max_length=63, pattern=DNS_LABEL_PATTERN)]

# Team names prefix namespaces and AWS names; 30 characters keeps those readable and in limits.
TeamName = Annotated[str, Field(min_length=1, max_length=30, pattern=DNS_LABEL_PATTERN)]

AwsAccountId = Annotated[
    str, Field(pattern=r"^[0-9]{12}$", description="A 12-digit AWS account id.")
]

AwsRegion = Annotated[
    str,
    Field(
        pattern=r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$",
        description="An AWS region, for example us-east-1.",
    ),
]

Cidr = Annotated[
    str,
    Field(
        pattern=r"^([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]|[12][0-9]|3[0-2])$",
        description="An IPv4 CIDR block, for example 10.20.0.0/16.",
    ),
]

Tags = Annotated[
    dict[str, str],
    Field(
        default_factory=dict,
        description="Extra AWS tags added to every AWS resource composed for this claim.",
        max_length=40,
    ),
]


def deletion_protection_field() -> Any:
    """`spec.deletionProtection` of the claims that compose prod data (docs/deletion.md): one
    wording for every kind that has it."""
    return Field(
        default=True,
        description="On (default): deleting the claim leaves what holds prod data or serves "
        "prod in place (docs/deletion.md lists it per kind), and an edit that would delete any of "
        "it is refused. Set it to false, and apply, as the deliberate first step of deleting it.",
    )
