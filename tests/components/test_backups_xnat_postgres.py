"""prod's XNAT Postgres backups under mocks: the default entry, its role Job, its Secret, and who may reach the server.

Invariants: with xnatHub deploying its Postgres and no `backups.databases`
listed, the Postgres is backed up from the hub's namespace by a role that is
no superuser (so the dump passes --no-role-passwords), kept by a Job that is
a valid Kubernetes object, reads both passwords from 0400 Secret files, and
is renamed (so run again) when the role's rotation keeper changes; the role's
password is generated per stack into a Secret, as a Pulumi secret; the
Postgres NetworkPolicy admits exactly the dump and role pods besides the hub.
An external Postgres, or an explicit `databases` list, gets none of it.
"""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
from pulumi.runtime import rpc
from rendered import namespaced_objects, of_type

from components.config import parse_stack_config
from labhub.engine import PROJECT_DIR, StackRun, read_stack_files, run_program

DB = "xnat-jupyterhub-postgres"
JOB, CRON_JOB, SECRET = "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Secret"  # pragma: allowlist secret (kinds)
POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"



def _in_xnat(run: StackRun, type_: str) -> dict[str, dict[str, Any]]:
    return namespaced_objects(run, type_, "xnat")


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["spec"]["jobTemplate"]["spec"]["template"] if "jobTemplate" in obj["spec"] else obj["spec"]["template"]


