"""Throwaway PostgreSQL servers for integration tests (fixtures registered in tests/conftest.py).

Each server is private to the test session: its own data directory and Unix
socket directory under a temporary folder, a free TCP port on 127.0.0.1, and
it is stopped (fast shutdown, then killed if need be) however the tests end.
The machine's own cluster (/etc/postgresql, port 5432) is never read or touched.

PostgreSQL refuses to run as root. As root (CI, the sessions here) the server
runs as the `postgres` system user that Debian's package creates, in a folder
that user owns; as anyone else it runs as that user.

The superuser is `postgres` with a generated password: the Unix socket trusts
local connections (for fixtures), TCP on 127.0.0.1 requires the password
(scram-sha-256), the way a client in another pod meets the server.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from servers_mariadb import free_port, stop_process

START_TIMEOUT = 30.0


def postgres_bin_dir() -> Path | None:
    """The newest installed server's bin directory (Debian: /usr/lib/postgresql/<major>/bin)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PostgresServer:
    """One running postgres: `superuser` logs in with `password` over TCP, without one over the socket."""

    datadir: Path
    socket_dir: Path
    port: int
    password: str
    log: Path
    process: subprocess.Popen[bytes]
    superuser: str = "postgres"
    host: str = "127.0.0.1"

    def connect(self, dbname: str = "postgres", **kwargs: object) -> psycopg.Connection:
        """A superuser connection over the Unix socket, autocommit."""
        return psycopg.connect(host=str(self.socket_dir), port=self.port, user=self.superuser, dbname=dbname, autocommit=True, **kwargs)

    def libpq_env(self, dbname: str = "postgres") -> dict[str, str]:
        """libpq settings for a TCP client (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)."""
        return {"PGHOST": self.host, "PGPORT": str(self.port), "PGUSER": self.superuser, "PGPASSWORD": self.password, "PGDATABASE": dbname}

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class PostgresFactory:
    """Makes clusters (one initdb per session, copied per server) and starts servers on them; stops them all at the end."""

    bin_dir: Path
    base: Path
    template: Path
    password: str
    run_as: pwd.struct_passwd | None
    servers: list[PostgresServer] = field(default_factory=list)

    def _as_server_user(self) -> list[str]:
        if self.run_as is None:
            return []
        return ["setpriv", f"--reuid={self.run_as.pw_uid}", f"--regid={self.run_as.pw_gid}", "--init-groups", "--"]

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            for root, dirs, files in os.walk(path):
                for name in [root, *(os.path.join(root, d) for d in dirs), *(os.path.join(root, f) for f in files)]:
                    os.chown(name, self.run_as.pw_uid, self.run_as.pw_gid)

    def start(self, name: str, extra_settings: dict[str, str] | None = None) -> PostgresServer:
        """A new server on a copy of the template cluster, listening on 127.0.0.1 and its own socket directory."""
        home = self.base / name
        datadir, socket_dir = home / "data", home / "run"
        shutil.copytree(self.template, datadir)
        socket_dir.mkdir(parents=True)
        self._chown(home)
        os.chmod(datadir, 0o700)
        port = free_port()
        log = home / "postgres.log"
        settings = {"listen_addresses": "127.0.0.1", "port": str(port), "unix_socket_directories": str(socket_dir), "fsync": "off"}
        settings.update(extra_settings or {})
        command = [*self._as_server_user(), str(self.bin_dir / "postgres"), "-D", str(datadir)]
        command += [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        with open(log, "wb") as log_file:
            process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT)
        server = PostgresServer(datadir, socket_dir, port, self.password, log, process)
        self.servers.append(server)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"postgres exited with {process.returncode}:\n{log.read_text()}")
            try:
                server.connect(connect_timeout=1).close()
                return server
            except psycopg.OperationalError:
                time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"postgres did not start within {START_TIMEOUT}s:\n{log.read_text()}")

    def stop_all(self) -> None:
        for server in reversed(self.servers):
            server.stop()


@pytest.fixture(scope="session")
def postgres_factory() -> Iterator[PostgresFactory]:
    """Starts throwaway PostgreSQL servers; skips (a failure under CI) when the server is not installed."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries (initdb, postgres) are not installed: run scripts/install-system-deps")
    run_as = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="labhub-postgres-"))
    try:
        if run_as is not None:
            os.chown(base, run_as.pw_uid, run_as.pw_gid)
        password = secrets.token_urlsafe(18)
        pwfile = base / "pwfile"
        pwfile.write_text(password + "\n")
        template = base / "template"
        factory = PostgresFactory(bin_dir, base, template, password, run_as)
        factory._chown(pwfile)
        subprocess.run(
            [*factory._as_server_user(), str(bin_dir / "initdb"), "-D", str(template), "-U", "postgres", f"--pwfile={pwfile}",
             "--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120,
        )  # fmt: skip
        pwfile.unlink()
        try:
            yield factory
        finally:
            factory.stop_all()
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(postgres_factory: PostgresFactory) -> PostgresServer:
    """A plain throwaway server shared by the session."""
    return postgres_factory.start("plain")
