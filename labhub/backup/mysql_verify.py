"""`labhub backup mysql verify`: prove a backup restores, by restoring it and comparing with its manifest.

For each schema `s` in the backup: restore it as `<prefix>s` on the target
server (a scratch server, or the live one: nothing outside `<prefix>*` is
touched), dump that copy with the same mysqldump options and the same
splitter, and compare every table's row count and data hash, and the views,
routines, events and trigger count, with what the manifest recorded at dump
time. The copy is dropped afterwards, pass or fail. A scratch schema that
already exists is an error (a previous verify left it, or a name clash).

The comparison is exact, so the target must run the same server version as
the source (float and date formatting can change between versions). On
success `verified.json` is written into the backup; `prune` never deletes the
newest backup that has one. Events are restored enabled: on a live server
with the event scheduler on, an event could fire in the scratch copy, so
verify against a scratch server where events matter.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from labhub.backup.layout import VERIFIED, compare_stats, load_backup, select_entries, utc_now, write_json_atomic
from labhub.backup.mysql_client import ClientError, ClientTools, last_line, quote_identifier
from labhub.backup.mysql_restore import apply_sql_file, non_empty
from labhub.backup.mysql_split import DumpSplitter
from labhub.backup.parts import CHUNK
from labhub.errors import UserError

MAX_NAME = 64


class _Discard:
    """A PartSink that keeps nothing: verify needs the stats of a dump, not its files."""

    def open_part(self, schema: str, part: int, header: bytes) -> None: ...
    def write(self, data: bytes | memoryview) -> None: ...
    def close_part(self) -> None: ...
    def finish(self, footer: bytes) -> None: ...


def verify(tools: ClientTools, backup: Path, prefix: str, schemas: list[str] | None = None) -> list[str]:
    """Problems found (empty: the backup restores to exactly what was dumped, and verified.json is written)."""
    manifest = load_backup(backup, "mysql")
    entries = select_entries(manifest["schemas"], schemas, "schema")
    scratch = {entry["name"]: f"{prefix}{entry['name']}" for entry in entries}
    too_long = [name for name in scratch.values() if len(name) > MAX_NAME]
    if too_long:
        raise UserError(f"scratch schema name {too_long[0]!r} is longer than {MAX_NAME} characters: use a shorter --prefix")
    taken = non_empty(tools, list(scratch.values())) + [row[0] for row in tools.query("SHOW DATABASES;") if row[0] in scratch.values()]
    if taken:
        raise UserError(f"scratch schema {sorted(set(taken))[0]!r} already exists on the target: drop it or choose another --prefix")
    problems: list[str] = []
    for entry in entries:
        problems += _verify_schema(tools, backup, entry, scratch[entry["name"]])
    if not problems:
        write_json_atomic(backup / VERIFIED, {"verified_at": utc_now().isoformat(), "schemas": [entry["name"] for entry in entries]})
    return problems


def _verify_schema(tools: ClientTools, backup: Path, entry: dict[str, Any], scratch: str) -> list[str]:
    name = entry["name"]
    try:
        for part in entry["parts"]:
            apply_sql_file(tools, backup / part, {name: scratch})
        found = dump_stats(tools, scratch)
    except ClientError as error:
        return [f"{name}: {error}"]
    finally:
        tools.query(f"DROP DATABASE IF EXISTS {quote_identifier(scratch)};")
    return compare_stats(name, entry, found, "sha256", ("views", "routines", "events", "triggers"))


def dump_stats(tools: ClientTools, schema: str) -> dict[str, Any]:
    """What the splitter records for `schema` when it is dumped the way `dump` dumps."""
    splitter = DumpSplitter([schema], _Discard())
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(tools.dump_args([schema]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        with process:
            while chunk := process.stdout.read(CHUNK):  # type: ignore[union-attr]
                splitter.feed(chunk)
        if process.returncode != 0:
            errors.seek(0)
            raise ClientError(f"dumping the restored copy failed: {last_line(errors.read())}")
    splitter.close()
    return splitter.stats[schema].as_dict()
