"""The base every config section derives from, and the resource block several components share."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from components.fields import CpuQuantity, MemoryQuantity
from components.quantities import parse_cpu_quantity, parse_memory_quantity


class Section(BaseModel):
    """A stack-file object: camelCase keys as written there, unknown keys refused, frozen once parsed."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_name=False, validate_by_alias=True, frozen=True
    )

    @classmethod
    def build(cls, **fields: object) -> Self:
        """Make a section from Python field names (stack files use the camelCase keys)."""
        return cls.model_validate({to_camel(name): value for name, value in fields.items()})

    def field_key(self, name: str) -> str:
        """The stack-file spelling of a field (`memory_limit` -> `memoryLimit`), for error messages."""
        return to_camel(name)


def require_within(section: Section, request: str, limit: str, *, memory: bool) -> None:
    """ValueError naming both stack-file keys when a request exceeds its limit (Kubernetes refuses such a pod)."""
    parse = parse_memory_quantity if memory else parse_cpu_quantity
    asked, allowed = getattr(section, request), getattr(section, limit)
    if parse(asked) > parse(allowed):
        raise ValueError(
            f"{section.field_key(request)} {asked!r} exceeds {section.field_key(limit)} {allowed!r}: "
            "Kubernetes refuses a container whose request is above its limit"
        )


class Resources(Section):
    """Requests and limits of one container; a request above its limit is refused here, not at apply time."""

    memory_limit: MemoryQuantity = Field(description="Memory limit.")
    memory_request: MemoryQuantity = Field(description="Memory request (what the scheduler reserves).")
    cpu_limit: CpuQuantity = Field(description="CPU limit.")
    cpu_request: CpuQuantity = Field(description="CPU request.")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        require_within(self, "memory_request", "memory_limit", memory=True)
        require_within(self, "cpu_request", "cpu_limit", memory=False)
        return self

    def manifest(self) -> dict[str, dict[str, str]]:
        """The container's `resources` block."""
        return {
            "limits": {"memory": str(self.memory_limit), "cpu": str(self.cpu_limit)},
            "requests": {"memory": str(self.memory_request), "cpu": str(self.cpu_request)},
        }
