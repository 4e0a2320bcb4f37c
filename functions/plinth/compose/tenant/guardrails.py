"""Guardrails: Kyverno ClusterPolicies of the tenant on each of its clusters.

`<team>-guardrails` validates every Pod (and, by Kyverno's autogen, every controller's pod
template) in the tenant's namespaces: those labelled `plinth.dev/team=<team>`, a label only
Plinth sets (the tenant's namespaces, and its apps' preview namespaces through their
ApplicationSets). Its rules:

* images only from the tenant's own ECR repositories (`<account>.dkr.ecr.<region>.amazonaws.com
  /<team>-*` of each of its accounts) and the registries the platform allows (a tenant may
  narrow those, never widen them);
* CPU and memory requests on every container (the LimitRange defaults them first, so this
  holds even if the LimitRange goes); optionally a memory limit;
* no host namespaces, privileged containers or hostPath volumes: Pod Security Admission says
  the same, this is defence in depth (a baseline opt-out keeps these);
* no toleration of another tenant's dedicated pool, nor of every taint.

Where the tenant has a dedicated pool, `<team>-placement` mutates the tenant's Pods onto it
(node selector and toleration) and refuses its toleration in every other namespace but the
platform's own, so only the tenant's pods land there.

A team that needs more asks the platform for a Kyverno PolicyException: Plinth composes none,
and the tenant's AppProject and RBAC let no tenant create one.
"""

from __future__ import annotations

from typing import Any

from plinth.builders import kubernetes as k8s
from plinth.builders import kyverno
from plinth.compose.tenant import capacity
from plinth.compose.tenant.context import Context, Placement
from plinth.core.labels import TEAM
from plinth.core.tenancy import Refused

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def guardrails_crn(placement: Placement) -> str:
    return f"guardrails-{placement.cluster.name}"


def placement_crn(placement: Placement) -> str:
    return f"placement-{placement.cluster.name}"


def policy_name(ctx: Context, what: str) -> str:
    """`<team>-guardrails`, `<team>-placement`: ClusterPolicies are cluster-scoped and shared."""
    return ctx.claim.shared_name(what)


def registries(ctx: Context) -> list[str]:
    """Image prefixes the tenant's pods may use: its own ECR repositories, then the platform's
    registries (narrowed to the tenant's choice)."""
    platform = ctx.claim.platform.guardrails.allowed_registries
    chosen = list(ctx.spec.guardrails.registries)
    outside = [r for r in chosen if r not in platform]
    if outside:
        raise Refused(
            f"guardrails.registries: {', '.join(outside)} not among the registries the platform "
            "allows (a tenant may narrow them, not add to them; ask the platform team)"
        )
    own = []
    for env in (None, *(e.name for e in ctx.spec.environments)):
        account = ctx.accounts.of(env)
        if account is not None:
            prefix = f"{account.id}.dkr.ecr.{account.region}.amazonaws.com/{ctx.team}-"
            if prefix not in own:
                own.append(prefix)
    return own + (chosen or list(platform))


def _each_container(rule: dict[str, Any]) -> dict[str, Any]:
    """A pattern for every container of a pod, `containers` required, the others if present."""
    return {("=(" + key + ")" if key != "containers" else key): [rule] for key in CONTAINER_LISTS}


def _validate(ctx: Context, message: str, **check: Any) -> dict[str, Any]:
    return {
        "failureAction": ctx.claim.platform.guardrails.validation_failure_action,
        "message": message,
        **check,
    }


def _tolerations(query: str) -> str:
    return "{{ request.object.spec.tolerations || `[]` | [?" + query + "] | length(@) }}"


def validation_rules(ctx: Context) -> list[dict[str, Any]]:
    match = kyverno.match_pods_in({TEAM: ctx.team})
    images = registries(ctx)
    image_pattern = " | ".join(f"{p}*" for p in images) if images else "!*"
    requests: dict[str, Any] = {"requests": {"cpu": "?*", "memory": "?*"}}
    if ctx.spec.guardrails.require_limits:
        requests["limits"] = {"memory": "?*"}
    team = ctx.team
    return [
        {
            "name": "allowed-registries",
            "match": match,
            "validate": _validate(
                ctx,
                f"images of team {team} come from its own ECR repositories or a registry "
                f"the platform allows: {', '.join(images) or '(none known yet)'}",
                pattern={"spec": _each_container({"image": image_pattern})},
            ),
        },
        {
            "name": "require-requests",
            "match": match,
            "validate": _validate(
                ctx,
                "every container states its CPU and memory requests"
                + (" and a memory limit" if ctx.spec.guardrails.require_limits else ""),
                pattern={"spec": {"containers": [{"resources": requests}]}},
            ),
        },
        {
            "name": "no-host-namespaces",
            "match": match,
            "validate": _validate(
                ctx,
                "pods share no host namespace (hostNetwork, hostPID, hostIPC)",
                pattern={
                    "spec": {"=(hostNetwork)": False, "=(hostPID)": False, "=(hostIPC)": False}
                },
            ),
        },
        {
            "name": "no-privileged",
            "match": match,
            "validate": _validate(
                ctx,
                "no privileged container",
                pattern={"spec": _each_container({"=(securityContext)": {"=(privileged)": False}})},
            ),
        },
        {
            "name": "no-host-path",
            "match": match,
            "validate": _validate(
                ctx,
                "no hostPath volume",
                pattern={"spec": {"=(volumes)": [{"X(hostPath)": "null"}]}},
            ),
        },
        {
            "name": "no-foreign-tolerations",
            "match": match,
            "validate": _validate(
                ctx,
                f"pods of team {team} tolerate no other team's dedicated nodes and not every taint",
                deny={
                    "conditions": {
                        "any": [
                            {
                                "key": _tolerations(
                                    f"key=='{capacity.DEDICATED}' && "
                                    f"(operator=='Exists' || value!='{team}')"
                                ),
                                "operator": "GreaterThan",
                                "value": 0,
                            },
                            {
                                "key": _tolerations("(key=='' || key==null) && operator=='Exists'"),
                                "operator": "GreaterThan",
                                "value": 0,
                            },
                        ]
                    }
                },
            ),
        },
    ]


