"""Phase 3: the account's monthly cost budget and its alerts."""

from __future__ import annotations

from plinth.builders import aws
from plinth.compose.account.context import Context, Planned
from plinth.core.naming import aws_name

BUDGET = "budget"


def build(ctx: Context) -> list[Planned]:
    b = ctx.spec.budget
    emails = list(b.alert_emails) or [ctx.spec.email]
    notifications = [
        {
            "comparisonOperator": "GREATER_THAN",
            "notificationType": "ACTUAL",
            "threshold": t,
            "thresholdType": "PERCENTAGE",
            "subscriberEmailAddresses": emails,
        }
        for t in sorted(set(b.alert_thresholds))
    ]
    notifications.append(
        {
            "comparisonOperator": "GREATER_THAN",
            "notificationType": "FORECASTED",
            "threshold": 100,
            "thresholdType": "PERCENTAGE",
            "subscriberEmailAddresses": emails,
        }
    )
    body = aws.resource(
        ctx.claim,
        "budgets",
        "Budget",
        name=ctx.name(BUDGET),
        labels=ctx.labels,
        for_provider={
            "accountId": ctx.account_id,
            "budgetType": "COST",
            "timeUnit": "MONTHLY",
            "limitAmount": str(b.monthly_limit),
            "limitUnit": "USD",
            "notification": notifications,
            "tags": ctx.tags(),
        },
        provider_config=ctx.account_provider_config,
        external_name=aws_name("budgets.Budget", "plinth", ctx.claim.name, "monthly"),
    )
    return [Planned(BUDGET, body)]
