"""Pure builders of the Backups component: CronJob, PVC and ConfigMap manifests as plain dicts.

Each database gets a dump CronJob (daily by default) and a restore-verify
CronJob (weekly) whose pod runs a scratch server of the lab's version as a
native sidecar (an init container with restartPolicy Always, Kubernetes
1.29+): verify restores there, never into the live server, and needs no
admin credentials. One prune CronJob applies the retention to every
database's folder. The cleanup CronJob runs the lab's file cleanup with its
DataJoint connection from env and a Secret (DJ_HOST, DJ_USER, DJ_PASS), so
it never depends on a config file in a home directory that cron does not
have (Spyglass issue #1219).

Every backup container: runs as uid 10001 (fsGroup 10001 makes the PVC and
the Secret files readable: kubelet adds group read to the 0400 mode),
read-only root filesystem, no capabilities, /tmp an emptyDir. Credentials
are Secret volumes mounted read-only with mode 0400, never env or argv.
All CronJobs: concurrencyPolicy Forbid, a startingDeadlineSeconds, an
activeDeadlineSeconds, backoffLimit 0 (a half-done dump is not retried
blindly: the next schedule runs a clean one) and bounded history.

A Postgres whose backup role labhub keeps (the deployed XNAT Postgres) also
gets a Job, `ensure_role_job`, that makes the role what the dump needs and no
more (`labhub backup postgres ensure-role`), named after the role's password
rotation so a rotation runs it again.

The command lines built here are the ones tests run against real servers
(tests/integration/test_backups_cronjob_commands.py, test_backups_xnat_postgres_commands.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from components.labels import standard_labels
from components.models.backups import K8S_NAME, PG_SERVICE, BackupDatabase, BackupsConfig
from components.pod_security import restricted_container, restricted_pod

BACKUPS_MOUNT = "/backups"
CREDENTIALS_MOUNT = "/etc/labhub/db"
SCRATCH_MOUNT = "/etc/labhub/scratch"
OFFSITE_MOUNT = "/etc/labhub/offsite"
ADMIN_MOUNT = "/etc/labhub/admin"
UID = 10001
SECRET_FILE_MODE = 0o400
SERVICE = PG_SERVICE  # the libpq service section name in pg_service.conf
SCRATCH_CLIENT_FILES = {
    # The verify pod's scratch server: reached over the pod's loopback (TCP only comes up once the
    # image's init is done), root/postgres without a password, as the images allow when asked below.
    "my.cnf": "[client]\nuser=root\nhost=127.0.0.1\nport=3306\nprotocol=TCP\n",
    "pg_service.conf": f"[{SERVICE}]\nhost=127.0.0.1\nport=5432\nuser=postgres\nsslmode=disable\n",
}
STARTING_DEADLINE_SECONDS = 3600
HISTORY = {"successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3}


def connection_args(db: BackupDatabase) -> list[str]:
    """How the tool reaches a database: the credentials file from its Secret, host and port as flags."""
    credentials = f"{CREDENTIALS_MOUNT}/{db.credentials_key}"
    files = ["--defaults-file", credentials] if db.kind == "mysql" else ["--service", SERVICE, "--service-file", credentials]
    return [*files, "--host", db.host, "--port", str(db.server_port)]


def dump_command(config: BackupsConfig, db: BackupDatabase) -> list[str]:
    command = ["labhub", "backup", db.kind, "dump", *connection_args(db), "--dest", f"{BACKUPS_MOUNT}/{db.name}", "--name", db.name]
    if db.kind == "postgres" and not db.role_passwords:
        command.append("--no-role-passwords")  # a pg_read_all_data role cannot read pg_authid
    if config.offsite is not None:
        prefix = "/".join(part for part in (config.offsite.prefix.strip("/"), db.name) if part)
        command += ["--s3-bucket", config.offsite.bucket, "--s3-prefix", prefix]
        if config.offsite.endpoint_url:
            command += ["--s3-endpoint-url", config.offsite.endpoint_url]
    return command


def verify_command(db: BackupDatabase) -> list[str]:
    scratch = f"{SCRATCH_MOUNT}/{db.credentials_key}"
    files = ["--defaults-file", scratch] if db.kind == "mysql" else ["--service", SERVICE, "--service-file", scratch]
    return ["labhub", "backup", db.kind, "verify", *files, "--from-latest", f"{BACKUPS_MOUNT}/{db.name}", "--name", db.name]


def prune_command(config: BackupsConfig, namespace: str) -> list[str]:
    folders = [arg for db in config.databases_in(namespace) for arg in ("--dest", f"{BACKUPS_MOUNT}/{db.name}")]
    retention = config.retention
    return ["labhub", "backup", "prune", *folders, "--keep-daily", str(retention.daily),
            "--keep-weekly", str(retention.weekly), "--keep-monthly", str(retention.monthly)]  # fmt: skip


def _tool_container(
    name: str, image: str, command: list[str], mounts: list[dict[str, Any]], env: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "command": command,
        "env": [{"name": "HOME", "value": "/tmp"}, *(env or [])],
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}, *mounts],
        "securityContext": restricted_container(),
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
    }


def _secret_volume(name: str, secret: str, key: str | None = None) -> dict[str, Any]:
    """A Secret volume, its files read-only for the owner; with `key`, only that key's file."""
    source: dict[str, Any] = {"secretName": secret, "defaultMode": SECRET_FILE_MODE}
    if key is not None:
        source["items"] = [{"key": key, "path": key}]
    return {"name": name, "secret": source}


