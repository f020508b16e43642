"""`labhub:backups`: database backups as CronJobs, and the lab's file cleanup; args of Backups.

Each database to back up is an entry of `databases` (kind, host, port, and the
Secret holding its client credentials file). When the stack file does not
list `databases`, they default to the lab MySQL when labDatabase is on and
to the XNAT hub's Postgres when xnatHub deploys one (`default_databases`,
applied by StackConfig before validation); `databases: []` means none.

Where a database's CronJobs run: in its `namespace`, which defaults to the
component's. A pod can only mount Secrets of its own namespace, so the
default lab MySQL entry runs in the lab database's namespace, next to the
credentials Secret StackSecrets keeps there (and inside that namespace's
NetworkPolicy, with the client label it admits). The alternative, a copy of
the credentials in the backups namespace, would put the same password in two
places and open the database to a second namespace; a PVC (and a prune job)
per namespace is the smaller cost.

The credentials Secret of a database holds one key: `my.cnf` (MySQL: a
`[client]` section with `user` and `password`) or `pg_service.conf`
(PostgreSQL: a `[labhub]` section with `user` and `password`). Host and port
come from here and are passed as flags, so the Secret holds only what is secret.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from components.fields import DnsLabel, PinnedImage
from components.models.lab_database import CLIENT_LABEL as LAB_DATABASE_CLIENT_LABEL
from components.models.lab_database import PORT as LAB_DATABASE_PORT
from components.models.lab_database import LabDatabaseConfig
from components.models.section import Section
from components.models.xnat_hub import POSTGRES_CLIENT_LABEL, XnatHubConfig

K8S_NAME = "labhub-backups"  # PVC, ConfigMap, and the prefix of every CronJob
CREDENTIALS_KEYS = {"mysql": "my.cnf", "postgres": "pg_service.conf"}
DEFAULT_PORTS = {"mysql": 3306, "postgres": 5432}
# The scratch server a verify job restores into: same major version as the lab's servers.
DEFAULT_SCRATCH_IMAGES = {"mysql": "mysql:8.0.40", "postgres": "postgres:16.4"}
CLEANUP_SECRET = f"{K8S_NAME}-cleanup-datajoint"  # the default cleanup's DataJoint credentials, in the component's namespace
PG_SERVICE = "labhub"  # the libpq service section the tool reads (`--service labhub`) in pg_service.conf
_CRON = re.compile(r"^(\S+\s+){4}\S+$")


def _cron(value: str, key: str) -> str:
    if not _CRON.match(value.strip()):
        raise ValueError(f"{key} {value!r} must be a five-field cron schedule, e.g. '30 2 * * *'")
    return value


class BackupDatabase(Section):
    """One database server to back up."""

    name: DnsLabel = Field(description="Short name: the backups' folder and name, and part of the CronJob names (at most 30 characters).")
    kind: Literal["mysql", "postgres"] = Field(description="mysql (MySQL 8 / MariaDB) or postgres.")
    host: str = Field(
        pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
        description="Server host name as the backup pod reaches it, e.g. lab-mysql.spyglass.svc.",
    )
    port: int | None = Field(None, ge=1, le=65535, description="Server port (default 3306 for mysql, 5432 for postgres).")
    credentials_from: DnsLabel = Field(
        description="Name of the Secret in the backups namespace with key my.cnf (mysql) or pg_service.conf (postgres, section [labhub])."
    )
    scratch_image: PinnedImage | None = Field(
        None, description="Server image the weekly verify restores into (default mysql:8.0.40 / postgres:16.4): use the lab server's version."
    )
    namespace: DnsLabel | None = Field(
        None, description="Namespace of this database's CronJobs and backups PVC, where credentialsFrom is (default: the component's namespace)."
    )
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Labels of the dump pods, e.g. the one the database's NetworkPolicy admits.")
    role_passwords: bool = Field(
        True, description="postgres: dump the roles' passwords too (needs a superuser); false for a pg_read_all_data role (--no-role-passwords)."
    )

    @model_validator(mode="after")
    def _short_name(self) -> BackupDatabase:
        if len(self.name) > 30:
            raise ValueError(f"name {self.name!r} is longer than 30 characters (CronJob names are at most 52)")
        if self.kind == "mysql" and not self.role_passwords:
            raise ValueError(f"database {self.name!r}: rolePasswords is for postgres only (a MySQL dump reads account hashes with SELECT)")
        return self

    @property
    def server_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.kind]

    @property
    def credentials_key(self) -> str:
        return CREDENTIALS_KEYS[self.kind]

    @property
    def scratch(self) -> str:
        return self.scratch_image or DEFAULT_SCRATCH_IMAGES[self.kind]


class Retention(Section):
    daily: int = Field(7, ge=0, le=366, description="Keep the newest backup of each of the last N days.")
    weekly: int = Field(4, ge=0, le=104, description="... of each of the last M ISO weeks.")
    monthly: int = Field(6, ge=0, le=120, description="... of each of the last K months.")


class Offsite(Section):
    bucket: str = Field(min_length=3, max_length=63, description="S3 bucket each finished backup is copied to, then checked.")
    prefix: str = Field("", description="Key prefix in the bucket.")
    endpoint_url: str | None = Field(None, pattern=r"^https?://", description="S3-compatible endpoint (MinIO, Ceph...); default AWS.")
    credentials_from: DnsLabel = Field(
        description="Name of the Secret with key `credentials`: an AWS shared credentials file ([default] aws_access_key_id/aws_secret_access_key), in every namespace with dump jobs."
    )


class Cleanup(Section):
    """The lab's weekly orphaned-file cleanup (Spyglass maintenance_scripts/cleanup.py), as a CronJob."""

    enabled: bool = Field(False, description="Run the cleanup CronJob.")
    schedule: str = Field("0 4 * * 1", description="Cron schedule (default Monday 04:00, as the Frank lab runs it).")
    image: PinnedImage | None = Field(None, description="Image with Spyglass installed (e.g. the hub's singleuser image); required when enabled.")
    command: list[str] = Field(
        default_factory=lambda: [
            "python",
            "-c",
            "from spyglass.common import AnalysisNwbfile, Nwbfile; Nwbfile().cleanup(); AnalysisNwbfile().cleanup()",
        ],  # fmt: skip
        min_length=1,
        description="Command to run; the default is the first two table cleanups of Spyglass's maintenance_scripts/cleanup.py, "
        "as it calls them: raw NWB files are never deleted, only their unused entries (adjust to your Spyglass version).",
    )
    database_host: str = Field(
        "", description="DataJoint database host:port (DJ_HOST); when neither this nor credentialsFrom is set and labDatabase is on: the lab MySQL."
    )
    credentials_from: DnsLabel | None = Field(
        None,
        description="Name of the Secret with keys `username` and `password` (DJ_USER, DJ_PASS); with the lab MySQL default: "
        + CLEANUP_SECRET
        + " (key password only).",
    )
    username: str | None = Field(
        None,
        description="DataJoint user (DJ_USER) as a plain value, the Secret then needs only `password`; the lab MySQL default: its cleanup account.",
    )
    pod_labels: dict[str, str] = Field(
        default_factory=dict,
        description="Labels of the cleanup pod, e.g. the one the database's NetworkPolicy admits (the lab MySQL default: its client label).",
    )
    data_claim: DnsLabel | None = Field(None, description="PVC with the Spyglass data (SPYGLASS_BASE_DIR), mounted read-write at baseDir.")
    base_dir: str = Field("/data/spyglass", pattern=r"^/", description="Where the data claim is mounted; SPYGLASS_BASE_DIR.")

    @model_validator(mode="after")
    def _complete(self) -> Cleanup:
        _cron(self.schedule, "cleanup.schedule")
        if self.enabled:
            missing = [
                key
                for key, value in (("image", self.image), ("databaseHost", self.database_host), ("credentialsFrom", self.credentials_from))
                if not value
            ]
            if missing:
                raise ValueError(f"cleanup is enabled but {', '.join('cleanup.' + m for m in missing)} is not set")
        return self


