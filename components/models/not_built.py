"""The switch of a component DESIGN.md names that this version does not deploy yet."""

from __future__ import annotations

from pydantic import Field, field_validator

from components.models.section import Section


class NotBuiltConfig(Section):
    """A component that is not built yet: only `enabled: false` is accepted."""

    enabled: bool = Field(False, description="Not available in this version; must stay false.")

    @field_validator("enabled")
    @classmethod
    def _must_be_off(cls, enabled: bool) -> bool:
        if enabled:
            raise ValueError("this component is not built in this version of labhub; allowed: false")
        return enabled
