"""LabDatabase: the lab MySQL and its roles Job, as they reach the engine for the prod stack and under mocks.

Invariants: the Job applies exactly the SQL `labhub db roles-sql --stack`
prints (the ConfigMap it mounts holds that text); every account has its own
Secret with a generated password, which reaches the Job only as a file named
after the account, never an argument or env value; root's password reaches
mysqld only by secretKeyRef; the server runs utf8mb4 with 512M packets and
roles active at login, with probes and a PVC; a change of users makes a new
Job and no change keeps it; only the hub's user pods and labelled clients
reach mysqld, and the hub's user pods reach nothing else new.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type, the_one

from components.config import ConfigError, StackConfig, parse_stack_config
from components.lab_database import LabDatabase, LabDatabaseArgs
from components.models.lab_database import LabDatabaseConfig
from components.stack_secrets import StackSecrets, StackSecretsArgs
from labhub.cli import main
from labhub.engine import PROJECT_DIR, StackRun

STATEFULSET = "kubernetes:apps/v1:StatefulSet"
JOB = "kubernetes:batch/v1:Job"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
CHART = "kubernetes:helm.sh/v4:Chart"


def _by_k8s_name(run: StackRun, type_: str) -> dict[str, Any]:
    return {r.inputs["metadata"]["name"]: r for r in of_type(run, type_)}


def _pod(run: StackRun, type_: str) -> dict[str, Any]:
    (resource,) = [r for r in of_type(run, type_) if r.inputs["metadata"]["namespace"] == "lab-db"]
    return resource.inputs["spec"]["template"]["spec"]


def test_the_job_applies_exactly_the_sql_roles_sql_prints_for_the_stack(stack_runs: dict[str, StackRun], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "roles-sql", "--stack", "prod"]) == 0
    printed = capsys.readouterr().out
    roles_map = _by_k8s_name(stack_runs["prod"], CONFIG_MAP)["lab-db-roles"]
    assert roles_map.inputs["data"] == {"roles.sql": printed}
    pod = _pod(stack_runs["prod"], JOB)
    (container,) = pod["containers"]
    assert container["args"][:3] == ["apply-roles", "--sql", "/etc/labhub/roles/roles.sql"]
    assert {"name": "roles", "configMap": {"name": "lab-db-roles"}} in pod["volumes"]


def test_each_account_has_its_own_secret_and_reaches_the_job_only_as_a_file_named_after_it(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    secrets = {name: r for name, r in _by_k8s_name(run, SECRET).items() if name.startswith("lab-db-")}
    assert sorted(secrets) == [
        "lab-db-backup", "lab-db-cleanup", "lab-db-root", "lab-db-user-alice", "lab-db-user-bob", "lab-db-user-lab-admin", "lab-db-user-reviewer",
    ]  # fmt: skip
    passwords = []
    for name, resource in secrets.items():
        assert rpc.is_rpc_secret(resource.inputs["stringData"]), f"{resource.urn}: the password must be a Pulumi secret"
        data = rpc.unwrap_rpc_secret(resource.inputs["stringData"])
        keys = {"lab-db-root": ["password", "init.sql"], "lab-db-backup": ["password", "my.cnf"]}.get(name, ["password"])
        assert list(data) == keys and len(data["password"]) >= 24, name
        if name == "lab-db-backup":  # the dump CronJob's option file, the same account and password
            assert data["my.cnf"] == f"[client]\nuser=labhub_backup\npassword={data['password']}\n"
        passwords.append(data["password"])
    assert len(set(passwords)) == len(passwords), "every account gets its own password"
    pod = _pod(run, JOB)
    projected = next(v for v in pod["volumes"] if v["name"] == "passwords")["projected"]
    assert {s["secret"]["name"]: s["secret"]["items"] for s in projected["sources"]} == {
        "lab-db-user-alice": [{"key": "password", "path": "alice"}],
        "lab-db-user-bob": [{"key": "password", "path": "bob"}],
        "lab-db-user-reviewer": [{"key": "password", "path": "reviewer"}],
        "lab-db-user-lab-admin": [{"key": "password", "path": "lab_admin"}],
        "lab-db-cleanup": [{"key": "password", "path": "labhub_cleanup"}],
        "lab-db-backup": [{"key": "password", "path": "labhub_backup"}],
    }
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsUser"], "the non-root Job must be able to read its 0400 files"
    (container,) = pod["containers"]
    assert "env" not in container and not [a for a in container["args"] if any(p in a for p in passwords)]


def test_mysqld_takes_roots_password_by_reference_and_runs_the_labs_settings(stack_runs: dict[str, StackRun]) -> None:
    run = stack_runs["prod"]
    statefulset = _by_k8s_name(run, STATEFULSET)["lab-db"].inputs["spec"]
    (container,) = statefulset["template"]["spec"]["containers"]
    assert container["image"] == "mysql:8.0.44"
    assert container["env"] == [{"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "lab-db-root", "key": "password"}}}]
    assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    assert statefulset["volumeClaimTemplates"][0]["spec"]["resources"] == {"requests": {"storage": "200Gi"}}
    assert statefulset["volumeClaimTemplates"][0]["spec"]["storageClassName"] == "standard-rwo"
    cnf = _by_k8s_name(run, CONFIG_MAP)["lab-db-config"].inputs["data"]["labhub.cnf"]
    for line in ("character-set-server = utf8mb4", "max_allowed_packet = 512M", "activate_all_roles_on_login = ON", "partial_revokes = OFF"):
        assert line in cnf.splitlines(), line


def _run(run_component, users: list[dict[str, str]], rotation: dict[str, str] | None = None) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """(the roles Job's name, the server pod's root-rotation annotation) for a stack with these users and keepers."""
    config = LabDatabaseConfig.model_validate({"enabled": True, "toolsImage": "ghcr.io/lab/labhub-db:1.0.0", "roles": {"users": users}})

    def build(built: dict[str, Any]) -> None:
        stack = StackConfig.model_validate({"labDatabase": config, "spyglassHub": {"enabled": False}, "secrets": {"rotation": rotation or {}}})
        secrets = StackSecrets("secrets", StackSecretsArgs(config=stack, lab_database_namespace="lab-db")).lab_database
        LabDatabase("lab-db", LabDatabaseArgs(config=config, namespace="lab-db", secrets=secrets, project_dir=PROJECT_DIR))

    result, _ = run_component(build)
    (job,) = of_type(result, JOB)
    assert job.inputs["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/lab/labhub-db:1.0.0"
    (statefulset,) = of_type(result, STATEFULSET)
    return job.inputs["metadata"]["name"], statefulset.inputs["spec"]["template"]["metadata"]["annotations"]["labhub.io/root-password-rotation"]


ALICE = [{"name": "alice", "role": "user"}]


@pytest.mark.parametrize(
    ("users", "rotation"),
    [
        pytest.param([{"name": "alice", "role": "guest"}], None, id="a-role-changes"),
        pytest.param([*ALICE, {"name": "bob", "role": "user"}], None, id="a-user-is-added"),
        pytest.param(ALICE, {"labDatabaseUserPasswords": "2026-12-03"}, id="account-passwords-rotated"),
    ],
)
def test_a_change_the_server_must_see_makes_a_new_job_and_no_change_keeps_it(run_component, users, rotation) -> None:  # type: ignore[no-untyped-def]
    first, _ = _run(run_component, ALICE)
    assert _run(run_component, ALICE)[0] == first
    assert _run(run_component, users, rotation)[0] != first


def test_rotating_roots_password_restarts_the_server_which_then_applies_it_from_the_init_file(run_component, stack_runs) -> None:  # type: ignore[no-untyped-def]
    assert _run(run_component, ALICE)[1] == "initial"
    assert _run(run_component, ALICE, {"labDatabaseRootPassword": "2026-12-03"})[1] == "2026-12-03"
    pod = _pod(stack_runs["prod"], STATEFULSET)
    (container,) = pod["containers"]
    assert container["command"][:2] == ["/bin/sh", "-c"] and "--init-file=/etc/labhub/mysql-secret/init.sql" in container["command"][2]
    root = _by_k8s_name(stack_runs["prod"], SECRET)["lab-db-root"]
    init_sql = rpc.unwrap_rpc_secret(root.inputs["stringData"])["init.sql"]
    password = rpc.unwrap_rpc_secret(root.inputs["stringData"])["password"]
    assert f"ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY '{password}';" in init_sql.splitlines()


def test_only_the_hubs_user_pods_and_labelled_clients_reach_mysqld(stack_runs: dict[str, StackRun]) -> None:
    policy = _by_k8s_name(stack_runs["prod"], NETWORK_POLICY)["lab-db"].inputs["spec"]
    assert policy == {
        "podSelector": {"matchLabels": {"app.kubernetes.io/name": "lab-db"}},
        "policyTypes": ["Ingress"],
        "ingress": [
            {
                "from": [
                    {"podSelector": {"matchLabels": {"labhub.io/lab-db-client": "true"}}},
                    # the Backups cleanup CronJob's pod (prod runs it in spyglass, next to its data claim)
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "spyglass"}},
                        "podSelector": {"matchLabels": {"labhub.io/lab-db-client": "true"}},
                    },
                    {
                        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "spyglass"}},
                        "podSelector": {"matchLabels": {"component": "singleuser-server"}},
                    },
                ],
                "ports": [{"protocol": "TCP", "port": 3306}],
            }
        ],
    }
    (job,) = [r for r in of_type(stack_runs["prod"], JOB) if r.inputs["metadata"]["namespace"] == "lab-db"]
    job_labels = job.inputs["spec"]["template"]["metadata"]["labels"]
    assert job_labels["labhub.io/lab-db-client"] == "true"


def test_labelled_clients_of_the_configured_namespaces_are_admitted_and_no_one_else() -> None:
    from components.lab_database import network_policy_spec

    config = LabDatabaseConfig.model_validate({"clientNamespaces": ["backups"]})
    (rule,) = network_policy_spec(config, [])["ingress"]
    assert rule["from"] == [
        {"podSelector": {"matchLabels": {"labhub.io/lab-db-client": "true"}}},
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "backups"}},
            "podSelector": {"matchLabels": {"labhub.io/lab-db-client": "true"}},
        },
    ]


def _egress(run: StackRun) -> list[dict[str, Any]]:
    chart = the_one(run, CHART, "spyglass-chart")
    values = rpc.unwrap_rpc_secret(chart.inputs["values"])
    return values["singleuser"]["networkPolicy"]["egress"]


def test_user_pods_may_reach_the_lab_database_only_when_it_is_on(stack_runs: dict[str, StackRun]) -> None:
    lab_rule = {
        "to": [
            {
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "lab-db"}},
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": "lab-db"}},
            }
        ],
        "ports": [{"protocol": "TCP", "port": 3306}],
    }
    assert _egress(stack_runs["prod"]) == [lab_rule]
    assert lab_rule not in _egress(stack_runs["dev"])


@pytest.mark.parametrize(
    ("section", "expected_line"),
    [
        pytest.param(
            {"bufferPool": "7Gi"},
            "labhub:labDatabase: bufferPool '7Gi' exceeds 3/4 of resources.memoryLimit '8Gi': mysqld would be OOM-killed",
            id="buffer-pool-too-big",
        ),
        pytest.param(
            {"enabled": True},
            "labhub:labDatabase: needs either toolsImage (prebuilt) or registry (to push the built roles-tool image)",
            id="no-image-source",
        ),
        pytest.param(
            {"roles": {"users": [{"name": "x'; DROP USER root; --", "role": "user"}]}},
            'labhub:labDatabase.roles.users.0.name: "x\'; DROP USER root; --" is not allowed: user name "x\'; DROP USER root; --" is not allowed: '
            "use lower-case letters, digits and '_', starting with a letter, at most 32 characters",
            id="sql-in-a-user-name",
        ),
    ],
)
def test_a_bad_lab_database_section_is_one_line_naming_the_key(section: dict[str, Any], expected_line: str) -> None:
    import json

    with pytest.raises(ConfigError) as error:
        parse_stack_config({"labhub:labDatabase": json.dumps(section)})
    assert str(error.value) == expected_line