class BackupsConfig(Section):
    enabled: bool = Field(False, description="Deploy the backup CronJobs (and the cleanup CronJob when cleanup.enabled).")
    namespace: DnsLabel = Field(
        "labhub-backups", description="Namespace of the cleanup CronJob and of each database's CronJobs and backups PVC unless it names its own."
    )
    create_namespace: bool = Field(False, description="Create the namespace (leave false when another component or the operator owns it).")
    image: PinnedImage | None = Field(None, description="A prebuilt backup image; when unset it is built from docker/backup/Dockerfile.")
    registry: str | None = Field(None, description="Registry to push the built image to (required when image is unset).")
    schedule: str = Field("30 2 * * *", description="Cron schedule of the dumps.")
    verify_schedule: str = Field("30 5 * * 0", description="Cron schedule of the restore-verify jobs (weekly).")
    prune_schedule: str = Field("0 7 * * *", description="Cron schedule of the retention job.")
    time_zone: str = Field("Etc/UTC", description="Time zone of the schedules (CronJob timeZone).")
    retention: Retention = Field(default_factory=Retention, description="What prune keeps; it never deletes the newest verified backup.")
    storage_size: str = Field("200Gi", pattern=r"^[0-9]+(Mi|Gi|Ti)$", description="Size of the backups PVC.")
    storage_class: str | None = Field(None, description="StorageClass of the backups PVC (default: the cluster's).")
    deadline_seconds: int = Field(6 * 3600, ge=60, description="activeDeadlineSeconds of a dump or verify run.")
    offsite: Offsite | None = Field(None, description="Copy each finished backup to S3-compatible storage, checked after upload.")
    databases: list[BackupDatabase] = Field(
        default_factory=list,
        description="The databases to back up (name, kind, host, port, credentialsFrom, namespace, podLabels, scratchImage). "
        "Not listed: the lab MySQL when labDatabase is on (docs/backups.md); [] means none.",
    )
    cleanup: Cleanup = Field(default_factory=Cleanup, description="The lab's weekly file cleanup.")

    @model_validator(mode="after")
    def _consistent(self) -> BackupsConfig:
        for key in ("schedule", "verify_schedule", "prune_schedule"):
            _cron(getattr(self, key), self.field_key(key))
        names = [db.name for db in self.databases]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"databases: name {duplicates[0]!r} is used twice")
        if self.enabled and not self.databases and not self.cleanup.enabled:
            raise ValueError(
                "enabled but there is nothing to do: list databases, enable labDatabase or xnatHub (backed up by default) or enable cleanup"
            )
        if self.enabled and self.databases and self.image is None and self.registry is None:
            raise ValueError("needs either image (prebuilt) or registry (to push the built image)")
        return self

    def namespace_of(self, db: BackupDatabase) -> str:
        return db.namespace or self.namespace

    @property
    def namespaces(self) -> list[str]:
        """Every namespace with backup CronJobs, in the order of the databases (each gets a PVC and a prune job)."""
        return list(dict.fromkeys(self.namespace_of(db) for db in self.databases))

    def databases_in(self, namespace: str) -> list[BackupDatabase]:
        return [db for db in self.databases if self.namespace_of(db) == namespace]

    @property
    def pvc_name(self) -> str:
        return f"{K8S_NAME}-data"

    @property
    def scratch_config_map_name(self) -> str:
        return f"{K8S_NAME}-scratch-clients"


