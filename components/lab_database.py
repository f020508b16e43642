"""LabDatabase: the shared lab MySQL 8.0 that Spyglass's "existing database" model assumes, with DataJoint roles.

Deploys, in its own namespace: a StatefulSet of the official MySQL image (one
replica, a PersistentVolumeClaim, utf8mb4, max_allowed_packet 512M, roles
active at login, probes, non-root), a ClusterIP Service users connect to and
the headless Service the StatefulSet needs, a NetworkPolicy admitting only
the Spyglass hub's user pods and this namespace's labelled clients on 3306,
and a Job that applies the roles.

The Job runs `labhub db apply-roles` (docker/db/Dockerfile): it creates each
account with the password from its own Secret (StackSecrets), then applies
the ConfigMap's SQL, which is exactly what `labhub db roles-sql --stack S`
prints. The Job is named after that SQL, so changing roles or users makes a
new Job, and an unchanged stack leaves the finished Job alone.

Root's password comes from StackSecrets: the image's own MYSQL_ROOT_PASSWORD
(a secretKeyRef, never a literal) at initialisation, then the Secret's
init.sql at every start (the Spyglass sidecar's wrapper), so rotating it
(`labhub:secrets.rotation.labDatabaseRootPassword`) restarts the server with
the new one; rotating the accounts' keeper makes a new roles Job, which sets
their new passwords. What it does not do:
back up (the Backups component dumps it with the `backupUser` account) or
give users their passwords in their notebooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import images, mysql_sidecar
from components.labels import standard_labels
from components.models.lab_database import CLIENT_LABEL, PASSWORD_KEY, PORT, ROLES_SQL_KEY, LabDatabaseConfig
from components.pod_security import restricted_container, restricted_pod
from components.quantities import parse_memory_quantity
from components.stack_secrets import LabDatabaseSecrets

MYSQL_UID = 999  # `mysql` in the official image
TOOLS_UID = 10001  # docker/db/Dockerfile's USER
ROLES_MOUNT, PASSWORDS_MOUNT, ROOT_MOUNT = "/etc/labhub/roles", "/etc/labhub/passwords", "/etc/labhub/root"
TOOLS_DOCKERFILE = "docker/db/Dockerfile"
# z2jh labels each user pod `component: singleuser-server`.
SINGLEUSER_SELECTOR = {"component": "singleuser-server"}


def mysqld_config(config: LabDatabaseConfig) -> str:
    """/etc/mysql/conf.d/labhub.cnf: read after the image's own my.cnf."""
    return (
        "[mysqld]\n"
        "character-set-server = utf8mb4\n"
        "collation-server = utf8mb4_0900_ai_ci\n"
        "max_allowed_packet = 512M\n"
        f"innodb_buffer_pool_size = {parse_memory_quantity(config.buffer_pool)}\n"
        "# Roles are granted with a default role too; this also covers accounts made by hand (Spyglass's docs advise it).\n"
        "activate_all_roles_on_login = ON\n"
        "# With partial_revokes ON, '%' and '_' in GRANT schema names would be literal: the DataJoint prefix grants need it OFF.\n"
        "partial_revokes = OFF\n"
        "skip-name-resolve\n"
        "\n[client]\n"
        "max_allowed_packet = 512M\n"
    )


