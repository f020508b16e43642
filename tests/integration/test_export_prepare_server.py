"""A real Spyglass-style export that a server rejects loads after `labhub export prepare`, with every table's checksum unchanged.

Invariant: the dump is made the way Spyglass's export script makes it (an
echoed `CREATE DATABASE IF NOT EXISTS x; USE x;`, then `mysqldump --hex-blob
DB TABLE --where=...` per table) from tables declared with charset and
collation clauses; as MySQL 8 writes it, it names `utf8mb4_0900_ai_ci`,
which the target server (MariaDB 10.11, started with the build context's own
mysqld.cnf) does not know and refuses. The prepared file loads, loaded the
way the official image's entrypoint loads /docker-entrypoint-initdb.d
(`mysql --comments < file` over the socket), and `CHECKSUM TABLE` matches
the source for every table; the data row quoting a charset clause survives.

What is constructed rather than dumped: MariaDB's own dump names MariaDB's
collation; the test rewrites the collation name in the `) ENGINE=` option
lines to the one MySQL 8 writes there, and nothing else.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pymysql
import pytest

pytestmark = pytest.mark.integration

MARIADB = shutil.which("mariadb")
DUMP = shutil.which("mariadb-dump")
SCHEMAS = {
    "paperx_common": [
        """CREATE TABLE nwbfile (
             nwb_file_name varchar(64) NOT NULL,
             note varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,
             PRIMARY KEY (nwb_file_name)
           ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='files; DEFAULT CHARSET=latin1 in a comment'""",
        """CREATE TABLE session (
             nwb_file_name varchar(64) NOT NULL,
             session_description text,
             raw longblob,
             started datetime(6),
             PRIMARY KEY (nwb_file_name),
             CONSTRAINT session_fk FOREIGN KEY (nwb_file_name) REFERENCES nwbfile (nwb_file_name)
           ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    ],
    "paperx_lfp": [
        """CREATE TABLE lfp_band (
             nwb_file_name varchar(64) NOT NULL,
             band int NOT NULL,
             `filter` mediumblob,
             PRIMARY KEY (nwb_file_name, band)
           ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci""",
    ],
}
ROWS = [
    ("INSERT INTO paperx_common.nwbfile VALUES (%s, %s)", ("a.nwb", ") ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;")),
    ("INSERT INTO paperx_common.nwbfile VALUES (%s, %s)", ("b'\\\".nwb", "line one\nline two\t `nwb_file_name` varchar(255) DEFAULT COLLATE x")),
    ("INSERT INTO paperx_common.nwbfile VALUES (%s, %s)", ("émoji-🐭.nwb", None)),
    ("INSERT INTO paperx_common.session VALUES (%s, %s, %s, %s)", ("a.nwb", "ünïcode ✓", bytes(range(256)) * 64, "2024-02-29 12:34:56.123456")),
    ("INSERT INTO paperx_common.session VALUES (%s, %s, %s, %s)", ("b'\\\".nwb", "", b"\x00", None)),
    ("INSERT INTO paperx_lfp.lfp_band VALUES (%s, %s, %s)", ("a.nwb", 1, b"\xff" * 70000)),
    ("INSERT INTO paperx_lfp.lfp_band VALUES (%s, %s, %s)", ("émoji-🐭.nwb", 2, None)),
]
TABLES = [("paperx_common", "nwbfile"), ("paperx_common", "session"), ("paperx_lfp", "lfp_band")]


def spyglass_style_dump(server) -> bytes:  # type: ignore[no-untyped-def]
    """What Spyglass's _ExportSQL_<paper>.sh writes into _Populate_<paper>.sql (sql_helper_fn.SQLDumpHelper)."""
    out = [b"--\n-- SPYGLASS VERSION: 0.5.4 --\n--\n\n"]
    previous = None
    for database, table in TABLES:
        if database != previous:
            out.append(f"CREATE DATABASE IF NOT EXISTS {database}; USE {database};\n\n".encode())
            previous = database
        dump = [DUMP, "--no-defaults", f"--socket={server.socket}", "-uroot", "--hex-blob", database, table, "--where=1"]
        out.append(subprocess.run(dump, capture_output=True, check=True, timeout=60).stdout)
    return b"".join(out)


def as_mysql8_writes_it(dump: bytes) -> bytes:
    """The table-option lines name MySQL 8's default collation, as a MySQL 8 server's dump does."""
    return re.sub(rb"(?m)^(\) ENGINE=.*)utf8mb4_unicode_ci", rb"\1utf8mb4_0900_ai_ci", dump)


def checksums(connection: pymysql.connections.Connection) -> dict[str, int]:
    with connection.cursor() as cur:
        cur.execute("CHECKSUM TABLE " + ", ".join(f"{d}.{t}" for d, t in TABLES))
        return dict(cur.fetchall())


