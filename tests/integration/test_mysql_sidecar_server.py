"""A real server run with the sidecar's own options: loopback only, rotated password, planned memory, no typed password.

Invariant: the option file and arguments the sidecar ships make mysqld accept
the Secret's current root password over TCP on 127.0.0.1 and nothing on any
other address; a restart of an existing data dir applies a new password via
the init file; the buffer pool is exactly the planned size; and the client
option file (client.cnf, mounted at /etc/my.cnf in the notebook) logs in with
no password typed, as do the probes.

How the sidecar's start is reproduced (each substitution is one a test must make):

* args[0] ``mysqld`` -> this machine's ``mariadbd``;
* ``--defaults-extra-file=/etc/labhub/mysqld/labhub.cnf`` -> ``--defaults-file=<tmp>/labhub.cnf``:
  the same `mysqld_config` text, but the "extra" form would also read this
  machine's /etc/mysql/my.cnf, which belongs to its own MariaDB;
* in that text, port (a free one), datadir and socket (under tmp) differ;
  everything else (bind-address, sizing, ...) is byte for byte what ships;
* the wrapper's ``--init-file=/etc/labhub/mysql-secret/init.sql`` -> a tmp file
  holding `root_password_init_sql(...)`, i.e. Secret key init.sql;
* added: ``--user`` (root in this sandbox; the pod runs as uid 999),
  ``--log-error`` and ``--pid-file`` (the image logs to stderr);
* first initialisation: the image runs ``mysqld --initialize-insecure`` and the
  entrypoint's SQL over the socket; here mariadb-install-db and the same SQL.

MariaDB 10.11 stands in for MySQL 8.0. Where they differ:

* auth plugins: the datajoint image makes mysql_native_password the default
  (MySQL 8's own default is caching_sha2_password); ``ALTER USER ... IDENTIFIED BY``
  keeps an account's plugin on MySQL, and means mysql_native_password here;
* ``loose-mysqlx*`` and ``loose-innodb_buffer_pool_instances`` are MySQL
  options; MariaDB has no X protocol and one pool instance, and the loose-
  prefix makes it warn instead of refusing to start (checked below);
* the buffer pool: MySQL 8 rounds it up to a multiple of chunk size x
  instances; we set the chunk (128M) and one instance, so both report the
  planned size exactly; MariaDB 10.11 also takes the explicit chunk size;
* ``innodb_log_file_size``: MySQL 8.0.30+ deprecates it for
  innodb_redo_log_capacity (then 2 files of this size); MariaDB has one file;
* ``skip-log-bin``: binary logging is on by default in MySQL 8, off here.
"""

from __future__ import annotations

import secrets
import shutil
import socket
import string
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from rendered import singleuser

from components import mysql_sidecar as sc
from components.mysql_memory import plan_mysql_memory
from components.mysql_sidecar import client_option_file, mysqld_config, root_password_init_sql

pytestmark = pytest.mark.integration

MARIADB = shutil.which("mariadb")
# The sidecar exactly as the dev stack renders it (its memory limit sizes the server below).
(CONTAINER,) = singleuser("dev")["extraContainers"]
SIZING = plan_mysql_memory(CONTAINER["resources"]["limits"]["memory"])


def fresh_password() -> str:
    """As StackSecrets makes it: 48 letters and digits."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))


@dataclass
class Sidecar:
    port: int
    password: str
    old_password: str
    workdir: Path
    log: Path


def sidecar_args(cnf: Path, init_file: Path | None) -> list[str]:
    """The container's mysqld arguments with the substitutions of the module docstring."""
    binary, *options = CONTAINER["args"]
    assert binary == "mysqld" and options == [f"--defaults-extra-file={sc.SERVER_CNF_PATH}"]
    args = [f"--defaults-file={cnf}" if o.startswith("--defaults-extra-file=") else o for o in options]
    if init_file is not None:  # what the wrapper adds for an existing data dir
        assert f"--init-file={sc.INIT_SQL_PATH}" in sc.WRAPPER_SCRIPT
        args.append(f"--init-file={init_file}")
    return args