def statefulset_spec(config: LabDatabaseConfig, labels: dict[str, str], config_map: Any, root_secret: Any, root_rotation: str) -> dict[str, Any]:
    """The pod runs the official entrypoint through the sidecar's wrapper: on an existing data directory it adds
    --init-file (the Secret's init.sql), so a rotated root password takes effect at the restart the rotation
    annotation causes; MYSQL_ROOT_PASSWORD only serves the first initialisation.
    """
    ping = {"exec": {"command": ["mysqladmin", "ping", "--host=127.0.0.1", "--silent"]}}  # exits 0 whenever mysqld answers
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": config.storage_size}}}
    if config.storage_class:
        claim["storageClassName"] = config.storage_class
    return {
        "replicas": 1,
        "serviceName": config.headless_service_name,
        "selector": {"matchLabels": {"app.kubernetes.io/name": config.name}},
        "template": {
            "metadata": {"labels": labels, "annotations": {"labhub.io/root-password-rotation": root_rotation}},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod(MYSQL_UID),
                "containers": [
                    {
                        "name": "mysql",
                        "image": config.image,
                        "command": ["/bin/sh", "-c", mysql_sidecar.WRAPPER_SCRIPT, "labhub-mysql"],
                        "args": ["mysqld"],
                        "ports": [{"name": "mysql", "containerPort": PORT}],
                        "env": [{"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": root_secret, "key": PASSWORD_KEY}}}],
                        "volumeMounts": [
                            {"name": "data", "mountPath": "/var/lib/mysql"},
                            {"name": "config", "mountPath": "/etc/mysql/conf.d/labhub.cnf", "subPath": "labhub.cnf", "readOnly": True},
                            {"name": "root-secret", "mountPath": mysql_sidecar.SECRET_DIR, "readOnly": True},
                            {"name": "run", "mountPath": "/var/run/mysqld"},
                            {"name": "tmp", "mountPath": "/tmp"},
                        ],
                        # First start initialises the data directory: give it time before liveness counts.
                        "startupProbe": {**ping, "periodSeconds": 10, "failureThreshold": 60},
                        "readinessProbe": {**ping, "periodSeconds": 10, "timeoutSeconds": 5},
                        "livenessProbe": {"tcpSocket": {"port": "mysql"}, "periodSeconds": 20, "timeoutSeconds": 5, "failureThreshold": 6},
                        "resources": config.resources.manifest(),
                        "securityContext": restricted_container(read_only_root=False),
                    }
                ],
                "volumes": [
                    {"name": "config", "configMap": {"name": config_map, "items": [{"key": "labhub.cnf", "path": "labhub.cnf"}]}},
                    # Only init.sql: the wrapper's --init-file. 0440 to group 999 (fsGroup), mysqld reads it.
                    {
                        "name": "root-secret",
                        "secret": {
                            "secretName": root_secret,
                            "items": [{"key": mysql_sidecar.INIT_SQL_KEY, "path": mysql_sidecar.INIT_SQL_KEY}],
                            "defaultMode": 0o440,
                        },
                    },
                    {"name": "run", "emptyDir": {}},
                    {"name": "tmp", "emptyDir": {}},
                ],
            },
        },
        "volumeClaimTemplates": [{"metadata": {"name": "data"}, "spec": claim}],
    }


def roles_job_spec(config: LabDatabaseConfig, image: Any, roles_map: Any, secrets: LabDatabaseSecrets) -> dict[str, Any]:
    """The Job that creates the accounts from their Secrets and applies the roles SQL as printed."""
    sources = [
        {"secret": {"name": secret.metadata.name, "items": [{"key": PASSWORD_KEY, "path": account}]}}
        for account, secret in secrets.account_secrets.items()
    ]
    return {
        "backoffLimit": 10,  # the database may still be initialising on the first deploy
        "activeDeadlineSeconds": 1800,
        "template": {
            "metadata": {"labels": {**standard_labels(f"{config.name}-roles", "lab-database-roles"), CLIENT_LABEL: "true"}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                # fsGroup: the kubelet gives the Secret files (mode 0400) to this group, read-only, so uid 10001 can read them.
                "securityContext": restricted_pod(TOOLS_UID),
                "containers": [
                    {
                        "name": "apply-roles",
                        "image": image,
                        "args": [
                            "apply-roles",
                            "--sql",
                            f"{ROLES_MOUNT}/{ROLES_SQL_KEY}",
                            "--passwords-dir",
                            PASSWORDS_MOUNT,
                            "--host",
                            config.name,
                            "--port",
                            str(PORT),
                            "--admin-password-file",
                            f"{ROOT_MOUNT}/{PASSWORD_KEY}",
                        ],  # fmt: skip
                        "volumeMounts": [
                            {"name": "roles", "mountPath": ROLES_MOUNT, "readOnly": True},
                            {"name": "passwords", "mountPath": PASSWORDS_MOUNT, "readOnly": True},
                            {"name": "root", "mountPath": ROOT_MOUNT, "readOnly": True},
                        ],
                        "resources": {"limits": {"memory": "128Mi", "cpu": "500m"}, "requests": {"memory": "64Mi", "cpu": "50m"}},
                        "securityContext": restricted_container(),
                    }
                ],
                "volumes": [
                    {"name": "roles", "configMap": {"name": roles_map}},
                    {"name": "passwords", "projected": {"sources": sources, "defaultMode": 0o400}},
                    {"name": "root", "secret": {"secretName": secrets.root_secret.metadata.name, "defaultMode": 0o400}},
                ],
            },
        },
    }