def load(server, path: Path) -> subprocess.CompletedProcess[bytes]:  # type: ignore[no-untyped-def]
    """As docker-entrypoint.sh's docker_process_sql: the client over the socket, --comments, the file on stdin."""
    with path.open("rb") as stdin:
        return subprocess.run([MARIADB, "--no-defaults", f"--socket={server.socket}", "-uroot", "--comments"], stdin=stdin, capture_output=True, timeout=120)


@pytest.fixture
def source(mariadb):  # type: ignore[no-untyped-def]
    root = mariadb.root()
    with root.cursor() as cur:
        for database, tables in SCHEMAS.items():
            cur.execute(f"DROP DATABASE IF EXISTS {database}")
            cur.execute(f"CREATE DATABASE {database} DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
            for ddl in tables:
                cur.execute(f"USE {database}")
                cur.execute(ddl)
        cur.execute("SET NAMES utf8mb4")
        for sql, values in ROWS:
            cur.execute(sql, values)
    yield mariadb
    with root.cursor() as cur:
        for database in SCHEMAS:
            cur.execute(f"DROP DATABASE IF EXISTS {database}")
    root.close()


def test_a_dump_the_target_rejects_loads_after_prepare_with_identical_checksums(source, mariadb_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert MARIADB and DUMP, "mariadb and mariadb-dump come with the server packages (scripts/install-system-deps)"
    export = tmp_path / "export" / "paperx"
    export.mkdir(parents=True)
    original = export / "_Populate_paperx.sql"
    original.write_bytes(as_mysql8_writes_it(spyglass_style_dump(source)))
    (export / "environment.yml").write_text("name: paperx\nchannels: [conda-forge]\ndependencies:\n  - python=3.11\n")

    context = tmp_path / "context"
    prepare = [sys.executable, "-m", "labhub.cli", "export", "prepare", "--export-dir", str(export), "--out", str(context)]
    result = subprocess.run(prepare, capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 0, result.stderr
    prepared = context / "initdb" / "1-_Populate_paperx.sql"

    # The target runs with the build context's own server configuration.
    datadir = mariadb_factory.new_datadir("paper-target")
    sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
    cnf = datadir.parent / "my.cnf"
    cnf.write_text((context / "mysqld.cnf").read_text().replace("[mysqld]\n", f"[mysqld]\ndatadir={datadir}\nsocket={sock}\nport={port}\nbind-address=127.0.0.1\n", 1))
    target = mariadb_factory.start(datadir, [f"--defaults-file={cnf}"], socket_path=sock, port=port)

    rejected = load(target, original)
    assert rejected.returncode != 0 and b"Unknown collation: 'utf8mb4_0900_ai_ci'" in rejected.stderr, rejected.stderr
    with target.root() as conn, conn.cursor() as cur:
        for database in SCHEMAS:
            cur.execute(f"DROP DATABASE IF EXISTS {database}")

    loaded = load(target, prepared)
    assert loaded.returncode == 0, loaded.stderr.decode()
    with source.root() as src, target.root() as dst:
        expected = checksums(src)
        assert all(expected.values())  # real checksums of non-empty tables
        assert checksums(dst) == expected
        with dst.cursor() as cur:
            cur.execute("SELECT note FROM paperx_common.nwbfile WHERE nwb_file_name = 'a.nwb'")
            assert cur.fetchone() == (") ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;",)
            cur.execute("SELECT COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'paperx_common' AND TABLE_NAME = 'nwbfile' AND COLUMN_NAME = 'note'")
            assert cur.fetchone() == ("utf8mb4_bin",)  # a column's own collation is kept


def test_the_example_papers_database_sql_loads_where_its_export_is_refused(mariadb_factory) -> None:  # type: ignore[no-untyped-def]
    """papers/example (what prod builds): the server takes the prepared SQL, and refuses the export as Spyglass wrote it."""
    from labhub.engine import PROJECT_DIR

    example = PROJECT_DIR / "papers" / "example"
    context = example / "context"
    datadir = mariadb_factory.new_datadir("paper-example")
    sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
    cnf = datadir.parent / "my.cnf"
    cnf.write_text((context / "mysqld.cnf").read_text().replace("[mysqld]\n", f"[mysqld]\ndatadir={datadir}\nsocket={sock}\nport={port}\nbind-address=127.0.0.1\n", 1))
    server = mariadb_factory.start(datadir, [f"--defaults-file={cnf}"], socket_path=sock, port=port)
    refused = load(server, example / "export" / "_Populate_example-paper.sql")
    assert refused.returncode != 0 and b"Unknown collation: 'utf8mb4_0900_ai_ci'" in refused.stderr
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("DROP DATABASE common_nwbfile")
    loaded = load(server, context / "initdb" / "1-_Populate_example-paper.sql")
    assert loaded.returncode == 0, loaded.stderr.decode()
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("SELECT note FROM common_nwbfile.analysis_note")
        assert cur.fetchone() == ("Imported on a server that had ) ENGINE=InnoDB DEFAULT CHARSET=latin1; this note must stay as written",)
