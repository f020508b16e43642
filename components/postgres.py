"""Postgres: one PostgreSQL server for a hub's state, from the official image, or a pointer to an external one.

Deploys a StatefulSet (one replica, data on its own PVC of the configured size
and class), a Service, and a NetworkPolicy that admits only the client pods
(the hub, and the backup pods when the Backups component backs it up) on the
Postgres port. The password is never in the manifests: the
container reads it from the Secret StackSecrets made (POSTGRES_PASSWORD), and
the official entrypoint creates the role and database from POSTGRES_USER and
POSTGRES_DB on the first start. With `external` set nothing is deployed; the
component only reports where the server is.

The manifests are built as plain data by `postgres_manifests`, so tests can
validate them as Kubernetes objects and start a real server with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.labels import standard_labels
from components.models.xnat_hub import POSTGRES_PASSWORD_KEY, PostgresConfig
from components.pod_security import restricted_container, restricted_pod

PORT = 5432
RUN_AS = 999  # the postgres user of the official Debian-based image
DATA_MOUNT = "/var/lib/postgresql/data"
PGDATA = f"{DATA_MOUNT}/pgdata"  # a subfolder: the entrypoint makes it 0700 for uid 999 on a fresh volume


@dataclass(frozen=True)
class PostgresArgs:
    config: PostgresConfig
    name: str  # the StatefulSet, Service and NetworkPolicy
    namespace: pulumi.Input[str]
    secret_name: pulumi.Input[str]  # holds POSTGRES_PASSWORD_KEY
    client_selector: Mapping[str, str]  # pod labels of the only clients admitted (the hub)
    # More pods of the same namespace to admit, by labels (the backup dump and ensure-role pods), each a selector.
    more_client_selectors: tuple[Mapping[str, str], ...] = ()


def _probe(config: PostgresConfig, **timing: int) -> dict[str, Any]:
    # Over TCP on loopback: ready means accepting connections the way clients connect.
    command = ["pg_isready", "--host=127.0.0.1", f"--username={config.user}", f"--dbname={config.database}"]  # port: 5432 (PGPORT)
    return {"exec": {"command": command}, **timing}


def postgres_manifests(
    config: PostgresConfig,
    name: str,
    namespace: pulumi.Input[str],
    secret_name: pulumi.Input[str],
    client_selector: Mapping[str, str],
    more_client_selectors: tuple[Mapping[str, str], ...] = (),
) -> dict[str, dict[str, Any]]:
    """The StatefulSet, Service and NetworkPolicy of a deployed Postgres, as Kubernetes objects (kind -> object)."""
    labels = standard_labels(name, "postgres")
    selector = {"app.kubernetes.io/name": name}
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    container = {
        "name": "postgres",
        "image": config.image,
        "ports": [{"name": "postgres", "containerPort": PORT}],
        "env": [
            {"name": "POSTGRES_USER", "value": config.user},
            {"name": "POSTGRES_DB", "value": config.database},
            {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": POSTGRES_PASSWORD_KEY}}},
            {"name": "PGDATA", "value": PGDATA},
        ],
        "resources": config.resources.manifest(),
        "startupProbe": _probe(config, periodSeconds=2, failureThreshold=90),  # first start runs initdb
        "readinessProbe": _probe(config, periodSeconds=5, failureThreshold=3),
        "livenessProbe": _probe(config, periodSeconds=15, timeoutSeconds=5, failureThreshold=4),
        "securityContext": restricted_container(),
        "volumeMounts": [
            {"name": "data", "mountPath": DATA_MOUNT},
            {"name": "run", "mountPath": "/var/run/postgresql"},  # the server's socket and lock file
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    claim: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": config.storage_size}}}
    if config.storage_class:
        claim["storageClassName"] = config.storage_class
    statefulset = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata,
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": restricted_pod(RUN_AS),
                    "containers": [container],
                    "volumes": [
                        {"name": "run", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
            "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": labels}, "spec": claim}],
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata,
        "spec": {"type": "ClusterIP", "selector": selector, "ports": [{"name": "postgres", "port": PORT, "targetPort": "postgres"}]},
    }
    policy = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": metadata,
        "spec": {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress", "Egress"],  # no egress at all: a database server calls no one
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": dict(selector)}} for selector in (client_selector, *more_client_selectors)],
                    "ports": [{"protocol": "TCP", "port": PORT}],
                }
            ],
            "egress": [],
        },
    }
    return {"StatefulSet": statefulset, "Service": service, "NetworkPolicy": policy}


class Postgres(pulumi.ComponentResource):
    """A hub's PostgreSQL: deployed from the official image, or the configured external server."""

    def __init__(self, name: str, args: PostgresArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:Postgres", name, None, opts)
        config = args.config
        if config.external:  # nothing to deploy: the hub connects to config.external
            self.register_outputs({"deployed": False})
            return
        # Inputs (the namespace, the Secret's name) may be Outputs: Pulumi resolves them inside the objects.
        manifests = postgres_manifests(config, args.name, args.namespace, args.secret_name, args.client_selector, args.more_client_selectors)
        child = pulumi.ResourceOptions(parent=self)
        kinds = {"StatefulSet": k8s.apps.v1.StatefulSet, "Service": k8s.core.v1.Service, "NetworkPolicy": k8s.networking.v1.NetworkPolicy}
        self.resources = {
            kind: cls(f"{name}-{kind.lower()}", metadata=manifests[kind]["metadata"], spec=manifests[kind]["spec"], opts=child)
            for kind, cls in kinds.items()
        }
        self.register_outputs({"deployed": True})
