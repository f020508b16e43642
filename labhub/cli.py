"""The `labhub` console command: one handle on every program labhub ships.

Each subcommand lives in its own module and is imported only when it runs, so
`labhub templates serve` never pays for Pulumi and `labhub render` never pays
for the web server. A subcommand module exposes two functions:

    add_arguments(parser: argparse.ArgumentParser) -> None
    run(args: argparse.Namespace) -> int          # the process exit code

A user error (bad config, bad flag value) is reported as one line on stderr
by raising `labhub.errors.UserError`; it never becomes a stack trace. So is a
subcommand whose extra is not installed (`labhub[deploy]`, `labhub[templates]`).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence

from labhub.errors import UserError

# subcommand path -> (module implementing it, one-line help)
_COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("render",): ("labhub.render", "run the program for a stack under the mock engine and write what it would deploy"),
    ("policy-check",): ("labhub.policy_check", "replay a stack's resources through the policy pack, as `pulumi preview --policy-pack` would"),
    ("templates", "serve"): ("labhub.templates.cli", "run the SampleDB notebook templating server"),
    ("db", "roles-sql"): ("labhub.db.roles_sql", "print the lab database's roles SQL (roles and grants, no passwords) from a stack's config"),
    ("db", "apply-roles"): ("labhub.db.apply", "create the lab database's accounts from Secret files, then apply the roles SQL as printed"),
    ("export", "prepare"): ("labhub.export.prepare", "turn a Spyglass paper export into a docker build context (SQL cleaned, streamed)"),
    ("backup", "mysql"): ("labhub.backup.mysql_cli", "MySQL/MariaDB backups: dump, restore, verify"),
    ("backup", "postgres"): ("labhub.backup.postgres_cli", "PostgreSQL backups: dump, restore, verify"),
    ("backup", "prune"): ("labhub.backup.prune", "delete old backups: keep N daily, M weekly, K monthly and the newest verified"),
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labhub", description="labhub: a research lab's analysis platform as code")
    parser.add_argument("--version", action="version", version=f"labhub {_version()}")
    groups: dict[tuple[str, ...], argparse._SubParsersAction] = {(): parser.add_subparsers(dest="command", required=True)}
    for path, (module, help_text) in _COMMANDS.items():
        for depth in range(1, len(path)):
            prefix = path[:depth]
            if prefix not in groups:
                group_parser = groups[prefix[:-1]].add_parser(prefix[-1], help=f"{prefix[-1]} commands")
                groups[prefix] = group_parser.add_subparsers(dest="_".join(prefix) + "_command", required=True)
        sub = groups[path[:-1]].add_parser(path[-1], help=help_text, description=help_text)
        sub.set_defaults(_module=module)
    return parser


def _version() -> str:
    """The installed distribution's version (pyproject.toml's), or a plain word when run from a bare checkout."""
    try:
        return importlib.metadata.version("labhub")
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


# Which extra each subcommand's imports come from, for a clear error when it is missing.
_EXTRAS = {
    "labhub.render": "deploy",
    "labhub.policy_check": "deploy",
    "labhub.templates.cli": "templates",
    "labhub.db.apply": "db",
    "labhub.db.roles_sql": "deploy",
    "labhub.backup.mysql_cli": "backup",
    "labhub.backup.postgres_cli": "backup",
    "labhub.backup.prune": "backup",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, then import and run only the chosen subcommand."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _build_parser()
    chosen = _chosen_command(argv)
    if chosen is None:  # no (complete) subcommand: argparse explains, or prints the top-level help
        parser.parse_args(argv)
        return 2
    module_name = _COMMANDS[chosen][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        extra = _EXTRAS.get(module_name, "test")
        print(f"labhub: error: `labhub {' '.join(chosen)}` needs {error.name!r}: pip install 'labhub[{extra}]'", file=sys.stderr)
        return 2
    module.add_arguments(_subparser(parser, chosen))
    args = parser.parse_args(argv)
    try:
        return int(module.run(args))
    except UserError as error:
        print(f"labhub: error: {error}", file=sys.stderr)
        return 2


def _chosen_command(argv: list[str]) -> tuple[str, ...] | None:
    """The subcommand path argv starts with (its options follow it), if any."""
    return next((path for path in _COMMANDS if argv[: len(path)] == list(path)), None)


def _subparser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    current = parser
    for word in path:
        action = next(a for a in current._actions if isinstance(a, argparse._SubParsersAction))
        current = action.choices[word]
    return current


if __name__ == "__main__":
    sys.exit(main())
