"""Postgres: the hub's database server as valid Kubernetes objects, its password only by Secret reference.

Invariants: the StatefulSet, Service and NetworkPolicy are valid objects for the
Kubernetes version we target (strict OpenAPI validation); the server runs the
pinned official image as its non-root user with no capabilities, keeps its data
on a claim of the configured size and class, is probed with pg_isready, takes its
password from the Secret (never a literal), and admits only the hub on the
Postgres port and calls no one; with `external` set nothing is deployed.
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from rendered import the_one

from components.models.xnat_hub import PostgresConfig
from components.postgres import Postgres, PostgresArgs, postgres_manifests

SELECTOR = {"app": "jupyterhub", "component": "hub", "release": "jh"}


def _manifests(**config: Any) -> dict[str, dict[str, Any]]:
    return postgres_manifests(PostgresConfig.model_validate(config), "jh-postgres", "xnat", "jh-postgres", SELECTOR)


def _container(manifests: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (container,) = manifests["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    return container


@pytest.mark.parametrize("config", [pytest.param({}, id="defaults"), pytest.param({"storageClass": "fast", "storageSize": "20Gi"}, id="sized")])
def test_every_object_is_a_valid_kubernetes_object(config: dict[str, Any]) -> None:
    for kind, manifest in _manifests(**config).items():
        assert manifest["kind"] == kind
        kubernetes_validate.validate(manifest, kubernetes_validate.latest_version(), strict=True)


def test_the_password_comes_from_the_secret_never_a_literal() -> None:
    env = {e["name"]: e for e in _container(_manifests())["env"]}
    assert env["POSTGRES_PASSWORD"] == {"name": "POSTGRES_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "jh-postgres", "key": "password"}}}
    assert {k: env[k]["value"] for k in ("POSTGRES_USER", "POSTGRES_DB", "PGDATA")} == {
        "POSTGRES_USER": "jupyterhub", "POSTGRES_DB": "jupyterhub", "PGDATA": "/var/lib/postgresql/data/pgdata",
    }  # fmt: skip


def test_the_data_claim_takes_the_configured_size_and_class() -> None:
    (claim,) = _manifests(storageSize="20Gi", storageClass="fast")["StatefulSet"]["spec"]["volumeClaimTemplates"]
    assert claim["spec"] == {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}, "storageClassName": "fast"}
    (default,) = _manifests()["StatefulSet"]["spec"]["volumeClaimTemplates"]
    assert "storageClassName" not in default["spec"] and default["spec"]["resources"]["requests"]["storage"] == "1Gi"
    mounts = {m["mountPath"]: m["name"] for m in _container(_manifests())["volumeMounts"]}
    assert mounts["/var/lib/postgresql/data"] == claim["metadata"]["name"]


def test_the_server_runs_the_pinned_image_unprivileged_with_pg_isready_probes() -> None:
    manifests = _manifests(image="postgres:17.6")
    pod = manifests["StatefulSet"]["spec"]["template"]["spec"]
    container = _container(manifests)
    assert container["image"] == "postgres:17.6"
    assert pod["securityContext"] == {
        "runAsUser": 999, "runAsGroup": 999, "fsGroup": 999, "runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
    # A read-only root needs somewhere for the socket, lock file and temp files.
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/var/lib/postgresql/data", "/var/run/postgresql", "/tmp"}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["exec"]["command"] == ["pg_isready", "--host=127.0.0.1", "--username=jupyterhub", "--dbname=jupyterhub"]
    assert pod["automountServiceAccountToken"] is False


def test_only_the_hub_may_connect_and_the_server_calls_no_one() -> None:
    policy = _manifests()["NetworkPolicy"]["spec"]
    assert policy == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "jh-postgres"}},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": SELECTOR}}], "ports": [{"protocol": "TCP", "port": 5432}]}],
        "egress": [],
    }
    service = _manifests()["Service"]["spec"]
    assert service["selector"] == policy["podSelector"]["matchLabels"] and service["ports"][0]["port"] == 5432


def test_the_component_registers_the_three_objects_under_itself(run_component) -> None:
    def build(built: dict[str, Any]) -> None:
        Postgres("db", PostgresArgs(config=PostgresConfig(), name="jh-postgres", namespace="xnat", secret_name="jh-postgres", client_selector=SELECTOR))

    result, _ = run_component(build)
    component = the_one(result, "labhub:components:Postgres", "db")
    objects = [the_one(result, t, f"db-{kind}") for t, kind in (
        ("kubernetes:apps/v1:StatefulSet", "statefulset"), ("kubernetes:core/v1:Service", "service"),
        ("kubernetes:networking.k8s.io/v1:NetworkPolicy", "networkpolicy"))]  # fmt: skip
    assert all(o.parent_urn == component.urn for o in objects)
    statefulset = objects[0].inputs
    assert statefulset["metadata"]["namespace"] == "xnat"
    assert statefulset["spec"] == _manifests()["StatefulSet"]["spec"]


def test_with_an_external_server_nothing_is_deployed(run_component) -> None:
    external = PostgresConfig.model_validate({"external": {"host": "db.example.org", "cidrs": ["10.9.0.0/24"]}})

    def build(built: dict[str, Any]) -> None:
        Postgres("db", PostgresArgs(config=external, name="jh-postgres", namespace="xnat", secret_name="jh-postgres", client_selector=SELECTOR))  # pragma: allowlist secret

    result, _ = run_component(build)
    assert [r.type for r in result.resources] == ["labhub:components:Postgres"]
