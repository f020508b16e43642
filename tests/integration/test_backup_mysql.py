"""`labhub backup mysql` against real servers: what is dumped is what a second server gets back.

Invariants, each driven through the real CLI (`python -m labhub.cli`) with
credentials only in an option file:

* dump from one server, restore into a second: every table's CHECKSUM TABLE
  and row count match, and views, triggers, routines, events, users, roles and
  grants come back, for awkward data (binary blobs, unicode and 4-byte
  characters, quotes, backslashes, `),(` and dump markers inside strings and
  routine bodies, a row near the server's packet limit, a cross-schema foreign
  key, a schema name with a space);
* the dump is one folder `<name>-<timestamp>` with a file per schema, accounts
  and a manifest whose sizes and sha256 match the files;
* `verify` restores into scratch schemas, passes, writes verified.json and
  drops them; it fails when the manifest disagrees with the data;
* restore refuses a non-empty target without --force;
* a dump whose mysqldump is killed, or which gets SIGTERM, exits non-zero and
  leaves nothing in --dest;
* the password is on no process's command line (read from /proc) and in no output.

MariaDB 10.11 stands in for MySQL 8 (see labhub/backup/mysql_client.py for
the flag differences the tool handles).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from backup_testlib import finished_or_partial, labhub, start_labhub, wait_for_child, watch_cmdlines

from labhub.backup.mysql_accounts import BACKUP_PRIVILEGES

pytestmark = pytest.mark.integration

PACKET = 32 * 1024 * 1024
NEAR_LIMIT_BLOB = 15 * 1024 * 1024 + 12345  # hex-encoded in the dump: ~30 MiB of a 32 MiB packet
AWKWARD_TEXTS = [
    "plain",
    "ünïcödé and 🧠 (4-byte)",
    "it's \"quoted\" \\ back\\slash",
    "looks like a tuple break ),( and ),\n( inside",
    "a line\n-- Current Database: `evil`\n--\nUSE `evil`;\n",
    "semicolon newline ;\n and DELIMITER ;;\n",
    "tab\tnul\0end",
    "",
]


@dataclass
class Server:
    socket: Path
    port: int

    def root(self, database: str | None = None) -> pymysql.connections.Connection:
        return pymysql.connect(unix_socket=str(self.socket), user="root", password="", database=database, autocommit=True,
                               charset="utf8mb4", max_allowed_packet=64 * 1024 * 1024)  # fmt: skip


def start_server(factory, name: str) -> Server:  # type: ignore[no-untyped-def]
    datadir = factory.new_datadir(name)
    sock, port = datadir.parent / "mysqld.sock", factory.free_port()
    args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1",
            "--skip-name-resolve", f"--max-allowed-packet={PACKET}", "--character-set-server=utf8mb4"]  # fmt: skip
    factory.start(datadir, args, socket_path=sock, port=port)
    return Server(sock, port)


def fill(server: Server) -> None:
    """The awkward data set: what a Spyglass database holds, plus what breaks naive dump splitting."""
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE common_session CHARACTER SET utf8mb4")
        cur.execute("CREATE DATABASE `alice_lfp` CHARACTER SET utf8mb4")
        cur.execute("CREATE DATABASE `weird db-ü` CHARACTER SET utf8mb4")
        cur.execute("USE common_session")
        cur.execute("CREATE TABLE session (id INT PRIMARY KEY, name VARCHAR(64), started DATETIME(6), weight DOUBLE, price DECIMAL(12,4))")
        cur.executemany("INSERT INTO session VALUES (%s, %s, %s, %s, %s)",
                        [(i, f"s{i}", f"2024-01-{1 + i % 28:02d} 10:00:00.123456", i / 3, f"{i}.0625") for i in range(1, 501)])  # fmt: skip
        cur.execute("CREATE TABLE texts (id INT PRIMARY KEY AUTO_INCREMENT, s TEXT) CHARACTER SET utf8mb4")
        cur.executemany("INSERT INTO texts (s) VALUES (%s)", [(text,) for text in [*AWKWARD_TEXTS, None]])
        cur.execute("CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB)")
        cur.execute("INSERT INTO blobs VALUES (1, %s), (2, %s), (3, %s)", (b"", bytes(range(256)) * 4, os.urandom(300_000)))
        cur.execute("INSERT INTO blobs VALUES (4, %s)", (os.urandom(NEAR_LIMIT_BLOB),))
        cur.execute("CREATE TABLE nokey (a INT, b VARCHAR(10))")  # no primary key: row order is insertion order
        cur.executemany("INSERT INTO nokey VALUES (%s, %s)", [(i % 7, None if i % 5 == 0 else str(i)) for i in range(300)])
        cur.execute("CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, session_id INT)")
        cur.execute("CREATE TRIGGER session_audit AFTER INSERT ON session FOR EACH ROW INSERT INTO audit (session_id) VALUES (NEW.id)")
        cur.execute("CREATE VIEW named_sessions AS SELECT id, name FROM session WHERE name IS NOT NULL")
        cur.execute(
            "CREATE PROCEDURE count_sessions(OUT n INT)\nBEGIN\n-- Current Database: `evil`\n"
            "SELECT COUNT(*) INTO n FROM session;\nEND"
        )
        cur.execute("CREATE FUNCTION twice(x INT) RETURNS INT DETERMINISTIC RETURN x * 2")
        cur.execute("CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM audit WHERE id < 0")
        cur.execute("USE alice_lfp")
        cur.execute("CREATE TABLE lfp (session_id INT, band VARCHAR(8), PRIMARY KEY (session_id, band),"
                    " FOREIGN KEY (session_id) REFERENCES common_session.session (id))")  # fmt: skip
        cur.executemany("INSERT INTO lfp VALUES (%s, %s)", [(i, band) for i in range(1, 101) for band in ("theta", "gamma")])
        cur.execute("CREATE VIEW lfp_sessions AS SELECT l.band, s.name FROM lfp l JOIN common_session.session s ON s.id = l.session_id")
        cur.execute("USE `weird db-ü`")
        cur.execute("CREATE TABLE `odd ``name`` ü` (`col 1` INT)")
        cur.execute("INSERT INTO `odd ``name`` ü` VALUES (1), (NULL)")
        cur.execute("CREATE TABLE empty_table (x INT)")
        cur.execute("CREATE ROLE dj_user")
        cur.execute("GRANT SELECT, INSERT ON `common\\_%`.* TO dj_user")
        cur.execute("CREATE USER 'alice'@'%%' IDENTIFIED BY %s", (secrets.token_urlsafe(12),))
        cur.execute("GRANT dj_user TO 'alice'@'%'")
        cur.execute("GRANT ALL PRIVILEGES ON `alice\\_%`.* TO 'alice'@'%'")
        cur.execute("SET DEFAULT ROLE dj_user FOR 'alice'@'%'")


def table_fingerprints(server: Server, schemas: list[str]) -> dict[str, tuple[int, int]]:
    """(rows, CHECKSUM TABLE) per table: the server's own checksum, independent of our tool."""
    out = {}
    with server.root() as conn, conn.cursor() as cur:
        for schema in schemas:
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA=%s AND TABLE_TYPE='BASE TABLE'", (schema,))
            for (table,) in cur.fetchall():
                name = f"`{schema.replace('`', '``')}`.`{table.replace('`', '``')}`"
                cur.execute(f"SELECT COUNT(*) FROM {name}")
                rows = cur.fetchone()[0]
                cur.execute(f"CHECKSUM TABLE {name}")
                out[f"{schema}.{table}"] = (rows, cur.fetchone()[1])
    return out


