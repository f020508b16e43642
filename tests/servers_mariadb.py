"""Throwaway MariaDB servers for integration tests (fixtures registered in tests/conftest.py).

Each server is private to the test session: its own data directory, Unix
socket and log under a pytest tmp dir, a free TCP port on 127.0.0.1, and it
is stopped (then killed if need be) however the tests end. The machine's own
MariaDB (127.0.0.1:3306, /etc/mysql) is never read or touched: servers start
with --no-defaults, or with --defaults-file pointing at a file the test wrote.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pymysql
import pytest

MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", ""))
INSTALL_DB = shutil.which("mariadb-install-db")
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (both servers shut down cleanly on it), then SIGKILL if it has not exited within 20 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def run_as_args() -> list[str]:
    """mariadbd refuses to run as root unless told to; as anyone else it runs as itself."""
    return [f"--user={getpass.getuser()}"] if os.geteuid() == 0 else []


@dataclass
class MariaDBServer:
    """One running mariadbd; `socket` accepts root with no password (install-db's account)."""

    datadir: Path
    socket: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def root(self, **kwargs: object) -> pymysql.connections.Connection:
        """A root connection over the Unix socket (the way the official entrypoint talks to its temp server)."""
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", autocommit=True, **kwargs)

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class MariaDBFactory:
    """Makes data directories (from one installed template) and starts servers on them; stops them all at the end."""

    base: Path
    template: Path
    servers: list[MariaDBServer] = field(default_factory=list)

    @staticmethod
    def free_port() -> int:
        return free_port()

    def new_datadir(self, name: str) -> Path:
        datadir = self.base / name / "data"
        shutil.copytree(self.template, datadir)
        return datadir

    def start(self, datadir: Path, args: list[str], *, socket_path: Path, port: int) -> MariaDBServer:
        """Start `mariadbd <args>` and wait until it answers on its socket.

        `args` must begin with --no-defaults or --defaults-file=... (so the
        machine's option files are not read) and must put datadir, socket
        and port where the caller says (on the command line or in its file).
        """
        assert args and (args[0] == "--no-defaults" or args[0].startswith("--defaults-file=")), args
        log = datadir.parent / "mariadbd.log"
        command = [MARIADBD, *args, *run_as_args(), f"--log-error={log}", f"--pid-file={datadir.parent / 'mariadbd.pid'}"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = MariaDBServer(datadir, socket_path, port, log, process)
        self.servers.append(server)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"mariadbd exited with {process.returncode}:\n{log.read_text() if log.exists() else ''}")
            try:
                server.root(connect_timeout=1).close()
                return server
            except pymysql.err.OperationalError as error:
                if error.args and error.args[0] == 1045:  # access denied: it is up, the caller changed root
                    return server
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"mariadbd did not start within {START_TIMEOUT}s:\n{log.read_text() if log.exists() else ''}")

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture(scope="session")
def mariadb_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDBFactory]:
    """Starts throwaway MariaDB servers; one `mariadb-install-db` per session, copied per server; all stopped at the end.

    Skips when the MariaDB server binaries are not installed (a failure under CI: see tests/conftest.py).
    """
    if not (MARIADBD and INSTALL_DB):
        pytest.skip("MariaDB server binaries (mariadbd, mariadb-install-db) are not installed: run scripts/install-system-deps")
    base = tmp_path_factory.mktemp("mariadb")
    template = base / "template"
    subprocess.run(
        [INSTALL_DB, "--no-defaults", f"--datadir={template}", "--auth-root-authentication-method=normal", "--skip-test-db", *run_as_args()],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=120,
    )
    factory = MariaDBFactory(base, template)
    try:
        yield factory
    finally:
        factory.stop_all()


@pytest.fixture(scope="session")
def mariadb(mariadb_factory: MariaDBFactory) -> MariaDBServer:
    """A plain throwaway server: --no-defaults, 127.0.0.1 on a free port, root without password on its socket."""
    datadir = mariadb_factory.new_datadir("plain")
    sock, port = datadir.parent / "mysqld.sock", free_port()
    args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve"]
    return mariadb_factory.start(datadir, args, socket_path=sock, port=port)
