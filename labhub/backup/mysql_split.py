"""Split one `mysqldump --databases A B ...` stream into per-schema parts while it is written.

The lab's old recipe read the data twice (a dump per schema, then
`--all-databases`), from two different moments. We read it once, in one
`--single-transaction` snapshot, and split the stream at mysqldump's
`-- Current Database: `name`` markers. Each part gets the dump's header
(session settings) and footer, so it restores on its own.

mysqldump visits each schema twice: tables, data, triggers, events and
routines first, then (after all schemas' tables exist) the final view
definitions. So each schema has part 0 and, when it has views, part 1:
restoring every part 0, then every part 1, replays the dump in its order, and
cross-schema views and foreign keys resolve as they did in the single file.

While splitting we count each table's rows and hash its data (the tuples of
its INSERT statements, as the client wrote them: MariaDB's client puts one
row per line, MySQL's all of a statement's rows on one line, so a hash is only
comparable with one made by the same client, which is what `verify` does: it
dumps the restored copy the same way and compares both). The data bytes are
never copied or scanned line by line: they are counted, hashed and written
as whole statements, in place (bench/backup measures the cost).

Markers are trusted only outside `DELIMITER ;;` blocks (routine and trigger
bodies are copied verbatim and could contain anything), only in mysqldump's
exact three-line form, and only for a schema we asked for.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

_MARKER = b"-- Current Database: `"
_DASHES = b"--\n"
_FOOTER_START = b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n"
_INSERT = b"INSERT INTO `"
_NAME = rb"`((?:[^`]|``)+)`"
_TABLE = re.compile(rb"^-- Table structure for table " + _NAME)
_VIEW = re.compile(rb"^-- (?:Temporary|Final) (?:table|view) structure for view " + _NAME)
_ROUTINE = re.compile(rb"^CREATE DEFINER=\S+ (PROCEDURE|FUNCTION) " + _NAME)
_EVENT = re.compile(rb"^/\*!50106 CREATE\*/ .*?EVENT " + _NAME)
_TRIGGER = re.compile(rb"^/\*!50003 CREATE\*/ .*?TRIGGER ")
_INSERT_HEAD = re.compile(rb"INSERT INTO " + _NAME + rb"(?: \([^)]*\))? VALUES([ \n])")
_STRING = re.compile(rb"'[^'\\]*(?:\\.[^'\\]*)*'", re.DOTALL)


def _name(raw: bytes) -> str:
    return raw.replace(b"``", b"`").decode("utf-8", errors="surrogateescape")


@dataclass
class TableStats:
    rows: int = 0
    chunks: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, tuples: bytes | memoryview) -> None:
        if self.chunks:
            self.digest.update(b",")
        self.digest.update(tuples)
        self.chunks += 1

    def as_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "sha256": self.digest.hexdigest()}


@dataclass
class SchemaStats:
    tables: dict[str, TableStats] = field(default_factory=dict)
    views: set[str] = field(default_factory=set)
    routines: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    triggers: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "tables": {name: stats.as_dict() for name, stats in sorted(self.tables.items())},
            "views": sorted(self.views),
            "routines": sorted(self.routines),
            "events": sorted(self.events),
            "triggers": self.triggers,
        }


def count_rows(values: bytes) -> int:
    """Rows in the tuple list `(..),(..)` or `(..),\\n(..)`: separators outside quoted strings, plus one."""
    rows = 1 + values.count(b"),\n(")  # a raw newline is never inside a string: dumps escape it as \n
    if b"),(" in values:
        rows += _STRING.sub(b"''", values).count(b"),(")
    return rows


def _statement_end(buf: bytearray, start: int) -> int:
    """Offset of the first `;\\n` at or after `start`, or -1.

    Searching for the rare `;` (memchr) and checking the byte after it is several
    times faster than searching for the two-byte `;\\n`, whose `\\n` ends every row.
    """
    while (semicolon := buf.find(b";", start)) >= 0:
        if semicolon + 1 >= len(buf):
            return -1
        if buf[semicolon + 1] == 10:
            return semicolon
        start = semicolon + 1
    return -1


class PartSink(Protocol):
    """Where the parts go: one open part at a time; the footer is appended to every part at the end."""

    def open_part(self, schema: str, part: int, header: bytes) -> None: ...
    def write(self, data: bytes | memoryview) -> None: ...
    def close_part(self) -> None: ...
    def finish(self, footer: bytes) -> None: ...


class DumpFormatError(Exception):
    """The stream is not what mysqldump writes (or was cut short)."""


class DumpSplitter:
    """Feed it the dump's bytes in any chunk sizes; it routes them to `sink` and gathers per-table stats."""

    def __init__(self, schemas: list[str], sink: PartSink, on_progress: Callable[[int], None] | None = None) -> None:
        self._expected = set(schemas)
        self._sink = sink
        self._visits: dict[str, int] = {}
        self.stats: dict[str, SchemaStats] = {name: SchemaStats() for name in schemas}
        self._buf = bytearray()
        self._insert_from: int | None = None  # buffer offset of an INSERT statement in progress
        self._header: list[bytes | memoryview] | None = []  # None once the first schema starts
        self._header_bytes = b""
        self._footer: list[bytes] | None = None  # set once the footer starts
        self._schema: str | None = None
        self._open = False
        self._lazy: list[bytes] = []  # lines of a views part, held until it has something besides USE
        self._pending_dashes = False
        self._in_delimiter = False
        self._awaiting_create = False
        self._on_progress = on_progress
        self.bytes_in = 0

    def feed(self, chunk: bytes) -> None:
        self.bytes_in += len(chunk)
        buf = self._buf
        buf += chunk
        pos = 0
        while True:
            if self._insert_from is not None:
                end = _statement_end(buf, max(pos, self._insert_from))
                if end < 0:
                    self._insert_from = max(pos, len(buf) - 1)
                    break
                self._insert_from = None
                self._insert(buf, pos, end + 2)
                pos = end + 2
                continue
            newline = buf.find(b"\n", pos)
            if newline < 0:
                break
            if buf.startswith(_INSERT, pos) and self._schema is not None and not self._in_delimiter and self._footer is None:
                self._insert_from = pos
                continue
            line = bytes(buf[pos : newline + 1])
            pos = newline + 1
            self._line(line)
        del buf[:pos]  # O(1) in CPython: a bytearray drops its head by moving its start
        if self._insert_from is not None:
            self._insert_from -= pos
        if self._on_progress:
            self._on_progress(self.bytes_in)

    def close(self) -> None:
        """The stream ended: it must have ended the way a complete dump does."""
        if self._buf or self._insert_from is not None:
            raise DumpFormatError("the dump ended in the middle of a line")
        if self._footer is None or not any(line.startswith(b"-- Dump completed") for line in self._footer):
            raise DumpFormatError("the dump ended before mysqldump's 'Dump completed' line")
        missing = sorted(self._expected - set(self._visits))
        if missing:
            raise DumpFormatError(f"the dump holds no section for {', '.join(missing)}")
        self._sink.finish(b"".join(self._footer))

    # -- lines outside INSERT statements

    def _line(self, line: bytes) -> None:
        if self._footer is not None:
            self._footer.append(line)
            return
        if self._in_delimiter:
            self._delimited(line)
            return
        if self._pending_dashes:
            self._pending_dashes = False
            if line.startswith(_MARKER):
                self._start_schema(line)
                return
            self._emit(_DASHES)
        if line == _DASHES:
            self._pending_dashes = True
            return
        if line == _FOOTER_START and self._schema is not None:
            self._end_part()
            self._footer = [line]
            return
        if line == b"DELIMITER ;;\n":
            self._in_delimiter = True
            self._awaiting_create = True
        elif self._schema is not None:
            self._inspect(line)
        self._emit(line)

    def _delimited(self, line: bytes) -> None:
        if line == b"DELIMITER ;\n":
            self._in_delimiter = False
        elif self._awaiting_create and not line.startswith(b"/*!50003 SET "):
            self._awaiting_create = False
            stats = self.stats[self._schema] if self._schema else None
            if stats is not None:
                if match := _ROUTINE.match(line):
                    stats.routines.add(f"{match[1].decode().lower()} {_name(match[2])}")
                elif match := _EVENT.match(line):
                    stats.events.add(_name(match[1]))
                elif _TRIGGER.match(line):
                    stats.triggers += 1
        self._emit(line)

    def _inspect(self, line: bytes) -> None:
        if not line.startswith(b"-- "):
            return
        stats = self.stats[self._schema]  # type: ignore[index]
        if match := _TABLE.match(line):
            stats.tables.setdefault(_name(match[1]), TableStats())
        elif match := _VIEW.match(line):
            stats.views.add(_name(match[1]))
            stats.tables.pop(_name(match[1]), None)

    def _start_schema(self, marker: bytes) -> None:
        match = re.match(rb"^-- Current Database: " + _NAME + rb"\n$", marker)
        name = _name(match[1]) if match else None
        if name not in self._expected:
            raise DumpFormatError(f"unexpected schema marker {marker.decode(errors='replace').strip()!r}")
        self._end_part()
        if self._header is not None:
            self._header_bytes = b"".join(self._header)
            self._header = None
        visit = self._visits.get(name, 0)
        if visit > 1:
            raise DumpFormatError(f"schema {name!r} appears more than twice in the dump")
        self._visits[name] = visit + 1
        self._schema = name
        self._lazy = [_DASHES, marker]
        if visit == 0:
            self._open_lazy(name, 0)

    def _open_lazy(self, name: str, part: int) -> None:
        self._sink.open_part(name, part, self._header_bytes)
        self._open = True
        for held in self._lazy:
            self._sink.write(held)
        self._lazy = []

    def _end_part(self) -> None:
        if self._pending_dashes:
            self._pending_dashes = False
            self._emit(_DASHES)
        if self._open:
            self._sink.close_part()
            self._open = False
        self._lazy = []

    def _emit(self, data: bytes | memoryview) -> None:
        if self._header is not None:
            self._header.append(data)
        elif self._open:
            self._sink.write(data)
        elif isinstance(data, bytes) and (data.strip() == b"" or data.startswith((b"--", b"USE `"))):
            self._lazy.append(data)  # a views part with nothing in it yet
        else:
            assert self._schema is not None
            self._open_lazy(self._schema, 1)
            self._sink.write(data)

    # -- INSERT statements (the bulk of the bytes: handled whole, never line by line)

    def _insert(self, buf: bytearray, start: int, end: int) -> None:
        """One INSERT statement, buf[start:end] (ending `;\\n`): counted, hashed and written without copying it."""
        head = bytes(buf[start : min(end, start + 4096)])
        match = _INSERT_HEAD.match(head)
        if not match:
            raise DumpFormatError(f"unreadable INSERT statement: {head[:80]!r}")
        values_start, values_end = start + match.end(), end - 2
        table = self.stats[self._schema].tables.setdefault(_name(match[1]), TableStats())  # type: ignore[index]
        view = memoryview(buf)
        try:
            if match[2] == b"\n":  # MariaDB: one row per line, and a raw newline is never inside a string
                table.rows += buf.count(b"\n", values_start, values_end) + 1
            else:  # MySQL: all rows on one line, separated by `),(` (which a string may also hold)
                table.rows += count_rows(bytes(view[values_start:values_end]))
            table.add(view[values_start:values_end])
            self._emit(view[start:end])
        finally:
            view.release()
