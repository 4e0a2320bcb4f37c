"""Overrides: the documented escape hatch of every claim (docs/tenant.md#overrides).

A claim may patch chosen fields of a resource it composes, named by its
composition-resource-name. What may be patched is decided by plinth.core.overrides; the model
only carries the request.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from pydantic.config import JsonDict

from plinth.api.base import ApiModel

# A composition-resource-name: `plinth render` prints it as each resource's
# crossplane.io/composition-resource-name annotation.
ResourceName = Annotated[
    str, Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
]


class Override(ApiModel):
    """A merge patch (RFC 7386) of chosen fields of one composed resource."""

    resource: ResourceName = Field(
        description="The composition-resource-name of the composed resource to patch (`plinth "
        "render` shows it as the crossplane.io/composition-resource-name annotation)."
    )
    patch: dict[str, Any] = Field(
        min_length=1,
        description="Merged into the resource as a JSON merge patch (null removes a field). "
        "Only spec.forProvider (and, inside a provider-kubernetes Object, the manifest's spec) "
        "may be patched, never a field that guards isolation or data: see docs/tenant.md"
        "#overrides for what may be overridden.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


OVERRIDES_RULES: JsonDict = {
    "x-kubernetes-validations": [
        {
            "rule": "self.all(o, self.exists_one(p, p.resource == o.resource))",
            "message": "each resource may be overridden once: merge its patches",
        }
    ]
}


def overrides_field() -> Any:
    return Field(
        default_factory=list,
        max_length=50,
        description="The escape hatch for the 20%: per composed resource (by its "
        "composition-resource-name) a patch of chosen fields. Fields that guard isolation or "
        "data (names, ProviderConfigs, deletion policies, IAM trust, network isolation) are "
        "refused; see docs/tenant.md#overrides.",
        json_schema_extra=OVERRIDES_RULES,
    )