def pg_service_conf(user: str, password: str) -> str:
    """A backup role's `pg_service.conf` (section PG_SERVICE: user and password; host and port are the CronJob's flags)."""
    return f"[{PG_SERVICE}]\nuser={user}\npassword={password}\n"


def default_databases(lab_database: LabDatabaseConfig, xnat_hub: XnatHubConfig | None = None) -> list[dict[str, object]]:
    """The `databases` entries (stack-file spelling) a stack gets when it does not list any.

    The lab MySQL when labDatabase is on and has a backup account: its CronJobs
    run in the database's namespace, where StackSecrets writes the backup
    account's client file (key my.cnf) into the `<name>-backup` Secret, with the
    client label the database's NetworkPolicy admits.

    The XNAT hub's Postgres when xnatHub deploys one: its CronJobs run in the
    hub's namespace, next to the Secret StackSecrets writes for the backup role
    (`<releaseName>-postgres-backup`, key pg_service.conf), with the label the
    Postgres NetworkPolicy admits; the role is no superuser, so its dump leaves
    role passwords out (`rolePasswords: false`).
    """
    defaults: list[dict[str, object]] = []
    if lab_database.enabled and lab_database.roles.backup_user is not None:
        defaults.append(
            {
                "name": lab_database.name, "kind": "mysql", "host": lab_database.host, "port": LAB_DATABASE_PORT,
                "credentialsFrom": lab_database.backup_secret_name, "namespace": lab_database.namespace,
                "podLabels": {LAB_DATABASE_CLIENT_LABEL: "true"}, "scratchImage": lab_database.image,
            }
        )  # fmt: skip
    if xnat_hub is not None and xnat_hub.deploys_postgres:
        defaults.append(
            {
                "name": xnat_hub.postgres_name, "kind": "postgres", "host": xnat_hub.postgres_host, "port": xnat_hub.postgres_port,
                "credentialsFrom": xnat_hub.postgres_backup_secret_name, "namespace": xnat_hub.namespace,
                "podLabels": {POSTGRES_CLIENT_LABEL: "true"}, "scratchImage": xnat_hub.postgres.image, "rolePasswords": False,
            }
        )  # fmt: skip
    return defaults


