"""`labhub backup postgres dump|restore|verify|ensure-role`: the command line of the PostgreSQL backups.

Connection settings and credentials come only from libpq's sources: a
service file (`--service`, `--service-file`), PGPASSFILE, or PG* variables.
Nothing secret is accepted as a flag, passed on a child's argv, or printed.
`ensure-role` (the Backups component's Job) takes the superuser's and the
backup role's passwords from files (mounted Secrets), by path.
Exit status as for `labhub backup mysql`: 0 done, 1 failed, 2 usage error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labhub.backup.cli_common import add_commands, fail, report_dump, report_verify, resolve_source
from labhub.backup.layout import Interrupted
from labhub.backup.postgres import PgFailed, dump, restore, verify
from labhub.backup.postgres_client import PgConnection
from labhub.backup.postgres_roles import READ_ALL, check_role_name, connect_as_admin, ensure_backup_role
from labhub.secret_files import read_secret


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="backup_postgres_command", required=True)
    dump_help = "globals + pg_dump -Fc per database, each in one snapshot; manifest; renamed into place when complete"
    dump, restore, _verify = add_commands(commands, _connection, "postgres", "database", dump_help)
    dump.add_argument("--no-role-passwords", action="store_true", help="leave role passwords out (lets a non-superuser dump globals)")
    restore.add_argument("--database", action="append", metavar="NAME", help="restore only this database (repeatable; globals are then skipped)")
    restore.add_argument("--no-globals", action="store_true", help="do not restore roles and tablespaces")
    role_parser = commands.add_parser("ensure-role", help=f"create or update a backup role: LOGIN, member of {READ_ALL} only, password from a file")
    role_parser.add_argument("--host", required=True, help="server host")
    role_parser.add_argument("--port", type=int, default=5432, help="server port (default 5432)")
    role_parser.add_argument("--dbname", default="postgres", help="database to connect to (default postgres)")
    role_parser.add_argument("--admin-user", required=True, help="a superuser to connect as")
    role_parser.add_argument("--admin-password-file", required=True, type=Path, metavar="FILE", help="file holding the superuser's password")
    role_parser.add_argument("--role", required=True, help="the backup role to create or update")
    role_parser.add_argument("--role-password-file", required=True, type=Path, metavar="FILE", help="file holding the backup role's password")


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", metavar="NAME", help="libpq service (a section of the service file)")
    parser.add_argument("--service-file", type=Path, metavar="FILE", help="libpq service file (default: PGSERVICEFILE or ~/.pg_service.conf)")
    parser.add_argument(
        "--maintenance-db", default="postgres", metavar="NAME", help="database to connect to for listing and creating (default postgres)"
    )
    parser.add_argument("--host", help="server host (overrides the service file's)")
    parser.add_argument("--port", type=int, help="server port (overrides the service file's)")


def ensure_role(args: argparse.Namespace) -> int:
    check_role_name(args.role)  # before any file is read or connection made
    role_password = read_secret(args.role_password_file, f"the password of role {args.role!r}")
    admin_password = read_secret(args.admin_password_file, "the superuser's password")
    with connect_as_admin(args.host, args.port, args.dbname, args.admin_user, admin_password) as conn:
        done = ensure_backup_role(conn, args.role, role_password)
    revoked = f"; revoked membership in {', '.join(done.revoked)}" if done.revoked else ""
    print(f"role {args.role!r} {'created' if done.created else 'updated'}: LOGIN, member of {READ_ALL} only, password set from the file{revoked}")
    return 0


def run(args: argparse.Namespace) -> int:
    command = args.backup_postgres_command
    if command == "ensure-role":
        return ensure_role(args)
    conn = PgConnection.from_args(args.service, args.service_file, args.maintenance_db, args.host, args.port)
    resolve_source(args)
    try:
        if command == "dump":
            return report_dump(args, dump(conn, args.dest, args.name, role_passwords=not args.no_role_passwords))
        if command == "restore":
            names = restore(conn, args.backup, args.database, args.force, with_globals=not args.no_globals)
            print(f"restored {len(names)} database(s) from {args.backup}")
            return 0
        return report_verify(args.backup, verify(conn, args.backup, args.prefix))
    except (PgFailed, Interrupted) as error:
        prefix = "dump failed, nothing kept: " if command == "dump" else ""
        return fail(f"{prefix}{error}")
