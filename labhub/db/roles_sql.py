"""`labhub db roles-sql --stack STACK`: print the lab database's roles SQL from that stack's config.

For an admin to review, or to apply by hand (after creating the accounts).
It is the same text the LabDatabase component puts in its roles ConfigMap
and its Job applies (`LabDatabaseConfig.roles_sql`), from the same validated
config; no password is in it. `--dialect mariadb` prints the MariaDB
spelling, for a MariaDB server (the tests' stand-in).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from components.config import parse_stack_config
from labhub.db.roles import DIALECTS, render_sql
from labhub.engine import PROJECT_DIR, read_stack_files
from labhub.errors import UserError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack whose labhub:labDatabase config to read (Pulumi.<stack>.yaml)")
    parser.add_argument("--program", type=Path, default=PROJECT_DIR, help="Pulumi project directory (default: labhub's)")
    parser.add_argument("--dialect", choices=DIALECTS, default="mysql8", help="SQL dialect of the server (default mysql8, what LabDatabase runs)")


def run(args: argparse.Namespace) -> int:
    files = read_stack_files(args.program.resolve(), args.stack)
    database = parse_stack_config(files.config).lab_database
    if not database.enabled:
        raise UserError(f"labhub:labDatabase is not enabled on stack {args.stack!r}: it has no roles to print")
    if args.dialect == "mysql8":
        print(database.roles_sql(), end="")
    else:
        print(render_sql(database.roles, args.dialect), end="")
    return 0
