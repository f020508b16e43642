"""Connecting to PostgreSQL with libpq settings only, and the per-table stats both dump and verify record.

Connection settings come from libpq's own sources: a service file
(`--service NAME`, `--service-file FILE`: PGSERVICE/PGSERVICEFILE, whose
section may hold host, port, user, password, sslmode...), a password file
(PGPASSFILE) or PG* environment variables. The same environment is handed to
pg_dump, pg_restore and psql, so a password never appears on a command line.
In the cluster the service file is a Secret mounted read-only (mode 0400).

Stats: per ordinary table, `count(*)` and an order-independent checksum, the
sum of the first 64 bits of each row's md5 (as text). Taken inside the same
exported snapshot pg_dump reads (`pg_dump --snapshot`), so they describe
exactly the dumped rows even while the database is written to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from labhub.errors import UserError
from labhub.secret_files import check_readable_file

_TABLES = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
"""
_OBJECTS = """
SELECT 'view', n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('v', 'm') AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
UNION ALL
SELECT 'routine', n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'trigger', n.nspname || '.' || c.relname || '.' || t.tgname FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE NOT t.tgisinternal AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
"""


@dataclass(frozen=True)
class PgConnection:
    """The libpq environment every connection and client program uses."""

    env: dict[str, str]
    maintenance_db: str = "postgres"
    address: tuple[tuple[str, str], ...] = ()  # host/port from our command line: explicit, so they beat the service file

    @classmethod
    def from_args(
        cls, service: str | None, service_file: Path | None, maintenance_db: str, host: str | None = None, port: int | None = None
    ) -> PgConnection:
        env = dict(os.environ)
        if service_file is not None:
            check_readable_file(service_file, "--service-file")
            env["PGSERVICEFILE"] = str(service_file)
        if service is not None:
            env["PGSERVICE"] = service
        env.pop("PGDATABASE", None)  # each call names its database
        address = tuple((key, str(value)) for key, value in (("host", host), ("port", port)) if value)
        return cls(env, maintenance_db, address)

    def conninfo(self, dbname: str) -> str:
        """A conninfo naming only the database: quoted properly, whatever characters the name holds."""
        return make_conninfo(dbname=dbname, **dict(self.address))

    def connect(self, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
        # psycopg hands the conninfo to libpq, which reads PGSERVICE/PGSERVICEFILE/PGPASSFILE from
        # the process environment: the one place we set them is for children, so apply them here too.
        saved = {key: os.environ.get(key) for key in ("PGSERVICE", "PGSERVICEFILE")}
        os.environ.update({key: self.env[key] for key in saved if key in self.env})
        try:
            return psycopg.connect(self.conninfo(dbname or self.maintenance_db), autocommit=autocommit)
        except psycopg.OperationalError as error:
            raise UserError(f"cannot connect to PostgreSQL database {dbname or self.maintenance_db!r}: {_first_line(error)}") from error
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def databases(self) -> list[str]:
        with self.connect() as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname").fetchall()
        return [row[0] for row in rows]


def _first_line(error: Exception) -> str:
    return (str(error).strip().splitlines() or ["unknown error"])[0]


def database_stats(conn: psycopg.Connection) -> dict[str, Any]:
    """Row counts and checksums of every ordinary table, and the views, routines and triggers, in `conn`'s snapshot."""
    tables = {}
    for schema, table in conn.execute(_TABLES).fetchall():
        query = sql.SQL("SELECT count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 16))::bit(64)::bigint), 0)::text FROM ONLY {}.{} AS t").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        rows, checksum = conn.execute(query).fetchone()  # type: ignore[misc]
        tables[f"{schema}.{table}"] = {"rows": rows, "checksum": checksum}
    objects: dict[str, list[str]] = {"views": [], "routines": [], "triggers": []}
    for kind, name in conn.execute(_OBJECTS).fetchall():
        objects[f"{kind}s"].append(name)
    return {"tables": tables, **{key: sorted(value) for key, value in objects.items()}}


def non_empty(conn: psycopg.Connection) -> bool:
    """Whether the database holds any relation or routine outside the system schemas."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%')"
        " OR EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%')"
    ).fetchone()
    return bool(row and row[0])
