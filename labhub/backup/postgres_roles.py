"""`labhub backup postgres ensure-role`: keep a least-privilege backup role in a PostgreSQL server.

The Backups component runs this as a Job, as the server's superuser, on every
deploy that changes the role or rotates its password: the official image's
/docker-entrypoint-initdb.d scripts run on the first start only, so they
could neither rotate the password nor fix a role someone changed by hand.

What the role ends up as, whatever it was before (idempotent):

    LOGIN, NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS, INHERIT
    member of pg_read_all_data (PostgreSQL 14+) and of no other role
    password: the one in the mounted Secret file

pg_read_all_data lets `pg_dump` read every table, view and sequence and
`pg_dumpall --globals-only --no-role-passwords` read the roles; it grants no
write. The password never reaches a command line, the server's statement log
or an error message: it is read from a file, and libpq turns it into a
SCRAM-SHA-256 verifier on this side (`PQencryptPasswordConn`, as psql's
`\\password` does), so the ALTER ROLE statement carries only the verifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg
from psycopg import sql

from labhub.errors import UserError

READ_ALL = "pg_read_all_data"
_ROLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_ATTRIBUTES = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT -1"


@dataclass(frozen=True)
class Ensured:
    """What ensure_backup_role did, for the Job's one log line (no secret in it)."""

    created: bool
    revoked: tuple[str, ...]  # other roles it was a member of, taken away


def check_role_name(role: str) -> str:
    if not _ROLE.fullmatch(role) or role.startswith("pg_"):
        raise UserError(f"--role {role!r} is not allowed: a plain SQL name (a-z, 0-9, _), at most 63 characters, not starting with pg_")
    return role


def ensure_backup_role(conn: psycopg.Connection, role: str, password: str) -> Ensured:
    """Create or update `role` as described above, in one transaction; errors name the step, never the password."""
    check_role_name(role)
    ident = sql.Identifier(role)
    step = "checking the connecting role"
    try:
        with conn.transaction():
            me = conn.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
            if me is None or not me[1]:
                raise UserError("ensure-role must connect as a superuser (--admin-user): only one may change another role's attributes")
            if me[0] == role:
                raise UserError(f"--role {role!r} is the connecting superuser: the backup role must be a role of its own")
            step = "creating the role"
            created = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is None
            if created:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
            step = "setting the role's attributes and password"
            verifier = conn.pgconn.encrypt_password(password.encode(), role.encode(), b"scram-sha-256").decode()
            conn.execute(sql.SQL("ALTER ROLE {} WITH " + _ATTRIBUTES + " PASSWORD {}").format(ident, sql.Literal(verifier)))
            step = "revoking other role memberships"
            others = conn.execute(
                "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member"
                " WHERE u.rolname = %s AND g.rolname <> %s ORDER BY 1",
                (role, READ_ALL),
            ).fetchall()
            for (other,) in others:
                conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(other), ident))
            step = f"granting {READ_ALL}"
            conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(READ_ALL), ident))
    except psycopg.Error as error:
        raise UserError(f"ensure-role {role!r}: {step} failed: {_first_line(error, password, type(error).__name__)}") from None
    return Ensured(created, tuple(other for (other,) in others))


def connect_as_admin(host: str, port: int, dbname: str, user: str, password: str) -> psycopg.Connection:
    """A superuser connection; the password goes to libpq as a keyword, never into an environment or argv."""
    try:
        return psycopg.connect(host=host, port=port, dbname=dbname, user=user, password=password, connect_timeout=10, autocommit=True)
    except psycopg.OperationalError as error:
        message = _first_line(error, password, "unknown error")
        raise UserError(f"cannot connect to PostgreSQL {host}:{port} database {dbname!r} as {user!r}: {message}") from None


def _first_line(error: psycopg.Error, password: str, empty: str) -> str:
    """The server's or libpq's message, first line only, with the password masked should it be quoted back."""
    return (str(error).strip().splitlines() or [empty])[0].replace(password, "***")
