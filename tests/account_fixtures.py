"""Observed fixtures of the account examples, one directory per phase.

`python tests/account_fixtures.py` rewrites them; tests/test_account_phases.py fails when the
checked-in fixtures differ from what this module generates, so they never drift from the
composer. Each phase's fixture is what Crossplane would observe once everything the previous
render composed is ready, with the ids AWS would report.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import yaml

# Real observed conditions always carry a transition time; a fixed one keeps fixtures stable.
OBSERVED_AT = "2026-01-01T00:00:00Z"

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import EXAMPLES, platform_docs  # noqa: E402
from plinth.tools.render import render, to_composite  # noqa: E402
from plinth.tools.yamlio import read_path  # noqa: E402

# (example file, fixture directory) per example and flavor.
EXAMPLE_DIRS = {
    "account.yaml": "account-dev",
    "account-prod.yaml": "account-prod",
}
PHASES = ("account-created", "provider-config-ready", "baseline-ready")
ACCOUNT_ID = {"payments-dev": "210987654321", "payments-prod": "123456789012"}

_ID_PREFIX = {
    "VPC": "vpc-",
    "Subnet": "subnet-",
    "InternetGateway": "igw-",
    "NATGateway": "nat-",
    "EIP": "eipalloc-",
    "RouteTable": "rtb-",
    "RouteTableAssociation": "rtbassoc-",
    "TransitGatewayVPCAttachment": "tgw-attach-",
}


def fake_id(body: dict[str, Any]) -> str:
    name = body["metadata"]["name"]
    digest = hashlib.sha256(name.encode()).hexdigest()[:17]
    return _ID_PREFIX.get(body["kind"], "") + digest


def observe(resources: list[dict[str, Any]], claim_name: str) -> list[dict[str, Any]]:
    """The rendered resources as Crossplane observes them once they are all ready."""
    out = []
    for r in resources:
        body = {k: v for k, v in r.items() if k != "status"}
        if body["kind"] in ("ProviderConfig", "Usage", "ClusterUsage"):
            out.append(body)  # these never report conditions
            continue
        rid = (
            ACCOUNT_ID.get(claim_name, "111122223333")
            if body["kind"] == "Account"
            else fake_id(body)
        )
        body["status"] = {
            "atProvider": {"id": rid},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "Available",
                    "lastTransitionTime": OBSERVED_AT,
                },
                {
                    "type": "Synced",
                    "status": "True",
                    "reason": "ReconcileSuccess",
                    "lastTransitionTime": OBSERVED_AT,
                },
            ],
        }
        out.append(body)
    return out


def claim_of(path: Path) -> dict[str, Any]:
    return next(d.body for d in read_path(str(path)))


def phases(
    claim: dict[str, Any], platform: list[dict[str, Any]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """The observed resources at the start of each phase, rendering until each is stable."""
    name = claim["metadata"]["name"]
    xr = to_composite(claim)
    observed: list[dict[str, Any]] = []
    out = {}
    for phase in PHASES:
        # Gates inside a phase (routes after the transit gateway attachment) open one render
        # after their dependency is ready: render until nothing new appears.
        while True:
            rendered = render(xr, observed=observed, extra_resources=platform or platform_docs())
            assert not rendered.fatal, rendered.results
            nxt = observe(rendered.resources, name)
            grew = len(nxt) > len(observed)
            observed = nxt
            if phase != "baseline-ready" or not grew:
                break
        out[phase] = observed
    return out


def fixture_path(flavor_dir: Path, example: str, phase: str) -> Path:
    return flavor_dir / EXAMPLE_DIRS[example] / f"observed-{phase}" / "resources.yaml"


def dump(docs: list[dict[str, Any]]) -> str:
    # Sorted: bodies come back from protobuf Structs, whose key order is not stable.
    return yaml.safe_dump_all(docs, sort_keys=True, default_flow_style=False)


def expected() -> dict[Path, str]:
    files = {}
    for flavor_dir in (EXAMPLES, EXAMPLES / "legacy"):
        for example in EXAMPLE_DIRS:
            for phase, docs in phases(claim_of(flavor_dir / example)).items():
                files[fixture_path(flavor_dir, example, phase)] = dump(docs)
    return files


if __name__ == "__main__":
    for path, text in expected().items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(path.relative_to(REPO))
