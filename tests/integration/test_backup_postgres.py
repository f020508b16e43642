"""`labhub backup postgres` against real servers: what is dumped is what a second server gets back.

Invariants, through the real CLI with credentials only in a libpq service
file (mode 0400, TCP with a password, as a pod reaches the XNAT Postgres):

* dump from one server, restore into a second: every table's rows are
  identical (compared as a server-side md5 of the ordered rows), views,
  functions, triggers and roles come back, for awkward data (bytea with every
  byte value, unicode, NULs-free text with quotes and backslashes, a large
  row, jsonb, arrays, a database name with a space);
* the manifest's sizes and sha256 match the files; `verify` passes, writes
  verified.json and drops its scratch databases;
* restore refuses a non-empty database without --force;
* a dump stopped halfway (pg_dump killed, or SIGTERM) exits non-zero and
  leaves nothing in --dest;
* the password is on no process's command line (read from /proc).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import pytest
from backup_testlib import finished_or_partial, labhub, start_labhub, wait_for_child, watch_cmdlines
from psycopg import sql

pytestmark = pytest.mark.integration

DATABASES = ["lab data", "xnat"]


def fill(server) -> None:  # type: ignore[no-untyped-def]
    with server.connect() as conn:
        for name in DATABASES:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        conn.execute("CREATE ROLE xnat_app LOGIN PASSWORD 'not-a-real-one'")  # pragma: allowlist secret
    with server.connect("xnat") as conn:
        conn.execute("CREATE TABLE subjects (id serial PRIMARY KEY, label text NOT NULL, meta jsonb, tags text[], raw bytea)")
        conn.execute("ALTER TABLE subjects OWNER TO xnat_app")
        conn.execute("CREATE TABLE audit (id serial PRIMARY KEY, subject int)")
        conn.execute("CREATE FUNCTION log_subject() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit (subject) VALUES (NEW.id); RETURN NEW; END $$")
        conn.execute("CREATE TRIGGER subjects_audit AFTER INSERT ON subjects FOR EACH ROW EXECUTE FUNCTION log_subject()")
        rows = [("sub-ü🧠", '{"a": [1, 2]}', ["x", "y,z"], bytes(range(256))), ("it's \\ \"q\" ),(", None, None, b""), ("big", None, None, os.urandom(3_000_000))]
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO subjects (label, meta, tags, raw) VALUES (%s, %s, %s, %s)", rows)
            cur.execute("INSERT INTO subjects (label) SELECT 'gen-' || g FROM generate_series(1, 2000) g")
        conn.execute("CREATE VIEW labelled AS SELECT id, label FROM subjects WHERE label LIKE 'sub%'")
        conn.execute("CREATE SCHEMA \"Odd Schema\"")
        conn.execute("CREATE TABLE \"Odd Schema\".\"t ü\" (x numeric, y timestamptz)")
        conn.execute("INSERT INTO \"Odd Schema\".\"t ü\" VALUES (1.5, '2024-01-01 00:00+02'), (NULL, NULL)")
    with server.connect("lab data") as conn:
        conn.execute("CREATE TABLE empty_table (x int)")


def fingerprint(server) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Per table: row count and md5 of all rows in a fixed order; plus views, functions, triggers, roles (server-side truth)."""
    out: dict[str, object] = {}
    for database in DATABASES:
        with server.connect(database) as conn:
            tables = conn.execute(
                "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
            ).fetchall()
            for schema, table in tables:
                ident = sql.Identifier(schema, table)
                query = sql.SQL("SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {} t").format(ident)
                out[f"{database}/{schema}.{table}"] = conn.execute(query).fetchone()
            out[f"{database}/objects"] = conn.execute(
                "SELECT (SELECT array_agg(viewname ORDER BY viewname) FROM pg_views WHERE schemaname = 'public'),"
                " (SELECT array_agg(proname ORDER BY proname) FROM pg_proc WHERE pronamespace = 'public'::regnamespace),"
                " (SELECT array_agg(tgname ORDER BY tgname) FROM pg_trigger WHERE NOT tgisinternal),"
                " (SELECT array_agg(tableowner ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public')"
            ).fetchone()
    with server.connect() as conn:
        out["roles"] = conn.execute("SELECT array_agg(rolname ORDER BY rolname) FROM pg_roles WHERE rolname NOT LIKE 'pg\\_%'").fetchone()
    return out


