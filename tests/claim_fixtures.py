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


def observe(
    resources: list[dict[str, Any]],
    account_id: str = ACCOUNT_ID,
    accounts: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every rendered resource as it is observed once it exists and is ready, with the values
    AWS reports that later phases read (ids, addresses, secret ARNs). `accounts` gives the
    account of each ProviderConfig, where a resource's ARNs name it (else `account_id`)."""
    out = []
    for r in resources:
        pc = r["spec"].get("providerConfigRef", {}).get("name", "")
        account_id = (accounts or {}).get(pc, account_id)
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
            if "claimName" in (body["spec"].get("account") or {}):
                status["accountId"] = account_id
            body["status"] = status
            if body["apiVersion"].startswith("claims."):
                provider_configs += [
                    d
                    for d in accounts_for(body)
                    if d["kind"] == "ProviderConfig"
                    and (
                        (body["spec"].get("account") or {}).get("providerConfig")
                        or any(
                            (e.get("account") or {}).get("providerConfig")
                            for e in body["spec"]["environments"]
                        )
                    )
                ]
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


def account_id_of(claim_name: str) -> str:
    """A distinct account id per AccountClaim, as AWS Organizations would report."""
    return str(int(hashlib.sha256(claim_name.encode()).hexdigest()[:10], 16) % 10**12).zfill(12)


def accounts_for(tenant: dict[str, Any], account_id: str | None = None) -> list[dict[str, Any]]:
    """What a TenantClaim's accounts look like once they exist: an AccountClaim (Ready, with
    its own account id, vended for the environment that uses it) per claimName, and in the
    legacy flavor each ProviderConfig labelled for the tenant's team. `account_id` fixes the id
    of the tenant's default (spec.account) AccountClaim."""
    spec, meta = tenant["spec"], tenant["metadata"]
    namespace = meta.get("namespace", "default")
    legacy = tenant["apiVersion"].startswith("claims.")
    used: dict[str, dict[str, Any]] = {}
    envs: dict[str, str] = {}
    default = spec.get("account")
    for env in spec["environments"]:
        ref = env.get("account") or default
        if ref is None:
            continue
        key = ref.get("claimName") or ref.get("accountId")
        used[key] = ref
        if envs.get(key) != "prod":
            envs[key] = env["name"]
    out: list[dict[str, Any]] = []
    for key, ref in used.items():
        if "claimName" in ref:
            fixed = account_id if default is not None and ref == default else None
            out.append(
                {
                    "apiVersion": tenant["apiVersion"],
                    "kind": "AccountClaim",
                    "metadata": {"name": key, "namespace": namespace},
                    "spec": {"environment": envs[key], "email": f"aws+{key}@example.com"},
                    "status": {
                        "conditions": ready_condition(),
                        "accountId": fixed or account_id_of(key),
                        "providerConfig": ref.get("providerConfig") or key,
                        "region": "us-east-1",
                        "vpcId": "vpc-0123456789abcdef0",
                        "subnetIds": {
                            "private": ["subnet-0123456789abcdef1", "subnet-0123456789abcdef2"]
                        },
                    },
                }
            )
        if legacy:
            out.append(
                legacy_provider_config(ref.get("providerConfig") or key, team_of_claim(tenant))
            )
    return out


def as_required(docs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """`docs` keyed as the function's requirements name them (for composers called directly)."""
    from plinth.compose.accounts import provider_config_requirement

    out: dict[str, list[dict[str, Any]]] = {}
    for d in docs:
        name = d["metadata"]["name"]
        if d["kind"] == "AccountClaim":
            out[f"account-{name}"] = [d]  # plinth.compose.accounts.account_requirement
        elif d["kind"] == "ProviderConfig":
            out[provider_config_requirement(name)] = [d]
        elif d["kind"] == "TenantClaim":
            out["tenant"] = [d]
    return out