def test_prod_backs_up_the_xnat_postgres_from_its_namespace_with_a_role_that_is_no_superuser(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    cron = _in_xnat(run, CRON_JOB)
    assert sorted(cron) == ["labhub-backups-prune", f"labhub-backups-{DB}", f"labhub-backups-{DB}-verify"]
    dump = _pod(cron[f"labhub-backups-{DB}"])["spec"]
    command = dump["containers"][0]["command"]
    assert command[:8] == ["labhub", "backup", "postgres", "dump", "--service", "labhub", "--service-file", "/etc/labhub/db/pg_service.conf"]
    assert command[command.index("--host") + 1 : command.index("--host") + 4] == [f"{DB}.xnat.svc.cluster.local", "--port", "5432"]
    assert "--no-role-passwords" in command
    assert {"name": "credentials", "secret": {"secretName": f"{DB}-backup", "defaultMode": 0o400}} in dump["volumes"]
    (sidecar,) = _pod(cron[f"labhub-backups-{DB}-verify"])["spec"]["initContainers"]
    assert sidecar["image"] == "postgres:17.6", "verify restores into the server's own version"


def test_the_role_job_is_valid_and_reads_both_passwords_from_read_only_0400_files(stack_runs: dict[str, StackRun]) -> None:
    (job,) = _in_xnat(stack_runs["prod"], JOB).values()
    kubernetes_validate.validate({"apiVersion": "batch/v1", "kind": "Job", **job}, kubernetes_validate.latest_version(), strict=True)
    spec = _pod(job)["spec"]
    (container,) = spec["containers"]
    assert container["command"][:4] == ["labhub", "backup", "postgres", "ensure-role"]
    flags = dict(zip(container["command"][4::2], container["command"][5::2], strict=True))
    assert flags["--admin-user"] == "jupyterhub" and flags["--role"] == "labhub_backup" and flags["--dbname"] == "jupyterhub"
    secrets = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
    assert {s["secretName"] for s in secrets.values()} == {"xnat-jupyterhub-postgres", f"{DB}-backup"}
    assert all(s["defaultMode"] == 0o400 and s["items"] == [{"key": "password", "path": "password"}] for s in secrets.values())
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert flags["--admin-password-file"].rsplit("/", 1)[0] in mounts and flags["--role-password-file"].rsplit("/", 1)[0] in mounts
    assert all(mounts[path].get("readOnly") is True for path in ("/etc/labhub/admin", "/etc/labhub/db"))
    assert not [e for e in container.get("env", []) if "PASS" in e["name"].upper()]


def test_the_role_password_is_generated_into_a_secret_as_a_pulumi_secret(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    (secret,) = [r.inputs for r in of_type(run, SECRET) if r.inputs["metadata"]["name"] == f"{DB}-backup"]
    assert secret["metadata"]["namespace"] == "xnat" and rpc.is_rpc_secret(secret["stringData"])
    data = rpc.unwrap_rpc_secret(secret["stringData"])
    assert sorted(data) == ["password", "pg_service.conf"] and len(data["password"]) >= 24
    assert data["pg_service.conf"] == f"[labhub]\nuser=labhub_backup\npassword={data['password']}\n"
    assert data["password"] not in json.dumps([r.inputs for r in run.resources if r.type != SECRET], default=str)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def test_the_postgres_network_policy_admits_the_dump_and_role_pods_not_verify_or_prune(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    (policy,) = [r.inputs for name, r in ((r.inputs["metadata"]["name"], r) for r in of_type(run, POLICY)) if name == DB]
    peers = policy["spec"]["ingress"][0]["from"]
    assert all(set(peer) == {"podSelector"} for peer in peers), "same-namespace peers only"
    pods = {name: _pod(obj)["metadata"]["labels"] for name, obj in {**_in_xnat(run, CRON_JOB), **_in_xnat(run, JOB)}.items()}
    admitted = {name for name, labels in pods.items() if any(_selects(peer["podSelector"]["matchLabels"], labels) for peer in peers)}
    (job_name,) = _in_xnat(run, JOB)
    assert admitted == {f"labhub-backups-{DB}", job_name}


def _prod_with(extra: dict[str, str]) -> StackRun:
    files = read_stack_files(PROJECT_DIR, "prod")
    config = {**files.config, "labhub:spyglassOAuthClientSecret": "placeholder-for-the-test", **extra}  # pragma: allowlist secret
    return run_program(PROJECT_DIR, files.project, "prod", config, set(files.secret_keys) | {"labhub:spyglassOAuthClientSecret"})


def test_rotating_the_role_password_names_a_new_role_job_so_it_runs_again(stack_runs: dict[str, StackRun]) -> None:
    before = set(_in_xnat(stack_runs["prod"], JOB))
    rotated = set(_in_xnat(_prod_with({"labhub:secrets.rotation.xnatPostgresBackupPassword": "2026-12-03"}), JOB))
    other = set(_in_xnat(_prod_with({"labhub:secrets.rotation.xnatPostgresPassword": "2026-12-03"}), JOB))
    assert len(before) == len(rotated) == 1 and before != rotated
    assert other == before, "another secret's rotation leaves the finished Job alone"


XNAT = {
    "enabled": True, "host": "xnat.example.org",
    "xnat": {"url": "http://xnat-web.xnat.svc:8080", "namespace": "xnat", "podLabels": {"app": "xnat-web"}},
}  # fmt: skip
CLEANUP_ONLY = {
    "enabled": True,
    "registry": "r.example",
    "cleanup": {"enabled": True, "image": "s:1", "databaseHost": "h:3306", "credentialsFrom": "c"},
}


@pytest.mark.parametrize(
    ("xnat", "backups", "expected"),
    [
        pytest.param(XNAT, {"enabled": True, "registry": "r.example"}, [DB], id="default"),
        pytest.param(
            {**XNAT, "postgres": {"external": {"host": "db.example.org", "cidrs": ["10.0.0.0/8"]}}}, CLEANUP_ONLY, [], id="external-postgres"
        ),
        pytest.param(XNAT, {**CLEANUP_ONLY, "databases": []}, [], id="explicitly-none"),
    ],
)
def test_the_xnat_postgres_is_a_default_database_only_when_labhub_deploys_it(
    xnat: dict[str, Any], backups: dict[str, Any], expected: list[str]
) -> None:
    config = parse_stack_config({"labhub:xnatHub": json.dumps(xnat), "labhub:backups": json.dumps(backups)})
    assert [db.name for db in config.backups.databases] == expected
    for db in config.backups.databases:
        assert (db.kind, db.namespace, db.role_passwords, db.credentials_from) == ("postgres", "xnat", False, f"{DB}-backup")
