"""The per-user MySQL sidecar of the Spyglass hub, as plain data (no Pulumi).

Every user pod gets a MySQL 8.0 container next to the notebook, reachable at
127.0.0.1:3306 through the shared pod network namespace (as at 2i2c's HHMI
hub, reference/anchors.md section 1). What we do better, and why:

* Loopback only. mysqld gets ``bind-address=127.0.0.1`` (and the X protocol
  is switched off): 2i2c's sidecar listens on the pod IP, so any pod that can
  route to it reaches every user's database. Nothing listens on the pod IP,
  so the container declares no port and probes are ``exec`` (a kubelet
  ``tcpSocket`` probe dials the pod IP and would always fail).
* Options as a file that wins. Our my.cnf is loaded with
  ``mysqld --defaults-extra-file=...``: MySQL reads that file after the global
  files (the image's /etc/mysql/my.cnf and whatever it ``!includedir``s), so
  our values override the image's whatever its layout. The datajoint image's
  my.cnf does end with ``!includedir /etc/mysql/conf.d/`` and its entrypoint
  passes ``"$@"`` to the official ``docker-entrypoint.sh``, which keeps
  ``mysqld``'s first option first when it adds its own (verified in
  datajoint/mysql-docker ``dist/debian`` and docker-library/mysql 8.0).
* Memory sized together (`plan_mysql_memory`): the image asks for a 4G
  buffer pool inside 2i2c's 4Gi limit, an OOM kill waiting to happen.
* Secrets by reference only: MYSQL_ROOT_PASSWORD comes from a ``secretKeyRef``;
  probes read a client option file mounted from the Secret, so no password is
  ever on a command line.
* Rotation. MYSQL_ROOT_PASSWORD is only read when a data directory is first
  initialised. On every later start the wrapper adds
  ``--init-file=<init.sql from the Secret>``, which re-sets root's password to
  the Secret's. Not on the first start: the entrypoint initialises with
  ``--initialize-insecure`` and then logs in with an empty password, which an
  init file run at that point would break.
* Non-root: mysqld runs as uid 999 (``mysql`` in the official image); the
  official entrypoint skips its chown/gosu steps when not root, and needs only
  a writable data dir and /var/run/mysqld (mode 1777 in the image). We call
  that entrypoint directly instead of datajoint's wrapper, which backgrounds
  mysqld and ``tail -f``s, so a dead mysqld would leave a "running" container.
"""

from __future__ import annotations

import re
from typing import Any

from components.models.spyglass_hub import SpyglassHubConfig
from components.mysql_memory import CHUNK, MiB, MySQLSizing

CONTAINER_NAME = "mysql"
MYSQL_UID = 999  # `mysql` in the official image (and so in datajoint/mysql)
PORT = 3306
LOOPBACK = "127.0.0.1"
DATADIR = "/var/lib/mysql"
SOCKET = "/var/run/mysqld/mysqld.sock"

# Keys of the Secret `SpyglassHubConfig.mysql_secret_name` (see `secret_data`).
ROOT_PASSWORD_KEY = "root-password"
CLIENT_CNF_KEY = "client.cnf"
INIT_SQL_KEY = "init.sql"
# Key of the ConfigMap `SpyglassHubConfig.mysql_config_map_name` (see `mysqld_config`).
SERVER_CNF_KEY = "labhub.cnf"

CONFIG_VOLUME = "labhub-mysql-config"
SECRET_VOLUME = "labhub-mysql-secret"
DATA_VOLUME = "labhub-mysql-data"
SERVER_CNF_DIR = "/etc/labhub/mysqld"
SECRET_DIR = "/etc/labhub/mysql-secret"
SERVER_CNF_PATH = f"{SERVER_CNF_DIR}/{SERVER_CNF_KEY}"
CLIENT_CNF_PATH = f"{SECRET_DIR}/{CLIENT_CNF_KEY}"
INIT_SQL_PATH = f"{SECRET_DIR}/{INIT_SQL_KEY}"
ENTRYPOINT = "/usr/local/bin/docker-entrypoint.sh"  # the official mysql image's entrypoint
HOME_MOUNT = "/mnt/home"  # where the init container mounts the user's home volume
INIT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE")  # see mysql_data_init_container