def network_policy_spec(
    config: LabDatabaseConfig, client_namespaces: list[str], labelled_client_namespaces: list[str] | None = None
) -> dict[str, Any]:
    """Ingress to mysqld on 3306 only: the hub's user pods, and labelled clients of this namespace, of `clientNamespaces`
    and of `labelled_client_namespaces` (where the stack runs a client of its own: the Backups cleanup CronJob).
    """
    peers: list[dict[str, Any]] = [{"podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}]
    more = [ns for ns in labelled_client_namespaces or [] if ns not in config.client_namespaces and ns != config.namespace]
    peers += [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}, "podSelector": {"matchLabels": {CLIENT_LABEL: "true"}}}
        for ns in [*config.client_namespaces, *dict.fromkeys(more)]
    ]
    peers += [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns}}, "podSelector": {"matchLabels": SINGLEUSER_SELECTOR}}
        for ns in client_namespaces
    ]
    return {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": config.name}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": peers, "ports": [{"protocol": "TCP", "port": PORT}]}],
    }


@dataclass(frozen=True)
class LabDatabaseArgs:
    config: LabDatabaseConfig
    namespace: pulumi.Input[str]
    secrets: LabDatabaseSecrets
    project_dir: Path
    client_namespaces: tuple[str, ...] = ()  # namespaces whose user pods connect (the Spyglass hub's)
    labelled_client_namespaces: tuple[str, ...] = ()  # more namespaces whose CLIENT_LABEL pods connect (the Backups cleanup's)


class LabDatabase(pulumi.ComponentResource):
    """The lab MySQL: StatefulSet, Services, NetworkPolicy, config and roles ConfigMaps, roles Job."""

    statefulset: k8s.apps.v1.StatefulSet
    service: k8s.core.v1.Service
    roles_job: k8s.batch.v1.Job
    host: str

    def __init__(self, name: str, args: LabDatabaseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:LabDatabase", name, None, opts)
        config, ns = args.config, args.namespace
        child = pulumi.ResourceOptions(parent=self)
        labels = standard_labels(config.name, "lab-database")
        self.host = config.host

        def meta(k8s_name: str, component: str = "lab-database") -> k8s.meta.v1.ObjectMetaArgs:
            return k8s.meta.v1.ObjectMetaArgs(name=k8s_name, namespace=ns, labels=standard_labels(k8s_name, component))

        # mysqld's settings (charset, packet size, roles at login): not secret.
        server_config = k8s.core.v1.ConfigMap(
            f"{name}-config", metadata=meta(config.config_map_name), data={"labhub.cnf": mysqld_config(config)}, opts=child
        )
        # The roles SQL, exactly as `labhub db roles-sql` prints it, for the Job and for reviewers.
        roles = k8s.core.v1.ConfigMap(
            f"{name}-roles", metadata=meta(config.roles_config_map_name, "lab-database-roles"), data={ROLES_SQL_KEY: config.roles_sql()}, opts=child
        )
        # The governing Service the StatefulSet needs, and the one clients use: the same pods and port.
        def mysql_service(resource_name: str, k8s_name: str, **spec: str) -> k8s.core.v1.Service:
            ports = [{"name": "mysql", "port": PORT, "targetPort": "mysql"}]
            spec_with_pods = {**spec, "selector": {"app.kubernetes.io/name": config.name}, "ports": ports}
            return k8s.core.v1.Service(resource_name, metadata=meta(k8s_name), spec=spec_with_pods, opts=child)

        headless = mysql_service(f"{name}-headless", config.headless_service_name, clusterIP="None")
        self.service = mysql_service(f"{name}-service", config.name, type="ClusterIP")
        self.statefulset = k8s.apps.v1.StatefulSet(
            f"{name}-statefulset",
            metadata=meta(config.name),
            spec=statefulset_spec(config, labels, server_config.metadata.name, args.secrets.root_secret.metadata.name, args.secrets.root_rotation),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[headless, args.secrets.root_secret]),
        )
        # Only the hub's user pods and this namespace's labelled clients reach mysqld.
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=meta(config.name),
            spec=network_policy_spec(config, list(args.client_namespaces), list(args.labelled_client_namespaces)),
            opts=child,
        )
        # The roles tool (`labhub db apply-roles`), built from this repository like every labhub image.
        image = images.labhub_image(
            f"{name}-tools-image", project_dir=args.project_dir, dockerfile=TOOLS_DOCKERFILE, repository="labhub-db",
            tag=images.source_digest(args.project_dir, TOOLS_DOCKERFILE) if not config.tools_image else "",
            prebuilt=config.tools_image, registry=config.registry, opts=child,
        )  # fmt: skip
        self.roles_job = k8s.batch.v1.Job(
            f"{name}-roles-job",
            metadata=meta(config.roles_job_name(args.secrets.accounts_rotation), "lab-database-roles"),
            spec=roles_job_spec(config, image, roles.metadata.name, args.secrets),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.statefulset, self.service, *args.secrets.account_secrets.values()]),
        )
        self.register_outputs({"host": self.host, "rolesJob": self.roles_job.metadata.name})