def _cronjob(
    config: BackupsConfig, namespace: str, name: str, component: str, schedule: str, pod: dict[str, Any], deadline: int,
    pod_labels: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    labels = standard_labels(name, component)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "schedule": schedule,
            "timeZone": config.time_zone,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            **HISTORY,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": deadline,
                    "ttlSecondsAfterFinished": 7 * 86400,
                    "template": {"metadata": {"labels": {**labels, **(pod_labels or {})}}, "spec": {"restartPolicy": "Never", **pod}},
                },
            },
        },
    }


def _on_backups_pvc(
    config: BackupsConfig, mounts: list[dict[str, Any]], volumes: list[dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A job's mounts and volumes with the backups PVC (at BACKUPS_MOUNT) and the /tmp emptyDir every tool container mounts."""
    pvc = {"name": "backups", "persistentVolumeClaim": {"claimName": config.pvc_name}}
    return [{"name": "backups", "mountPath": BACKUPS_MOUNT}, *mounts], [{"name": "tmp", "emptyDir": {}}, pvc, *volumes]


def dump_cronjob(config: BackupsConfig, db: BackupDatabase, image: str) -> dict[str, Any]:
    mounts, volumes = _on_backups_pvc(
        config, [{"name": "credentials", "mountPath": CREDENTIALS_MOUNT, "readOnly": True}], [_secret_volume("credentials", db.credentials_from)]
    )
    env = []
    if config.offsite is not None:
        mounts.append({"name": "offsite", "mountPath": OFFSITE_MOUNT, "readOnly": True})
        volumes.append(_secret_volume("offsite", config.offsite.credentials_from))
        env = [{"name": "AWS_SHARED_CREDENTIALS_FILE", "value": f"{OFFSITE_MOUNT}/credentials"}, {"name": "AWS_CONFIG_FILE", "value": "/dev/null"}]
    pod = {
        "securityContext": restricted_pod(UID),
        "containers": [_tool_container("dump", image, dump_command(config, db), mounts, env)],
        "volumes": volumes,
    }
    # Only the dump pod carries the database's pod labels: it is the one backup pod that connects to the server.
    return _cronjob(config, config.namespace_of(db), f"{K8S_NAME}-{db.name}", "backup", config.schedule, pod, config.deadline_seconds, db.pod_labels)


def _scratch_server(db: BackupDatabase) -> dict[str, Any]:
    if db.kind == "mysql":
        env = [{"name": "MYSQL_ALLOW_EMPTY_PASSWORD", "value": "yes"}]
        args, port, data = ["--bind-address=127.0.0.1", "--max-allowed-packet=512M", "--skip-log-bin"], 3306, "/var/lib/mysql"
    else:
        env = [{"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"}]
        args, port, data = ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"], 5432, "/var/lib/postgresql/data"
    return {
        "name": "scratch-server",
        "image": db.scratch,
        "restartPolicy": "Always",  # a native sidecar: up before the verify container, stopped after it
        "args": args,
        "env": env,
        "startupProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2, "failureThreshold": 150},
        "volumeMounts": [{"name": "scratch-data", "mountPath": data}],
        "securityContext": {"allowPrivilegeEscalation": False},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    }


def verify_cronjob(config: BackupsConfig, db: BackupDatabase, image: str) -> dict[str, Any]:
    mounts, volumes = _on_backups_pvc(
        config,
        [{"name": "scratch-clients", "mountPath": SCRATCH_MOUNT, "readOnly": True}],
        [
            {"name": "scratch-data", "emptyDir": {}},
            {"name": "scratch-clients", "configMap": {"name": config.scratch_config_map_name, "defaultMode": 0o444}},
        ],
    )
    pod = {
        # The scratch server's image starts as root and drops to its own user, so this pod has no
        # pod-wide runAsNonRoot; the verify container itself runs as 10001.
        "securityContext": {"fsGroup": UID, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [_scratch_server(db)],
        "containers": [
            {
                **_tool_container("verify", image, verify_command(db), mounts),
                "securityContext": {**restricted_container(), "runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID},
            }
        ],
        "volumes": volumes,
    }
    return _cronjob(
        config, config.namespace_of(db), f"{K8S_NAME}-{db.name}-verify", "backup-verify", config.verify_schedule, pod, config.deadline_seconds
    )


def prune_cronjob(config: BackupsConfig, image: str, namespace: str) -> dict[str, Any]:
    """The retention job of one namespace's backups PVC."""
    mounts, volumes = _on_backups_pvc(config, [], [])
    pod = {
        "securityContext": restricted_pod(UID),
        "containers": [_tool_container("prune", image, prune_command(config, namespace), mounts)],
        "volumes": volumes,
    }
    return _cronjob(config, namespace, f"{K8S_NAME}-prune", "backup-prune", config.prune_schedule, pod, 3600)


def cleanup_cronjob(config: BackupsConfig) -> dict[str, Any]:
    cleanup = config.cleanup
    assert cleanup.image is not None and cleanup.credentials_from is not None
    secret = cleanup.credentials_from
    env = [
        # DataJoint reads these before any config file: no dj_local_conf.json, no prompt (Spyglass #1219).
        {"name": "DJ_HOST", "value": cleanup.database_host},
        {"name": "DJ_USER", "value": cleanup.username}
        if cleanup.username
        else {"name": "DJ_USER", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}},
        {"name": "DJ_PASS", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}},
        {"name": "SPYGLASS_BASE_DIR", "value": cleanup.base_dir},
        {"name": "HOME", "value": "/tmp"},
    ]
    mounts: list[dict[str, Any]] = [{"name": "tmp", "mountPath": "/tmp"}]
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if cleanup.data_claim:
        mounts.append({"name": "data", "mountPath": cleanup.base_dir})
        volumes.append({"name": "data", "persistentVolumeClaim": {"claimName": cleanup.data_claim}})
    container = {
        "name": "cleanup", "image": cleanup.image, "command": list(cleanup.command), "env": env, "volumeMounts": mounts,
        "securityContext": restricted_container(read_only_root=False),
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "4Gi"}},
    }  # fmt: skip
    pod = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "runAsGroup": 100, "fsGroup": 100},
        "containers": [container],
        "volumes": volumes,
    }
    # Its pod labels: the database's NetworkPolicy admits the cleanup by them (the lab MySQL's client label by default).
    return _cronjob(config, config.namespace, f"{K8S_NAME}-cleanup", "cleanup", cleanup.schedule, pod, config.deadline_seconds, cleanup.pod_labels)


