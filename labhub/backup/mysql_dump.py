"""`labhub backup mysql dump`: one consistent pass, split per schema while it streams.

One `mysqldump --single-transaction --databases <every user schema>` runs;
its output is split on the fly (labhub.backup.mysql_split) into one
compressed file per schema (plus a views file where a schema has views), and
accounts/grants are written beside them (labhub.backup.mysql_accounts). The
per-schema files, in the manifest's `restore_order`, with `accounts.sql.zst`
are the full restore set: nothing is read from the server twice.

Everything is built in a `.partial-*` folder and renamed to
`<name>-<UTC timestamp>` only when mysqldump exited 0, its stream ended with
"Dump completed", and the manifest is on disk (labhub.backup.layout). A
failure, a killed mysqldump or a SIGTERM to us removes the partial folder and
exits non-zero.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

from labhub.backup.layout import MANIFEST, Interrupted, building, safe_file_stem, write_json_atomic
from labhub.backup.mysql_accounts import export_accounts
from labhub.backup.mysql_client import ClientError, ClientTools, last_line
from labhub.backup.mysql_split import DumpFormatError, DumpSplitter, SchemaStats
from labhub.backup.parts import CHUNK, CompressedFile

SYSTEM_SCHEMAS = frozenset({"mysql", "information_schema", "performance_schema", "sys"})
FORMAT = 1


class DumpFailed(Exception):
    """The dump did not complete; the partial folder has been removed."""


class SchemaFiles:
    """The PartSink that writes each schema's parts as compressed files under `schemas/`."""

    def __init__(self, work: Path, schemas: list[str]) -> None:
        self.root = work
        (work / "schemas").mkdir()
        self._stems = {name: safe_file_stem(index, name) for index, name in enumerate(schemas, start=1)}
        self.parts: dict[tuple[str, int], CompressedFile] = {}
        self._current: CompressedFile | None = None

    def open_part(self, schema: str, part: int, header: bytes) -> None:
        suffix = ".sql.zst" if part == 0 else ".views.sql.zst"
        out = CompressedFile(self.root / "schemas" / f"{self._stems[schema]}{suffix}")
        self.parts[(schema, part)] = out
        out.start_frame()
        out.write(header)
        self._current = out

    def write(self, data: bytes | memoryview) -> None:
        assert self._current is not None
        self._current.write(data)

    def close_part(self) -> None:
        if self._current is not None:
            self._current.end_frame()
            self._current = None

    def finish(self, footer: bytes) -> None:
        for out in self.parts.values():
            out.write_all(footer)


def user_schemas(tools: ClientTools) -> list[str]:
    return [row[0] for row in tools.query("SHOW DATABASES;") if row[0] not in SYSTEM_SCHEMAS]


def dump(tools: ClientTools, dest: Path, name: str) -> Path:
    """Take one backup into `dest`; returns the finished folder. Raises DumpFailed (nothing left behind)."""
    try:
        with building(dest, name) as (work, final):
            manifest = _dump_into(tools, work, name, final)
            write_json_atomic(work / MANIFEST, manifest)
        return final
    except (ClientError, DumpFormatError, Interrupted) as error:
        raise DumpFailed(str(error)) from error


def _dump_into(tools: ClientTools, work: Path, name: str, final: Path) -> dict[str, Any]:
    schemas = user_schemas(tools)
    server_version = tools.query("SELECT VERSION();")[0][0]
    accounts = CompressedFile(work / "accounts.sql.zst").write_all(export_accounts(tools))
    sink = SchemaFiles(work, schemas)
    stats = _run_dump(tools, schemas, sink) if schemas else {}
    restore_order = [
        sink.parts[(schema, part)].file.path.relative_to(work).as_posix()
        for part in (0, 1)
        for schema in schemas
        if (schema, part) in sink.parts
    ]
    files = [out.file.entry(work) for out in sink.parts.values()] + [accounts.file.entry(work)]
    return {
        "format": FORMAT,
        "kind": "mysql",
        "name": name,
        "backup": final.name,
        "server_version": server_version,
        "client": "mariadb" if tools.mariadb else "mysql",
        "schemas": [
            {"name": schema, "parts": [sink.parts[(schema, p)].file.path.relative_to(work).as_posix() for p in (0, 1) if (schema, p) in sink.parts],
             **stats[schema].as_dict()}
            for schema in schemas
        ],  # fmt: skip
        "accounts": "accounts.sql.zst",
        "restore_order": restore_order,
        "files": sorted(files, key=lambda entry: str(entry["path"])),
    }


def _run_dump(tools: ClientTools, schemas: list[str], sink: SchemaFiles) -> dict[str, SchemaStats]:
    splitter = DumpSplitter(schemas, sink)
    process = subprocess.Popen(tools.dump_args(schemas), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr: list[bytes] = []
    reader = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        fd = process.stdout.fileno()  # type: ignore[union-attr]
        while chunk := os.read(fd, CHUNK):
            splitter.feed(chunk)
        returncode = process.wait()
        reader.join()
        if returncode != 0:
            raise DumpFailed(f"{Path(tools.dump).name} exited with {_describe(returncode)}: {last_line(b''.join(stderr))}")
        sink.close_part()
        splitter.close()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return splitter.stats


def _describe(returncode: int) -> str:
    return f"signal {-returncode}" if returncode < 0 else f"status {returncode}"
