"""labhub's own container images, built from this repository with pulumi-docker and pushed, or prebuilt.

The templating server (docker/templates/Dockerfile) and the backup tool
(docker/backup/Dockerfile) are built the same way: context = the repository,
tag = a digest of what the Dockerfile copies (so the tag changes exactly when
the image's sources do), deployed by the pushed digest. No build args: nothing
secret can reach a layer.
"""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path

import pulumi
import pulumi_docker as docker

def image_sources(project_dir: Path, dockerfile: str) -> list[Path]:
    """Every file the Dockerfile's COPY instructions put into the image (folders expanded), plus the Dockerfile.

    Read from the Dockerfile itself, so the tag cannot drift from what is
    built. `.dockerignore` patterns of the form `**/<name>` (the only kind the
    repository's .dockerignore uses) are honoured.
    """
    ignored = _dockerignore_names(project_dir)
    found = {project_dir / dockerfile}
    for line in (project_dir / dockerfile).read_text().splitlines():
        words = line.split()
        if not words or words[0].upper() != "COPY":
            continue
        if any(w.startswith("--from") for w in words[1:]):
            continue  # from another stage, not from the build context
        args = [w for w in words[1:] if not w.startswith("--")]
        for source in args[:-1]:
            path = project_dir / source
            if path.is_dir():
                found.update(p for p in path.rglob("*") if p.is_file() and not _ignored(p.relative_to(project_dir), ignored))
            elif not path.is_file():
                raise ValueError(f"{dockerfile}: COPY source {source} does not exist")
            else:
                found.add(path)
    return sorted(found)


def _dockerignore_names(project_dir: Path) -> list[str]:
    path = project_dir / ".dockerignore"
    lines = [line.strip() for line in path.read_text().splitlines()] if path.is_file() else []
    patterns = [line for line in lines if line and not line.startswith("#")]
    unsupported = [p for p in patterns if not p.startswith("**/") or "/" in p[3:]]
    if unsupported:
        raise ValueError(f".dockerignore: only **/<name> patterns are understood by the image tag, not {unsupported[0]!r}")
    return [p[3:] for p in patterns]


def _ignored(relative: Path, names: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(part, name) for part in relative.parts for name in names)


def source_digest(project_dir: Path, dockerfile: str) -> str:
    """A tag for an image that changes exactly when a file it copies (or its Dockerfile) changes."""
    digest = hashlib.sha256()
    for path in image_sources(project_dir, dockerfile):
        digest.update(path.relative_to(project_dir).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
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
