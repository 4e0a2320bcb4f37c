"""The TenantClaim API: a team onboarded onto the shared EKS clusters."""

from __future__ import annotations

from pydantic import Field

from plinth.api.base import ApiModel, AwsAccountId, DnsLabel, Environment, TeamName
from plinth.api.status import ClaimStatus


class AccountRef(ApiModel):
    """The team's AWS account: an AccountClaim in the same namespace, or an account id."""

    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "has(self.claimName) != has(self.accountId)",
                    "message": "set exactly one of account.claimName and account.accountId",
                }
            ]
        }
    }

    claim_name: DnsLabel | None = Field(
        default=None, description="Name of an AccountClaim in this namespace."
    )
    account_id: AwsAccountId | None = Field(default=None, description="An existing account id.")


class TenantEnvironment(ApiModel):
    name: Environment = Field(description="dev, staging or prod.")
    namespaces: list[DnsLabel] = Field(
        default_factory=list,
        max_length=10,
        description="Namespace suffixes; each becomes <team>-<suffix>. Empty means one "
        "namespace named after the team.",
    )


class TenantSpec(ApiModel):
    team: TeamName = Field(description="Team name; prefixes every namespace.")
    account: AccountRef = Field(description="The team's AWS account.")
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


class TenantNamespace(ApiModel):
    environment: Environment
    cluster: str
    region: str
    namespace: str


class TenantStatus(ClaimStatus):
    namespaces: list[TenantNamespace] = Field(
        default_factory=list, description="Namespaces per environment and cluster."
    )
