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
import re
import secrets
from typing import Any

import kubernetes_validate
import pytest

from kubespawner_expansion import expand

from components import mysql_sidecar as sc
from components.mysql_sidecar import (
    MySQLSidecarSettings,
    client_option_file,
    mysqld_config,
    parse_cpu_quantity,
    parse_memory_quantity,
    plan_mysql_memory,
    root_password_init_sql,
)

MiB, GiB = 2**20, 2**30
# Generated per run: a fixture must never look like a real credential someone could reuse.
PASSWORD = secrets.token_urlsafe(18).replace("-", "x").replace("_", "y")


def _settings(**overrides: Any) -> MySQLSidecarSettings:
    return MySQLSidecarSettings(**{"secret_name": "spyglass-mysql", "config_map_name": "spyglass-mysql-config", **overrides})



def validate_container(container: dict[str, Any], volumes: list[dict[str, Any]]) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-test"}, "spec": {"containers": [container], "volumes": volumes}}
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)


# --- quantities --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("4Gi", 4 * GiB, id="Gi"),
        pytest.param("64Mi", 64 * MiB, id="Mi"),
        pytest.param("512Ki", 512 * 1024, id="Ki"),
        pytest.param("1G", 10**9, id="G"),
        pytest.param("3.4G", 3_400_000_000, id="decimal-G"),
        pytest.param("100M", 10**8, id="M"),
        pytest.param("1k", 1000, id="k"),
        pytest.param("1048576", MiB, id="plain-bytes"),
        pytest.param(268435456, 256 * MiB, id="int-bytes"),
        pytest.param("1.5Gi", 3 * GiB // 2, id="fractional-Gi"),
    ],
)
def test_memory_quantities_parse_to_bytes(text: str | int, expected: int) -> None:
    assert parse_memory_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("4GB", id="GB-is-not-kubernetes"),
        pytest.param("1K", id="upper-K-is-not-kubernetes"),
        pytest.param("4 Gi", id="inner-space"),
        pytest.param("", id="empty"),
        pytest.param("-1Gi", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param("500m", id="milli-bytes"),
        pytest.param("lots", id="word"),
    ],
)
def test_bad_memory_quantities_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_memory_quantity(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0.01", 0.01, id="decimal"),
        pytest.param("10m", 0.01, id="millicores"),
        pytest.param(1, 1, id="int"),
        pytest.param(1.0, 1, id="float"),
        pytest.param("1.5", 1.5, id="cores"),
        pytest.param("1m", 0.001, id="smallest"),
    ],
)
def test_cpu_quantities_parse_to_cores(text: str | int | float, expected: float) -> None:
    assert float(parse_cpu_quantity(text)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1Gi", id="memory-suffix"),
        pytest.param("0.0001", id="below-1m"),
        pytest.param("m", id="no-number"),
        pytest.param("-1", id="negative"),
        pytest.param("one", id="word"),
    ],
)
def test_bad_cpu_quantities_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_cpu_quantity(text)


# --- memory rule ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "pool", "connections", "packet"),
    [
        pytest.param("256Mi", 128 * MiB, 12, 32 * MiB, id="256Mi-smallest"),
        pytest.param("1000Mi", 384 * MiB, 134, 154 * MiB, id="1000Mi-rounds-down-to-chunk"),
        pytest.param("1Gi", 512 * MiB, 108, 128 * MiB, id="1Gi"),
        pytest.param("3Gi", 1536 * MiB, 151, 384 * MiB, id="3Gi"),
        pytest.param("4Gi", 2 * GiB, 151, 512 * MiB, id="4Gi-default"),
        pytest.param("16Gi", 8 * GiB, 151, 512 * MiB, id="16Gi-capped"),
    ],
)
def test_buffer_pool_and_connections_fit_the_memory_limit(limit: str, pool: int, connections: int, packet: int) -> None:
    sizing = plan_mysql_memory(limit)
    assert (sizing.buffer_pool_bytes, sizing.max_connections, sizing.max_allowed_packet_bytes) == (pool, connections, packet)
    assert sizing.buffer_pool_bytes % (128 * MiB) == 0, "MySQL rounds a pool that is not a chunk multiple up"
    assert sizing.log_file_bytes == pool // 4
    rest = parse_memory_quantity(limit) - sizing.buffer_pool_bytes
    beside_pool = sc.BASE_OVERHEAD + sc.LOG_BUFFER + sizing.max_connections * sc.PER_CONNECTION
    assert beside_pool <= rest, "pool + mysqld + connections must stay inside the limit"


def test_the_images_4g_pool_is_halved_inside_the_2i2c_4gi_limit() -> None:
    assert plan_mysql_memory("4Gi").buffer_pool_bytes == 2 * GiB  # datajoint/mysql's my.cnf asks for 4G


