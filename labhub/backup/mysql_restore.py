"""`labhub backup mysql restore`: load a backup's schemas (and accounts) into a server.

A schema that exists on the target and holds anything (tables, views,
routines, events) is not overwritten unless `--force`, which drops it first:
a restore never merges a backup into live data. Files are checked against the
manifest's sha256 before anything is loaded.

Parts are applied in the manifest's order (every schema's tables, data,
triggers and routines, then every schema's views), then the accounts, each
piped through the `mysql` client with `--defaults-file` and a 512M packet
limit. `rename` maps a schema to another name on the target (verify restores
`a` as `<prefix>a`): the dump's own `CREATE DATABASE`, `USE` and
`ALTER DATABASE` lines for that schema are rewritten as they stream through.
"""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any

from labhub.backup.layout import load_backup, select_entries
from labhub.backup.mysql_client import ClientError, ClientTools, last_line, quote_identifier, quote_string
from labhub.backup.parts import read_chunks
from labhub.errors import UserError


def non_empty(tools: ClientTools, schemas: list[str]) -> list[str]:
    """Those of `schemas` that exist on the server and hold a table, view, routine or event."""
    if not schemas:
        return []
    names = ", ".join(quote_string(name) for name in schemas)
    rows = tools.query(
        f"SELECT TABLE_SCHEMA FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({names}) "
        f"UNION SELECT ROUTINE_SCHEMA FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN ({names}) "
        f"UNION SELECT EVENT_SCHEMA FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN ({names});"
    )
    found = {row[0] for row in rows}
    return [name for name in schemas if name in found]


def restore(tools: ClientTools, backup: Path, schemas: list[str] | None, force: bool, accounts: bool = True) -> list[str]:
    """Restore `schemas` (default: all, plus accounts) from `backup`; returns the schemas restored."""
    manifest = load_backup(backup, "mysql")
    entries = select_entries(manifest["schemas"], schemas, "schema")
    names = [entry["name"] for entry in entries]
    occupied = non_empty(tools, names)
    if occupied and not force:
        raise UserError(f"refusing to overwrite non-empty schema {', '.join(map(repr, occupied))} on the target: pass --force to drop and replace")
    if occupied:
        # Other schemas' foreign keys may point into these (DataJoint does that across schemas);
        # the restore puts the same tables back, so the references hold again afterwards.
        tools.query("SET FOREIGN_KEY_CHECKS = 0;" + "".join(f"DROP DATABASE {quote_identifier(name)};" for name in occupied))
    wanted = {part for entry in entries for part in entry["parts"]}
    for part in manifest["restore_order"]:
        if part in wanted:
            apply_sql_file(tools, backup / part, {})
    if accounts and not schemas:
        apply_sql_file(tools, backup / manifest["accounts"], {})
    return names


def apply_sql_file(tools: ClientTools, path: Path, rename: dict[str, str]) -> None:
    """Pipe a compressed SQL file through the `mysql` client; ClientError with its last stderr line on failure."""
    # --comments: the client would otherwise strip `-- ...` lines from what it sends, including
    # those inside routine and trigger bodies (plain `mysql < dump.sql` loses them).
    process = subprocess.Popen(tools.client_args("--batch", "--comments"), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        for chunk in _renamed(read_chunks(path), rename):
            process.stdin.write(chunk)  # type: ignore[union-attr]
        process.stdin.close()  # type: ignore[union-attr]
    except BrokenPipeError:
        pass  # the client died: its exit status and stderr say why
    returncode = process.wait()
    reader.join()
    if returncode != 0:
        raise ClientError(f"restoring {path.name} failed: {last_line(b''.join(stderr))}")


def _renamed(chunks: Any, rename: dict[str, str]) -> Any:
    """The stream with the dump's schema-level statements for renamed schemas rewritten; whole lines only."""
    if not rename:
        yield from chunks
        return
    alternatives = b"|".join(re.escape(quote_identifier(old).encode()) for old in rename)
    pattern = re.compile(
        rb"(?m)^(-- Current Database: |USE |CREATE DATABASE /\*!32312 IF NOT EXISTS\*/ |(?:/\*!\d+ )?ALTER DATABASE )(" + alternatives + rb")"
    )
    targets = {quote_identifier(old).encode(): quote_identifier(new).encode() for old, new in rename.items()}
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        carry, data = data[cut:], data[:cut]
        yield pattern.sub(lambda m: m[1] + targets[m[2]], data)
    if carry:
        yield pattern.sub(lambda m: m[1] + targets[m[2]], carry)
