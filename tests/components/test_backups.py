"""Backups under mocks: the CronJobs are valid Kubernetes objects that cannot pile up, leak or hang.

Invariants: per database a dump and a weekly verify CronJob, plus one prune
and the cleanup CronJob; every CronJob is a valid batch/v1 object (strict
kubernetes-validate), concurrencyPolicy Forbid, with a starting deadline, an
active deadline and bounded history; database credentials reach containers
only as read-only Secret volumes of mode 0400 (the cleanup's DataJoint
password as a secretKeyRef), never as literal env values or arguments; the
verify pod restores into a scratch server sidecar, not the live database; the
image is built from docker/backup/Dockerfile by the code that builds the
templating server's, tagged by its sources and deployed by digest; the prod
stack renders them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
from rendered import integers, of_type, the_one

from components import images
from components.backups import DOCKERFILE, Backups, BackupsArgs
from components.config import parse_stack_config
from components.models.backups import BackupsConfig
from labhub.engine import PROJECT_DIR, StackRun

CRON_JOB = "kubernetes:batch/v1:CronJob"
IMAGE = "docker:index/image:Image"
SECTION = {
    "enabled": True,
    "registry": "registry.example/lab",
    "namespace": "spyglass",
    "offsite": {"bucket": "lab-backups", "prefix": "prod", "credentialsFrom": "offsite-s3"},
    "databases": [
        {"name": "lab-mysql", "kind": "mysql", "host": "lab-mysql.spyglass.svc", "credentialsFrom": "lab-mysql-backup"},
        {"name": "xnat-db", "kind": "postgres", "host": "xnat-postgres.xnat.svc", "port": 5433, "credentialsFrom": "xnat-db-backup"},
    ],
    "cleanup": {"enabled": True, "image": "spyglass:1.0", "databaseHost": "lab-mysql.spyglass.svc:3306", "credentialsFrom": "dj-cleanup"},
}


def config(section: dict[str, Any] = SECTION) -> BackupsConfig:
    return parse_stack_config({"labhub:backups": json.dumps(section)}).backups



def cron_jobs(result: StackRun) -> dict[str, dict[str, Any]]:
    return {r.inputs["metadata"]["name"]: integers({"apiVersion": "batch/v1", "kind": "CronJob", **r.inputs}) for r in of_type(result, CRON_JOB)}


@pytest.fixture
def rendered(run_component) -> tuple[StackRun, dict[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    result, _ = run_component(lambda built: Backups("backups", BackupsArgs(config=config(), project_dir=PROJECT_DIR)))
    return result, cron_jobs(result)


def pod(job: dict[str, Any]) -> dict[str, Any]:
    return job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_each_database_gets_a_dump_and_a_verify_job_plus_prune_and_cleanup(rendered) -> None:  # type: ignore[no-untyped-def]
    _result, jobs = rendered
    assert sorted(jobs) == [
        "labhub-backups-cleanup", "labhub-backups-lab-mysql", "labhub-backups-lab-mysql-verify",
        "labhub-backups-prune", "labhub-backups-xnat-db", "labhub-backups-xnat-db-verify",
    ]  # fmt: skip
    assert jobs["labhub-backups-cleanup"]["spec"]["schedule"] == "0 4 * * 1"


def test_every_cron_job_is_valid_and_cannot_pile_up_or_hang(rendered) -> None:  # type: ignore[no-untyped-def]
    _result, jobs = rendered
    for name, job in jobs.items():
        kubernetes_validate.validate(job, kubernetes_validate.latest_version(), strict=True)
        spec = job["spec"]
        assert spec["concurrencyPolicy"] == "Forbid", name
        assert spec["startingDeadlineSeconds"] > 0 and spec["jobTemplate"]["spec"]["activeDeadlineSeconds"] > 0, name
        assert spec["successfulJobsHistoryLimit"] <= 3 and spec["failedJobsHistoryLimit"] <= 3, name
        assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0, name


def test_credentials_are_read_only_secret_volumes_of_mode_0400_never_env_or_arguments(rendered) -> None:  # type: ignore[no-untyped-def]
    _result, jobs = rendered
    for name in ("labhub-backups-lab-mysql", "labhub-backups-xnat-db"):
        spec = pod(jobs[name])
        secrets = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
        assert {s["secretName"] for s in secrets.values()} == {name.removeprefix("labhub-backups-") + "-backup", "offsite-s3"}
        assert all(s["defaultMode"] == 0o400 for s in secrets.values())
        mounts = {m["name"]: m for m in spec["containers"][0]["volumeMounts"]}
        assert all(mounts[volume].get("readOnly") is True for volume in secrets)
    for name, job in jobs.items():
        for container in pod(job)["containers"] + pod(job).get("initContainers", []):
            literal = {e["name"] for e in container.get("env", []) if "value" in e}
            assert not literal & {"DJ_PASS", "MYSQL_PWD", "PGPASSWORD", "AWS_SECRET_ACCESS_KEY"}, name
            assert not [arg for arg in container.get("command", []) + container.get("args", []) if re.search(r"pass(word)?=", arg, re.I)], name
    cleanup = {e["name"]: e for e in pod(jobs["labhub-backups-cleanup"])["containers"][0]["env"]}
    assert cleanup["DJ_PASS"]["valueFrom"]["secretKeyRef"] == {"name": "dj-cleanup", "key": "password"}
    assert cleanup["DJ_USER"]["valueFrom"]["secretKeyRef"] == {"name": "dj-cleanup", "key": "username"}
    assert cleanup["DJ_HOST"]["value"] == "lab-mysql.spyglass.svc:3306"


def test_verify_restores_into_a_scratch_server_sidecar_not_the_live_database(rendered) -> None:  # type: ignore[no-untyped-def]
    _result, jobs = rendered
    spec = pod(jobs["labhub-backups-xnat-db-verify"])
    (sidecar,) = spec["initContainers"]
    assert sidecar["restartPolicy"] == "Always" and sidecar["image"] == "postgres:16.4"
    assert sidecar["startupProbe"]["tcpSocket"]["port"] == 5432
    command = spec["containers"][0]["command"]
    assert command[:4] == ["labhub", "backup", "postgres", "verify"]
    assert "xnat-postgres.xnat.svc" not in command and "--from-latest" in command
    assert spec["containers"][0]["securityContext"]["runAsNonRoot"] is True


def test_the_image_is_built_from_docker_backup_by_the_shared_image_code(rendered) -> None:  # type: ignore[no-untyped-def]
    result, jobs = rendered
    image = the_one(result, IMAGE, "backups-image")
    assert image.inputs["build"]["dockerfile"] == str(PROJECT_DIR / DOCKERFILE)
    assert image.inputs["imageName"] == f"registry.example/lab/labhub-backup:{images.source_digest(PROJECT_DIR, DOCKERFILE)}"
    assert "args" not in image.inputs["build"]
    for name, job in jobs.items():
        if name != "labhub-backups-cleanup":
            assert re.fullmatch(r"registry\.example/lab/labhub-backup@sha256:[0-9a-f]{64}", pod(job)["containers"][0]["image"]), name


def test_the_prod_stack_renders_the_backup_jobs(stack_runs) -> None:  # type: ignore[no-untyped-def]
    jobs = cron_jobs(stack_runs["prod"])
    assert {"labhub-backups-lab-db", "labhub-backups-lab-db-verify", "labhub-backups-prune", "labhub-backups-cleanup"} <= set(jobs)
    for job in jobs.values():
        kubernetes_validate.validate(job, kubernetes_validate.latest_version(), strict=True)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_the_prod_lab_mysql_is_backed_up_by_default_in_its_namespace_and_only_the_dump_pod_is_admitted(stack_runs) -> None:  # type: ignore[no-untyped-def]
    """prod lists no databases: the lab MySQL's jobs run in lab-db, where its Secret and NetworkPolicy are."""
    run = stack_runs["prod"]
    by_place = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs for r in of_type(run, CRON_JOB)}
    assert sorted(by_place) == [
        ("lab-db", "labhub-backups-lab-db"), ("lab-db", "labhub-backups-lab-db-verify"), ("lab-db", "labhub-backups-prune"),
        ("spyglass", "labhub-backups-cleanup"), ("xnat", "labhub-backups-prune"), ("xnat", "labhub-backups-xnat-jupyterhub-postgres"),
        ("xnat", "labhub-backups-xnat-jupyterhub-postgres-verify"),
    ]  # fmt: skip
    pods = {name: job["spec"]["jobTemplate"]["spec"]["template"] for (namespace, name), job in by_place.items() if namespace == "lab-db"}
    dump = pods["labhub-backups-lab-db"]
    name = "lab-db-backup"  # pragma: allowlist secret (a Secret's name)
    assert {"name": "credentials", "secret": {"secretName": name, "defaultMode": 0o400}} in dump["spec"]["volumes"]
    command = dump["spec"]["containers"][0]["command"]
    assert command[:8] == [
        "labhub",
        "backup",
        "mysql",
        "dump",
        "--defaults-file",
        "/etc/labhub/db/my.cnf",
        "--host",
        "lab-db.lab-db.svc.cluster.local",
    ]
    claims = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]) for r in of_type(run, "kubernetes:core/v1:PersistentVolumeClaim")}
    assert ("lab-db", "labhub-backups-data") in claims
    (policy,) = [r.inputs for r in of_type(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if r.inputs["metadata"]["name"] == "lab-db"]
    same_namespace = [peer["podSelector"]["matchLabels"] for peer in policy["spec"]["ingress"][0]["from"] if "namespaceSelector" not in peer]
    admitted = {name for name, pod in pods.items() if any(_selects(selector, pod["metadata"]["labels"]) for selector in same_namespace)}
    assert admitted == {"labhub-backups-lab-db"}, "the dump pod reaches mysqld; verify (scratch server) and prune do not"
