"""The cleanup CronJob's database under mocks: prod's connects to the lab MySQL as a dj_user account and is let in.

Invariants: with labDatabase on and the cleanup naming no database, the
cleanup gets DJ_HOST = the lab MySQL's Service, DJ_USER = the lab database's
cleanup account and DJ_PASS from a Secret of its own namespace holding that
account's password (the one the roles Job sets; the account is granted
dj_user and nothing of its own), so DataJoint needs no config file under cron (Spyglass #1219); the
lab database's NetworkPolicy, evaluated on the rendered objects, admits that
pod from its namespace and not an unlabelled pod there; a cleanup that names
its own database is left alone; a cleanup pointed at an account the stack
does not make is one config error.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type

from components.config import ConfigError, parse_stack_config
from labhub.engine import StackRun

CRON_JOB, SECRET, POLICY = "kubernetes:batch/v1:CronJob", "kubernetes:core/v1:Secret", "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CLEANUP_SECRET = "labhub-backups-cleanup-datajoint"  # pragma: allowlist secret (a Secret's name)


def _one(run: StackRun, type_: str, name: str, namespace: str) -> dict[str, Any]:
    (found,) = [r.inputs for r in of_type(run, type_) if r.inputs["metadata"]["name"] == name and r.inputs["metadata"]["namespace"] == namespace]
    return found


def _admits(policy: dict[str, Any], policy_namespace: str, pod_namespace: str, pod_labels: dict[str, str], port: int) -> bool:
    """NetworkPolicy ingress semantics for matchLabels peers: podSelector alone = the policy's namespace; with namespaceSelector = those namespaces."""
    namespace_labels = {"kubernetes.io/metadata.name": pod_namespace}
    for rule in policy["spec"]["ingress"]:
        if not any(int(p["port"]) == port for p in rule["ports"]):
            continue
        for peer in rule["from"]:
            in_namespace = (
                all(namespace_labels.get(k) == v for k, v in peer["namespaceSelector"]["matchLabels"].items())
                if "namespaceSelector" in peer
                else pod_namespace == policy_namespace
            )
            if in_namespace and all(pod_labels.get(k) == v for k, v in peer.get("podSelector", {}).get("matchLabels", {}).items()):
                return True
    return False


