"""Clean a Spyglass export's SQL in one streaming pass, touching only table and database definitions.

The export's `.sql` files are mysqldump output (Spyglass's `SQLDumpHelper`
runs `mysqldump --hex-blob DB TABLE --where=...` per table, after an `echo`ed
`CREATE DATABASE IF NOT EXISTS x; USE x;`). Importing them elsewhere fails on
the charset/collation defaults the source server wrote into each `CREATE
TABLE` (ERROR 3780 on foreign keys; `Unknown collation 'utf8mb4_0900_ai_ci'`
on a server without MySQL 8's collations), and on older varchar widths
(Spyglass's Export docs, "Backwards Compatibility"). The seed fixes both with
`sed` over the whole file, which also rewrites any data row that happens to
contain the same text.

Here, a statement is recognised at the start of a line that starts a
statement: `CREATE TABLE` / `CREATE DATABASE` (optionally inside a versioned
comment) is buffered whole (small, bounded by `MAX_DDL`), its quoted strings
and identifiers are masked, and only then are clauses removed:

* in `CREATE TABLE`, the table options after the column list lose
  `[DEFAULT] CHARSET|CHARACTER SET [=] x` and `[DEFAULT] COLLATE [=] x`;
  column-level charsets stay (a `COLLATE utf8mb4_bin` key is meaningful);
* in `CREATE DATABASE`, the same clauses go (the server default applies);
* with `shorten_varchars`, a column named in `VARCHAR_SHORTENINGS` with
  exactly the old width gets the new width (and the dump's session SQL mode
  becomes strict, so a value that no longer fits fails the load instead of
  being silently truncated).

Everything else (INSERT lines above all) is copied byte for byte, in
bounded chunks, so memory does not grow with the dump or with a long row.
mysqldump escapes newlines inside strings, so its data statements are one
line each; a data statement that does continue over a raw newline is
followed to its terminating `;` before a new statement is looked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import BinaryIO

CHUNK = 1 << 20  # longest piece of a line held at once
MAX_DDL = 16 << 20  # a CREATE statement longer than this is not a table definition

# Spyglass docs/src/Features/Export.md, "Backwards Compatibility": column -> (old width, new width).
VARCHAR_SHORTENINGS: dict[str, tuple[int, int]] = {
    "nwb_file_name": (255, 64),
    "analysis_file_name": (255, 64),
    "interval_list_name": (200, 170),
    "position_info_param_name": (80, 32),
    "mark_param_name": (80, 32),
    "artifact_removed_interval_list_name": (200, 128),
    "metric_params_name": (200, 64),
    "auto_curation_params_name": (200, 36),
    "sort_interval_name": (200, 64),
    "preproc_params_name": (200, 32),
    "sorter": (200, 32),
    "sorter_params_name": (200, 64),
}

_DDL_START = re.compile(rb"(?:/\*!\d+\s+)?CREATE\s+(TABLE|DATABASE|SCHEMA)\b", re.I)
_TOKEN = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`(?:[^`]|``)*`", re.S)
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_CHARSET = re.compile(r"\s+(?:DEFAULT\s+)?(?:CHARSET|CHARACTER\s+SET)(?:\s*=\s*|\s+)\w+", re.I)
_COLLATE = re.compile(r"\s+(?:DEFAULT\s+)?COLLATE(?:\s*=\s*|\s+)\w+", re.I)
_VARCHAR_COLUMN = re.compile(r"(?<=[\s(,])\x00(\d+)\x00(\s+)varchar\((\d+)\)", re.I)
# mysqldump's header sets the session mode for the load; made strict when widths shrink.
SQL_MODE_HEADER = b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;"
STRICT_SQL_MODE_HEADER = b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES' */;"


class DumpFormatError(ValueError):
    """The input is not mysqldump output this cleaner can handle safely."""


@dataclass
class CleanStats:
    """What one pass changed, for the build context's manifest."""

    bytes_in: int = 0
    bytes_out: int = 0
    definitions: int = 0  # CREATE TABLE / CREATE DATABASE statements seen
    clauses_removed: int = 0
    columns_shortened: int = 0


def _mask(text: str) -> tuple[str, list[str]]:
    tokens: list[str] = []

    def hide(match: re.Match[str]) -> str:
        tokens.append(match.group(0))
        return f"\x00{len(tokens) - 1}\x00"

    return _TOKEN.sub(hide, text), tokens


