"""The names old-style claims compose, recorded before per-environment accounts (issue 15).

Run once, at the commit before that change (`python tests/old_style_corpus.py`), it wrote
tests/data/old_style_names.json: for each claim of a seeded, varied set of TenantClaims and
AppClaims whose tenant has one `spec.account`, in both flavors, every composition-resource-name
it composed over all its phases and the metadata.name of each. tests/test_accounts.py renders
the same claims with today's code and requires every one of those names unchanged.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from claim_fixtures import observe, with_status  # noqa: E402
from conftest import platform_docs  # noqa: E402
from plinth.api.flavor import FLAVORS, Flavor  # noqa: E402
from plinth.tools.render import render, to_composite  # noqa: E402

OUT = HERE / "data" / "old_style_names.json"
CRN = "crossplane.io/composition-resource-name"
TEAMS = ["payments", "search", "ledger"]


def tenant(rng: random.Random, flavor: str, team: str) -> dict[str, Any]:
    envs = rng.sample(["dev", "staging", "prod"], rng.randint(1, 3))
    if rng.random() < 0.5:
        account: dict[str, Any] = {"claimName": f"{team}-acct"}
    else:
        account = {"accountId": "555555555555", "providerConfig": f"{team}-aws"}
    spec: dict[str, Any] = {
        "team": team,
        "account": account,
        "environments": [
            {"name": e, "namespaces": rng.sample(["api", "jobs", "web"], rng.randint(0, 2))}
            for e in envs
        ],
    }
    if rng.random() < 0.5:
        spec["members"] = [
            {"role": lvl, "permissionSet": f"P{lvl}"}
            for lvl in rng.sample(["admin", "edit", "view"], rng.randint(1, 3))
        ]
    if rng.random() < 0.3:
        spec["egress"] = [{"cidr": "10.40.0.0/16", "ports": [443]}]
    return {
        "apiVersion": f"{FLAVORS[Flavor(flavor)].group}/v1alpha1",
        "kind": "TenantClaim",
        "metadata": {"name": team, "namespace": team},
        "spec": spec,
    }


def app(rng: random.Random, flavor: str, t: dict[str, Any]) -> dict[str, Any]:
    team = t["metadata"]["namespace"]
    envs = [e["name"] for e in t["spec"]["environments"]]
    spec: dict[str, Any] = {
        "tenant": team,
        "environments": [{"name": e, "replicas": rng.randint(1, 3)} for e in envs],
        "buckets": [{"name": n} for n in rng.sample(["data", "logs"], rng.randint(0, 2))],
        "queues": [{"name": n} for n in rng.sample(["jobs", "events"], rng.randint(0, 1))],
        "databases": [{"name": n} for n in rng.sample(["main"], rng.randint(0, 1))],
        "caches": [{"name": n} for n in rng.sample(["sessions"], rng.randint(0, 1))],
    }
    if "accountId" in t["spec"]["account"]:
        spec["network"] = {
            "vpcId": "vpc-0a1b2c3d4e5f60718",
            "subnetIds": ["subnet-0a1b2c3d4e5f60711", "subnet-0a1b2c3d4e5f60712"],
        }
    return {
        "apiVersion": t["apiVersion"],
        "kind": "AppClaim",
        "metadata": {"name": rng.choice(["api", "worker", f"{team}-web"]), "namespace": team},
        "spec": spec,
    }


def required_of(claim: dict[str, Any], t: dict[str, Any]) -> list[dict[str, Any]]:
    """The tenant (for an app), its AccountClaim, and their legacy ProviderConfigs, Ready."""
    team = t["metadata"]["namespace"]
    docs: list[dict[str, Any]] = []
    if claim["kind"] == "AppClaim":
        docs.append(t)
    ref = t["spec"]["account"]
    if "claimName" in ref:
        docs.append(
            {
                "apiVersion": t["apiVersion"],
                "kind": "AccountClaim",
                "metadata": {"name": ref["claimName"], "namespace": team},
                "spec": {"email": "a@example.com", "environment": "dev"},
            }
        )
    out = with_status(docs)
    if (
        claim["kind"] == "TenantClaim"
        and claim["apiVersion"].startswith("claims.")
        and "providerConfig" in ref
    ):
        from claim_fixtures import legacy_provider_config

        out.append(legacy_provider_config(ref["providerConfig"], team))
    return out


def names(claim: dict[str, Any], required: list[dict[str, Any]]) -> dict[str, str]:
    seen: dict[str, str] = {}
    observed: list[dict[str, Any]] = []
    for _ in range(10):
        r = render(
            to_composite(claim), observed=observed, extra_resources=platform_docs() + required
        )
        assert not r.fatal, r.fatal
        for res in r.resources:
            seen[res["metadata"]["annotations"][CRN]] = res["metadata"]["name"]
        nxt = observe(r.resources)
        if len(nxt) == len(observed):
            break
        observed = nxt
    return seen


def corpus(count: int = 30, seed: int = 15) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        flavor = ["v2", "legacy"][i % 2]
        t = tenant(rng, flavor, rng.choice(TEAMS))
        for claim in (t, app(rng, flavor, t)):
            out.append({"claim": claim, "tenant": t, "names": names(claim, required_of(claim, t))})
    return out


if __name__ == "__main__":
    OUT.write_text("[\n" + ",\n".join(json.dumps(c, sort_keys=True) for c in corpus()) + "\n]\n")
    print(f"wrote {OUT}")
