"""Prune keeps what its policy promises and never the one thing it must not lose.

Invariants (property tests over random backup histories and policies):
* the newest verified backup is never deleted, nor the newest backup;
* every backup is either kept or deleted, never both;
* the newest backup of each of the last N days (M weeks, K months) with backups is kept;
* a policy of zeros keeps exactly the newest and the newest verified.
And through the CLI, on real folders: --dry-run deletes nothing; a real run
deletes exactly what the dry run listed; unfinished `.partial-*` folders
older than a day go too, and a folder without a manifest is never a backup.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from labhub.backup.layout import BackupDir, list_backups
from labhub.backup.prune import Policy, plan
from labhub.cli import main

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def backup_at(minutes: int, verified: bool) -> BackupDir:
    taken_at = START + dt.timedelta(minutes=minutes)
    return BackupDir(Path(f"/backups/lab-{taken_at:%Y%m%dT%H%M%SZ}"), "lab", taken_at, verified)


histories = st.lists(
    st.tuples(st.integers(min_value=0, max_value=400 * 24 * 60), st.booleans()), min_size=1, max_size=60, unique_by=lambda t: t[0]
).map(lambda items: [backup_at(minutes, verified) for minutes, verified in items])
policies = st.builds(Policy, st.integers(0, 10), st.integers(0, 6), st.integers(0, 14))


@settings(max_examples=300, deadline=None)
@given(histories, policies)
def test_the_newest_verified_and_the_newest_backup_are_never_deleted(backups: list[BackupDir], policy: Policy) -> None:
    kept, deleted = plan(backups, policy)
    assert {b.path for b in kept} | {b.path for b in deleted} == {b.path for b in backups}
    assert not {b.path for b in kept} & {b.path for b in deleted}
    newest = max(backups, key=lambda b: b.taken_at)
    assert newest in kept
    verified = [b for b in backups if b.verified]
    if verified:
        assert max(verified, key=lambda b: b.taken_at) in kept


@settings(max_examples=300, deadline=None)
@given(histories, policies)
def test_the_newest_backup_of_each_recent_period_is_kept(backups: list[BackupDir], policy: Policy) -> None:
    kept, _deleted = plan(backups, policy)
    for count, period in ((policy.daily, lambda t: t.date()), (policy.weekly, lambda t: t.isocalendar()[:2]), (policy.monthly, lambda t: (t.year, t.month))):
        newest_per_period: dict[object, BackupDir] = {}
        for backup in backups:
            key = period(backup.taken_at)
            if key not in newest_per_period or backup.taken_at > newest_per_period[key].taken_at:
                newest_per_period[key] = backup
        recent = sorted(newest_per_period.values(), key=lambda b: b.taken_at, reverse=True)[:count]
        assert all(b in kept for b in recent)


@given(histories)
def test_a_policy_of_zeros_keeps_only_the_newest_and_the_newest_verified(backups: list[BackupDir]) -> None:
    kept, _deleted = plan(backups, Policy(0, 0, 0))
    expected = {max(backups, key=lambda b: b.taken_at).path}
    verified = [b for b in backups if b.verified]
    if verified:
        expected.add(max(verified, key=lambda b: b.taken_at).path)
    assert {b.path for b in kept} == expected


def make_backup(dest: Path, stamp: str, verified: bool = False) -> Path:
    folder = dest / f"lab-{stamp}"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"kind": "mysql", "files": []}')
    if verified:
        (folder / "verified.json").write_text("{}")
    return folder


def test_dry_run_deletes_nothing_and_a_real_run_deletes_what_it_listed(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    old_verified = make_backup(tmp_path, "20250101T020000Z", verified=True)
    for day in range(2, 10):
        make_backup(tmp_path, f"202502{day:02d}T020000Z")
    no_manifest = tmp_path / "lab-20250301T020000Z"
    no_manifest.mkdir()
    old_partial = tmp_path / ".partial-lab-20250101T020000Z-abcd"
    old_partial.mkdir()
    os.utime(old_partial, (time.time() - 3 * 86400,) * 2)
    fresh_partial = tmp_path / ".partial-lab-20250309T020000Z-beef"
    fresh_partial.mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    args = ["backup", "prune", "--dest", str(tmp_path), "--keep-daily", "2", "--keep-weekly", "0", "--keep-monthly", "0"]
    assert main([*args, "--dry-run"]) == 0
    listed = [line.split()[-1] for line in capsys.readouterr().out.splitlines() if line.startswith("would delete ")]
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert main(args) == 0
    remaining = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(set(before) - set(remaining)) == sorted(Path(p).name for p in listed)
    assert [b.path.name for b in list_backups(tmp_path)] == [old_verified.name, "lab-20250208T020000Z", "lab-20250209T020000Z"]
    assert no_manifest.is_dir() and fresh_partial.is_dir() and not old_partial.exists()
