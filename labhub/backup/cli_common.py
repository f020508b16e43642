"""What `labhub backup mysql` and `labhub backup postgres` share on the command line: the source of a
restore or verify, and how a dump or a verification is reported (one line, exit status 0/1).

One copy, so both kinds answer the same flags with the same words and exit
codes, which the CronJobs and docs/backups.md rely on.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labhub.backup import offsite
from labhub.backup.layout import latest_backup


def add_commands(
    commands: Any, connection: Callable[[argparse.ArgumentParser], None], default_name: str, what: str, dump_help: str
) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser, argparse.ArgumentParser]:
    """The dump, restore and verify subcommands with the flags both kinds share; `what` is "schema" or "database".

    Returns the three parsers, for the flags of one kind only (--schema, --no-globals...).
    """
    dump = commands.add_parser("dump", help=dump_help)
    connection(dump)
    dump.add_argument("--dest", required=True, type=Path, metavar="DIR", help="folder to create <name>-<UTC timestamp> in")
    dump.add_argument("--name", default=default_name, help=f"backup name, the folder's prefix (default {default_name})")
    offsite.add_arguments(dump)
    restore = commands.add_parser("restore", help=f"load a backup; refuses non-empty {what}s unless --force")
    connection(restore)
    add_source(restore, default_name)
    restore.add_argument("--force", action="store_true", help=f"drop and replace {what}s that exist and are not empty")
    verify = commands.add_parser("verify", help=f"restore into scratch {what}s, compare with the manifest, drop them")
    connection(verify)
    add_source(verify, default_name)
    verify.add_argument("--prefix", default="labhub_verify_", help=f"scratch {what} prefix (default labhub_verify_)")
    return dump, restore, verify


def add_source(parser: argparse.ArgumentParser, default_name: str) -> None:
    """`--from BACKUP` or `--from-latest DIR [--name NAME]`: which backup a restore or verify reads."""
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from", dest="backup", type=Path, metavar="BACKUP", help="a backup folder")
    source.add_argument("--from-latest", type=Path, metavar="DIR", help="the newest finished backup called --name in DIR")
    parser.add_argument("--name", default=default_name, help=f"with --from-latest: the backup name (default {default_name})")


def resolve_source(args: argparse.Namespace) -> None:
    """Turn `--from-latest DIR` into the backup folder it means (args.backup); a UserError when there is none."""
    if getattr(args, "from_latest", None) is not None:
        args.backup = latest_backup(args.from_latest, args.name)


def report_dump(args: argparse.Namespace, backup: Path) -> int:
    """Print the finished backup, then copy it off-site when asked; a failed copy fails the run, the backup stays."""
    print(backup)
    try:
        offsite.copy_if_asked(args, backup)
    except offsite.OffsiteFailed as error:
        return fail(f"{backup} is complete, but {error}")
    return 0


def report_verify(backup: Path, problems: list[str]) -> int:
    """One stderr line per problem and a failing summary, or the one line saying the backup verified."""
    if problems:
        for problem in problems:
            print(f"labhub backup: {problem}", file=sys.stderr)
        return fail(f"{backup} did NOT verify ({len(problems)} problem(s))")
    print(f"{backup} verified")
    return 0


def fail(message: str) -> int:
    print(f"labhub backup: error: {message}", file=sys.stderr)
    return 1
