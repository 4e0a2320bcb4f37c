"""Plinth installed into the dev cluster the way users install it: one `Configuration` object.

`plinth dev up` pushes every package the Configuration needs into the cluster's registry under
its public name (Plinth's own packages from `plinth package build`, the providers as CRD-only
mirrors from `plinth package mirror`), applies the ImageConfigs that point the public
registries at it, and applies the Configuration. Crossplane's package manager does the rest:
it pulls the Configuration, resolves its dependencies (function-plinth, the providers, the AWS
family package), installs them, and establishes the XRDs, Compositions and the activation
policy, which activates the managed resource kinds the compositions use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from plinth.devcluster.kubectl import apply, kubectl_run
from plinth.generators.packages import PROVIDER_REGISTRY
from plinth.tools import mirror
from plinth.tools.packages import PackageIndex

Body = dict[str, Any]
Progress = Callable[[str], None]
CONFIGURATION_NAME = "plinth"


def publish(
    index: PackageIndex,
    output: Path,
    registry: str,
    ca: Path,
    crossplane: str,
    only: set[str] | None = None,
) -> list[str]:
    """Push the indexed packages (all, or the ids in `only`) to `registry`; return the refs."""
    pushed = []
    for p in index.packages:
        if only is not None and p.id not in only:
            continue
        ref = mirror.mirror_reference(registry, p.reference)
        mirror.push(crossplane, output / p.file, ref, ca_file=ca)
        pushed.append(ref)
    return pushed


def configuration(reference: str, name: str = CONFIGURATION_NAME) -> Body:
    return {
        "apiVersion": "pkg.crossplane.io/v1",
        "kind": "Configuration",
        "metadata": {"name": name},
        "spec": {"package": reference},
    }


def image_configs(registry: str, index: PackageIndex) -> list[Body]:
    return mirror.image_configs(registry, [p.source for p in index.packages])


def packages_state(get: Callable[..., Any]) -> dict[str, list[Body]]:
    """Every Configuration, Function and Provider, as `kubectl get -o json` lists them."""
    return {
        kind: list((get(kind) or {}).get("items", []))
        for kind in ("configurations", "functions", "providers")
    }


def condition(body: Body, kind: str) -> Body:
    return next(
        (c for c in (body.get("status") or {}).get("conditions") or [] if c.get("type") == kind),
        {},
    )


def revision_healthy(get: Callable[..., Any], plural: str, package: Body) -> bool:
    name = (package.get("status") or {}).get("currentRevision")
    if not name:
        return False
    rev = get(plural, name)
    return bool(rev) and condition(rev, "RevisionHealthy").get("status") == "True"


def unestablished_xrds(get: Callable[..., Any], config: Body) -> str:
    """Why an XRD the Configuration installed is not Established yet ("" when all are). A
    Configuration is Healthy once its objects are applied, even when the API server refuses
    the CRD Crossplane generates from one of its XRDs (a CEL rule over the validation cost
    budget, say): then the claim kind simply never exists."""
    revision = (config.get("status") or {}).get("currentRevision")
    rev = get("configurationrevisions", revision) if revision else None
    refs = ((rev or {}).get("status") or {}).get("objectRefs") or []
    for ref in refs:
        if ref.get("kind") != "CompositeResourceDefinition":
            continue
        xrd = get("compositeresourcedefinitions", ref["name"])
        established = condition(xrd or {}, "Established")
        if established.get("status") != "True":
            why = established.get("message") or (
                "Crossplane has not established it; if this lasts, the API server refused the "
                "CRD generated from it (see crossplane.log, or apply its schema as a CRD with "
                "kubectl apply --dry-run=server)"
            )
            return f"XRD {ref['name']} not Established: {why}"
    return ""


def inactive_kinds(get: Callable[..., Any], config: Body) -> str:
    """Why a managed resource kind the Configuration's activation policy names is not served
    yet ("" when all are). Providers' revisions are healthy before Crossplane has activated
    their MRDs one by one, and a claim applied then composes kinds the API server lacks."""
    revision = (config.get("status") or {}).get("currentRevision")
    rev = get("configurationrevisions", revision) if revision else None
    refs = ((rev or {}).get("status") or {}).get("objectRefs") or []
    policies = [r["name"] for r in refs if r.get("kind") == "ManagedResourceActivationPolicy"]
    wanted: list[str] = []
    for name in policies:
        policy = get("managedresourceactivationpolicies", name) or {}
        names = [n for n in (policy.get("spec") or {}).get("activate") or [] if "*" not in n]
        activated = set((policy.get("status") or {}).get("activated") or [])
        if missing := [n for n in names if n not in activated]:
            return f"{len(missing)} of {len(names)} managed resource kinds not active: {missing[0]}"
        wanted += names
    if not wanted:
        return ""
    crds = {c["metadata"]["name"]: c for c in (get("crds", *wanted) or {}).get("items") or []}
    for n in wanted:
        if condition(crds.get(n) or {}, "Established").get("status") != "True":
            return f"CRD {n} not Established"
    return ""


def installed(
    get: Callable[..., Any], expected_providers: int, name: str = CONFIGURATION_NAME
) -> tuple[bool, str]:
    """Plinth is installed: the Configuration and function-plinth are Healthy, its XRDs are
    Established (their claim kinds exist), every provider it
    depends on is there with its revision healthy (its CRDs and MRDs established), the
    provider-kubernetes runtime is healthy, and every kind its activation policy names is
    active and served. Returns (done, what is still missing)."""
    state = packages_state(get)
    configs = [c for c in state["configurations"] if c["metadata"]["name"] == name]
    if not configs or condition(configs[0], "Healthy").get("status") != "True":
        msg = condition(configs[0], "Healthy").get("message", "") if configs else "absent"
        return False, f"Configuration not Healthy: {msg}"
    for fn in state["functions"]:
        if condition(fn, "Healthy").get("status") != "True":
            return False, f"Function {fn['metadata']['name']} not Healthy"
    if not state["functions"]:
        return False, "no Function yet"
    if missing := unestablished_xrds(get, configs[0]):
        return False, missing
    providers = state["providers"]
    if len(providers) < expected_providers:
        return False, f"{len(providers)}/{expected_providers} providers"
    for p in providers:
        if not revision_healthy(get, "providerrevisions", p):
            return False, f"Provider {p['metadata']['name']}: revision not healthy"
        if p["metadata"]["name"].endswith("provider-kubernetes") and (
            condition(p, "Healthy").get("status") != "True"
        ):
            return False, "provider-kubernetes not Healthy"
    if inactive := inactive_kinds(get, configs[0]):
        return False, inactive
    return True, ""


def wait_installed(
    get: Callable[..., Any],
    expected_providers: int,
    timeout: float = 600,
    name: str = CONFIGURATION_NAME,
) -> float:
    began = time.monotonic()
    last = ""
    while time.monotonic() - began < timeout:
        done, last = installed(get, expected_providers, name)
        if done:
            return time.monotonic() - began
        time.sleep(1)
    raise RuntimeError(f"Plinth not installed after {timeout:.0f}s: {last}")


def summary(get: Callable[..., Any]) -> list[str]:
    """One line per package: kind, name, package, Installed/Healthy and why not."""
    lines = []
    for kind, items in packages_state(get).items():
        for p in items:
            healthy = condition(p, "Healthy")
            lines.append(
                f"{kind[:-1]} {p['metadata']['name']}: {p['spec']['package']} "
                f"Installed={condition(p, 'Installed').get('status')} "
                f"Healthy={healthy.get('status')}"
                + (f" ({healthy.get('message')})" if healthy.get("status") != "True" else "")
            )
    return lines


def dump(path: Path, docs: list[Body]) -> None:
    path.write_text(json.dumps(docs, indent=2))


FUNCTION_SOURCE = "ghcr.io/plinth-dev/function-plinth"
PROVIDER_KUBERNETES_SOURCE = f"{PROVIDER_REGISTRY}/provider-kubernetes"


def packages(progress: Progress) -> tuple[Path, PackageIndex]:
    """Plinth's packages built from this checkout (every time: they are cheap, and a stale one
    would test old code), the provider mirrors (once per release), and the index of both."""
    from plinth.tools import packages as pkgs
    from plinth.tools.crds import default_crds_dir
    from plinth.tools.engine import binary

    output = pkgs.default_output()
    crossplane, crane = binary("crossplane"), binary("crane")
    root = pkgs.checkout()
    if root is None:
        raise RuntimeError(
            "plinth dev up builds Plinth's packages from a source checkout of Plinth"
        )
    pkgs.build_all(output, root, progress=lambda line: progress(f"[plinth dev] {line}"))
    mirror.build_mirrors(
        output,
        default_crds_dir(),
        crossplane=crossplane,
        crane=crane,
        progress=lambda line: progress(f"[plinth dev] {line}"),
    )
    return output, pkgs.read_index(output)


def apply_configuration(
    kubeconfig: Path,
    registry: str,
    index: PackageIndex,
    progress: Progress,
    package: Literal["configuration", "configuration-legacy"] = "configuration",
) -> float:
    """Apply the ImageConfigs and a Configuration (v2's, or the legacy flavor's beside it);
    wait until the package manager has installed it and its dependencies (shared with the
    other flavor's: the lock holds one of each). Returns the seconds it took."""

    def get(*args: str) -> Any:
        r = kubectl_run(kubeconfig, "get", *args, "-o", "json")
        return json.loads(r.stdout) if r.returncode == 0 else None

    config = index.get(package)
    if config is None:
        raise RuntimeError(f"no {package} package in the index: run `plinth package build`")
    name = CONFIGURATION_NAME if package == "configuration" else f"{CONFIGURATION_NAME}-legacy"
    apply(kubeconfig, [*image_configs(registry, index), configuration(config.reference, name)])
    providers = sum(1 for p in index.packages if p.kind == "Provider")
    took = wait_installed(get, providers, name=name)
    for line in summary(get):
        progress(f"[plinth dev]   {line}")
    return took
