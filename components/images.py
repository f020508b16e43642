"""labhub's own container images, built from this repository with pulumi-docker and pushed, or prebuilt.

The templating server (docker/templates/Dockerfile) and the backup tool
(docker/backup/Dockerfile) are built the same way: context = the repository,
tag = a digest of what the Dockerfile copies (so the tag changes exactly when
the image's sources do), deployed by the pushed digest. No build args: nothing
secret can reach a layer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

# What every labhub Dockerfile copies besides itself: the package and its pins.
_COMMON_SOURCES = ("pyproject.toml", "constraints.txt", "README.md")


def source_digest(project_dir: Path, dockerfile: str) -> str:
    """A tag for an image that changes exactly when its sources change."""
    digest = hashlib.sha256()
    paths = [project_dir / p for p in (dockerfile, *_COMMON_SOURCES)] + sorted((project_dir / "labhub").rglob("*.py"))
    for path in paths:
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def labhub_image(
    resource_name: str,
    *,
    project_dir: Path,
    dockerfile: str,
    repository: str,
    tag: str,
    prebuilt: str | None,
    registry: str | None,
    opts: pulumi.ResourceOptions,
) -> pulumi.Output[str]:
    """The image reference to deploy: `prebuilt` as given, else built, pushed to `registry/repository:tag`, by digest."""
    if prebuilt:
        return pulumi.Output.from_input(prebuilt)
    if not registry:
        raise ValueError(f"{resource_name}: needs a prebuilt image or a registry to push to")
    built = docker.Image(
        resource_name,
        build=docker.DockerBuildArgs(context=str(project_dir), dockerfile=str(project_dir / dockerfile), platform="linux/amd64"),
        image_name=f"{registry}/{repository}:{tag}",
        opts=opts,
    )
    return built.repo_digest