def objects(server: Server) -> dict[str, list[tuple[str, ...]]]:
    queries = {
        "views": "SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA NOT IN ('sys', 'mysql')",
        "triggers": "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS",
        "routines": "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES",
        "events": "SELECT EVENT_SCHEMA, EVENT_NAME, STATUS FROM information_schema.EVENTS",
        "grants": "SHOW GRANTS FOR 'alice'@'%'",
        "role_grants": "SHOW GRANTS FOR dj_user",
    }
    out = {}
    with server.root() as conn, conn.cursor() as cur:
        for key, query in queries.items():
            cur.execute(query)
            out[key] = sorted(tuple(row) for row in cur.fetchall())
    return out


SCHEMAS = ["alice_lfp", "common_session", "weird db-ü"]


@pytest.fixture(scope="module")
def source(mariadb_factory) -> Server:  # type: ignore[no-untyped-def]
    server = start_server(mariadb_factory, "backup-source")
    fill(server)
    return server


@pytest.fixture(scope="module")
def backup_password(source: Server) -> str:
    """A dedicated backup account with only BACKUP_PRIVILEGES, its password fresh per run."""
    password = secrets.token_urlsafe(24)
    with source.root() as conn, conn.cursor() as cur:
        cur.execute("CREATE USER 'labhub_backup'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT {BACKUP_PRIVILEGES} ON *.* TO 'labhub_backup'@'127.0.0.1'")
    return password


