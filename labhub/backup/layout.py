"""Where a backup lives on disk, and how it gets there without ever looking finished early.

A backup is a directory `<dest>/<name>-<UTC timestamp>` holding its files and a
`manifest.json`. It is built under `<dest>/.partial-<name>-<timestamp>-<random>`
(same filesystem) and renamed into place only after every file and the
manifest are written and fsynced. So a directory whose name parses as a
backup is always complete: a dump that fails, is killed, or loses its server
leaves at most a `.partial-*` directory, which nothing treats as a backup and
`labhub backup prune` removes once it is old.

`verified.json` is added by `labhub backup <kind> verify` after a successful
restore test; `prune` never deletes the newest backup that has one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labhub.errors import UserError

MANIFEST = "manifest.json"
VERIFIED = "verified.json"
PARTIAL_PREFIX = ".partial-"
TIMESTAMP_FORMAT = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_BACKUP_DIR = re.compile(r"^(?P<name>[a-z0-9][a-z0-9_.-]{0,62})-(?P<stamp>\d{8}T\d{6}Z)$")


def check_name(name: str) -> str:
    """A backup name is a short lowercase slug, so `<name>-<timestamp>` always parses back."""
    if not _NAME.match(name):
        raise UserError(f"backup name {name!r} must be 1-63 of a-z 0-9 _ . - and start with a letter or digit")
    return name


@dataclass(frozen=True)
class BackupDir:
    """A finished backup directory: its name, its UTC time, and whether a restore test passed."""

    path: Path
    name: str
    taken_at: dt.datetime
    verified: bool


def parse_backup_dir(path: Path) -> BackupDir | None:
    """The backup a directory holds, or None when its name is not `<name>-<timestamp>` or it has no manifest."""
    match = _BACKUP_DIR.match(path.name)
    if not match or not (path / MANIFEST).is_file():
        return None
    taken_at = dt.datetime.strptime(match["stamp"], TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)
    return BackupDir(path, match["name"], taken_at, (path / VERIFIED).is_file())


def list_backups(dest: Path) -> list[BackupDir]:
    """Every finished backup directly under `dest`, oldest first."""
    if not dest.is_dir():
        raise UserError(f"backup folder {dest} does not exist")
    found = [b for child in dest.iterdir() if child.is_dir() and (b := parse_backup_dir(child)) is not None]
    return sorted(found, key=lambda b: (b.taken_at, b.name))


def latest_backup(dest: Path, name: str) -> Path:
    """The newest finished backup called `name` in `dest` (what a verify CronJob checks)."""
    found = [b for b in list_backups(dest) if b.name == name]
    if not found:
        raise UserError(f"no finished backup named {name!r} in {dest}")
    return found[-1].path


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


class Interrupted(Exception):
    """SIGTERM arrived while a backup was being built (Kubernetes stops a Job's pod this way)."""


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted("stopped by SIGTERM")


@contextlib.contextmanager
def building(dest: Path, name: str, now: dt.datetime | None = None) -> Iterator[tuple[Path, Path]]:
    """Yield (temporary dir, final path); on clean exit the temporary dir is renamed to the final path.

    On any exception (including `Interrupted`, raised by SIGTERM meanwhile) the
    temporary dir is deleted and the exception propagates: nothing finished-looking remains.
    """
    check_name(name)
    if not dest.is_dir():
        if not dest.parent.is_dir():
            raise UserError(f"--dest {dest}: neither it nor its parent folder exists")
        dest.mkdir(exist_ok=True)  # a CronJob's first run: /backups/<database> on a fresh volume
    stamp = (now or utc_now()).strftime(TIMESTAMP_FORMAT)
    final = dest / f"{name}-{stamp}"
    if final.exists():
        raise UserError(f"{final} already exists (two backups named {name!r} in the same second)")
    work = dest / f"{PARTIAL_PREFIX}{name}-{stamp}-{secrets.token_hex(4)}"
    work.mkdir(mode=0o700)
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_interrupted) if in_main else None
    try:
        yield work, final
        if not (work / MANIFEST).is_file():
            raise RuntimeError("internal error: backup finished without a manifest")
        _fsync_tree(work)
        os.rename(work, final)
        _fsync_dir(dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def _fsync_tree(root: Path) -> None:
    for directory, _dirs, files in os.walk(root):
        for file_name in files:
            fd = os.open(os.path.join(directory, file_name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(directory))


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON next to `path`, fsync, rename over it: readers see the old file or the new one."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True, ensure_ascii=False)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def read_manifest(backup: Path) -> dict[str, Any]:
    """The manifest of a finished backup; a one-line error when `backup` is not one."""
    path = backup / MANIFEST
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except FileNotFoundError as error:
        raise UserError(f"{backup} is not a finished backup (no {MANIFEST})") from error
    except (OSError, ValueError) as error:
        raise UserError(f"{path}: unreadable manifest: {error}") from error
    if not isinstance(manifest, dict) or "kind" not in manifest or "files" not in manifest:
        raise UserError(f"{path}: not a labhub backup manifest")
    return manifest


def load_backup(backup: Path, kind: str) -> dict[str, Any]:
    """The manifest of a sound backup of `kind`; a UserError when it is not one or its files do not match."""
    manifest = read_manifest(backup)
    if manifest["kind"] != kind:
        raise UserError(f"{backup} is a {manifest['kind']} backup, not {kind}")
    problems = check_files(backup, manifest)
    if problems:
        raise UserError(f"{backup} is damaged: {'; '.join(problems)}")
    return manifest


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_files(backup: Path, manifest: dict[str, Any]) -> list[str]:
    """Problems with the backup's files against the manifest (missing, size or sha256 differ); empty when sound."""
    problems = []
    for entry in manifest["files"]:
        path = backup / entry["path"]
        if not path.is_file():
            problems.append(f"{entry['path']}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{entry['path']}: size {path.stat().st_size} != {entry['size']}")
        elif sha256_file(path) != entry["sha256"]:
            problems.append(f"{entry['path']}: sha256 differs")
    return problems


def safe_file_stem(index: int, name: str) -> str:
    """A file name for a schema/database: its position plus its name with anything unusual replaced.

    Database names may hold spaces, dots or non-ASCII; the index keeps two
    names that sanitize alike apart, and the manifest maps files back to names.
    """
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:80]
    return f"{index:04d}-{cleaned}"


def select_entries(entries: list[dict[str, Any]], wanted: list[str] | None, what: str) -> list[dict[str, Any]]:
    """The manifest's entries (schemas or databases) named in `wanted`, in that order; all of them when none are named.

    A name the backup does not hold is a UserError listing what it does hold (`what`: "schema", "database").
    """
    by_name = {entry["name"]: entry for entry in entries}
    if not wanted:
        return list(entries)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        raise UserError(f"{what} {', '.join(map(repr, unknown))} is not in this backup (it has: {', '.join(by_name) or 'none'})")
    return [by_name[name] for name in wanted]


def compare_stats(name: str, expected: dict[str, Any], found: dict[str, Any], checksum: str, objects: tuple[str, ...]) -> list[str]:
    """Differences between the manifest's record of a schema/database and a restored copy's, one line each.

    Per table: present on both sides, same row count, same `checksum` (the key each kind records its
    row digest under); then each of `objects` (views, routines, ...) compared as a whole.
    """
    problems = []
    for table in sorted(set(expected["tables"]) | set(found["tables"])):
        want, got = expected["tables"].get(table), found["tables"].get(table)
        if want is None or got is None:
            problems.append(f"{name}.{table}: {'not in the backup' if want is None else 'missing after restore'}")
        elif want["rows"] != got["rows"]:
            problems.append(f"{name}.{table}: {got['rows']} rows after restore, {want['rows']} dumped")
        elif want[checksum] != got[checksum]:
            problems.append(f"{name}.{table}: data differs after restore")
    for key in objects:
        if expected[key] != found[key]:
            problems.append(f"{name}: {key} differ after restore ({expected[key]} dumped, {found[key]} restored)")
    return problems
