"""`labhub db apply-roles`: create the lab's accounts from Secret files, then run the roles SQL verbatim.

This is what the LabDatabase's Job runs. The split keeps passwords out of
everything a person reads: the roles script (`labhub db roles-sql`) carries
no password and is applied exactly as printed; the passwords come from files
(a Kubernetes Secret volume: one file per account, named after it), never
from the command line, and never reach a log line or an error message.

Per account, `CREATE USER IF NOT EXISTS ... IDENTIFIED BY` then `ALTER USER
... IDENTIFIED BY`: an account never exists without its password, and the
Secret stays the source of truth (rotating a Secret and re-running the Job
rotates the password). Both statements go through the driver's own quoting.

Before any SQL runs: the script must parse, every account it grants to needs
a password file, every file name must be a valid account name, and the
script's dialect must match the server (MySQL 8 and MariaDB spell `SET
DEFAULT ROLE` differently).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pymysql

from labhub.db.roles import check_account_name, parse_sql
from labhub.errors import UserError
from labhub.secret_files import read_secret

_GRANTEE = re.compile(r"'([^']+)'@'%'")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sql", type=Path, required=True, help="the script `labhub db roles-sql` printed")
    parser.add_argument("--passwords-dir", type=Path, required=True, help="one file per account, named after it, holding its password")
    parser.add_argument("--host", default="127.0.0.1", help="database host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3306, help="database port (default 3306)")
    parser.add_argument("--admin-user", default="root", help="account that applies the script (default root)")
    parser.add_argument("--admin-password-file", type=Path, required=True, help="file holding the admin account's password")


def read_passwords(directory: Path) -> dict[str, str]:
    """Account name -> password, from a Secret volume's files (its `..data` bookkeeping entries skipped)."""
    if not directory.is_dir():
        raise UserError(f"--passwords-dir {directory} is not a directory")
    passwords = {}
    for entry in sorted(directory.iterdir()):
        if entry.name.startswith("."):
            continue
        try:
            check_account_name(entry.name)
        except ValueError as error:
            raise UserError(f"password file {entry}: {error}") from None
        passwords[entry.name] = read_secret(entry, f"the password of {entry.name!r}")
    return passwords


def plan(sql_text: str, passwords: dict[str, str]) -> tuple[str, list[str]]:
    """Check the script against the password files before anything runs; return its dialect and statements."""
    try:
        dialect, statements = parse_sql(sql_text)
    except ValueError as error:
        raise UserError(f"--sql: {error}") from None
    # Accounts the script grants to must exist, so need a password; a retired one is only locked, if it exists.
    granted = sorted({name for statement in statements if statement.startswith("GRANT ") for name in _GRANTEE.findall(statement)})
    missing = [name for name in granted if name not in passwords]
    if missing:
        raise UserError(f"no password file for account {missing[0]!r} (the script grants to it); mount its Secret")
    return dialect, statements


def server_dialect(connection: pymysql.connections.Connection) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION()")
        (version,) = cursor.fetchone()
    return "mariadb" if "mariadb" in version.lower() else "mysql8"


def apply(connection: pymysql.connections.Connection, dialect: str, statements: list[str], passwords: dict[str, str]) -> None:
    """Create or re-password each account, then run the statements in order; errors carry no password."""
    actual = server_dialect(connection)
    if actual != dialect:
        raise UserError(f"the script is for {dialect} but the server is {actual}: print it with --dialect {actual}")
    with connection.cursor() as cursor:
        for name, password in passwords.items():
            for verb in ("CREATE USER IF NOT EXISTS", "ALTER USER"):
                try:
                    cursor.execute(f"{verb} %s@'%%' IDENTIFIED BY %s", (name, password))
                except pymysql.MySQLError as error:
                    message = str(error.args[-1]).replace(password, "***")
                    raise UserError(f"{verb} for account {name!r} failed: {message}") from None
        for statement in statements:
            try:
                cursor.execute(statement)
            except pymysql.MySQLError as error:
                raise UserError(f"{statement}: {error.args[-1]}") from None


def run(args: argparse.Namespace) -> int:
    try:
        sql_text = args.sql.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read --sql {args.sql}: {type(error).__name__}") from None
    passwords = read_passwords(args.passwords_dir)
    dialect, statements = plan(sql_text, passwords)
    admin_password = read_secret(args.admin_password_file, "the admin password")
    try:
        connection = pymysql.connect(
            host=args.host, port=args.port, user=args.admin_user, password=admin_password, autocommit=True, connect_timeout=10
        )
    except pymysql.MySQLError as error:
        raise UserError(f"cannot connect to {args.host}:{args.port} as {args.admin_user!r}: {error.args[-1]}") from None
    try:
        apply(connection, dialect, statements, passwords)
    finally:
        connection.close()
    print(f"applied {len(statements)} statements ({dialect}); accounts: {', '.join(passwords) or 'none'}")
    return 0
