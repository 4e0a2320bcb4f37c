"""The input of the Plinth function's Composition step."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from plinth.api.base import ApiModel
from plinth.api.platform import DEFAULT_PLATFORM_CONFIG_NAME

INPUT_API_VERSION = "function.plinth.dev/v1alpha1"
ENVIRONMENT_CONFIG_API_VERSION = "apiextensions.crossplane.io/v1beta1"
# The requirement under which Plinth's Composition step has Crossplane fetch the platform config
# before its first call (`requirements.requiredResources`): a claim that needs nothing else is
# then composed in one call per reconcile instead of two. It is not the name the function asks
# for (`platform`), so the function tells a bootstrapped config from one it asked for: were
# they one name, a function that stopped asking would make Crossplane drop the config.
PLATFORM_BOOTSTRAP = "platform-bootstrap"


class FunctionInput(ApiModel):
    """`input` of a Composition step that calls function-plinth."""

    api_version: Literal["function.plinth.dev/v1alpha1"] = Field(
        default="function.plinth.dev/v1alpha1", alias="apiVersion"
    )
    kind: Literal["Input"] = "Input"
    platform_config: str = Field(
        default=DEFAULT_PLATFORM_CONFIG_NAME,
        min_length=1,
        description="Name of the platform EnvironmentConfig to read.",
    )

    def step_requirements(self) -> dict[str, Any]:
        """The Composition step's `requirements`: the platform config, fetched before the
        function is called."""
        return {
            "requiredResources": [
                {
                    "requirementName": PLATFORM_BOOTSTRAP,
                    "apiVersion": ENVIRONMENT_CONFIG_API_VERSION,
                    "kind": "EnvironmentConfig",
                    "name": self.platform_config,
                }
            ]
        }