@pytest.fixture(scope="module")
def sidecar(mariadb_factory, tmp_path_factory: pytest.TempPathFactory) -> Sidecar:  # noqa: ANN001 - conftest type
    """A server first initialised with one password, then restarted with the init file of a fresh one."""
    workdir = tmp_path_factory.mktemp("sidecar")
    datadir = mariadb_factory.new_datadir("sidecar")
    sock, port = workdir / "mysqld.sock", mariadb_factory.free_port()
    cnf = workdir / sc.SERVER_CNF_KEY
    cnf.write_text(mysqld_config(SIZING, port=port, datadir=str(datadir), socket=str(sock)))
    old, new = fresh_password(), fresh_password()

    # First start: the entrypoint's first initialisation (no init file yet; MYSQL_ROOT_HOST=127.0.0.1).
    first = mariadb_factory.start(datadir, sidecar_args(cnf, None), socket_path=sock, port=port)
    with first.root() as conn, conn.cursor() as cur:
        cur.execute("SELECT user, host FROM mysql.user WHERE NOT (user = 'root' AND host = 'localhost') AND user <> 'mariadb.sys'")
        for user, host in cur.fetchall():
            cur.execute("DROP USER %s@%s", (user, host))
        cur.execute("CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (old,))
        cur.execute("GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION")
        cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED BY %s", (old,))
    first.stop()

    # Restart of the existing data dir after the Secret rotated: the wrapper adds init.sql.
    init_sql = workdir / sc.INIT_SQL_KEY
    init_sql.write_text(root_password_init_sql(new))
    server = mariadb_factory.start(datadir, sidecar_args(cnf, init_sql), socket_path=sock, port=port)
    return Sidecar(port=port, password=new, old_password=old, workdir=workdir, log=server.log)


def connect(sidecar: Sidecar, password: str, host: str = "127.0.0.1") -> pymysql.connections.Connection:
    return pymysql.connect(host=host, port=sidecar.port, user="root", password=password, connect_timeout=3)


def test_it_accepts_the_secrets_password_over_tcp_on_loopback(sidecar: Sidecar) -> None:
    with connect(sidecar, sidecar.password) as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
        assert cur.fetchone() == ("root@127.0.0.1",)


def test_a_restart_with_the_init_file_rotates_the_password(sidecar: Sidecar) -> None:
    with pytest.raises(pymysql.err.OperationalError) as error:
        connect(sidecar, sidecar.old_password)
    assert error.value.args[0] == 1045  # access denied


def other_addresses() -> list[str]:
    """Every address of this machine but 127.0.0.1: `hostname -I` plus ::1."""
    found = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    return [a for a in found if a != "127.0.0.1"] + (["::1"] if socket.has_ipv6 else [])


def test_it_refuses_connections_on_every_other_address(sidecar: Sidecar) -> None:
    socket.create_connection(("127.0.0.1", sidecar.port), timeout=2).close()  # the control: loopback is open
    addresses = other_addresses()
    if not any(a != "::1" for a in addresses):
        pytest.skip("this machine has no non-loopback address to try")
    for address in addresses:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((address, sidecar.port), timeout=2).close()


def test_buffer_pool_and_limits_are_exactly_the_planned_ones(sidecar: Sidecar) -> None:
    sizing = SIZING
    with connect(sidecar, sidecar.password) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT @@innodb_buffer_pool_size, @@max_connections, @@max_allowed_packet, @@innodb_log_file_size,"
            " @@innodb_log_buffer_size, @@bind_address, @@skip_name_resolve, @@log_bin, @@performance_schema"
        )
        assert cur.fetchone() == (
            sizing.buffer_pool_bytes, sizing.max_connections, sizing.max_allowed_packet_bytes, sizing.log_file_bytes,
            sizing.log_buffer_bytes, "127.0.0.1", 1, 0, 0,
        )
    assert sizing.buffer_pool_bytes == 512 * 2**20  # half the dev stack's 1Gi limit


def test_only_the_mysql_only_options_are_ignored(sidecar: Sidecar) -> None:
    unknown = [line for line in sidecar.log.read_text().splitlines() if "unknown variable" in line or "[ERROR]" in line]
    assert all("loose-mysqlx" in line for line in unknown), unknown


def run_client(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=20, check=False)


@pytest.mark.skipif(MARIADB is None, reason="the mariadb client is not installed")
def test_client_option_file_logs_in_with_no_password_typed(sidecar: Sidecar) -> None:
    """The real client with the shipped client.cnf; only the port is overridden (the file says 3306)."""
    cnf = sidecar.workdir / sc.CLIENT_CNF_KEY
    cnf.write_text(client_option_file(sidecar.password))
    result = run_client(MARIADB, f"--defaults-file={cnf}", f"--port={sidecar.port}", "--batch", "--skip-column-names", "--execute=SELECT CURRENT_USER()")
    assert (result.returncode, result.stdout.strip()) == (0, "root@127.0.0.1"), result.stderr


@pytest.mark.skipif(MARIADB is None, reason="the mariadb client is not installed")
def test_etc_my_cnf_is_a_default_option_file_of_the_client() -> None:
    """Why the notebook's copy is mounted at /etc/my.cnf: the client reads it with no flag (MySQL 8's does too)."""
    help_text = run_client(MARIADB, "--help").stdout
    defaults = help_text.split("Default options are read from the following files in the given order:")[1].splitlines()[1].split()
    assert defaults[0] == "/etc/my.cnf"


@pytest.mark.parametrize("probe", ["startupProbe", "readinessProbe"])
def test_probes_succeed_against_the_server(sidecar: Sidecar, probe: str) -> None:
    cnf = sidecar.workdir / "probe-client.cnf"
    cnf.write_text(client_option_file(sidecar.password))
    binary, *argv = CONTAINER[probe]["exec"]["command"]
    argv = [f"--defaults-extra-file={cnf}" if a == f"--defaults-extra-file={sc.CLIENT_CNF_PATH}" else a for a in argv]
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    result = run_client(path, *argv, f"--port={sidecar.port}")
    assert result.returncode == 0, result.stderr


def test_readiness_fails_with_a_stale_password(sidecar: Sidecar) -> None:
    """Readiness logs in (a ping would succeed even when access is denied)."""
    cnf = sidecar.workdir / "stale-client.cnf"
    cnf.write_text(client_option_file(sidecar.old_password))
    binary, *argv = CONTAINER["readinessProbe"]["exec"]["command"]
    argv = [f"--defaults-extra-file={cnf}" if a.startswith("--defaults-extra-file=") else a for a in argv]
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    assert run_client(path, *argv, f"--port={sidecar.port}").returncode != 0
