"""Generated manifests: XRDs, Compositions, package metadata and the local-render Functions.

All of them derive from the API catalog and the pydantic models, so `plinth generate` can
rewrite them and a test can fail when the checked-in copies drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plinth import __version__
from plinth.api.catalog import CLAIMS, ClaimApi
from plinth.api.flavor import API_VERSION, FLAVORS, Flavor
from plinth.api.function_input import FunctionInput
from plinth.generators import packages
from plinth.generators.openapi import openapi_schema

FUNCTION_PACKAGE = "ghcr.io/plinth-dev/function-plinth"
# The package's own name, and the name of the Function object: Crossplane names a package it
# installs as a Configuration's dependency after its repository (plinth-dev-function-plinth),
# and the Compositions must reference the Function by that name.
FUNCTION_META_NAME = "function-plinth"
FUNCTION_NAME = packages.dependency_name(FUNCTION_PACKAGE)
CONFIGURATION_PACKAGE = "ghcr.io/plinth-dev/configuration-plinth"
CROSSPLANE_CONSTRAINT = ">=v2.0.0"
SOURCE = "https://github.com/plinth-dev/plinth"

# provider-upjet-aws is a family: one provider package per AWS service Plinth composes (derived
# from the managed resource kinds the compositions create, plinth.generators.packages).
AWS_SERVICES = packages.aws_services()


def xrd_name(api: ClaimApi, flavor: Flavor) -> str:
    plural = api.plural if flavor is Flavor.V2 else api.legacy_xr_plural
    return f"{plural}.{FLAVORS[flavor].group}"


def composition_name(api: ClaimApi, flavor: Flavor) -> str:
    return xrd_name(api, flavor)


def _version(api: ClaimApi) -> dict[str, Any]:
    status = openapi_schema(api.status_model)
    return {
        "name": API_VERSION,
        "served": True,
        "referenceable": True,
        "additionalPrinterColumns": [
            {
                "name": c.name,
                "type": c.type,
                "jsonPath": c.json_path,
                **({"priority": c.priority} if c.priority else {}),
            }
            for c in api.printer_columns
        ],
        "schema": {
            "openAPIV3Schema": {
                "type": "object",
                "description": api.description,
                "properties": {
                    "spec": openapi_schema(api.spec_model),
                    "status": status,
                },
                "required": ["spec"],
            }
        },
    }


def xrd(api: ClaimApi, flavor: Flavor) -> dict[str, Any]:
    info = FLAVORS[flavor]
    spec: dict[str, Any] = {"group": info.group}
    if flavor is Flavor.V2:
        spec["scope"] = "Namespaced"
        spec["names"] = {"kind": api.kind, "plural": api.plural, "categories": ["plinth"]}
    else:
        spec["scope"] = "LegacyCluster"
        spec["names"] = {
            "kind": api.legacy_xr_kind,
            "plural": api.legacy_xr_plural,
            "categories": ["plinth"],
        }
        spec["claimNames"] = {"kind": api.kind, "plural": api.plural, "categories": ["plinth"]}
    spec["defaultCompositionRef"] = {"name": composition_name(api, flavor)}
    spec["versions"] = [_version(api)]
    return {
        "apiVersion": info.xrd_api_version,
        "kind": "CompositeResourceDefinition",
        "metadata": {"name": xrd_name(api, flavor), "labels": {"plinth.dev/api": api.noun}},
        "spec": spec,
    }


def composition(api: ClaimApi, flavor: Flavor) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.crossplane.io/v1",
        "kind": "Composition",
        "metadata": {
            "name": composition_name(api, flavor),
            "labels": {"plinth.dev/api": api.noun, "plinth.dev/flavor": flavor.value},
        },
        "spec": {
            "compositeTypeRef": {
                "apiVersion": api.api_version(flavor),
                "kind": api.xr_kind(flavor),
            },
            "mode": "Pipeline",
            "pipeline": [
                {
                    "step": "compose",
                    "functionRef": {"name": FUNCTION_NAME},
                    "input": FunctionInput().to_wire(),
                    "requirements": FunctionInput().step_requirements(),
                }
            ],
        },
    }


def _depends_on(flavor: Flavor) -> list[dict[str, str]]:
    # Both flavors compose the same kinds (in different groups) from the same provider packages.
    return [
        *packages.provider_dependencies(),
        {"function": FUNCTION_PACKAGE, "version": packages.function_constraint(__version__)},
    ]


def configuration_meta(flavor: Flavor) -> dict[str, Any]:
    legacy = flavor is Flavor.LEGACY
    return {
        "apiVersion": "meta.pkg.crossplane.io/v1",
        "kind": "Configuration",
        "metadata": {
            "name": "plinth-legacy" if legacy else "plinth",
            "annotations": {
                "meta.crossplane.io/maintainer": "Plinth maintainers",
                "meta.crossplane.io/source": SOURCE,
                "meta.crossplane.io/license": "Apache-2.0",
                "meta.crossplane.io/description": (
                    "Plinth self-service APIs as legacy claims (claims.plinth.dev)."
                    if legacy
                    else "Plinth self-service APIs: AccountClaim, TenantClaim, AppClaim "
                    "(platform.plinth.dev)."
                ),
            },
        },
        "spec": {
            "crossplane": {"version": CROSSPLANE_CONSTRAINT},
            "dependsOn": _depends_on(flavor),
        },
    }


def function_meta() -> dict[str, Any]:
    return {
        "apiVersion": "meta.pkg.crossplane.io/v1beta1",
        "kind": "Function",
        "metadata": {
            "name": FUNCTION_META_NAME,
            "annotations": {
                "meta.crossplane.io/maintainer": "Plinth maintainers",
                "meta.crossplane.io/source": SOURCE,
                "meta.crossplane.io/license": "Apache-2.0",
                "meta.crossplane.io/description": "Composes Plinth's AccountClaim, "
                "TenantClaim and AppClaim (both flavors).",
            },
        },
        "spec": {
            "crossplane": {"version": CROSSPLANE_CONSTRAINT},
            "capabilities": list(packages.FUNCTION_CAPABILITIES),
        },
    }


def render_functions(target: str = "127.0.0.1:9443") -> list[dict[str, Any]]:
    """The Function manifest `crossplane composition render` needs, pointed at a local server."""
    return [
        {
            "apiVersion": "pkg.crossplane.io/v1",
            "kind": "Function",
            "metadata": {
                "name": FUNCTION_NAME,
                "annotations": {
                    "render.crossplane.io/runtime": "Development",
                    "render.crossplane.io/runtime-development-target": target,
                },
            },
            "spec": {"package": f"{FUNCTION_PACKAGE}:v{__version__}"},
        }
    ]


def files() -> dict[Path, list[dict[str, Any]]]:
    """The XRDs, Compositions, package metadata and render Functions, by repository path."""
    out: dict[Path, list[dict[str, Any]]] = {}
    for flavor in Flavor:
        for api in CLAIMS:
            out[Path("xrds") / flavor.value / f"{api.noun}.yaml"] = [xrd(api, flavor)]
            out[Path("compositions") / flavor.value / f"{api.noun}.yaml"] = [
                composition(api, flavor)
            ]
    out[Path("packages/configuration/crossplane.yaml")] = [configuration_meta(Flavor.V2)]
    out[Path("packages/configuration-legacy/crossplane.yaml")] = [configuration_meta(Flavor.LEGACY)]
    out[Path("packages/function/crossplane.yaml")] = [function_meta()]
    out[Path("examples/functions.yaml")] = render_functions()
    return out
