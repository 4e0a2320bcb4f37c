"""Phase 3: AWS Backup - a vault, a daily plan, a selection of everything, and their role."""

from __future__ import annotations

import json
from typing import Any

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned
from plinth.core.naming import aws_name

ROLE = "backup-role"
VAULT = "backup-vault"
PLAN = "backup-plan"
SELECTION = "backup-selection"
# Resources tagged with this key and "false" are left out of the backup selection.
OPT_OUT_TAG = "plinth.dev/backup"

_MANAGED_POLICIES = {
    "backup-role-policy-backup": "AWSBackupServiceRolePolicyForBackup",
    "backup-role-policy-restores": "AWSBackupServiceRolePolicyForRestores",
}


def build(ctx: Context) -> list[Planned]:
    if not ctx.backup_enabled:
        return []
    claim, spec = ctx.claim, ctx.spec
    pc = ctx.account_provider_config
    out: list[Planned] = []

    def add(
        crn: str, service: str, kind: str, fp: dict[str, Any], external_name: str | None = None
    ) -> None:
        body = aws.resource(
            claim,
            service,
            kind,
            name=ctx.name(crn),
            labels=ctx.labels,
            region=ctx.region,
            for_provider=fp,
            provider_config=pc,
            external_name=external_name,
        )
        out.append(Planned(crn, body))

    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "backup.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    add(
        ROLE,
        "iam",
        "Role",
        {
            "assumeRolePolicy": json.dumps(trust, sort_keys=True),
            "description": "AWS Backup service role of the Plinth account baseline",
            "tags": ctx.tags(),
        },
        external_name=aws_name("iam.Role", "plinth-backup", claim.name),
    )
    for crn, policy in _MANAGED_POLICIES.items():
        add(
            crn,
            "iam",
            "RolePolicyAttachment",
            {
                "policyArn": f"arn:{ctx.partition}:iam::aws:policy/service-role/{policy}",
                "roleRef": ctx.ref(ROLE),
            },
        )
    add(
        VAULT,
        "backup",
        "Vault",
        {"tags": ctx.tags()},
        external_name=aws_name("backup.Vault", "plinth", claim.name),
    )
    add(
        PLAN,
        "backup",
        "Plan",
        {
            "name": aws_name("backup.Plan", "plinth", claim.name),
            "rule": [
                {
                    "ruleName": "plinth-scheduled",
                    "targetVaultNameRef": ctx.ref(VAULT),
                    "schedule": spec.backup.schedule,
                    "lifecycle": {"deleteAfter": spec.backup.retention_days},
                }
            ],
            "tags": ctx.tags(),
        },
    )
    add(
        SELECTION,
        "backup",
        "Selection",
        {
            "name": aws_name("backup.Selection", "plinth", claim.name),
            "planIdRef": ctx.ref(PLAN),
            "iamRoleArnRef": ctx.ref(ROLE),
            "resources": ["*"],
            "condition": [
                {"stringNotEquals": [{"key": f"aws:ResourceTag/{OPT_OUT_TAG}", "value": "false"}]}
            ],
        },
    )
    return out
