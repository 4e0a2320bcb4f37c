"""Per queue and environment an SQS queue, encrypted (SSE-SQS), with a dead-letter queue and a
redrive policy by default. Queue ARNs and URLs follow from names, so nothing waits on AWS."""

from __future__ import annotations

import json

from plinth.api.app import Queue
from plinth.api.base import Environment
from plinth.builders import aws
from plinth.compose.app.context import Context, Contribution

DLQ_RETENTION = 14 * 24 * 3600  # the SQS maximum: time to look at what failed


def crn(env: Environment, queue: Queue, dlq: bool = False) -> str:
    return f"queue-{env.value}-{queue.name}" + ("-dlq" if dlq else "")


def key(queue: Queue) -> str:
    return "QUEUE_" + queue.name.upper().replace("-", "_")


def build(ctx: Context) -> Contribution:
    out = Contribution()
    for env in ctx.spec.environments:
        for queue in ctx.spec.queues:
            _one(ctx, env.name, queue, out)
    return out


def _one(ctx: Context, env: Environment, queue: Queue, out: Contribution) -> None:
    account = ctx.account(env)
    if account is None:
        ctx.out.wait(crn(env, queue), ctx.account_wait(env))
        if queue.dead_letter_queue:
            ctx.out.wait(crn(env, queue, dlq=True), ctx.account_wait(env))
        return
    suffix = ".fifo" if queue.fifo else ""
    name = ctx.aws("sqs.Queue", env.value, queue.name, suffix=suffix)
    dlq_name = ctx.aws("sqs.Queue", env.value, queue.name, "dlq", suffix=suffix)
    arn, dlq_arn = ctx.arn(env, "sqs", name), ctx.arn(env, "sqs", dlq_name)

    def url(n: str) -> str:
        return f"https://sqs.{account.region}.amazonaws.com/{account.id}/{n}"

    def body(n: str, crn_: str, extra: dict[str, object]) -> None:
        fp: dict[str, object] = {
            "name": n,
            "sqsManagedSseEnabled": True,
            "tags": ctx.tags(env),
            **extra,
        }
        if queue.fifo:
            fp["fifoQueue"] = True
            fp["contentBasedDeduplication"] = True
        ctx.out.add(
            crn_,
            aws.resource(
                ctx.claim,
                "sqs",
                "Queue",
                name=ctx.name(crn_),
                labels=ctx.labels(env),
                region=account.region,
                provider_config=account.provider_config,
                for_provider=fp,
            ),
        )

    main: dict[str, object] = {"visibilityTimeoutSeconds": queue.visibility_timeout_seconds}
    if queue.dead_letter_queue:
        main["redrivePolicy"] = json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count},
            sort_keys=True,
        )
        body(
            dlq_name,
            crn(env, queue, dlq=True),
            {
                "messageRetentionSeconds": DLQ_RETENTION,
                "redriveAllowPolicy": json.dumps(
                    {"redrivePermission": "byQueue", "sourceQueueArns": [arn]}, sort_keys=True
                ),
            },
        )
    body(name, crn(env, queue), main)
    k = key(queue)
    config = out.config.setdefault(env, {})
    config.update({f"{k}_URL": url(name), f"{k}_ARN": arn})
    arns = [arn]
    if queue.dead_letter_queue:
        config[f"{k}_DLQ_URL"] = url(dlq_name)
        arns.append(dlq_arn)
    out.statements.setdefault(env, []).append(
        {
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:GetQueueUrl",
                "sqs:ReceiveMessage",
                "sqs:SendMessage",
            ],
            "Resource": arns,
        }
    )
    out.status.append(
        {"kind": "queue", "name": queue.name, "environment": env.value, "endpoint": url(name)}
    )
