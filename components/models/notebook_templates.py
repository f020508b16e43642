"""`labhub:notebookTemplates`: the templating server's config section, args of NotebookTemplates."""

from __future__ import annotations

from pydantic import Field, model_validator

from components.fields import CpuQuantity, DnsLabel, MemoryQuantity, PinnedImage
from components.models.section import Section

SERVICE_NAME = "templates"  # the hub service: /services/templates/
K8S_NAME = "notebook-templates"  # its Deployment, Service, Secret and (suffixed) ConfigMap


class NotebookTemplatesConfig(Section):
    enabled: bool = Field(False, description="Deploy the SampleDB notebook templating server as a service of the Spyglass hub.")
    image: PinnedImage | None = Field(None, description="A prebuilt server image; when unset the image is built from docker/templates/Dockerfile.")
    registry: str | None = Field(None, description="Registry to push the built image to, e.g. ghcr.io/mylab (required when image is unset).")
    templates_dir: str = Field("notebook-templates", description="Directory in this repository holding the .ipynb templates; changing one rolls the server.")
    storage: str = Field(
        "contents",
        pattern=r"^(contents|download|filesystem:/.*\{username\}.*)$",
        description="Where notebooks go: 'contents' (through the user's own Jupyter server; works with z2jh's per-user volumes), "
        "'download', or 'filesystem:<path with {username}>' for shared homes, e.g. filesystem:/home/{username} (needs homesClaim).",
    )
    homes_claim: DnsLabel | None = Field(
        None, description="filesystem mode: the PersistentVolumeClaim holding every user's home (e.g. the hub's NFS share)."
    )
    files_uid: int = Field(
        1000, ge=1, description="filesystem mode: uid and gid the server runs as, so new notebooks belong to the users (z2jh's jovyan is 1000)."
    )
    replicas: int = Field(1, ge=1, le=10, description="Server replicas.")
    memory_limit: MemoryQuantity = Field("256Mi", description="Server memory limit.")
    cpu_limit: CpuQuantity = Field("500m", description="Server CPU limit.")

    @model_validator(mode="after")
    def _consistent(self) -> NotebookTemplatesConfig:
        if self.storage.startswith("filesystem:") and not self.homes_claim:
            raise ValueError("storage filesystem:... needs homesClaim, the PVC of the users' homes")
        if self.homes_mount == "/":
            raise ValueError("storage: put {username} below a folder (e.g. filesystem:/home/{username}), not at /")
        if self.enabled and self.image is None and self.registry is None:
            raise ValueError("needs either image (prebuilt) or registry (to push the built image)")
        return self

    @property
    def homes_mount(self) -> str | None:
        """Where the homes claim is mounted: the path template's folder above the first `{username}`."""
        if not self.storage.startswith("filesystem:"):
            return None
        fixed = self.storage.removeprefix("filesystem:").split("{username}", 1)[0]
        return fixed.rstrip("/").rsplit("/", 1)[0] if not fixed.endswith("/") else fixed.rstrip("/") or "/"

    @property
    def secret_name(self) -> str:
        """Secret with the service's hub API token and the confirmation-signing key."""
        return K8S_NAME

    @property
    def files_config_map_name(self) -> str:
        """ConfigMap with the templates."""
        return f"{K8S_NAME}-files"