def test_prods_cleanup_connects_to_the_lab_mysql_from_env_and_a_secret_of_its_namespace(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    job = _one(run, CRON_JOB, "labhub-backups-cleanup", "spyglass")
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DJ_HOST"]["value"] == "lab-db.lab-db.svc.cluster.local:3306"
    assert env["DJ_USER"] == {"name": "DJ_USER", "value": "labhub_cleanup"}, "a user name is no secret"
    assert env["DJ_PASS"]["valueFrom"]["secretKeyRef"] == {"name": CLEANUP_SECRET, "key": "password"}

    copy = _one(run, SECRET, CLEANUP_SECRET, "spyglass")
    original = _one(run, SECRET, "lab-db-cleanup", "lab-db")
    assert rpc.is_rpc_secret(copy["stringData"]) and rpc.is_rpc_secret(original["stringData"])
    copy_data, original_data = rpc.unwrap_rpc_secret(copy["stringData"]), rpc.unwrap_rpc_secret(original["stringData"])
    assert copy_data == {"password": original_data["password"]} == original_data, "the password the roles Job gives the account"
    roles = _one(run, "kubernetes:core/v1:ConfigMap", "lab-db-roles", "lab-db")["data"]["roles.sql"]
    granted = [line for line in roles.splitlines() if "'labhub_cleanup'@'%'" in line and line.startswith("GRANT")]
    assert granted == ["GRANT 'dj_user' TO 'labhub_cleanup'@'%';"], "dj_user, and no prefix of its own"


def test_the_lab_database_admits_the_cleanup_pod_from_its_namespace_and_no_unlabelled_pod(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    policy = _one(run, POLICY, "lab-db", "lab-db")
    job = _one(run, CRON_JOB, "labhub-backups-cleanup", "spyglass")
    labels = job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
    assert _admits(policy, "lab-db", job["metadata"]["namespace"], labels, 3306)
    unlabelled = {k: v for k, v in labels.items() if k != "labhub.io/lab-db-client"}
    assert not _admits(policy, "lab-db", "spyglass", unlabelled, 3306)
    assert not _admits(policy, "lab-db", "xnat", labels, 3306), "only the cleanup's namespace is added"


LAB_DATABASE = {"enabled": True, "registry": "r.example"}
CLEANUP = {"enabled": True, "image": "spyglass:1.0"}


def _parse(cleanup: dict[str, Any], lab_database: dict[str, Any] = LAB_DATABASE) -> Any:
    backups = {"enabled": True, "registry": "r.example", "namespace": "spyglass", "cleanup": cleanup}
    return parse_stack_config({"labhub:backups": json.dumps(backups), "labhub:labDatabase": json.dumps(lab_database)})


def test_a_cleanup_that_names_its_own_database_is_left_alone() -> None:
    config = _parse({**CLEANUP, "databaseHost": "other-db.lab.svc:3306", "credentialsFrom": "their-secret"})
    assert (config.backups.cleanup.database_host, config.backups.cleanup.credentials_from, config.backups.cleanup.pod_labels) == (
        "other-db.lab.svc:3306", "their-secret", {},
    )  # fmt: skip
    assert config.lab_database.roles.cleanup_user is None, "no account is made for a cleanup that does not use it"


@pytest.mark.parametrize(
    ("cleanup", "lab_database", "line"),
    [
        pytest.param(
            CLEANUP, {**LAB_DATABASE, "roles": {"cleanupUser": None}},
            "labhub:backups.cleanup: cleanup is enabled but cleanup.databaseHost, cleanup.credentialsFrom is not set",
            id="no-cleanup-account-no-default",
        ),
        pytest.param(
            {**CLEANUP, "databaseHost": "lab-db.lab-db.svc.cluster.local:3306", "credentialsFrom": CLEANUP_SECRET}, {"enabled": False},
            "labhub config: backups.cleanup.credentialsFrom labhub-backups-cleanup-datajoint is the lab database's cleanup account, which this stack "
            "does not make: enable labDatabase with roles.cleanupUser set, or give cleanup its own databaseHost and credentialsFrom",
            id="the-generated-secret-without-its-account",
        ),
    ],
)  # fmt: skip
def test_a_cleanup_without_a_database_it_can_reach_is_one_config_error(cleanup: dict[str, Any], lab_database: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(cleanup, lab_database)
    assert str(caught.value).splitlines() == [line]


def test_the_default_cleanup_command_never_deletes_raw_nwb_files(stack_runs: dict[str, StackRun], tmp_path) -> None:
    """Prod's rendered command, run as written against a recording stand-in for `spyglass.common`.

    Spyglass's own maintenance_scripts/cleanup.py calls `Nwbfile().cleanup()`
    with its default `delete_files=False`: unused raw-file entries go, the raw
    NWB files (the lab's irreplaceable data) stay. The default must do the same.
    """
    job = _one(stack_runs["prod"], CRON_JOB, "labhub-backups-cleanup", "spyglass")
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = container.get("command", []) + container.get("args", [])
    assert command[0] == "python"
    stand_in = tmp_path / "spyglass"
    stand_in.mkdir()
    (stand_in / "__init__.py").write_text("")
    (stand_in / "common.py").write_text(
        "import json, os\n"
        "def _record(table, kwargs):\n"
        "    with open(os.environ['CALLS'], 'a') as out:\n"
        "        out.write(json.dumps([table, kwargs]) + '\\n')\n"
        "class Nwbfile:\n"
        "    def cleanup(self, delete_files=False):\n"
        "        _record('Nwbfile', {'delete_files': delete_files})\n"
        "class AnalysisNwbfile:\n"
        "    def cleanup(self, **kwargs):\n"
        "        _record('AnalysisNwbfile', kwargs)\n"
    )
    calls = tmp_path / "calls.jsonl"
    subprocess.run([sys.executable, *command[1:]], env={"PYTHONPATH": str(tmp_path), "CALLS": str(calls)}, check=True, timeout=60)
    recorded = [json.loads(line) for line in calls.read_text().splitlines()]
    assert recorded == [["Nwbfile", {"delete_files": False}], ["AnalysisNwbfile", {}]]
