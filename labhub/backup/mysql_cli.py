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
from pathlib import Path

from labhub.backup.cli_common import add_commands, fail, report_dump, report_verify, resolve_source
from labhub.backup.mysql_client import ClientError, ClientTools
from labhub.backup.mysql_dump import DumpFailed, dump
from labhub.backup.mysql_restore import restore
from labhub.backup.mysql_verify import verify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    commands = parser.add_subparsers(dest="backup_mysql_command", required=True)
    dump_help = "one consistent dump: a file per schema + accounts, manifest, renamed into place when complete"
    _dump, restore, _verify = add_commands(commands, _connection, "mysql", "schema", dump_help)
    restore.add_argument("--schema", action="append", metavar="NAME", help="restore only this schema (repeatable; accounts are then skipped)")
    restore.add_argument("--no-accounts", action="store_true", help="do not restore users, roles and grants")


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--defaults-file", required=True, type=Path, metavar="FILE", help="MySQL option file with the [client] connection and credentials"
    )
    parser.add_argument("--host", help="server host (overrides the option file's)")
    parser.add_argument("--port", type=int, help="server TCP port (overrides the option file's)")


def run(args: argparse.Namespace) -> int:
    tools = ClientTools.find(args.defaults_file, args.host, args.port)
    command = args.backup_mysql_command
    resolve_source(args)
    try:
        if command == "dump":
            try:
                backup = dump(tools, args.dest, args.name)
            except DumpFailed as error:
                return fail(f"dump failed, nothing kept: {error}")
            return report_dump(args, backup)
        if command == "restore":
            names = restore(tools, args.backup, args.schema, args.force, accounts=not args.no_accounts)
            print(f"restored {len(names)} schema(s) from {args.backup}")
            return 0
        return report_verify(args.backup, verify(tools, args.backup, args.prefix))
    except ClientError as error:
        return fail(str(error))
