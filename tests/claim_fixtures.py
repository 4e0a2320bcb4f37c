"""What Crossplane and the clouds would report, for tests and benchmarks that drive a claim
through its phases: observed resources once ready, and required claims with their status."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

OBSERVED_AT = "2026-01-01T00:00:00Z"
ACCOUNT_ID = "210987654321"


def team_of_claim(claim: dict[str, Any]) -> str:
    """The team of the example claims: their namespace (none of them is listed otherwise)."""
    return str(claim["metadata"].get("namespace", "default"))


def ready_condition() -> list[dict[str, str]]:
    return [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Available",
            "lastTransitionTime": OBSERVED_AT,
        }
    ]


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def observe(resources: list[dict[str, Any]], account_id: str = ACCOUNT_ID) -> list[dict[str, Any]]:
    """Every rendered resource as it is observed once it exists and is ready, with the values
    AWS reports that later phases read (ids, addresses, secret ARNs)."""
    out = []
    for r in resources:
        fp = r["spec"].get("forProvider", {})
        region = fp.get("region", "us-east-1")
        name = r["metadata"]["name"]
        at: dict[str, Any] = {}
        kind = r["kind"]
        if kind == "Account":
            at["id"] = account_id
        elif kind == "SecurityGroup":
            at["id"] = f"sg-{_h(name)}"
        elif kind == "Instance":
            at["address"] = f"{fp['identifier']}.c{_h(name)}.{region}.rds.amazonaws.com"
            at["masterUserSecret"] = [
                {
                    "secretArn": f"arn:aws:secretsmanager:{region}:{account_id}:secret:"
                    f"rds!db-{_h(name)}-AbCdEf",
                    "secretStatus": "active",
                }
            ]
        elif kind == "ReplicationGroup":
            at["primaryEndpointAddress"] = f"master.{_h(name)}.cache.amazonaws.com"
        elif kind in ("VPC", "Subnet"):
            at["id"] = f"{kind.lower()}-{_h(name)}"
        status: dict[str, Any] = {"conditions": ready_condition()}
        if at:
            status["atProvider"] = at
        out.append({**r, "status": status})
    return out


def legacy_provider_config(name: str, team: str) -> dict[str, Any]:
    """A cluster-scoped (legacy) AWS ProviderConfig as an AccountClaim composes it: labelled
    with the one team that may act through it (plinth.compose.accounts)."""
    return {
        "apiVersion": "aws.upbound.io/v1beta1",
        "kind": "ProviderConfig",
        "metadata": {"name": name, "labels": {"plinth.dev/team": team}},
        "spec": {"credentials": {"source": "PodIdentity"}},
    }


def with_status(claims: list[dict[str, Any]], account_id: str = ACCOUNT_ID) -> list[dict[str, Any]]:
    """Tenant and account claims as they look once Ready (what an app or tenant requires),
    with the legacy ProviderConfig each legacy AccountClaim composed."""
    out = []
    provider_configs: list[dict[str, Any]] = []
    for claim in claims:
        body = copy.deepcopy(claim)
        if body.get("kind") == "TenantClaim":
            status: dict[str, Any] = {"conditions": ready_condition()}
            if "claimName" in body["spec"]["account"]:
                status["accountId"] = account_id
            body["status"] = status
            pc = body["spec"]["account"].get("providerConfig")
            if pc and body["apiVersion"].startswith("claims."):
                provider_configs.append(legacy_provider_config(pc, team_of_claim(body)))
        elif body.get("kind") == "AccountClaim":
            body["status"] = {
                "conditions": ready_condition(),
                "accountId": account_id,
                "providerConfig": body["metadata"]["name"],
                "region": body["spec"].get("region", "us-east-1"),
                "vpcId": "vpc-0123456789abcdef0",
                "subnetIds": {"private": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]},
            }
            if body["apiVersion"].startswith("claims."):
                provider_configs.append(
                    legacy_provider_config(body["metadata"]["name"], team_of_claim(body))
                )
        out.append(body)
    return out + provider_configs
