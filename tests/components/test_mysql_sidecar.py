"""The MySQL sidecar: loopback-only, sized to fit its limit, and no password outside a Secret.

Invariants: mysqld is configured to listen on 127.0.0.1 only; the buffer pool
plus the memory mysqld needs beside it fits the container limit; the root
password reaches containers only through `secretKeyRef` and mounted Secret
files (never a literal, never a command line); every string survives
KubeSpawner's str.format expansion unchanged except the home-volume template;
and each container is a valid Kubernetes Container.
"""

from __future__ import annotations

import configparser
import json
import secrets
from typing import Any

import kubernetes_validate
import pytest
from kubespawner_expansion import expand

from components import mysql_sidecar as sc
from components.models.spyglass_hub import SpyglassHubConfig
from components.mysql_memory import plan_mysql_memory
from components.mysql_sidecar import client_option_file, mysqld_config, root_password_init_sql

MiB = 2**20
# Generated per run: a fixture must never look like a real credential someone could reuse.
PASSWORD = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def _hub(**mysql: Any) -> SpyglassHubConfig:
    """A hub config section as a stack file writes it, with `mysql` keys (camelCase) overridden."""
    return SpyglassHubConfig.model_validate({"mysql": mysql})


PERSISTENT = {"persistence": {"enabled": True}}



def validate_container(container: dict[str, Any], volumes: list[dict[str, Any]]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-test"}, "spec": {"containers": [container], "volumes": volumes}}
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


# --- option files ----------------------------------------------------------------


def test_server_config_listens_on_loopback_only_and_carries_the_sizing() -> None:
    parser = configparser.ConfigParser(allow_no_value=True, inline_comment_prefixes=("#",))
    parser.read_string(mysqld_config(plan_mysql_memory("1Gi")))
    assert parser.sections() == ["mysqld"]
    assert dict(parser["mysqld"]) == {
        "bind-address": "127.0.0.1",
        "port": "3306",
        "skip-name-resolve": None,
        "loose-mysqlx": "OFF",
        "loose-mysqlx-bind-address": "127.0.0.1",
        "datadir": "/var/lib/mysql",
        "socket": "/var/run/mysqld/mysqld.sock",
        "skip-log-bin": None,
        "performance_schema": "OFF",
        "innodb_buffer_pool_chunk_size": str(128 * MiB),
        "loose-innodb_buffer_pool_instances": "1",
        "innodb_buffer_pool_size": str(512 * MiB),
        "innodb_log_buffer_size": str(16 * MiB),
        "innodb_log_file_size": str(128 * MiB),
        "max_connections": "108",
        "max_allowed_packet": str(128 * MiB),
    }


def test_client_option_file_lets_mysql_connect_as_root_over_tcp() -> None:
    assert client_option_file(PASSWORD) == (
        "# labhub: your own MySQL server in this pod. `mysql` and `mysqladmin` read this.\n"
        "[client]\n"
        "user = root\n"
        f'password = "{PASSWORD}"\n'
        "host = 127.0.0.1\n"
        "port = 3306\n"
    )


def test_init_file_resets_every_root_account_one_statement_per_line() -> None:
    assert root_password_init_sql(PASSWORD) == (
        f"ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY '{PASSWORD}';\n"
        f"ALTER USER IF EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}';\n"
        f"ALTER USER IF EXISTS 'root'@'%' IDENTIFIED BY '{PASSWORD}';\n"
        "FLUSH PRIVILEGES;\n"
    )


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("short", id="too-short"),
        pytest.param("abcdefghijklmnop'; DROP USER root; --", id="sql-quote"),
        pytest.param('abcdefghijklmnop"q', id="option-file-quote"),
        pytest.param("abcdefghijklmnop\\q", id="backslash"),
        pytest.param("abcdefghijklmnop\nq", id="newline"),
        pytest.param("abcdefghijklmnop#q", id="comment-char"),
    ],
)
@pytest.mark.parametrize("render", [client_option_file, root_password_init_sql], ids=["client.cnf", "init.sql"])
def test_passwords_that_files_cannot_carry_verbatim_are_refused_without_echoing_them(render: Any, password: str) -> None:
    with pytest.raises(ValueError) as error:
        render(password)
    assert password not in str(error.value)


class FakeOutput:
    """Stands in for pulumi Output[str]: only `.apply` is used."""

    def __init__(self, value: str) -> None:
        self.value = value

    def apply(self, f: Any) -> FakeOutput:
        return FakeOutput(f(self.value))


def test_secret_data_derives_both_files_from_a_plain_password() -> None:
    assert sc.secret_data(PASSWORD) == {
        "root-password": PASSWORD,
        "client.cnf": client_option_file(PASSWORD),
        "init.sql": root_password_init_sql(PASSWORD),
    }


def test_secret_data_derives_the_files_through_apply_for_an_output() -> None:
    data = sc.secret_data(FakeOutput(PASSWORD))
    assert {k: v.value for k, v in data.items()} == sc.secret_data(PASSWORD)


# --- containers --------------------------------------------------------------------