def default_cleanup(cleanup: dict[str, Any], lab_database: LabDatabaseConfig, username: str) -> dict[str, Any]:
    """The `cleanup` section (stack-file spelling) with the lab MySQL as its database, when it names none and labDatabase is on.

    It connects as the lab database's cleanup account (`roles.cleanupUser`,
    default labhub_cleanup, granted dj_user): Spyglass's cleanup deletes
    orphaned file rows in shared-module schemas, which dj_user may do and
    dj_collab/dj_guest may not; dj_admin would be more than it needs. Its
    password comes in the Secret CLEANUP_SECRET of the component's namespace
    (the cleanup runs there, next to the data claim), its user name (not a
    secret) as a plain DJ_USER value, its pod carries the
    database's client label, and the database's NetworkPolicy admits that
    label from the component's namespace.
    """
    if not (cleanup.get("enabled") and lab_database.enabled) or "databaseHost" in cleanup or "credentialsFrom" in cleanup:
        return cleanup
    return {
        "databaseHost": f"{lab_database.host}:{LAB_DATABASE_PORT}", "credentialsFrom": CLEANUP_SECRET, "username": username,
        "podLabels": {LAB_DATABASE_CLIENT_LABEL: "true"}, **cleanup,
    }  # fmt: skip


def cleanup_uses_lab_database(backups: BackupsConfig, lab_database: LabDatabaseConfig) -> bool:
    """Whether the cleanup CronJob connects as the lab database's cleanup account (the default above)."""
    return (
        backups.enabled and backups.cleanup.enabled and lab_database.enabled
        and lab_database.roles.cleanup_user is not None and backups.cleanup.credentials_from == CLEANUP_SECRET
    )  # fmt: skip


def xnat_postgres_entry(backups: BackupsConfig, xnat_hub: XnatHubConfig) -> BackupDatabase | None:
    """The database entry that backs up the deployed XNAT Postgres with the generated backup role, if any.

    Recognised by its credentials: the role's Secret in the hub's namespace is
    StackSecrets' own, so an entry naming it is one labhub must keep a role for
    (StackSecrets writes the Secret, the Backups component's Job makes the role,
    the Postgres NetworkPolicy admits its pods). An entry with a Secret of the
    operator's is left to the operator.
    """
    if not (backups.enabled and xnat_hub.deploys_postgres):
        return None
    for db in backups.databases:
        if db.kind == "postgres" and db.credentials_from == xnat_hub.postgres_backup_secret_name and backups.namespace_of(db) == xnat_hub.namespace:
            return db
    return None
