"""Running the MySQL/MariaDB command-line clients with credentials from an option file only.

Every client process gets `--defaults-file=FILE` as its first argument (the
clients read no other option file then) and nothing secret on its command
line: the password stays in the file, which in the cluster is a Secret
mounted read-only (mode 0400). The file's path is not secret.

The image ships MySQL 8's clients (`mysql`, `mysqldump`); the tests here run
MariaDB's (`mariadb`, `mariadb-dump`, also installed as `mysql`, `mysqldump`).
`ClientTools.find` uses whichever pair is on PATH and records its flavour,
because some flags exist in only one of them:

- MySQL 8's mysqldump writes `SET @@GLOBAL.GTID_PURGED` when the server has
  GTIDs on, which breaks restoring into any other server: we pass
  `--set-gtid-purged=OFF`. It also queries COLUMN_STATISTICS, which MariaDB and
  MySQL 5.7 servers lack: we pass `--column-statistics=0`. MariaDB's dump knows
  neither flag.
- MariaDB 10.11.8+ starts a dump with a `/*M!999999\\- enable the sandbox mode */`
  line that MySQL's `mysql` client rejects: a MariaDB-made backup restores with
  MariaDB's client. Restoring across flavours is not supported.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from labhub.errors import UserError
from labhub.secret_files import check_readable_file

MAX_ALLOWED_PACKET = "512M"


@dataclass(frozen=True)
class ClientTools:
    """The client and dump programs to run, which flavour they are, and the option file they read."""

    client: str
    dump: str
    mariadb: bool
    defaults_file: Path
    address: tuple[str, ...] = ()  # --host/--port given on our command line (not secret), passed on

    @classmethod
    def find(cls, defaults_file: Path, host: str | None = None, port: int | None = None) -> ClientTools:
        check_readable_file(defaults_file, "--defaults-file")
        for client_name, dump_name in (("mysql", "mysqldump"), ("mariadb", "mariadb-dump")):
            client, dump = shutil.which(client_name), shutil.which(dump_name)
            if client and dump:
                version = subprocess.run([dump, "--version"], capture_output=True, text=True, check=False).stdout
                address = tuple([f"--host={host}"] if host else []) + tuple([f"--port={port}", "--protocol=TCP"] if port else [])
                return cls(client, dump, "MariaDB" in version, defaults_file, address)
        raise UserError("no MySQL client found: install mysql-client (mysql, mysqldump) or mariadb-client")

    def client_args(self, *extra: str) -> list[str]:
        return [self.client, f"--defaults-file={self.defaults_file}", *self.address, f"--max-allowed-packet={MAX_ALLOWED_PACKET}", *extra]

    def dump_args(self, databases: list[str]) -> list[str]:
        """One consistent read of `databases`: one transaction, so every schema comes from the same snapshot."""
        args = [
            self.dump, f"--defaults-file={self.defaults_file}", *self.address,
            "--single-transaction", "--quick", "--routines", "--triggers", "--events",
            f"--max-allowed-packet={MAX_ALLOWED_PACKET}", "--hex-blob", "--default-character-set=utf8mb4",
            "--no-tablespaces",  # MySQL 8.0.21+ needs PROCESS for tablespaces; our backup user need not have it
        ]  # fmt: skip
        if not self.mariadb:
            args += ["--set-gtid-purged=OFF", "--column-statistics=0"]
        return [*args, "--databases", *databases]

    def query(self, sql: str) -> list[list[str]]:
        """Rows of every result set of `sql` (fed on stdin) in order, fields unescaped from --batch form."""
        result = subprocess.run(self.client_args("--batch", "--skip-column-names"), input=sql.encode(), capture_output=True, check=False)
        if result.returncode != 0:
            raise ClientError(f"{Path(self.client).name} failed: {_last_line(result.stderr)}")
        lines = result.stdout.decode("utf-8", errors="surrogateescape").split("\n")
        return [[unescape_batch(field) for field in line.split("\t")] for line in lines if line != ""]

    def server_is_mariadb(self) -> bool:
        return "mariadb" in self.query("SELECT VERSION();")[0][0].lower()


class ClientError(Exception):
    """A client program failed; the message carries its last stderr line (which never holds a password)."""


def _last_line(stderr: bytes) -> str:
    lines = [line for line in stderr.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"


def last_line(stderr: bytes) -> str:
    return _last_line(stderr)


_BATCH_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "0": "\0"}


def unescape_batch(field: str) -> str:
    """Undo the mysql client's --batch escaping (\\n, \\t, \\\\, \\0)."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        char = field[i]
        if char == "\\" and i + 1 < len(field):
            out.append(_BATCH_ESCAPES.get(field[i + 1], field[i + 1]))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def quote_string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