def option_file(path: Path, lines: dict[str, object]) -> Path:
    path.write_text("[client]\n" + "".join(f"{key}={value}\n" for key, value in lines.items()))
    path.chmod(0o400)
    return path


@pytest.fixture(scope="module")
def source_cnf(tmp_path_factory: pytest.TempPathFactory, source: Server, backup_password: str) -> Path:
    return option_file(tmp_path_factory.mktemp("cnf") / "backup.cnf",
                       {"user": "labhub_backup", "password": backup_password, "host": "127.0.0.1", "port": source.port})  # fmt: skip


def root_cnf(tmp: Path, server: Server) -> Path:
    return option_file(tmp / f"root-{server.port}.cnf", {"user": "root", "socket": server.socket})


@pytest.fixture(scope="module")
def dumped(tmp_path_factory: pytest.TempPathFactory, source_cnf: Path, backup_password: str) -> tuple[Path, list[list[str]], str]:
    """One dump through the CLI, its process tree's command lines sampled from /proc while it ran."""
    dest = tmp_path_factory.mktemp("backups")
    process = start_labhub("backup", "mysql", "dump", "--defaults-file", str(source_cnf), "--dest", str(dest), "--name", "lab")
    seen = watch_cmdlines(process)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert backup_password not in stdout + stderr
    (backup,) = [child for child in dest.iterdir()]
    assert stdout.strip() == str(backup)
    return backup, seen, stdout + stderr


