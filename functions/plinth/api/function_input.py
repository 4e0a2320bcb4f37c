"""The input of the Plinth function's Composition step."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from plinth.api.base import ApiModel
from plinth.api.platform import DEFAULT_PLATFORM_CONFIG_NAME

INPUT_API_VERSION = "function.plinth.dev/v1alpha1"


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
