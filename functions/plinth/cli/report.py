"""`plinth report`: sprawl and cost attribution across the platform, on a live cluster."""

from __future__ import annotations

import json
from typing import Any

import click

from plinth.cli.common import EXIT_FAILED, fail, needs_tools


@click.command(name="report")
@click.option("--kubeconfig", help="As kubectl's (default: $KUBECONFIG, ~/.kube/config).")
@click.option("--context", help="The management cluster's kubeconfig context.")
@click.option(
    "--workload-context",
    "workload_contexts",
    multiple=True,
    help="A workload cluster's context, to find Plinth namespaces with no workloads "
    "(repeatable; the management cluster is read too).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    help="A cost-allocation tag every AWS resource must carry, besides plinth.dev/team and the "
    "platform's own tags (data.tags of plinth-platform).",
)
@click.option(
    "-f",
    "--filename",
    help="Report on recorded objects instead of a cluster: a YAML or JSON file (a List, as "
    "`kubectl get -o yaml` prints) of claims, managed resources, namespaces and pods.",
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@needs_tools
def report_cmd(
    kubeconfig: str | None,
    context: str | None,
    workload_contexts: tuple[str, ...],
    tags: tuple[str, ...],
    filename: str | None,
    output: str,
) -> None:
    """Report per team its accounts, tenants, apps and environments, and what deserves a look:
    tenants without apps, accounts without tenants, apps whose delivery is unhealthy,
    namespaces with no workloads, AWS resources lacking the cost-allocation tags.

    A claim's team is its namespace. Reads the management cluster with kubectl (claims,
    `kubectl get managed`, Plinth's Argo CD Applications, the plinth-platform
    EnvironmentConfig); namespaces and pods from it and every --workload-context.

    \b
    Examples:
      plinth report
      plinth report --workload-context eks-dev-use1 --workload-context eks-prod-use1
      plinth report --tag cost-center -o json
      plinth report -f recorded.yaml
    """
    from plinth.tools.report import (
        build_report,
        format_text,
        read_cluster,
        read_management,
        schema_taggable,
    )
    from plinth.tools.trace import Kubectl, TraceError

    clusters: dict[str, list[dict[str, Any]]] = {}
    platform_tags: list[str] = []
    if filename:
        from plinth.cli.trace import recorded_objects

        objects = recorded_objects(filename)
        ns_and_pods = [o for o in objects if o.get("kind") in ("Namespace", "Pod")]
        if ns_and_pods:
            clusters["recorded"] = ns_and_pods
        platform = [
            o
            for o in objects
            if o.get("kind") == "EnvironmentConfig"
            and (o.get("metadata") or {}).get("name") == "plinth-platform"
        ]
        if platform:
            platform_tags = sorted(((platform[0].get("data") or {}).get("tags") or {}).keys())
    else:
        try:
            kube = Kubectl(kubeconfig, context)
            objects, platform_tags = read_management(kube)
            clusters[context or "current-context"] = read_cluster(kube)
            for ctx in workload_contexts:
                clusters[ctx] = read_cluster(Kubectl(kubeconfig, ctx))
        except TraceError as e:
            fail(str(e), EXIT_FAILED)
    report = build_report(
        objects,
        clusters=clusters,
        required_tags=[*platform_tags, *tags],
        taggable=schema_taggable(),
    )
    if output == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(format_text(report), nl=False)
