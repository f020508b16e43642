"""PaperEnvironments: each Spyglass paper export as two images and a profile on the Spyglass hub.

For each paper in config, from the build context `labhub export prepare`
wrote (and the operator committed): the notebook image (the paper's conda
environment as the default kernel) and the database image (MySQL with the
cleaned export in /docker-entrypoint-initdb.d), both built with pulumi-docker
and pushed, deployed by digest. Neither carries a password.

It does not register the profiles itself: it exposes `papers` (each paper's
config and image digests), which __main__ hands to SpyglassHub, whose values
builder turns each into a `singleuser.profileList` entry: the paper's
notebook image, and the paper's database image as the MySQL sidecar (same
root password Secret, same probes). The official entrypoint loads the SQL
once, when the sidecar's data directory is initialised: per server start
with ephemeral sidecar data, or once per user and paper with persistence.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from components.config import ConfigError
from components.models.paper_environments import DATABASE_DOCKERFILE, NOTEBOOK_DOCKERFILE, PaperConfig, PaperEnvironmentsConfig

# The context files whose bytes decide the image tag (the manifest records the SQL's sizes and edits).
_TAGGED_FILES = (NOTEBOOK_DOCKERFILE, DATABASE_DOCKERFILE, "environment.yml", "labhub-export.json", "mysqld.cnf", "jupyter_server_config.py")


@dataclass(frozen=True)
class PaperImages:
    """One paper's config and the digests of its two pushed images."""

    paper: PaperConfig
    notebook_image: pulumi.Output[str]
    database_image: pulumi.Output[str]


def context_dir(project_dir: Path, paper: PaperConfig) -> Path:
    """The paper's build context; ConfigError (one line naming the key) when it is not one."""
    path = project_dir / paper.context
    missing = [f for f in (NOTEBOOK_DOCKERFILE, DATABASE_DOCKERFILE, "labhub-export.json") if not (path / f).is_file()]
    if missing:
        raise ConfigError(
            f"labhub:paperEnvironments.papers[{paper.name}].context: {path} has no {missing[0]}; "
            "make it with `labhub export prepare --export-dir EXPORT --out` that folder"
        )
    return path


def context_tag(context: Path) -> str:
    digest = hashlib.sha256()
    for name in _TAGGED_FILES:
        file = context / name
        if file.exists():
            digest.update(name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class PaperEnvironmentsArgs:
    config: PaperEnvironmentsConfig
    project_dir: Path


class PaperEnvironments(pulumi.ComponentResource):
    """Two images per paper, built from its prepared context and pushed."""

    papers: list[PaperImages]

    def __init__(self, name: str, args: PaperEnvironmentsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:PaperEnvironments", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        self.papers = []
        for paper in config.papers:
            context = context_dir(args.project_dir, paper)
            tag = context_tag(context)
            built = {}
            for kind, dockerfile in (("notebook", NOTEBOOK_DOCKERFILE), ("database", DATABASE_DOCKERFILE)):
                # No build args: nothing secret goes into a paper image.
                built[kind] = docker.Image(
                    f"{name}-{paper.name}-{kind}",
                    build=docker.DockerBuildArgs(context=str(context), dockerfile=str(context / dockerfile), platform="linux/amd64"),
                    image_name=f"{config.image_name(paper, kind)}:{tag}",
                    opts=child,
                )
            self.papers.append(PaperImages(paper, built["notebook"].repo_digest, built["database"].repo_digest))
        self.register_outputs({p.paper.name: {"notebook": p.notebook_image, "database": p.database_image} for p in self.papers})