_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9._~+=^!*%@,:-]{16,}$")


def _check_password(password: str) -> str:
    # The same text goes into an option file and a SQL string literal; keep it to characters both carry verbatim.
    if not _SAFE_PASSWORD.match(password):
        raise ValueError(
            "MySQL root password must be at least 16 characters of letters, digits and ._~+=^!*%@,:- "
            "(generate it with RandomPassword(special=False))"
        )
    return password


def mysqld_config(sizing: MySQLSizing, *, port: int = PORT, datadir: str = DATADIR, socket: str = SOCKET) -> str:
    """The server option file (ConfigMap key labhub.cnf). Only tests change port/datadir/socket."""
    mib = lambda n: f"{n // MiB} MiB"  # noqa: E731 - comments only
    return f"""\
# labhub: per-user MySQL sidecar (components/mysql_sidecar.py). Loaded with
# --defaults-extra-file, after the image's my.cnf, so these values win.
[mysqld]
# Loopback only: the notebook shares the pod's 127.0.0.1; nothing else connects.
bind-address = {LOOPBACK}
port = {port}
skip-name-resolve
loose-mysqlx = OFF
loose-mysqlx-bind-address = {LOOPBACK}
datadir = {datadir}
socket = {socket}
# One user's scratch database: no replication log, no instrumentation memory.
skip-log-bin
performance_schema = OFF
# Memory limit {mib(sizing.memory_limit_bytes)}: pool {mib(sizing.buffer_pool_bytes)}, the rest for mysqld,
# {sizing.max_connections} connections and packets (rule: plan_mysql_memory).
innodb_buffer_pool_chunk_size = {CHUNK}
loose-innodb_buffer_pool_instances = 1
innodb_buffer_pool_size = {sizing.buffer_pool_bytes}
innodb_log_buffer_size = {sizing.log_buffer_bytes}
innodb_log_file_size = {sizing.log_file_bytes}
max_connections = {sizing.max_connections}
max_allowed_packet = {sizing.max_allowed_packet_bytes}
"""


def client_option_file(password: str, *, host: str = LOOPBACK, port: int = PORT) -> str:
    """The client option file (Secret key client.cnf): `mysql` connects with no flags, no typed password."""
    return f"""\
# labhub: your own MySQL server in this pod. `mysql` and `mysqladmin` read this.
[client]
user = root
password = "{_check_password(password)}"
host = {host}
port = {port}
"""


def root_password_init_sql(password: str) -> str:
    """The init file (Secret key init.sql): re-sets root's password on every restart of an existing data dir.

    One statement per line, no comments (what --init-file accepts). IF EXISTS:
    '%' exists only in data dirs made before MYSQL_ROOT_HOST=127.0.0.1.
    """
    pw = _check_password(password)
    return "".join(
        f"ALTER USER IF EXISTS 'root'@'{host}' IDENTIFIED BY '{pw}';\n" for host in ("localhost", LOOPBACK, "%")
    ) + "FLUSH PRIVILEGES;\n"


def secret_data(root_password: Any) -> dict[str, Any]:
    """The Secret's data from the root password (a str or a pulumi Output[str]: `.apply` is used if present)."""
    derive = (lambda f: root_password.apply(f)) if hasattr(root_password, "apply") else (lambda f: f(root_password))
    return {
        ROOT_PASSWORD_KEY: root_password,
        CLIENT_CNF_KEY: derive(client_option_file),
        INIT_SQL_KEY: derive(root_password_init_sql),
    }


def escape_kubespawner_template(value: Any) -> Any:
    """Escape literal braces: KubeSpawner runs str.format over every string of extra containers and volumes."""
    if isinstance(value, str):
        return value.replace("{", "{{").replace("}", "}}")
    if isinstance(value, list):
        return [escape_kubespawner_template(v) for v in value]
    if isinstance(value, dict):
        return {k: escape_kubespawner_template(v) for k, v in value.items()}
    return value


