"""Backstage software templates, one per claim kind, generated from the XRD schemas.

The form a developer fills in is the claim's own XRD schema (titles, descriptions, enums,
defaults, required fields), so the portal can never offer a field the API rejects or miss one
it requires. The steps write the claim into the team's directory of the claim repository and
open a pull request; Argo CD does the rest (docs/gitops.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from plinth.api.catalog import CLAIMS, ClaimApi
from plinth.api.flavor import Flavor
from plinth.generators.crossplane import xrd

TEMPLATE_API_VERSION = "scaffolder.backstage.io/v1beta3"
BACKSTAGE_DIR = Path("gitops/backstage")
CLAIM_REPO_HOST = "github.com"
CLAIM_REPO_OWNER = "example-org"
CLAIM_REPO_NAME = "plinth-claims"
OWNER = "group:default/platform-team"

# JSON Schema keywords react-jsonschema-form understands; CEL rules and Kubernetes extensions
# mean nothing to a browser form (the pull request's `plinth validate` check enforces them).
_FORM_KEYWORDS = (
    "type",
    "description",
    "default",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "format",
)
_NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


def title(field: str) -> str:
    """`maxNodeCount` -> `Max node count`."""
    words = re.sub(r"(?<=[a-z0-9])([A-Z])", r" \1", field).split()
    text = " ".join(
        [words[0], *[w if w.isupper() and len(w) > 1 else w.lower() for w in words[1:]]]
    )
    return text[:1].upper() + text[1:]


def form_schema(node: dict[str, Any], field: str | None = None) -> dict[str, Any]:
    """A Kubernetes structural schema node -> a JSON Schema node for the Backstage form."""
    out: dict[str, Any] = {}
    if field:
        out["title"] = title(field)
    out.update({k: node[k] for k in _FORM_KEYWORDS if k in node})
    if node.get("properties"):
        out["properties"] = {k: form_schema(v, k) for k, v in node["properties"].items()}
        if node.get("required"):
            out["required"] = list(node["required"])
    if isinstance(node.get("additionalProperties"), dict):
        out["additionalProperties"] = form_schema(node["additionalProperties"])
    if isinstance(node.get("items"), dict):
        out["items"] = form_schema(node["items"])
    return out


def spec_schema(api: ClaimApi, flavor: Flavor = Flavor.V2) -> dict[str, Any]:

    version = xrd(api, flavor)["spec"]["versions"][0]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    return schema


def template(api: ClaimApi, flavor: Flavor = Flavor.V2) -> dict[str, Any]:
    spec_form = form_schema(spec_schema(api, flavor), "spec")
    spec_form["title"] = f"{api.kind} spec"
    file_name = f"{api.noun}-${{{{ parameters.name }}}}.yaml"
    target = "teams/${{ parameters.team }}"
    return {
        "apiVersion": TEMPLATE_API_VERSION,
        "kind": "Template",
        "metadata": {
            "name": f"plinth-{api.noun}-claim",
            "title": f"Plinth {api.kind}",
            "description": api.description,
            "tags": ["plinth", "crossplane", api.noun],
            "annotations": {"plinth.dev/generated-by": "plinth generate"},
        },
        "spec": {
            "owner": OWNER,
            "type": "plinth-claim",
            "parameters": [
                {
                    "title": "Where",
                    "required": ["name", "team"],
                    "properties": {
                        "name": {
                            "title": "Name",
                            "type": "string",
                            "description": f"The {api.kind}'s name, unique in the team's "
                            "namespace (lowercase letters, digits and dashes).",
                            "pattern": _NAME_PATTERN,
                            "maxLength": 63,
                        },
                        "team": {
                            "title": "Team",
                            "type": "string",
                            "description": "The team directory (teams/<team>) of the claim "
                            "repository; Argo CD syncs it into the namespace of that name.",
                            "pattern": _NAME_PATTERN,
                            "maxLength": 63,
                        },
                    },
                },
                {
                    "title": api.kind,
                    "required": ["spec"],
                    "properties": {"spec": spec_form},
                },
            ],
            "steps": [
                {
                    "id": "write",
                    "name": f"Write the {api.kind}",
                    "action": "fetch:template",
                    "input": {
                        "url": "../skeleton",
                        "targetPath": target,
                        "values": {
                            "fileName": file_name,
                            "apiVersion": api.api_version(flavor),
                            "kind": api.kind,
                            "name": "${{ parameters.name }}",
                            "spec": "${{ parameters.spec }}",
                        },
                    },
                },
                {
                    "id": "pull-request",
                    "name": "Open a pull request on the claim repository",
                    "action": "publish:github:pull-request",
                    "input": {
                        "repoUrl": f"{CLAIM_REPO_HOST}?owner={CLAIM_REPO_OWNER}"
                        f"&repo={CLAIM_REPO_NAME}",
                        "branchName": f"plinth/{api.noun}-${{{{ parameters.team }}}}-"
                        "${{ parameters.name }}",
                        "title": f"{api.kind} ${{{{ parameters.team }}}}/"
                        "${{ parameters.name }}",
                        "description": f"Adds the {api.kind} `${{{{ parameters.name }}}}` for "
                        "team `${{ parameters.team }}`, written by the Backstage template "
                        f"plinth-{api.noun}-claim. CI runs `plinth validate` on it.",
                    },
                },
            ],
            "output": {
                "links": [
                    {
                        "title": "Pull request",
                        "url": "${{ steps['pull-request'].output.remoteUrl }}",
                    }
                ]
            },
        },
    }


def files() -> dict[Path, list[dict[str, Any]]]:
    return {BACKSTAGE_DIR / api.noun / "template.yaml": [template(api)] for api in CLAIMS}
