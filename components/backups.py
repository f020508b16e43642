"""Backups: consistent, verified database backups as CronJobs, and the lab's file cleanup.

Deploys, in its namespace: the backup tool's image (docker/backup/Dockerfile,
built and pushed the way the templating server's is: components/images.py),
a PVC for the backups, per database a dump CronJob and a weekly
restore-verify CronJob, one prune CronJob, and the cleanup CronJob when
enabled. The manifests come from the pure builders in
components/backups_jobs.py; this class only turns them into resources.

The database credentials Secrets are not made here: each database's entry
names one (see components/models/backups.py for its keys). The default lab
MySQL entry runs in the lab database's namespace and mounts the Secret
StackSecrets keeps there (a PVC and a prune job per namespace); so does the
default XNAT Postgres entry in the hub's namespace, whose backup role this
component keeps with a Job (`postgres_roles`): the official image's init
scripts run on the first start only, a rotation must reach the server too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images
from components.backups_jobs import (
    PostgresRole,
    backups_pvc,
    cleanup_cronjob,
    dump_cronjob,
    ensure_role_job,
    prune_cronjob,
    scratch_config_map,
    verify_cronjob,
)
from components.data_safety import HOLDS_DATA, protected_namespace
from components.labels import standard_labels
from components.models.backups import BackupsConfig

DOCKERFILE = "docker/backup/Dockerfile"


@dataclass(frozen=True)
class BackupsArgs:
    config: BackupsConfig
    project_dir: Path
    # What CronJobs in other components' namespaces wait for: those namespaces and the credentials Secrets there.
    depends_on: tuple[pulumi.Resource, ...] = ()
    # Database name -> the backup role to keep in it (a Postgres labhub deploys: the XNAT hub's).
    postgres_roles: Mapping[str, PostgresRole] = field(default_factory=dict)
    # The lab database's cleanup account's generated password: written into cleanup.credentialsFrom here (key password).
    cleanup_password: pulumi.Output[str] | None = None


class Backups(pulumi.ComponentResource):
    """Backup CronJobs (dump, verify, prune), their PVC and image, and the cleanup CronJob."""

    image: pulumi.Output[str] | None
    namespace: k8s.core.v1.Namespace | None
    cron_jobs: dict[str, k8s.batch.v1.CronJob]
    role_jobs: dict[str, k8s.batch.v1.Job]

    def __init__(self, name: str, args: BackupsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:Backups", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        # The CronJobs, their PVC and the credentials Secrets they mount share this namespace.
        self.namespace = None
        if config.create_namespace:
            self.namespace = protected_namespace(f"{name}-namespace", config.namespace, child)
        after_namespace = pulumi.ResourceOptions(parent=self, depends_on=[*args.depends_on, *([self.namespace] if self.namespace else [])])
        self.cron_jobs = {}
        self.role_jobs = {}
        self.image = None
        if config.databases:
            self.image = images.labhub_image(
                f"{name}-image", project_dir=args.project_dir, dockerfile=DOCKERFILE, repository="labhub-backup",
                tag=images.source_digest(args.project_dir, DOCKERFILE) if not config.image else "",
                prebuilt=config.image, registry=config.registry, opts=child,
            )  # fmt: skip
            for namespace in config.namespaces:
                # Per namespace (each database's CronJobs run where its credentials Secret is):
                # the PVC every dump lands on and prune and verify read, and the verify pods'
                # scratch-server client settings (no credentials: the scratch servers trust loopback).
                # The component's own namespace keeps the unsuffixed resource names.
                suffix = "" if namespace == config.namespace else f"-{namespace}"
                _apply(
                    k8s.core.v1.PersistentVolumeClaim, f"{name}-pvc{suffix}", backups_pvc(config, namespace),
                    pulumi.ResourceOptions.merge(after_namespace, HOLDS_DATA),  # the backup archives
                )  # fmt: skip
                _apply(k8s.core.v1.ConfigMap, f"{name}-scratch-clients{suffix}", scratch_config_map(config, namespace), after_namespace)
                for db in config.databases_in(namespace):
                    role = args.postgres_roles.get(db.name)
                    if role is not None:
                        self.role_jobs[db.name] = self._job(
                            f"{name}-{db.name}-role", lambda image, db=db, role=role: ensure_role_job(config, db, role, image), after_namespace
                        )
                    self.cron_jobs[db.name] = self._cron_job(
                        f"{name}-{db.name}", lambda image, db=db: dump_cronjob(config, db, image), after_namespace
                    )
                    self.cron_jobs[f"{db.name}-verify"] = self._cron_job(
                        f"{name}-{db.name}-verify", lambda image, db=db: verify_cronjob(config, db, image), after_namespace
                    )
                self.cron_jobs[f"prune{suffix}"] = self._cron_job(
                    f"{name}-prune{suffix}", lambda image, namespace=namespace: prune_cronjob(config, image, namespace), after_namespace
                )
        if config.cleanup.enabled and args.cleanup_password is not None:
            # The cleanup runs here, next to its data claim, so its DataJoint credentials must be here too: a copy of the
            # lab database account's, made after this namespace (the roles Job reads the original in the database's).
            assert config.cleanup.credentials_from is not None
            k8s.core.v1.Secret(
                f"{name}-cleanup-credentials",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=config.cleanup.credentials_from,
                    namespace=config.namespace,
                    labels=standard_labels(config.cleanup.credentials_from, "credentials"),
                ),
                type="Opaque",
                string_data={"password": args.cleanup_password},  # a RandomPassword result: a Pulumi secret; DJ_USER is a plain value
                opts=after_namespace,
            )
        if config.cleanup.enabled:
            self.cron_jobs["cleanup"] = _apply(k8s.batch.v1.CronJob, f"{name}-cleanup", cleanup_cronjob(config), after_namespace)
        self.register_outputs({"image": self.image, "cronJobs": sorted(self.cron_jobs), "roleJobs": sorted(self.role_jobs)})

    def _cron_job(self, resource_name: str, build: Any, opts: pulumi.ResourceOptions) -> k8s.batch.v1.CronJob:
        return self._from_image(k8s.batch.v1.CronJob, resource_name, build, opts)

    def _job(self, resource_name: str, build: Any, opts: pulumi.ResourceOptions) -> k8s.batch.v1.Job:
        return self._from_image(k8s.batch.v1.Job, resource_name, build, opts)

    def _from_image(self, kind: Any, resource_name: str, build: Any, opts: pulumi.ResourceOptions) -> Any:
        """A resource whose manifest names the image by digest: built once the image is pushed."""
        assert self.image is not None
        manifest = self.image.apply(build)
        return kind(resource_name, metadata=manifest.apply(lambda m: m["metadata"]), spec=manifest.apply(lambda m: m["spec"]), opts=opts)


def _apply(kind: Any, resource_name: str, manifest: dict[str, Any], opts: pulumi.ResourceOptions) -> Any:
    body = {key: value for key, value in manifest.items() if key not in ("apiVersion", "kind")}
    return kind(resource_name, **body, opts=opts)