# Adds the init file only when the data dir already exists (see module docstring). POSIX sh, no braces.
WRAPPER_SCRIPT = f"""\
set -eu
if [ -d {DATADIR}/mysql ]; then
  set -- "$@" --init-file={INIT_SQL_PATH}
fi
exec {ENTRYPOINT} "$@"
"""


def _exec_probe(argv: list[str], period: int, failures: int) -> dict[str, Any]:
    return {"exec": {"command": argv}, "periodSeconds": period, "timeoutSeconds": 5, "failureThreshold": failures}


def mysql_sidecar_container(hub: SpyglassHubConfig, data_mount: dict[str, Any]) -> dict[str, Any]:
    """The `singleuser.extraContainers` item. `data_mount` is the data volumeMount (name, optional subPath)."""
    settings = hub.mysql
    client = f"--defaults-extra-file={CLIENT_CNF_PATH}"  # must be each client's first option
    container = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "command": ["/bin/sh", "-c", WRAPPER_SCRIPT, "labhub-mysql"],
        "args": ["mysqld", f"--defaults-extra-file={SERVER_CNF_PATH}"],
        "env": [
            {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": hub.mysql_secret_name, "key": ROOT_PASSWORD_KEY}}},
            # The TCP root account is root@127.0.0.1, not root@'%' (the entrypoint's default).
            {"name": "MYSQL_ROOT_HOST", "value": LOOPBACK},
        ],
        "resources": settings.resources().manifest(),
        "volumeMounts": [
            {**data_mount, "mountPath": DATADIR},
            {"name": CONFIG_VOLUME, "mountPath": SERVER_CNF_DIR, "readOnly": True},
            {"name": SECRET_VOLUME, "mountPath": SECRET_DIR, "readOnly": True},
        ],
        # First initialisation (schema, time zones) can take minutes on a slow volume: allow 10.
        "startupProbe": _exec_probe(["mysqladmin", client, "--protocol=tcp", "ping"], period=5, failures=120),
        # Ready means the notebook can log in: an authenticated query, not just a ping.
        "readinessProbe": _exec_probe(["mysql", client, "--protocol=tcp", "--execute=SELECT 1"], period=10, failures=3),
        "securityContext": {
            "runAsUser": MYSQL_UID,
            "runAsGroup": MYSQL_UID,
            "runAsNonRoot": True,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    escaped = escape_kubespawner_template(container)
    escaped["volumeMounts"][0]["name"] = data_mount["name"]  # may be a template on purpose (volume-{user_server})
    return escaped


def mysql_data_init_container(hub: SpyglassHubConfig, home_volume_name: str) -> dict[str, Any]:
    """The `singleuser.initContainers` item that makes the persistent data dir and gives it to uid 999.

    Runs as root with two capabilities and nothing else: CHOWN to hand the
    files to uid 999, and DAC_OVERRIDE because root without it is an ordinary
    user to file permissions. MySQL 8 makes each schema directory 0750 (owned
    by 999), so on the second start `chown -R` could not even list them with
    CHOWN alone (storage without fsGroup support, e.g. NFS homes, keeps
    Init:Error); and on such storage the home folder belongs to the notebook
    user, so creating `.labhub/` in it needs the override too. It mounts the
    whole home volume because the data dir's parent may not exist yet.
    """
    target = f"{HOME_MOUNT}/{hub.mysql.persistence.data_sub_path}"
    container = {
        "name": "mysql-data-owner",
        "image": hub.mysql.init_image,
        "command": ["sh", "-c", f"mkdir -p {target} && chown -R {MYSQL_UID}:{MYSQL_UID} {target}"],
        "resources": {"limits": {"memory": "32Mi", "cpu": "0.2"}, "requests": {"memory": "8Mi", "cpu": "0.01"}},
        "volumeMounts": [{"name": home_volume_name, "mountPath": HOME_MOUNT}],
        "securityContext": {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": list(INIT_CAPABILITIES)},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    escaped = escape_kubespawner_template(container)
    escaped["volumeMounts"][0]["name"] = home_volume_name
    return escaped