@dataclass(frozen=True)
class PostgresRole:
    """A backup role labhub keeps in a Postgres it deploys: who makes it, and from which Secrets (in the database's namespace)."""

    role: str  # the role the database entry's pg_service.conf logs in as
    password_secret: str  # holds the role's password, key `password_key`
    password_key: str
    admin_user: str  # a superuser of the server (the official image's POSTGRES_USER)
    admin_secret: str  # holds that superuser's password, key `admin_key`
    admin_key: str
    admin_database: str  # a database the superuser may connect to
    rotation: str  # the role password's rotation keeper: a new value names a new Job, which sets the new password


def ensure_role_command(db: BackupDatabase, role: PostgresRole) -> list[str]:
    """Both passwords are read from mounted files by the tool; only names and addresses are on the command line."""
    return [
        "labhub", "backup", "postgres", "ensure-role", "--host", db.host, "--port", str(db.server_port),
        "--dbname", role.admin_database, "--admin-user", role.admin_user, "--admin-password-file", f"{ADMIN_MOUNT}/{role.admin_key}",
        "--role", role.role, "--role-password-file", f"{CREDENTIALS_MOUNT}/{role.password_key}",
    ]  # fmt: skip


def ensure_role_job_name(db: BackupDatabase, role: PostgresRole) -> str:
    """Named after what it applies: a Job's pod spec is immutable and a finished Job does not run again,
    so a rotated password (or another role, server or admin) makes a new Job and an unchanged stack keeps the finished one.
    """
    digest = hashlib.sha256("\0".join((*ensure_role_command(db, role), role.rotation)).encode()).hexdigest()[:10]
    return f"{K8S_NAME}-{db.name}-role-{digest}"