def test_sidecar_container_is_exactly_the_hardened_mysql_container() -> None:
    container = sc.mysql_sidecar_container(_hub(), {"name": "labhub-mysql-data"})
    assert container == {
        "name": "mysql",
        "image": "datajoint/mysql:8.0",
        "command": ["/bin/sh", "-c", sc.WRAPPER_SCRIPT, "labhub-mysql"],
        "args": ["mysqld", "--defaults-extra-file=/etc/labhub/mysqld/labhub.cnf"],
        "env": [
            {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "spyglass-mysql", "key": "root-password"}}},
            {"name": "MYSQL_ROOT_HOST", "value": "127.0.0.1"},
        ],
        "resources": {"limits": {"memory": "4Gi", "cpu": "1"}, "requests": {"memory": "64Mi", "cpu": "0.01"}},
        "volumeMounts": [
            {"name": "labhub-mysql-data", "mountPath": "/var/lib/mysql"},
            {"name": "labhub-mysql-config", "mountPath": "/etc/labhub/mysqld", "readOnly": True},
            {"name": "labhub-mysql-secret", "mountPath": "/etc/labhub/mysql-secret", "readOnly": True},
        ],
        "startupProbe": {
            "exec": {"command": ["mysqladmin", "--defaults-extra-file=/etc/labhub/mysql-secret/client.cnf", "--protocol=tcp", "ping"]},
            "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 120,
        },
        "readinessProbe": {
            "exec": {"command": ["mysql", "--defaults-extra-file=/etc/labhub/mysql-secret/client.cnf", "--protocol=tcp", "--execute=SELECT 1"]},
            "periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 3,
        },
        "securityContext": {
            "runAsUser": 999, "runAsGroup": 999, "runAsNonRoot": True, "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


def test_no_password_or_password_flag_appears_in_the_sidecar() -> None:
    text = json.dumps(sc.mysql_sidecar_container(_hub(), {"name": "d"}))
    assert "--password" not in text and " -p" not in text
    env = sc.mysql_sidecar_container(_hub(), {"name": "d"})["env"]
    assert [e["name"] for e in env if "value" in e] == ["MYSQL_ROOT_HOST"]


def test_no_probe_dials_the_pod_ip() -> None:
    container = sc.mysql_sidecar_container(_hub(), {"name": "d"})
    probes = [container[k] for k in ("startupProbe", "readinessProbe")]
    assert all(set(p) >= {"exec"} and not {"tcpSocket", "httpGet", "grpc"} & set(p) for p in probes)
    assert "ports" not in container, "nothing listens on the pod IP, so no port is declared"


def test_persistent_data_mount_keeps_the_home_volume_template_for_kubespawner() -> None:
    container = sc.mysql_sidecar_container(_hub(), {"name": "volume-{user_server}", "subPath": ".labhub/mysql"})
    assert container["volumeMounts"][0] == {"name": "volume-{user_server}", "subPath": ".labhub/mysql", "mountPath": "/var/lib/mysql"}
    assert expand(container)["volumeMounts"][0]["name"] == "volume-test-40lab"


def test_init_container_chowns_the_data_dir_with_only_chown_and_dac_override() -> None:
    assert sc.mysql_data_init_container(_hub(**PERSISTENT), "volume-{user_server}") == {
        "name": "mysql-data-owner",
        "image": "busybox:1.36.1",
        "command": ["sh", "-c", "mkdir -p /mnt/home/.labhub/mysql && chown -R 999:999 /mnt/home/.labhub/mysql"],
        "resources": {"limits": {"memory": "32Mi", "cpu": "0.2"}, "requests": {"memory": "8Mi", "cpu": "0.01"}},
        "volumeMounts": [{"name": "volume-{user_server}", "mountPath": "/mnt/home"}],
        "securityContext": {
            "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda h: sc.mysql_sidecar_container(h, {"name": "volume-{user_server}", "subPath": h.mysql.persistence.data_sub_path}), id="sidecar"),
        pytest.param(lambda s: sc.mysql_data_init_container(s, "volume-{user_server}"), id="init-container"),
    ],
)
def test_literal_braces_survive_kubespawner_expansion(build: Any) -> None:
    """A brace in a setting (here the data path) is escaped, so str.format gives it back verbatim."""
    hub = _hub(persistence={"enabled": True, "dataSubPath": ".labhub/{mysql}"})
    expanded = json.dumps(expand(build(hub)))
    assert ".labhub/{mysql}" in expanded and "volume-test-40lab" in expanded


def test_escape_kubespawner_template_round_trips_through_str_format() -> None:
    value = {"a": ["x{y}", "{{z}}", 3], "b": {"c": "}{"}}
    assert expand(sc.escape_kubespawner_template(value)) == value


@pytest.mark.parametrize("persistence", [False, True], ids=["ephemeral", "persistent"])
def test_containers_validate_as_kubernetes_containers(persistence: bool) -> None:
    settings = _hub(persistence={"enabled": persistence})
    volumes = [{"name": "volume-test-40lab", "persistentVolumeClaim": {"claimName": "claim-test-40lab"}}, {"name": "d", "emptyDir": {}}]
    mount = {"name": "volume-{user_server}", "subPath": ".labhub/mysql"} if persistence else {"name": "d"}
    validate_container(expand(sc.mysql_sidecar_container(settings, mount)), volumes)
    validate_container(expand(sc.mysql_data_init_container(settings, "volume-{user_server}")), volumes)


def test_kubernetes_validate_catches_a_broken_container() -> None:
    """The validator above is not a no-op: a misspelled field fails in strict mode."""
    container = {**sc.mysql_sidecar_container(_hub(), {"name": "d"}), "volumeMount": []}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_container(container, [{"name": "d", "emptyDir": {}}])