def test_the_dump_is_one_timestamped_folder_whose_manifest_matches_its_files(dumped) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    assert backup.name.startswith("lab-") and backup.name.endswith("Z")
    manifest = json.loads((backup / "manifest.json").read_text())
    assert [schema["name"] for schema in manifest["schemas"]] == SCHEMAS
    for entry in manifest["files"]:
        data = (backup / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    common = next(schema for schema in manifest["schemas"] if schema["name"] == "common_session")
    assert common["tables"]["session"]["rows"] == 500
    assert common["tables"]["texts"]["rows"] == len(AWKWARD_TEXTS) + 1
    assert common["tables"]["blobs"]["rows"] == 4
    assert common["views"] == ["named_sessions"] and common["events"] == ["nightly"] and common["triggers"] == 1
    assert common["routines"] == ["function twice", "procedure count_sessions"]
    assert sorted(p.name for p in (backup / "schemas").iterdir()) == [
        "0001-alice_lfp.sql.zst", "0001-alice_lfp.views.sql.zst", "0002-common_session.sql.zst",
        "0002-common_session.views.sql.zst", "0003-weird_db-_.sql.zst",
    ]  # fmt: skip


def test_the_password_is_on_no_command_line_of_the_dump_or_its_children(dumped, backup_password: str, source_cnf: Path) -> None:  # type: ignore[no-untyped-def]
    _backup, seen, output = dumped
    # The scan sees every process on the machine (another suite's dumps too): ours is the one with our option file.
    dumps = [line for line in seen if os.path.basename(line[0]) in ("mysqldump", "mariadb-dump")]
    assert [line for line in dumps if line[1] == f"--defaults-file={source_cnf}"], f"our mysqldump was never seen running: {seen}"
    assert not [line for line in seen if any(backup_password in arg for arg in line)]
    assert backup_password not in output


def test_a_second_server_gets_back_identical_tables_objects_and_accounts(dumped, source: Server, mariadb_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    target = start_server(mariadb_factory, "backup-target")
    result = labhub("backup", "mysql", "restore", "--defaults-file", str(root_cnf(tmp_path, target)), "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert table_fingerprints(target, SCHEMAS) == table_fingerprints(source, SCHEMAS)
    assert objects(target) == objects(source)
    with target.root("common_session") as conn, conn.cursor() as cur:
        cur.execute("SELECT s FROM texts ORDER BY id")
        assert [row[0] for row in cur.fetchall()] == AWKWARD_TEXTS + [None]
        cur.execute("SELECT twice(21)")
        assert cur.fetchone()[0] == 42


def test_restore_refuses_a_non_empty_target_unless_forced(dumped, source: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    cnf = root_cnf(tmp_path, source)
    before = table_fingerprints(source, SCHEMAS)
    refused = labhub("backup", "mysql", "restore", "--defaults-file", str(cnf), "--from", str(backup), "--schema", "common_session")
    assert refused.returncode == 2
    assert "refusing to overwrite non-empty schema 'common_session'" in refused.stderr
    assert table_fingerprints(source, SCHEMAS) == before
    with source.root("common_session") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO texts (s) VALUES ('written after the backup')")
    forced = labhub("backup", "mysql", "restore", "--defaults-file", str(cnf), "--from", str(backup), "--schema", "common_session", "--force")
    assert forced.returncode == 0, forced.stderr
    assert table_fingerprints(source, SCHEMAS) == before


def test_verify_restores_into_scratch_schemas_and_passes(dumped, source: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    result = labhub("backup", "mysql", "verify", "--defaults-file", str(root_cnf(tmp_path, source)), "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert (backup / "verified.json").is_file()
    with source.root() as conn, conn.cursor() as cur:
        cur.execute("SHOW DATABASES LIKE 'labhub\\_verify\\_%%'")
        assert cur.fetchall() == ()


def test_verify_fails_when_the_restored_data_differs_from_the_manifest(dumped, source: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    (copy / "verified.json").unlink(missing_ok=True)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["schemas"][1]["tables"]["session"]["rows"] = 499
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = labhub("backup", "mysql", "verify", "--defaults-file", str(root_cnf(tmp_path, source)), "--from", str(copy))
    assert result.returncode == 1
    assert "common_session.session: 500 rows after restore, 499 dumped" in result.stderr
    assert not (copy / "verified.json").exists()


def test_a_damaged_file_is_refused_before_anything_is_loaded(dumped, source: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    copy = tmp_path / backup.name
    shutil.copytree(backup, copy)
    target = copy / "schemas" / "0003-weird_db-_.sql.zst"
    target.write_bytes(target.read_bytes()[:-1] + b"\0")
    result = labhub("backup", "mysql", "verify", "--defaults-file", str(root_cnf(tmp_path, source)), "--from", str(copy))
    assert result.returncode == 2
    assert "schemas/0003-weird_db-_.sql.zst: sha256 differs" in result.stderr


@pytest.mark.parametrize("how", [pytest.param("kill-mysqldump", id="mysqldump-killed"), pytest.param("sigterm", id="labhub-sigterm")])
def test_a_dump_stopped_halfway_exits_non_zero_and_leaves_nothing(how: str, source_cnf: Path, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    process = start_labhub("backup", "mysql", "dump", "--defaults-file", str(source_cnf), "--dest", str(dest))
    child = wait_for_child(process, ("mysqldump", "mariadb-dump"))
    if how == "kill-mysqldump":
        os.kill(child, signal.SIGSTOP)  # held mid-stream, so a loaded machine cannot let it finish before the kill
    deadline = time.monotonic() + (5 if how == "kill-mysqldump" else 60)
    while not any(dest.glob(".partial-*/schemas/*.zst")) and time.monotonic() < deadline:
        time.sleep(0.002)
    assert process.poll() is None, "the dump finished before it could be stopped"
    os.kill(child if how == "kill-mysqldump" else process.pid, signal.SIGKILL if how == "kill-mysqldump" else signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "dump failed, nothing kept" in stderr
    assert finished_or_partial(dest) == []