def ensure_role_job(config: BackupsConfig, db: BackupDatabase, role: PostgresRole, image: str) -> dict[str, Any]:
    """The Job that creates or updates the database's backup role, as its superuser, on every deploy that changes it."""
    mounts = [
        {"name": "credentials", "mountPath": CREDENTIALS_MOUNT, "readOnly": True},
        {"name": "admin", "mountPath": ADMIN_MOUNT, "readOnly": True},
    ]
    volumes = [
        {"name": "tmp", "emptyDir": {}},
        _secret_volume("credentials", role.password_secret, role.password_key),
        _secret_volume("admin", role.admin_secret, role.admin_key),
    ]
    name = ensure_role_job_name(db, role)
    labels = standard_labels(name, "backup-role")
    container = _tool_container("ensure-role", image, ensure_role_command(db, role), mounts)
    container["resources"] = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": config.namespace_of(db), "labels": labels},
        "spec": {
            "backoffLimit": 10,  # the server may still be starting on the first deploy
            "activeDeadlineSeconds": 1800,
            "template": {
                # The database's pod labels: this pod connects to the server, as the dump pod does.
                "metadata": {"labels": {**labels, **db.pod_labels}},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,
                    "securityContext": restricted_pod(UID),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def backups_pvc(config: BackupsConfig, namespace: str) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": config.storage_size}}}
    if config.storage_class:
        spec["storageClassName"] = config.storage_class
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": config.pvc_name, "namespace": namespace, "labels": standard_labels(K8S_NAME, "backup-storage")}, "spec": spec}  # fmt: skip


def scratch_config_map(config: BackupsConfig, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": config.scratch_config_map_name, "namespace": namespace, "labels": standard_labels(K8S_NAME, "backup-verify")},
            "data": dict(SCRATCH_CLIENT_FILES)}  # fmt: skip


def manifests(config: BackupsConfig, image: str) -> list[dict[str, Any]]:
    """Every object of the component, in apply order (PVC and ConfigMap before the CronJobs using them)."""
    objects: list[dict[str, Any]] = []
    for namespace in config.namespaces:
        objects += [backups_pvc(config, namespace), scratch_config_map(config, namespace)]
        for db in config.databases_in(namespace):
            objects += [dump_cronjob(config, db, image), verify_cronjob(config, db, image)]
        objects.append(prune_cronjob(config, image, namespace))
    if config.cleanup.enabled:
        objects.append(cleanup_cronjob(config))
    return objects