@pytest.mark.parametrize(
    ("limit", "fraction", "message"),
    [
        pytest.param("255Mi", 0.5, "too small", id="below-256Mi"),
        pytest.param("128Mi", 0.5, "too small", id="128Mi"),
        pytest.param("4Gi", 0.0, "fraction", id="fraction-zero"),
        pytest.param("4Gi", 0.8, "fraction", id="fraction-too-big"),
    ],
)
def test_impossible_sizes_are_refused(limit: str, fraction: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_mysql_memory(limit, fraction)


def test_a_larger_fraction_gives_a_larger_pool() -> None:
    assert plan_mysql_memory("4Gi", 0.75).buffer_pool_bytes == 3 * GiB


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
    container = sc.mysql_sidecar_container(_settings(), {"name": "labhub-mysql-data"})
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


def test_wrapper_adds_the_init_file_only_for_an_existing_data_dir_and_execs_the_official_entrypoint() -> None:
    assert sc.WRAPPER_SCRIPT == (
        "set -eu\n"
        "if [ -d /var/lib/mysql/mysql ]; then\n"
        '  set -- "$@" --init-file=/etc/labhub/mysql-secret/init.sql\n'
        "fi\n"
        'exec /usr/local/bin/docker-entrypoint.sh "$@"\n'
    )


def test_no_password_or_password_flag_appears_in_the_sidecar() -> None:
    text = json.dumps(sc.mysql_sidecar_container(_settings(), {"name": "d"}))
    assert "--password" not in text and " -p" not in text
    env = sc.mysql_sidecar_container(_settings(), {"name": "d"})["env"]
    assert [e["name"] for e in env if "value" in e] == ["MYSQL_ROOT_HOST"]


def test_no_probe_dials_the_pod_ip() -> None:
    container = sc.mysql_sidecar_container(_settings(), {"name": "d"})
    probes = [container[k] for k in ("startupProbe", "readinessProbe")]
    assert all(set(p) >= {"exec"} and not {"tcpSocket", "httpGet", "grpc"} & set(p) for p in probes)
    assert "ports" not in container, "nothing listens on the pod IP, so no port is declared"


def test_persistent_data_mount_keeps_the_home_volume_template_for_kubespawner() -> None:
    container = sc.mysql_sidecar_container(_settings(), {"name": "volume-{user_server}", "subPath": ".labhub/mysql"})
    assert container["volumeMounts"][0] == {"name": "volume-{user_server}", "subPath": ".labhub/mysql", "mountPath": "/var/lib/mysql"}
    assert expand(container)["volumeMounts"][0]["name"] == "volume-test-40lab"


def test_init_container_chowns_the_data_dir_with_only_cap_chown() -> None:
    assert sc.mysql_data_init_container(_settings(persistence=True), "volume-{user_server}") == {
        "name": "mysql-data-owner",
        "image": "busybox:1.36.1",
        "command": ["sh", "-c", "mkdir -p /mnt/home/.labhub/mysql && chown -R 999:999 /mnt/home/.labhub/mysql"],
        "resources": {"limits": {"memory": "32Mi", "cpu": "0.2"}, "requests": {"memory": "8Mi", "cpu": "0.01"}},
        "volumeMounts": [{"name": "volume-{user_server}", "mountPath": "/mnt/home"}],
        "securityContext": {
            "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda s: sc.mysql_sidecar_container(s, {"name": "volume-{user_server}", "subPath": s.data_subpath}), id="sidecar"),
        pytest.param(lambda s: sc.mysql_data_init_container(s, "volume-{user_server}"), id="init-container"),
    ],
)
def test_literal_braces_survive_kubespawner_expansion(build: Any) -> None:
    """A brace in a setting (here the data path) is escaped, so str.format gives it back verbatim."""
    settings = _settings(persistence=True, data_subpath=".labhub/{mysql}")
    expanded = json.dumps(expand(build(settings)))
    assert ".labhub/{mysql}" in expanded and "volume-test-40lab" in expanded


def test_escape_kubespawner_template_round_trips_through_str_format() -> None:
    value = {"a": ["x{y}", "{{z}}", 3], "b": {"c": "}{"}}
    assert expand(sc.escape_kubespawner_template(value)) == value


@pytest.mark.parametrize("persistence", [False, True], ids=["ephemeral", "persistent"])
def test_containers_validate_as_kubernetes_containers(persistence: bool) -> None:
    settings = _settings(persistence=persistence)
    volumes = [{"name": "volume-test-40lab", "persistentVolumeClaim": {"claimName": "claim-test-40lab"}}, {"name": "d", "emptyDir": {}}]
    mount = {"name": "volume-{user_server}", "subPath": ".labhub/mysql"} if persistence else {"name": "d"}
    validate_container(expand(sc.mysql_sidecar_container(settings, mount)), volumes)
    validate_container(expand(sc.mysql_data_init_container(settings, "volume-{user_server}")), volumes)


def test_kubernetes_validate_catches_a_broken_container() -> None:
    """The validator above is not a no-op: a misspelled field fails in strict mode."""
    container = {**sc.mysql_sidecar_container(_settings(), {"name": "d"}), "volumeMount": []}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_container(container, [{"name": "d", "emptyDir": {}}])


# --- settings ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        pytest.param({"image": "datajoint/mysql:latest"}, "image", id="latest"),
        pytest.param({"image": "datajoint/mysql"}, "image", id="untagged"),
        pytest.param({"init_image": "busybox"}, "init_image", id="untagged-init"),
        pytest.param({"memory_limit": "4GB"}, "memory_limit", id="bad-quantity"),
        pytest.param({"memory_limit": "200Mi"}, "too small", id="limit-too-small"),
        pytest.param({"memory_request": "8Gi"}, "exceeds", id="request-over-limit"),
        pytest.param({"cpu_request": "2"}, "exceeds", id="cpu-request-over-limit"),
        pytest.param({"data_subpath": "/abs"}, "data_subpath", id="absolute-subpath"),
        pytest.param({"data_subpath": "../other"}, "data_subpath", id="escaping-subpath"),
        pytest.param({"buffer_pool_fraction": 0.9}, "buffer_pool_fraction", id="fraction"),
        pytest.param({"persistance": True}, "persistance", id="typo"),
    ],
)
def test_bad_settings_fail_naming_the_field(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        _settings(**overrides)


def test_pinned_images_are_accepted() -> None:
    for ref in ("datajoint/mysql:8.0", "mysql:8.0.39@sha256:" + "a" * 64, "registry:5000/mysql:8.0", "mysql@sha256:" + "b" * 64):
        assert sc.require_pinned_image(ref) == ref
