"""The AppClaim API: a service with its repository, delivery, runtime and cloud resources.

A name, a tenant and one environment are enough: that gives a repository from the service
template, an image repository, CI that can push to it, and an Argo CD Application into the
tenant's namespace. Everything else is opt-in (resources) or has a default (sizes, ports).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator
from pydantic.config import JsonDict

from plinth.api.base import (
    DNS_LABEL_PATTERN,
    ApiModel,
    DnsLabel,
    Environment,
    deletion_protection_field,
)
from plinth.api.overrides import Override, overrides_field
from plinth.api.status import ProtectedStatus
from plinth.api.tenant import Quantity

# Resource names become parts of AWS names (<team>-<app>-<env>-<name>) and of environment
# variable names (DB_<NAME>_HOST): short, lower case, no trailing dash.
ItemName = Annotated[str, Field(min_length=1, max_length=20, pattern=DNS_LABEL_PATTERN)]

_UNIQUE_NAMES: JsonDict = {
    "x-kubernetes-validations": [
        {
            "rule": "self.all(x, self.exists_one(y, y.name == x.name))",
            "message": "names must be unique",
        }
    ]
}


class Size(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"


class Visibility(StrEnum):
    PRIVATE = "private"
    INTERNAL = "internal"
    PUBLIC = "public"


class Repository(ApiModel):
    """The GitHub repository the app lives in."""

    template: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$",
        description="owner/name of the template repository; defaults to the platform's "
        "service template (Plinth's templates/service).",
    )
    visibility: Visibility = Field(
        default=Visibility.PRIVATE, description="private, internal or public."
    )
    required_approvals: int = Field(
        default=1, ge=0, le=6, description="Approving reviews a pull request to main needs."
    )


class Network(ApiModel):
    """Where databases and caches go, in an account given by id (an AccountClaim reports its own)."""

    vpc_id: str = Field(pattern=r"^vpc-[0-9a-f]{8,17}$", description="VPC id.")
    subnet_ids: list[Annotated[str, Field(pattern=r"^subnet-[0-9a-f]{8,17}$")]] = Field(
        min_length=2, max_length=6, description="Private subnets in at least two zones."
    )


class AppEnvironment(ApiModel):
    """One environment the app is delivered to."""

    name: Environment = Field(description="dev, staging or prod; the tenant must have it.")
    replicas: int = Field(
        default=2, ge=1, le=50, description="Replica count (the minimum when autoscaling)."
    )
    max_replicas: int | None = Field(
        default=None,
        ge=1,
        le=100,
        description="Enables a HorizontalPodAutoscaler scaling up to this many replicas.",
    )
    host: str | None = Field(
        default=None,
        max_length=253,
        pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,}$",
        description="Ingress host, within the team's domains; defaults to "
        "<app>.<env>.<team>.<platform domain>. Without either, "
        "the app gets no ingress.",
    )
    namespace: str | None = Field(
        default=None,
        max_length=63,
        pattern=DNS_LABEL_PATTERN,
        description="Which of the tenant's namespaces in this environment; defaults to its first.",
    )

    network: Network | None = Field(
        default=None,
        description="VPC and subnets for this environment's databases and caches, when its "
        "account is given by id; defaults to spec.network, then to the private subnets its "
        "AccountClaim reports.",
    )

    @model_validator(mode="after")
    def _scaling(self) -> AppEnvironment:
        if self.max_replicas is not None and self.max_replicas < self.replicas:
            raise ValueError(f"{self.name.value}: maxReplicas is below replicas")
        return self


class DatabaseEngine(StrEnum):
    POSTGRES = "postgres"
    MYSQL = "mysql"


class Database(ApiModel):
    """An RDS instance per environment; its master password lives in Secrets Manager only."""

    name: ItemName = Field(description="Database name; also the key prefix DB_<NAME>_.")
    engine: DatabaseEngine = Field(
        default=DatabaseEngine.POSTGRES, description="postgres or mysql."
    )
    version: str | None = Field(
        default=None,
        pattern=r"^[0-9]+(\.[0-9]+)*$",
        max_length=10,
        description="Engine version; defaults to 17 (postgres) or 8.4 (mysql).",
    )
    size: Size = Field(default=Size.SMALL, description="small, medium or large instance class.")
    storage_gb: int = Field(default=20, ge=20, le=16384, description="Allocated storage in GiB.")
    high_availability: bool | None = Field(
        default=None, description="Multi-AZ standby; defaults to true in prod only."
    )


class Bucket(ApiModel):
    """An S3 bucket per environment: private, encrypted, owner-enforced."""

    name: ItemName = Field(description="Bucket key; the S3 name is derived and unique.")
    versioning: bool = Field(default=True, description="Keep object versions.")


class Queue(ApiModel):
    """An SQS queue per environment, encrypted, with a dead-letter queue by default."""

    name: ItemName = Field(description="Queue name; also the key prefix QUEUE_<NAME>_.")
    fifo: bool = Field(default=False, description="A FIFO queue (exactly-once, ordered).")
    dead_letter_queue: bool = Field(default=True, description="Add a DLQ and a redrive policy.")
    max_receive_count: int = Field(
        default=5, ge=1, le=1000, description="Receives before a message goes to the DLQ."
    )
    visibility_timeout_seconds: int = Field(default=30, ge=0, le=43200)


class CacheEngine(StrEnum):
    VALKEY = "valkey"
    REDIS = "redis"


class Cache(ApiModel):
    """An ElastiCache replication group per environment, in private subnets, IAM-authenticated."""

    name: ItemName = Field(description="Cache name; also the key prefix CACHE_<NAME>_.")
    engine: CacheEngine = Field(default=CacheEngine.VALKEY, description="valkey or redis.")
    size: Size = Field(default=Size.SMALL, description="small, medium or large node type.")


class Resources(ApiModel):
    """CPU and memory of each replica."""

    cpu: Quantity = Field(default="250m", description="CPU request.")
    memory: Quantity = Field(default="256Mi", description="Memory request and limit.")
    cpu_limit: Quantity | None = Field(
        default=None, description="CPU limit; none by default (throttling hurts latency)."
    )


class Previews(ApiModel):
    """Pull request previews: each labelled pull request runs in a namespace of its own in dev."""

    label: str = Field(
        default="preview",
        min_length=1,
        max_length=50,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$",
        description="The GitHub label that asks for a preview; only open pull requests with "
        "it are deployed.",
    )
    replicas: int = Field(default=1, ge=1, le=3, description="Replicas of each preview.")
    requeue_after_seconds: int = Field(
        default=180,
        ge=30,
        le=3600,
        description="How often Argo CD asks GitHub for the pull requests.",
    )


class AppSpec(ApiModel):
    model_config = ApiModel.model_config | {
        "json_schema_extra": {
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.previews) || self.environments.exists(e, e.name == 'dev')",
                    "message": "previews run in the dev environment: add it to environments",
                }
            ]
        }
    }

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
    repository: Repository = Field(default_factory=Repository, description="The GitHub repository.")
    port: int = Field(default=8080, ge=1024, le=65535, description="Container port (unprivileged).")
    health_path: str = Field(
        default="/healthz",
        pattern=r"^/[A-Za-z0-9/._~-]*$",
        max_length=200,
        description="HTTP path of the liveness and readiness probes.",
    )
    resources: Resources = Field(
        default_factory=Resources, description="Per-replica CPU and memory."
    )
    databases: list[Database] = Field(
        default_factory=list,
        max_length=5,
        description="RDS databases.",
        json_schema_extra=_UNIQUE_NAMES,
    )
    buckets: list[Bucket] = Field(
        default_factory=list,
        max_length=10,
        description="S3 buckets.",
        json_schema_extra=_UNIQUE_NAMES,
    )
    queues: list[Queue] = Field(
        default_factory=list,
        max_length=10,
        description="SQS queues.",
        json_schema_extra=_UNIQUE_NAMES,
    )
    caches: list[Cache] = Field(
        default_factory=list,
        max_length=3,
        description="ElastiCache caches.",
        json_schema_extra=_UNIQUE_NAMES,
    )
    network: Network | None = Field(
        default=None,
        description="VPC and subnets for databases and caches of every environment that names "
        "none; defaults to the private subnets each environment's AccountClaim reports.",
    )
    deletion_protection: bool = deletion_protection_field()
    previews: Previews | None = Field(
        default=None,
        description="Deploy every open pull request with the chosen label to an ephemeral "
        "namespace of the dev environment (<team>-<app>-pr-<number>), removed when the pull "
        "request closes. Needs the dev environment.",
    )
    overrides: list[Override] = overrides_field()

    @model_validator(mode="after")
    def _unique(self) -> AppSpec:
        for kind in ("databases", "buckets", "queues", "caches"):
            names = [item.name for item in getattr(self, kind)]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{kind}: names must be unique ({', '.join(dupes)})")
        envs = [e.name for e in self.environments]
        if len(set(envs)) != len(envs):
            raise ValueError("each environment may be listed once")
        if self.previews is not None and Environment.DEV not in envs:
            raise ValueError("previews run in the dev environment: add it to environments")
        return self


class AppEnvironmentStatus(ApiModel):
    name: Environment = Field(description="The environment.")
    namespace: str | None = Field(default=None, description="The tenant namespace it runs in.")
    applications: list[str] = Field(
        default_factory=list, description="Argo CD Applications (one per cluster)."
    )
    url: str | None = Field(default=None, description="The app's URL, when it has an ingress.")
    account_id: str | None = Field(
        default=None, description="The AWS account its resources land in, once known."
    )


class AppResourceStatus(ApiModel):
    kind: str = Field(description="database, bucket, queue or cache.")
    name: str = Field(description="The resource's name in the claim.")
    environment: Environment = Field(description="The environment.")
    endpoint: str | None = Field(default=None, description="Host, URL or bucket name, once known.")
    secret: str | None = Field(
        default=None,
        description="The Secrets Manager ARN holding its credentials, when it has some.",
    )


class AppStatus(ProtectedStatus):
    repository_url: str | None = Field(default=None, description="The GitHub repository.")
    image_repository: str | None = Field(default=None, description="The ECR repository URL.")
    environments: list[AppEnvironmentStatus] = Field(default_factory=list)
    resources: list[AppResourceStatus] = Field(default_factory=list)
