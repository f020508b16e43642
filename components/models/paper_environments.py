"""`labhub:paperEnvironments`: Spyglass paper exports offered as profiles on the Spyglass hub; args of PaperEnvironments."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.fields import DnsLabel
from components.models.section import Section

# What `labhub export prepare` writes into a build context, and the images come from.
NOTEBOOK_DOCKERFILE = "notebook.Dockerfile"
DATABASE_DOCKERFILE = "database.Dockerfile"


class PaperConfig(Section):
    name: DnsLabel = Field(description="The paper's short name: image names and the profile's slug (paper-<name>).")
    display_name: str = Field(min_length=1, max_length=100, description="What users see in the hub's server options.")
    context: str = Field(
        description="Folder in this repository holding the build context `labhub export prepare --export-dir EXPORT --out FOLDER` wrote."
    )


class PaperEnvironmentsConfig(Section):
    enabled: bool = Field(False, description="Build each paper's notebook and database images and offer them as Spyglass hub profiles.")
    registry: str | None = Field(None, description="Registry the paper images are pushed to, e.g. ghcr.io/mylab (required when enabled).")
    papers: list[PaperConfig] = Field(default_factory=list, description="The papers: name, displayName, context.")

    @model_validator(mode="after")
    def _consistent(self) -> PaperEnvironmentsConfig:
        names = [p.name for p in self.papers]
        duplicate = next((n for n in names if names.count(n) > 1), None)
        if duplicate:
            raise ValueError(f"papers: {duplicate!r} is listed more than once")
        if self.enabled and not self.papers:
            raise ValueError("enabled with no papers: list at least one, or turn it off")
        if self.enabled and not self.registry:
            raise ValueError("needs registry, where the paper images are pushed")
        return self

    def image_name(self, paper: PaperConfig, kind: str) -> str:
        """`<registry>/spyglass-paper-<name>-<kind>` (kind: notebook or database), without a tag."""
        return f"{self.registry}/spyglass-paper-{paper.name}-{kind}"
