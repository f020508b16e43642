"""PostgreSQL backups: `pg_dump -Fc` per database in an exported snapshot, plus globals; restore; verify.

dump: roles and tablespaces from `pg_dumpall --globals-only` (compressed),
then for each database a repeatable-read transaction exports its snapshot,
`pg_dump --format=custom --snapshot=...` dumps exactly that snapshot while
we take per-table row counts and checksums in it (labhub.backup.postgres_client).
PostgreSQL has no snapshot spanning databases: each database is consistent
in itself, as with pg_dump anywhere. Same folder rules as MySQL
(labhub.backup.layout): renamed into place only when complete.

restore: globals (each `CREATE ROLE` made idempotent, so roles that exist on
the target are kept and only altered), then each database: refused when it
exists and holds anything unless --force (which drops it), created by
`pg_restore --create` when missing. Note that restoring globals sets role
passwords, including the target superuser's, to the backed-up ones.

verify: each database restored as `<prefix><name>` with --no-owner
--no-privileges, its stats compared with the manifest, then dropped.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from labhub.backup.layout import (
    MANIFEST,
    VERIFIED,
    building,
    compare_stats,
    load_backup,
    safe_file_stem,
    select_entries,
    sha256_file,
    utc_now,
    write_json_atomic,
)
from labhub.backup.parts import CompressedFile, read_chunks
from labhub.backup.postgres_client import PgConnection, database_stats, non_empty
from labhub.errors import UserError

MAX_NAME = 63


class PgFailed(Exception):
    """A client program or a comparison failed; the message says which and why."""


def _run(args: list[str], conn: PgConnection, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(args, env=conn.env, capture_output=True, check=False, **kwargs)
    if result.returncode != 0:
        lines = [line for line in result.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise PgFailed(f"{Path(args[0]).name} failed: {lines[-1] if lines else f'exit status {result.returncode}'}")
    return result


def dump(conn: PgConnection, dest: Path, name: str, role_passwords: bool = True) -> Path:
    with building(dest, name) as (work, final):
        globals_args = ["pg_dumpall", "--globals-only", "--dbname", conn.conninfo(conn.maintenance_db)]
        if not role_passwords:
            globals_args.append("--no-role-passwords")
        globals_file = CompressedFile(work / "globals.sql.zst").write_all(_run(globals_args, conn).stdout)
        (work / "databases").mkdir()
        entries, files = [], [globals_file.file.entry(work)]
        for index, database in enumerate(conn.databases(), start=1):
            path = work / "databases" / f"{safe_file_stem(index, database)}.dump"
            stats = _dump_database(conn, database, path)
            relative = path.relative_to(work).as_posix()
            entries.append({"name": database, "file": relative, **stats})
            files.append({"path": relative, "size": path.stat().st_size, "sha256": sha256_file(path)})
        with conn.connect() as admin:
            server_version = admin.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        manifest = {
            "format": 1, "kind": "postgres", "name": name, "backup": final.name, "server_version": server_version,
            "globals": "globals.sql.zst", "databases": entries, "files": sorted(files, key=lambda e: str(e["path"])),
        }  # fmt: skip
        write_json_atomic(work / MANIFEST, manifest)
    return final


def _dump_database(conn: PgConnection, database: str, path: Path) -> dict[str, Any]:
    with conn.connect(database, autocommit=False) as snap:
        snap.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        snap.read_only = True
        snapshot = snap.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        args = ["pg_dump", "--format=custom", f"--snapshot={snapshot}", f"--file={path}", "--dbname", conn.conninfo(database)]
        process = subprocess.Popen(args, env=conn.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            stats = database_stats(snap)
        finally:
            _, stderr = process.communicate()
        snap.rollback()
    if process.returncode != 0:
        lines = [line for line in stderr.decode(errors="replace").splitlines() if line.strip()]
        raise PgFailed(f"pg_dump of {database!r} failed: {lines[-1] if lines else process.returncode}")
    return stats


def _idempotent_roles(script: bytes) -> bytes:
    """`CREATE ROLE x;` -> create it unless it exists; the `ALTER ROLE x WITH ...` after it still applies."""
    return re.sub(
        rb"(?m)^CREATE ROLE (.+);$",
        lambda m: b"DO $labhub$ BEGIN CREATE ROLE " + m[1] + b"; EXCEPTION WHEN duplicate_object THEN NULL; END $labhub$;",
        script,
    )


def restore(conn: PgConnection, backup: Path, databases: list[str] | None, force: bool, with_globals: bool = True) -> list[str]:
    manifest = load_backup(backup, "postgres")
    entries = select_entries(manifest["databases"], databases, "database")
    existing = set(conn.databases())
    occupied = []
    for entry in entries:
        if entry["name"] in existing:
            with conn.connect(entry["name"]) as target:
                if non_empty(target):
                    occupied.append(entry["name"])
    if occupied and not force:
        raise UserError(f"refusing to overwrite non-empty database {', '.join(map(repr, occupied))} on the target: pass --force to drop and replace")
    if with_globals and not databases:
        script = _idempotent_roles(b"".join(read_chunks(backup / manifest["globals"])))
        _run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--dbname", conn.conninfo(conn.maintenance_db)], conn, input=script)
    with conn.connect() as admin:
        for name in occupied:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
    for entry in entries:
        archive = str(backup / entry["file"])
        if entry["name"] in existing and entry["name"] not in occupied:
            _run(["pg_restore", "--exit-on-error", "--dbname", conn.conninfo(entry["name"]), archive], conn)
        else:
            _run(["pg_restore", "--exit-on-error", "--create", "--dbname", conn.conninfo(conn.maintenance_db), archive], conn)
    return [entry["name"] for entry in entries]


def verify(conn: PgConnection, backup: Path, prefix: str) -> list[str]:
    manifest = load_backup(backup, "postgres")
    scratch = {entry["name"]: f"{prefix}{entry['name']}" for entry in manifest["databases"]}
    for name in scratch.values():
        if len(name.encode()) > MAX_NAME:
            raise UserError(f"scratch database name {name!r} is longer than {MAX_NAME} bytes: use a shorter --prefix")
    taken = set(scratch.values()) & set(conn.databases())
    if taken:
        raise UserError(f"scratch database {sorted(taken)[0]!r} already exists on the target: drop it or choose another --prefix")
    problems: list[str] = []
    for entry in manifest["databases"]:
        problems += _verify_database(conn, backup, entry, scratch[entry["name"]])
    if not problems:
        write_json_atomic(backup / VERIFIED, {"verified_at": utc_now().isoformat(), "databases": list(scratch)})
    return problems


def _verify_database(conn: PgConnection, backup: Path, entry: dict[str, Any], scratch: str) -> list[str]:
    name = entry["name"]
    with conn.connect() as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
    try:
        _run(
            ["pg_restore", "--exit-on-error", "--no-owner", "--no-privileges", "--dbname", conn.conninfo(scratch), str(backup / entry["file"])], conn
        )
        with conn.connect(scratch) as copy:
            found = database_stats(copy)
    except PgFailed as error:
        return [f"{name}: {error}"]
    finally:
        with conn.connect() as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
    return compare_stats(name, entry, found, "checksum", ("views", "routines", "triggers"))
