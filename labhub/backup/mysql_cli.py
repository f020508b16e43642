"""`labhub backup mysql dump|restore|verify`: the command line of the MySQL backups.

Connection settings and credentials come only from `--defaults-file`, a MySQL
option file (`[client]` user, password, host, port or socket, ssl-*), which in
the cluster is a Secret mounted read-only. Nothing secret is accepted as a
flag, passed to a child process's argv, or printed.

Exit status: 0 done; 1 the dump, restore or verification failed (one line on
stderr says why; a failed dump leaves no finished-looking folder); 2 a usage
error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from labhub.backup import offsite
from labhub.backup.layout import latest_backup
from labhub.backup.mysql_client import ClientError, ClientTools
from labhub.backup.mysql_dump import DumpFailed, dump
from labhub.backup.mysql_restore import restore
from labhub.backup.mysql_verify import verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="backup_mysql_command", required=True)
    dump = commands.add_parser("dump", help="one consistent dump: a file per schema + accounts, manifest, renamed into place when complete")
    _connection(dump)
    dump.add_argument("--dest", required=True, type=Path, metavar="DIR", help="folder to create <name>-<UTC timestamp> in")
    dump.add_argument("--name", default="mysql", help="backup name, the folder's prefix (default mysql)")
    offsite.add_arguments(dump)
    restore = commands.add_parser("restore", help="load a backup; refuses non-empty schemas unless --force")
    _connection(restore)
    _source(restore)
    restore.add_argument("--schema", action="append", metavar="NAME", help="restore only this schema (repeatable; accounts are then skipped)")
    restore.add_argument("--force", action="store_true", help="drop and replace schemas that exist and are not empty")
    restore.add_argument("--no-accounts", action="store_true", help="do not restore users, roles and grants")
    verify = commands.add_parser("verify", help="restore into scratch schemas, compare with the manifest, drop them")
    _connection(verify)
    _source(verify)
    verify.add_argument("--prefix", default="labhub_verify_", help="scratch schema prefix (default labhub_verify_)")


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--defaults-file", required=True, type=Path, metavar="FILE", help="MySQL option file with the [client] connection and credentials")
    parser.add_argument("--host", help="server host (overrides the option file's)")
    parser.add_argument("--port", type=int, help="server TCP port (overrides the option file's)")


def _source(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="backup", type=Path, metavar="BACKUP", help="a backup folder")
    source.add_argument("--from-latest", type=Path, metavar="DIR", help="the newest finished backup called --name in DIR")
    parser.add_argument("--name", default="mysql", help="with --from-latest: the backup name (default mysql)")


def run(args: argparse.Namespace) -> int:
    tools = ClientTools.find(args.defaults_file, args.host, args.port)
    command = args.backup_mysql_command
    if command != "dump" and args.from_latest is not None:
        args.backup = latest_backup(args.from_latest, args.name)
    try:
        if command == "dump":
            try:
                backup = dump(tools, args.dest, args.name)
            except DumpFailed as error:
                return _fail(f"dump failed, nothing kept: {error}")
            print(backup)
            try:
                offsite.copy_if_asked(args, backup)
            except offsite.OffsiteFailed as error:
                return _fail(f"{backup} is complete, but {error}")
        elif command == "restore":
            names = restore(tools, args.backup, args.schema, args.force, accounts=not args.no_accounts)
            print(f"restored {len(names)} schema(s) from {args.backup}")
        else:
            problems = verify(tools, args.backup, args.prefix)
            if problems:
                for problem in problems:
                    print(f"labhub backup: {problem}", file=sys.stderr)
                return _fail(f"{args.backup} did NOT verify ({len(problems)} problem(s))")
            print(f"{args.backup} verified")
    except ClientError as error:
        return _fail(str(error))
    return 0


def _fail(message: str) -> int:
    print(f"labhub backup: error: {message}", file=sys.stderr)
    return 1
