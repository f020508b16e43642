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
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.fields import CpuQuantity, MemoryQuantity, PinnedImage, require_pinned_image  # noqa: F401 (re-exported)
from components.quantities import parse_cpu_quantity, parse_memory_quantity  # noqa: F401 (re-exported)

MiB = 2**20
CONTAINER_NAME = "mysql"
MYSQL_UID = 999  # `mysql` in the official image (and so in datajoint/mysql)
PORT = 3306
LOOPBACK = "127.0.0.1"
DATADIR = "/var/lib/mysql"
SOCKET = "/var/run/mysqld/mysqld.sock"

# Keys of the Secret `MySQLSidecarSettings.secret_name` (see `secret_data`).
ROOT_PASSWORD_KEY = "root-password"
CLIENT_CNF_KEY = "client.cnf"
INIT_SQL_KEY = "init.sql"
# Key of the ConfigMap `MySQLSidecarSettings.config_map_name` (see `mysqld_config`).
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

# --- memory rule ---------------------------------------------------------
CHUNK = 128 * MiB  # innodb_buffer_pool_chunk_size, set explicitly (one pool instance)
MIN_POOL = 128 * MiB
MIN_HEADROOM = 128 * MiB  # memory beside the pool, at the least
BASE_OVERHEAD = 64 * MiB  # mysqld itself with performance_schema off: code, dictionary, caches
LOG_BUFFER = 16 * MiB  # innodb_log_buffer_size (MySQL 8's default)
PER_CONNECTION = 4 * MiB  # thread stack + sort/join/read buffers of one busy connection, rounded up
MIN_CONNECTIONS, MAX_CONNECTIONS = 10, 151  # 151 is MySQL's default; one user needs far fewer
MAX_PACKET = 512 * MiB  # what datajoint/mysql sets: DataJoint blobs need large packets

_SAFE_PASSWORD = re.compile(r"^[A-Za-z0-9._~+=^!*%@,:-]{16,}$")


@dataclass(frozen=True)
class MySQLSizing:
    """Memory settings derived from the container memory limit (`plan_mysql_memory`)."""

    memory_limit_bytes: int
    buffer_pool_bytes: int
    max_connections: int
    max_allowed_packet_bytes: int
    log_file_bytes: int
    log_buffer_bytes: int = LOG_BUFFER


