"""The AppClaim API: a service with its repository, delivery and cloud resources."""

from __future__ import annotations

from pydantic import Field

from plinth.api.base import ApiModel, DnsLabel, Environment
from plinth.api.status import ClaimStatus


class AppEnvironment(ApiModel):
    name: Environment = Field(description="dev, staging or prod; the tenant must have it.")
    replicas: int = Field(default=2, ge=1, le=50, description="Replica count.")


class AppSpec(ApiModel):
    tenant: DnsLabel = Field(description="Name of the TenantClaim in this namespace.")
    environments: list[AppEnvironment] = Field(
        min_length=1,
        max_length=3,
        description="Environments to deliver to.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(e, self.exists_one(f, f.name == e.name))",
                    "message": "each environment may be listed once",
                }
            ]
        },
    )
    port: int = Field(default=8080, ge=1, le=65535, description="Container port.")


class AppEnvironmentStatus(ApiModel):
    name: Environment
    application: str


class AppStatus(ClaimStatus):
    environments: list[AppEnvironmentStatus] = Field(default_factory=list)
