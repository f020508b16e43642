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
import sys
from pathlib import Path

from labhub.backup import offsite
from labhub.backup.layout import Interrupted, latest_backup
from labhub.backup.postgres import PgFailed, dump, restore, verify
from labhub.backup.postgres_client import PgConnection
from labhub.backup.postgres_roles import READ_ALL, connect_as_admin, ensure_backup_role
from labhub.secret_files import read_secret


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="backup_postgres_command", required=True)
    dump_parser = commands.add_parser(
        "dump", help="globals + pg_dump -Fc per database, each in one snapshot; manifest; renamed into place when complete"
    )
    _connection(dump_parser)
    dump_parser.add_argument("--dest", required=True, type=Path, metavar="DIR", help="folder to create <name>-<UTC timestamp> in")
    dump_parser.add_argument("--name", default="postgres", help="backup name, the folder's prefix (default postgres)")
    dump_parser.add_argument("--no-role-passwords", action="store_true", help="leave role passwords out (lets a non-superuser dump globals)")
    offsite.add_arguments(dump_parser)
    restore_parser = commands.add_parser("restore", help="load a backup; refuses non-empty databases unless --force")
    _connection(restore_parser)
    _source(restore_parser)
    restore_parser.add_argument(
        "--database", action="append", metavar="NAME", help="restore only this database (repeatable; globals are then skipped)"
    )
    restore_parser.add_argument("--force", action="store_true", help="drop and replace databases that exist and are not empty")
    restore_parser.add_argument("--no-globals", action="store_true", help="do not restore roles and tablespaces")
    verify_parser = commands.add_parser("verify", help="restore into scratch databases, compare with the manifest, drop them")
    _connection(verify_parser)
    _source(verify_parser)
    verify_parser.add_argument("--prefix", default="labhub_verify_", help="scratch database prefix (default labhub_verify_)")
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


def _source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="backup", type=Path, metavar="BACKUP", help="a backup folder")
    source.add_argument("--from-latest", type=Path, metavar="DIR", help="the newest finished backup called --name in DIR")
    parser.add_argument("--name", default="postgres", help="with --from-latest: the backup name (default postgres)")


def ensure_role(args: argparse.Namespace) -> int:
    role_password = read_secret(args.role_password_file, f"the password of role {args.role!r}")
    admin_password = read_secret(args.admin_password_file, "the superuser's password")
    with connect_as_admin(args.host, args.port, args.dbname, args.admin_user, admin_password) as conn:
        done = ensure_backup_role(conn, args.role, role_password)
    revoked = f"; revoked membership in {', '.join(done.revoked)}" if done.revoked else ""
    print(f"role {args.role!r} {'created' if done.created else 'updated'}: LOGIN, member of {READ_ALL} only, password set from the file{revoked}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.backup_postgres_command == "ensure-role":
        return ensure_role(args)
    conn = PgConnection.from_args(args.service, args.service_file, args.maintenance_db, args.host, args.port)
    command = args.backup_postgres_command
    if command != "dump" and args.from_latest is not None:
        args.backup = latest_backup(args.from_latest, args.name)
    try:
        if command == "dump":
            backup = dump(conn, args.dest, args.name, role_passwords=not args.no_role_passwords)
            print(backup)
            try:
                offsite.copy_if_asked(args, backup)
            except offsite.OffsiteFailed as error:
                return _fail(f"{backup} is complete, but {error}")
        elif command == "restore":
            names = restore(conn, args.backup, args.database, args.force, with_globals=not args.no_globals)
            print(f"restored {len(names)} database(s) from {args.backup}")
        else:
            problems = verify(conn, args.backup, args.prefix)
            if problems:
                for problem in problems:
                    print(f"labhub backup: {problem}", file=sys.stderr)
                return _fail(f"{args.backup} did NOT verify ({len(problems)} problem(s))")
            print(f"{args.backup} verified")
    except (PgFailed, Interrupted) as error:
        prefix = "dump failed, nothing kept: " if command == "dump" else ""
        return _fail(f"{prefix}{error}")
    return 0


def _fail(message: str) -> int:
    print(f"labhub backup: error: {message}", file=sys.stderr)
    return 1