def plan_mysql_memory(memory_limit: str | int, fraction: float = 0.5) -> MySQLSizing:
    """Size mysqld to fit its container limit L. The rule:

    * pool = max(128 MiB, L * fraction rounded down to 128 MiB chunks); the rest,
      L - pool, must be at least 128 MiB (so L >= 256 MiB at the default 0.5);
    * the rest pays for mysqld itself (64 MiB, performance_schema off), the log
      buffer (16 MiB) and connections at 4 MiB each:
      max_connections = clamp((rest - 80 MiB) / 4 MiB, 10, 151);
    * one huge packet must not blow the limit either: max_allowed_packet =
      clamp(rest / 4 rounded down to MiB, 16 MiB, 512 MiB);
    * innodb_log_file_size = pool / 4 (it is disk, in the user's volume when
      persistent; the image's 2G would eat a fifth of a 10Gi home).
    """
    limit = parse_memory_quantity(memory_limit)
    if not 0 < fraction <= 0.75:
        raise ValueError(f"buffer pool fraction {fraction!r} must be in (0, 0.75]")
    pool = max(MIN_POOL, int(limit * fraction) // CHUNK * CHUNK)
    rest = limit - pool
    if rest < MIN_HEADROOM:
        raise ValueError(
            f"MySQL memory limit {memory_limit!r} is too small: a {pool // MiB} MiB buffer pool needs "
            f"{MIN_HEADROOM // MiB} MiB beside it (use at least 256Mi)"
        )
    connections = min(MAX_CONNECTIONS, max(MIN_CONNECTIONS, (rest - BASE_OVERHEAD - LOG_BUFFER) // PER_CONNECTION))
    packet = min(MAX_PACKET, max(16 * MiB, rest // 4 // MiB * MiB))
    return MySQLSizing(limit, pool, connections, packet, log_file_bytes=pool // 4)


class MySQLSidecarSettings(BaseModel):
    """Everything the sidecar needs; the Secret and ConfigMap are made by the caller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_name: str = Field(description="Secret holding keys root-password, client.cnf and init.sql (see `secret_data`).")
    config_map_name: str = Field(description="ConfigMap holding key labhub.cnf = `mysqld_config(...)`.")
    image: PinnedImage = Field("datajoint/mysql:8.0", description="MySQL image, pinned; must be built on the official mysql image.")
    memory_limit: MemoryQuantity = Field("4Gi", description="Container memory limit; the buffer pool is sized from it.")
    cpu_limit: CpuQuantity = Field(1, description="Container CPU limit.")
    memory_request: MemoryQuantity = Field("64Mi", description="Memory request (tiny: without requests k8s sets requests = limits).")
    cpu_request: CpuQuantity = Field("0.01", description="CPU request.")
    buffer_pool_fraction: float = Field(0.5, gt=0, le=0.75, description="Share of the memory limit for the InnoDB buffer pool.")
    persistence: bool = Field(False, description="Keep the database in the user's home volume (else an emptyDir).")
    data_subpath: str = Field(".labhub/mysql", description="Where in the home volume the data lives when persistent.")
    init_image: PinnedImage = Field("busybox:1.36.1", description="Image of the init container that hands the data dir to uid 999.")
    ephemeral_size_limit: MemoryQuantity | None = Field(None, description="sizeLimit of the emptyDir when not persistent.")

    @field_validator("data_subpath")
    @classmethod
    def _relative(cls, path: str) -> str:
        if path.startswith("/") or ".." in path.split("/") or not path.strip("/"):
            raise ValueError(f"data_subpath {path!r} must be a relative path inside the home volume")
        return path.strip("/")

    @model_validator(mode="after")
    def _fits(self) -> MySQLSidecarSettings:
        self.sizing()  # a limit too small for mysqld fails here, at config time
        if parse_memory_quantity(self.memory_request) > parse_memory_quantity(self.memory_limit):
            raise ValueError(f"memory_request {self.memory_request!r} exceeds memory_limit {self.memory_limit!r}")
        if parse_cpu_quantity(self.cpu_request) > parse_cpu_quantity(self.cpu_limit):
            raise ValueError(f"cpu_request {self.cpu_request!r} exceeds cpu_limit {self.cpu_limit!r}")
        return self

    def sizing(self) -> MySQLSizing:
        return plan_mysql_memory(self.memory_limit, self.buffer_pool_fraction)


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


def mysql_sidecar_container(settings: MySQLSidecarSettings, data_mount: dict[str, Any]) -> dict[str, Any]:
    """The `singleuser.extraContainers` item. `data_mount` is the data volumeMount (name, optional subPath)."""
    client = f"--defaults-extra-file={CLIENT_CNF_PATH}"  # must be each client's first option
    container = {
        "name": CONTAINER_NAME,
        "image": settings.image,
        "command": ["/bin/sh", "-c", WRAPPER_SCRIPT, "labhub-mysql"],
        "args": ["mysqld", f"--defaults-extra-file={SERVER_CNF_PATH}"],
        "env": [
            {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": settings.secret_name, "key": ROOT_PASSWORD_KEY}}},
            # The TCP root account is root@127.0.0.1, not root@'%' (the entrypoint's default).
            {"name": "MYSQL_ROOT_HOST", "value": LOOPBACK},
        ],
        "resources": {
            "limits": {"memory": str(settings.memory_limit), "cpu": str(settings.cpu_limit)},
            "requests": {"memory": str(settings.memory_request), "cpu": str(settings.cpu_request)},
        },
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


def mysql_data_init_container(settings: MySQLSidecarSettings, home_volume_name: str) -> dict[str, Any]:
    """The `singleuser.initContainers` item that makes the persistent data dir and gives it to uid 999.

    Runs as root with only CAP_CHOWN (no chmod, so no FOWNER); it mounts the
    whole home volume because the data dir's parent may not exist yet.
    """
    target = f"/mnt/home/{settings.data_subpath}"
    container = {
        "name": "mysql-data-owner",
        "image": settings.init_image,
        "command": ["sh", "-c", f"mkdir -p {target} && chown -R {MYSQL_UID}:{MYSQL_UID} {target}"],
        "resources": {"limits": {"memory": "32Mi", "cpu": "0.2"}, "requests": {"memory": "8Mi", "cpu": "0.01"}},
        "volumeMounts": [{"name": home_volume_name, "mountPath": "/mnt/home"}],
        "securityContext": {
            "runAsUser": 0,
            "runAsGroup": 0,
            "runAsNonRoot": False,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    escaped = escape_kubespawner_template(container)
    escaped["volumeMounts"][0]["name"] = home_volume_name
    return escaped