def service_file(path: Path, server) -> Path:  # type: ignore[no-untyped-def]
    path.write_text(f"[lab]\nhost={server.host}\nport={server.port}\nuser={server.superuser}\npassword={server.password}\nsslmode=disable\n")
    path.chmod(0o400)
    return path


@pytest.fixture(scope="module")
def source(postgres_factory):  # type: ignore[no-untyped-def]
    server = postgres_factory.start("backup-source")
    fill(server)
    return server


@pytest.fixture(scope="module")
def source_service(tmp_path_factory: pytest.TempPathFactory, source) -> list[str]:  # type: ignore[no-untyped-def]
    path = service_file(tmp_path_factory.mktemp("pgsvc") / "pg_service.conf", source)
    return ["--service", "lab", "--service-file", str(path)]


@pytest.fixture(scope="module")
def dumped(tmp_path_factory: pytest.TempPathFactory, source, source_service: list[str]):  # type: ignore[no-untyped-def]
    dest = tmp_path_factory.mktemp("pgbackups")
    process = start_labhub("backup", "postgres", "dump", *source_service, "--dest", str(dest), "--name", "xnat-db")
    seen = watch_cmdlines(process)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    (backup,) = list(dest.iterdir())
    assert stdout.strip() == str(backup)
    return backup, seen, stdout + stderr


def test_the_manifest_matches_the_files_and_counts_the_rows(dumped) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    manifest = json.loads((backup / "manifest.json").read_text())
    assert [entry["name"] for entry in manifest["databases"]] == ["lab data", "postgres", "xnat"]
    for entry in manifest["files"]:
        data = (backup / entry["path"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    xnat = next(entry for entry in manifest["databases"] if entry["name"] == "xnat")
    assert xnat["tables"]["public.subjects"]["rows"] == 2003
    assert xnat["tables"]["public.audit"]["rows"] == 2003
    assert xnat["views"] == ["public.labelled"] and xnat["triggers"] == ["public.subjects.subjects_audit"]


def test_the_password_is_on_no_command_line(dumped, source) -> None:  # type: ignore[no-untyped-def]
    _backup, seen, output = dumped
    assert [line for line in seen if os.path.basename(line[0]) == "pg_dump" or "pg_dump" in " ".join(line[:2])], seen
    assert not [line for line in seen if any(source.password in arg for arg in line)]
    assert source.password not in output


def test_a_second_server_gets_back_identical_rows_objects_and_roles(dumped, source, postgres_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    target = postgres_factory.start("backup-target")
    svc = service_file(tmp_path / "target.conf", target)
    result = labhub("backup", "postgres", "restore", "--service", "lab", "--service-file", str(svc), "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert fingerprint(target) == fingerprint(source)


def test_restore_refuses_a_non_empty_database_unless_forced(dumped, source, source_service: list[str]) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    before = fingerprint(source)
    refused = labhub("backup", "postgres", "restore", *source_service, "--from", str(backup), "--database", "xnat")
    assert refused.returncode == 2
    assert "refusing to overwrite non-empty database 'xnat'" in refused.stderr
    with source.connect("xnat") as conn:
        conn.execute("DELETE FROM subjects WHERE label LIKE 'gen-1%'")
    forced = labhub("backup", "postgres", "restore", *source_service, "--from", str(backup), "--database", "xnat", "--force")
    assert forced.returncode == 0, forced.stderr
    assert fingerprint(source) == before


def test_verify_restores_into_scratch_databases_and_passes(dumped, source, source_service: list[str]) -> None:  # type: ignore[no-untyped-def]
    backup, _seen, _output = dumped
    result = labhub("backup", "postgres", "verify", *source_service, "--from", str(backup))
    assert result.returncode == 0, result.stderr
    assert (backup / "verified.json").is_file()
    with source.connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'labhub\\_verify\\_%'").fetchone()[0] == 0


@pytest.mark.parametrize("how", [pytest.param("kill-pg_dump", id="pg_dump-killed"), pytest.param("sigterm", id="labhub-sigterm")])
def test_a_dump_stopped_halfway_exits_non_zero_and_leaves_nothing(how: str, source_service: list[str], tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    process = start_labhub("backup", "postgres", "dump", *source_service, "--dest", str(dest))
    child = wait_for_child(process, "pg_dump")
    assert process.poll() is None
    os.kill(child if how == "kill-pg_dump" else process.pid, signal.SIGKILL if how == "kill-pg_dump" else signal.SIGTERM)
    _stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "dump failed, nothing kept" in stderr
    assert finished_or_partial(dest) == []
