"""A third-party audit of every identity policy Plinth composes: parliament (duo-labs), its core
auditors, over every example in every phase and both flavors.

In scope: identity policies, the documents attached to principals (a Role's inline policies, a
managed Policy, a RolePolicy). Out of scope, because parliament audits identity policies only:
trust policies (`assumeRolePolicy`) and resource policies (ECR repository, SQS queue, S3 bucket,
KMS key policies); tests/test_app.py and tests/test_isolation.py check those for what matters
(no wildcard principals, only the app's own ARNs, nothing of another team's).

Triage: a finding is fixed in the composer, or listed in FALSE_POSITIVES with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from parliament import analyze_policy_string

from lifecycles import rendered_bodies

# (issue, action or resource it names) -> why it is not a defect. Empty: every finding so far
# was fixed.
FALSE_POSITIVES: dict[tuple[str, str], str] = {}


def identity_policies() -> Iterator[tuple[str, str, str]]:
    """(where, which, policy JSON) for every identity policy any example composes."""
    for where, body in rendered_bodies():
        fp: dict[str, Any] = body.get("spec", {}).get("forProvider", {})
        kind = body["kind"]
        if kind == "Role":
            for p in fp.get("inlinePolicy", []):
                if p.get("policy"):
                    yield where, f"Role {body['metadata']['name']} inline {p['name']}", p["policy"]
        elif kind in ("Policy", "RolePolicy", "UserPolicy", "GroupPolicy") and fp.get("policy"):
            yield where, f"{kind} {body['metadata']['name']}", fp["policy"]


def test_parliament_finds_nothing_in_any_identity_policy() -> None:
    policies = list(identity_policies())
    # The workload, CI, Pod Identity and backup roles of the examples, in both flavors.
    assert len(policies) >= 8, [w for _, w, _ in policies]
    found = []
    for where, which, policy in policies:
        json.loads(policy)
        analyzed = analyze_policy_string(policy, ignore_private_auditors=True)
        for f in analyzed.findings:
            detail = json.dumps(f.detail, sort_keys=True, default=str)
            if (f.issue, detail) not in FALSE_POSITIVES:
                found.append(f"{where} {which}: {f.issue} {detail}")
    assert not found, "\n".join(found)


def test_parliament_does_find_what_it_should() -> None:
    # The audit is live: a wildcard resource on an action that supports resource ARNs, an
    # unknown action and a malformed ARN are each reported.
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"},
            {"Effect": "Allow", "Action": "s3:NoSuchAction", "Resource": "arn:aws:s3:::b/*"},
        ],
    }
    issues = {
        f.issue
        for f in analyze_policy_string(json.dumps(bad), ignore_private_auditors=True).findings
    }
    assert {"RESOURCE_STAR", "UNKNOWN_ACTION"} <= issues, issues