def _unmask(text: str, tokens: list[str]) -> str:
    return _PLACEHOLDER.sub(lambda m: tokens[int(m.group(1))], text)


def _statement_end(masked: str) -> int:
    """Index just past the first `;` outside quotes, or -1 while the statement is incomplete."""
    if "'" in masked or '"' in masked or "`" in masked:  # an opening quote with no close yet
        return -1
    end = masked.find(";")
    return -1 if end < 0 else end + 1


def _column_list_end(masked: str) -> int:
    """Index of the `)` closing the column list that follows `CREATE TABLE name`."""
    depth = 0
    for index, char in enumerate(masked):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
    raise DumpFormatError("a CREATE TABLE statement has no complete column list")


def clean_definition(statement: bytes, stats: CleanStats, *, shorten_varchars: bool) -> bytes:
    """One complete CREATE TABLE / CREATE DATABASE (plus whatever followed its `;` on the line), cleaned."""
    masked, tokens = _mask(statement.decode("latin-1"))  # latin-1: one char per byte, so bytes round-trip
    end = _statement_end(masked)
    body, rest = masked[:end], masked[end:]
    kind = _DDL_START.match(statement).group(1).upper()  # type: ignore[union-attr]  (bytes)
    stats.definitions += 1
    if kind == b"TABLE":
        close = _column_list_end(body)
        columns, options = body[: close + 1], body[close + 1 :]
        if shorten_varchars:
            columns = _VARCHAR_COLUMN.sub(lambda m: _shorten(m, tokens, stats), columns)
    else:
        columns, options = "", body
    options, charsets = _CHARSET.subn("", options)
    options, collations = _COLLATE.subn("", options)
    stats.clauses_removed += charsets + collations
    return _unmask(columns + options + rest, tokens).encode("latin-1")


def _shorten(match: re.Match[str], tokens: list[str], stats: CleanStats) -> str:
    name = tokens[int(match.group(1))]
    widths = VARCHAR_SHORTENINGS.get(name.strip("`")) if name.startswith("`") else None
    if widths is None or int(match.group(3)) != widths[0]:
        return match.group(0)
    stats.columns_shortened += 1
    return f"\x00{match.group(1)}\x00{match.group(2)}varchar({widths[1]})"


def clean_sql(src: BinaryIO, dst: BinaryIO, *, shorten_varchars: bool = False) -> CleanStats:
    """Copy a mysqldump stream from `src` to `dst`, cleaning only definitions (see the module docstring)."""
    stats = CleanStats()
    at_start = True  # does the next line begin a statement?
    definition: list[bytes] | None = None
    size = 0
    while line := src.readline(CHUNK):
        stats.bytes_in += len(line)
        if definition is not None or (at_start and _DDL_START.match(line)):
            definition = [*(definition or []), line]
            size += len(line)
            if size > MAX_DDL:
                raise DumpFormatError(f"a CREATE statement runs past {MAX_DDL} bytes without ending; is this mysqldump output?")
            text = b"".join(definition)
            if not line.endswith(b"\n") or _statement_end(_mask(text.decode("latin-1"))[0]) < 0:
                continue
            out = clean_definition(text, stats, shorten_varchars=shorten_varchars)
            definition, size, at_start = None, 0, True
            dst.write(out)
            stats.bytes_out += len(out)
            continue
        first = line
        if shorten_varchars and at_start and line.startswith(SQL_MODE_HEADER) and not line[len(SQL_MODE_HEADER) :].strip():
            line = STRICT_SQL_MODE_HEADER + line[len(SQL_MODE_HEADER) :]
        dst.write(line)
        stats.bytes_out += len(line)
        while not line.endswith(b"\n"):  # a long line (a big INSERT): the rest goes straight through
            line = src.readline(CHUNK)
            if not line:
                break
            stats.bytes_in += len(line)
            stats.bytes_out += len(line)
            dst.write(line)
        end = line[-16:].rstrip()  # only the end of a line is looked at: a data line is never copied again
        standalone = at_start and (first.startswith(b"--") or (len(first) < 256 and not first.strip()) or (first.startswith(b"/*") and end.endswith(b"*/")))
        at_start = end.endswith(b";") or standalone
    if definition is not None:
        raise DumpFormatError("the dump ends inside a CREATE statement (truncated file?)")
    return stats
