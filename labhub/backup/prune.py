"""`labhub backup prune`: keep N daily, M weekly, K monthly backups; never the newest verified one.

The rule (grandfather-father-son, as restic and borg state it): walk the
backups newest first; a backup is kept as a daily if it is the newest of its
UTC day and fewer than N days have been kept so far; likewise weekly (ISO
week) and monthly. On top of that the newest backup overall is always kept
(it may not have been verified yet), and so is the newest backup that passed
`verify`, however old: if every recent backup fails to restore, the last one
that did is still there. Backups are grouped by name; each name is pruned on
its own. Leftover `.partial-*` folders older than a day (a dump killed with
SIGKILL cannot clean up) are removed too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from labhub.backup.layout import PARTIAL_PREFIX, BackupDir, list_backups, utc_now
from labhub.errors import UserError

PARTIAL_MAX_AGE = dt.timedelta(days=1)


@dataclass(frozen=True)
class Policy:
    daily: int
    weekly: int
    monthly: int


def plan(backups: Sequence[BackupDir], policy: Policy) -> tuple[list[BackupDir], list[BackupDir]]:
    """(keep, delete) for backups of one name; every backup lands in exactly one list."""
    newest_first = sorted(backups, key=lambda b: b.taken_at, reverse=True)
    keep: set[Path] = set()
    if newest_first:
        keep.add(newest_first[0].path)
    verified = next((b for b in newest_first if b.verified), None)
    if verified is not None:
        keep.add(verified.path)
    periods = (
        (policy.daily, lambda t: t.date()),
        (policy.weekly, lambda t: t.isocalendar()[:2]),
        (policy.monthly, lambda t: (t.year, t.month)),
    )
    for count, period_of in periods:
        seen: set[object] = set()
        for backup in newest_first:
            if len(seen) >= count:
                break
            period = period_of(backup.taken_at)
            if period not in seen:
                seen.add(period)
                keep.add(backup.path)
    kept = [b for b in newest_first if b.path in keep]
    deleted = [b for b in newest_first if b.path not in keep]
    return kept, deleted


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dest", required=True, type=Path, action="append", metavar="DIR", help="a folder holding backups (repeatable)")
    parser.add_argument("--keep-daily", type=int, default=7, metavar="N", help="newest backup of each of the last N days (default 7)")
    parser.add_argument("--keep-weekly", type=int, default=4, metavar="M", help="newest backup of each of the last M ISO weeks (default 4)")
    parser.add_argument("--keep-monthly", type=int, default=6, metavar="K", help="newest backup of each of the last K months (default 6)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be deleted and delete nothing")


def run(args: argparse.Namespace) -> int:
    for flag in ("keep_daily", "keep_weekly", "keep_monthly"):
        if getattr(args, flag) < 0:
            raise UserError(f"--{flag.replace('_', '-')} must be 0 or more")
    policy = Policy(args.keep_daily, args.keep_weekly, args.keep_monthly)
    for dest in args.dest:
        _prune(dest, policy, args.dry_run)
    return 0


def _prune(dest: Path, policy: Policy, dry_run: bool) -> None:
    if not dest.exists() and dest.parent.is_dir():
        print(f"{dest}: no backups yet")  # a database whose first dump has not run
        return
    backups = list_backups(dest)
    verb = "would delete" if dry_run else "deleted"
    for name in sorted({b.name for b in backups}):
        kept, deleted = plan([b for b in backups if b.name == name], policy)
        for backup in deleted:
            if not dry_run:
                shutil.rmtree(backup.path)
            print(f"{verb} {backup.path}")
        print(f"{name}: kept {len(kept)}, {verb} {len(deleted)}")
    cutoff = utc_now() - PARTIAL_MAX_AGE
    for child in sorted(dest.iterdir()):
        if child.name.startswith(PARTIAL_PREFIX) and dt.datetime.fromtimestamp(child.stat().st_mtime, dt.UTC) < cutoff:
            if not dry_run:
                shutil.rmtree(child)
            print(f"{verb} unfinished {child}")