def toleration(team: str) -> dict[str, str]:
    return {"key": capacity.DEDICATED, "operator": "Equal", "value": team, "effect": "NoSchedule"}


def placement_rules(ctx: Context) -> list[dict[str, Any]]:
    team = ctx.team
    mine = kyverno.match_pods_in({TEAM: team})
    has_it = _tolerations(f"key=='{capacity.DEDICATED}' && value=='{team}'")
    count = "{{ request.object.spec.tolerations || `[]` | length(@) }}"
    reserved = sorted(set(ctx.claim.platform.reserved_namespaces))

    def missing(*extra: dict[str, Any]) -> dict[str, Any]:
        return {"all": [{"key": has_it, "operator": "Equals", "value": 0}, *extra]}

    return [
        {
            "name": "dedicated-node-selector",
            "match": mine,
            "mutate": {
                "patchStrategicMerge": {"spec": {"nodeSelector": {capacity.DEDICATED: team}}}
            },
        },
        {
            # JSON patches: a strategic merge would replace the pod's own tolerations.
            "name": "dedicated-toleration-append",
            "match": mine,
            "preconditions": missing({"key": count, "operator": "GreaterThan", "value": 0}),
            "mutate": {
                "patchesJson6902": _json_patch("/spec/tolerations/-", toleration(team)),
            },
        },
        {
            "name": "dedicated-toleration-first",
            "match": mine,
            "preconditions": missing({"key": count, "operator": "Equals", "value": 0}),
            "mutate": {
                "patchesJson6902": _json_patch("/spec/tolerations", [toleration(team)]),
            },
        },
        {
            "name": "dedicated-pool-is-team-only",
            "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "exclude": {
                "any": [
                    {
                        "resources": {
                            "namespaceSelector": {"matchLabels": {TEAM: team}},
                        }
                    },
                    # The platform's own DaemonSets (CNI, logging) run on every node.
                    {"resources": {"namespaces": reserved}},
                ]
            },
            "validate": _validate(
                ctx,
                f"the dedicated nodes of team {team} take only its own pods",
                deny={
                    "conditions": {
                        "any": [
                            {
                                "key": _tolerations(
                                    f"key=='{capacity.DEDICATED}' && "
                                    f"(operator=='Exists' || value=='{team}')"
                                ),
                                "operator": "GreaterThan",
                                "value": 0,
                            },
                            {
                                "key": _tolerations("(key=='' || key==null) && operator=='Exists'"),
                                "operator": "GreaterThan",
                                "value": 0,
                            },
                        ]
                    }
                },
            ),
        },
    ]


def _json_patch(path: str, value: Any) -> str:
    import json

    return json.dumps([{"op": "add", "path": path, "value": value}])


def build(ctx: Context, placement: Placement) -> None:
    cluster = placement.cluster
    if not cluster.kyverno:
        ctx.out.warnings.append(
            f"cluster {cluster.name} has no Kyverno (platform config): the tenant's guardrails "
            "and dedicated-pool placement are not enforced there beyond Pod Security"
        )
        return
    labels = ctx.labels(placement.environment)
    pc = cluster.kubernetes_provider_config
    policies = [
        (
            guardrails_crn(placement),
            kyverno.cluster_policy(
                policy_name(ctx, "guardrails"),
                labels=labels,
                rules=validation_rules(ctx),
                description=f"Guardrails of team {ctx.team}'s namespaces (Plinth TenantClaim "
                f"{ctx.claim.namespace}/{ctx.claim.name}).",
            ),
        )
    ]
    kept = (
        capacity.capacity_of(ctx, placement) is not None
        and not capacity.has_pool(ctx, placement)
        and placement_crn(placement) in ctx.observed
    )
    if kept:
        # The pool stays while the platform config lacks Karpenter (capacity.py), so does
        # what keeps it the tenant's.
        ctx.out.wait(placement_crn(placement), f"cluster {cluster.name} lost its Karpenter config")
    if capacity.has_pool(ctx, placement):
        policies.append(
            (
                placement_crn(placement),
                kyverno.cluster_policy(
                    policy_name(ctx, "placement"),
                    labels=labels,
                    rules=placement_rules(ctx),
                    description=f"Team {ctx.team}'s pods run on its dedicated nodes, and "
                    "only its pods do.",
                    background=False,
                    autogen=False,
                ),
            )
        )
    for crn, manifest in policies:
        ctx.out.add(
            crn,
            k8s.object_(
                ctx.claim,
                name=ctx.name(crn),
                labels=labels,
                manifest=manifest,
                provider_config=pc,
                # A ClusterPolicy reports Ready once Kyverno's webhooks serve it.
                readiness=k8s.Readiness.DERIVE_FROM_OBJECT,
            ),
        )
