"""The dump splitter: every byte lands in its schema's part, stats do not depend on how the dump was cut.

Invariants:
* each part restores alone: it starts with the dump's header and ends with its footer;
* a schema's views go to a second part only when it has views;
* row counts are the same whether the dump puts one row per line (MariaDB) or
  one statement per line (MySQL); counts and hashes do not depend on the chunk
  sizes the pipe delivers;
* strings holding `),(`, quotes, backslashes or dump markers, and markers
  inside routine bodies, change nothing;
* a stream cut short, or with an unexpected schema marker, is an error.

The stream below has the exact shape of `mariadb-dump --databases a b
--routines --triggers --events` (10.11) output, trimmed.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labhub.backup.mysql_split import DumpFormatError, DumpSplitter, count_rows

HEADER = (
    b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n--\n-- Host: localhost    Database: a\n"
    b"-- ------------------------------------------------------\n\n/*!40101 SET NAMES utf8mb4 */;\n/*!40103 SET TIME_ZONE='+00:00' */;\n\n"
)
FOOTER = b"/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n\n-- Dump completed on 2026-12-03  8:00:21\n"
ROWS_A = [b"(1,'x),(y\\'z\\\\',0x00FF)", b"(2,'\xc3\xbcn\xc3\xaf',NULL)", b"(3,'-- Current Database: `b`\\n;',NULL)"]


def schema_a(rows: bytes) -> bytes:
    return (
        b"--\n-- Current Database: `a`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `a`;\n\nUSE `a`;\n\n"
        b"--\n-- Table structure for table `t`\n--\n\nCREATE TABLE `t` (`id` int, `s` text, `b` blob);\n\n"
        b"--\n-- Dumping data for table `t`\n--\n\nLOCK TABLES `t` WRITE;\n" + rows + b"UNLOCK TABLES;\n"
        b"DELIMITER ;;\n/*!50003 CREATE*/ /*!50017 DEFINER=`root`@`localhost`*/ /*!50003 TRIGGER trg BEFORE INSERT ON t FOR EACH ROW SET NEW.s = ''\n*/;;\n"
        b"DELIMITER ;\n\n--\n-- Temporary table structure for view `v`\n--\n\nCREATE VIEW `v` AS SELECT NULL AS `id`;\n\n"
        b"--\n-- Dumping routines for database 'a'\n--\nDELIMITER ;;\nCREATE DEFINER=`root`@`localhost` PROCEDURE `p`()\nBEGIN\n"
        b"--\n-- Current Database: `b`\n--\nINSERT INTO `t` VALUES (9,'not data',NULL);\nEND ;;\nDELIMITER ;\n\n"
    )


SCHEMA_B = (
    b"--\n-- Current Database: `b`\n--\n\nCREATE DATABASE /*!32312 IF NOT EXISTS*/ `b`;\n\nUSE `b`;\n\n"
    b"--\n-- Table structure for table `u`\n--\n\nCREATE TABLE `u` (`x` int);\n\n"
)
VIEWS_A = b"--\n-- Current Database: `a`\n--\n\nUSE `a`;\n\n--\n-- Final view structure for view `v`\n--\n\n/*!50001 VIEW `v` AS select `t`.`id` AS `id` from `t` */;\n\n"
VIEWS_B = b"--\n-- Current Database: `b`\n--\n\nUSE `b`;\n"
MARIADB_ROWS = b"INSERT INTO `t` VALUES\n" + b",\n".join(ROWS_A) + b";\n"
MYSQL_ROWS = b"INSERT INTO `t` VALUES " + b",".join(ROWS_A[:2]) + b";\nINSERT INTO `t` VALUES " + ROWS_A[2] + b";\n"


def stream(rows: bytes) -> bytes:
    return HEADER + schema_a(rows) + SCHEMA_B + VIEWS_A + VIEWS_B + FOOTER


class Parts:
    """A PartSink that keeps each part's bytes in memory."""

    def __init__(self) -> None:
        self.parts: dict[tuple[str, int], bytes] = {}
        self.current: tuple[str, int] | None = None

    def open_part(self, schema: str, part: int, header: bytes) -> None:
        self.current = (schema, part)
        self.parts[self.current] = header

    def write(self, data: bytes) -> None:
        assert self.current is not None
        self.parts[self.current] += data

    def close_part(self) -> None:
        self.current = None

    def finish(self, footer: bytes) -> None:
        for key in self.parts:
            self.parts[key] += footer


def split(data: bytes, chunk_sizes: list[int] | None = None) -> tuple[Parts, DumpSplitter]:
    parts = Parts()
    splitter = DumpSplitter(["a", "b"], parts)
    position, sizes = 0, iter(chunk_sizes or [len(data)])
    while position < len(data):
        size = next(sizes, len(data))
        splitter.feed(data[position : position + size])
        position += size
    splitter.close()
    return parts, splitter


def test_each_part_is_header_plus_its_schema_sections_plus_footer() -> None:
    parts, _ = split(stream(MARIADB_ROWS))
    assert parts.parts == {
        ("a", 0): HEADER + schema_a(MARIADB_ROWS) + FOOTER,
        ("b", 0): HEADER + SCHEMA_B + FOOTER,
        ("a", 1): HEADER + VIEWS_A + FOOTER,
    }


def test_stats_count_rows_and_find_objects_but_ignore_routine_bodies() -> None:
    _, splitter = split(stream(MARIADB_ROWS))
    a = splitter.stats["a"].as_dict()
    expected_hash = hashlib.sha256(b",\n".join(ROWS_A)).hexdigest()  # the rows as this layout writes them
    assert a == {"tables": {"t": {"rows": 3, "sha256": expected_hash}}, "views": ["v"], "routines": ["procedure p"], "events": [], "triggers": 1}
    assert splitter.stats["b"].as_dict()["tables"] == {"u": {"rows": 0, "sha256": hashlib.sha256(b"").hexdigest()}}


def test_row_counts_are_the_same_for_mariadb_and_mysql_row_layouts() -> None:
    mariadb, mysql = split(stream(MARIADB_ROWS))[1].stats["a"], split(stream(MYSQL_ROWS))[1].stats["a"]
    assert mariadb.tables["t"].rows == mysql.tables["t"].rows == len(ROWS_A)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=400), st.sampled_from([MARIADB_ROWS, MYSQL_ROWS]))
def test_chunk_boundaries_change_nothing(chunk_sizes: list[int], rows: bytes) -> None:
    data = stream(rows)
    whole_parts, whole = split(data)
    parts, chunked = split(data, chunk_sizes)
    assert parts.parts == whole_parts.parts
    assert {k: v.as_dict() for k, v in chunked.stats.items()} == {k: v.as_dict() for k, v in whole.stats.items()}


_SQL_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\0": "\\0", "\x1a": "\\Z"}


def sql_string(text: str) -> str:
    """A string literal as mysqldump writes it."""
    return "'" + "".join(_SQL_ESCAPES.get(char, char) for char in text) + "'"


VALUES = st.one_of(st.none(), st.integers(), st.text(alphabet="),(';\\\n x\0", max_size=12))


@given(st.lists(st.lists(VALUES, min_size=1, max_size=4), min_size=1, max_size=30))
def test_count_rows_counts_tuples_whatever_their_strings_hold(rows: list[list[object]]) -> None:
    def value(v: object) -> str:
        return "NULL" if v is None else str(v) if isinstance(v, int) else sql_string(str(v))

    tuples = ["(" + ",".join(value(v) for v in row) + ")" for row in rows]
    assert count_rows(",".join(tuples).encode()) == len(rows)
    assert count_rows(",\n".join(tuples).encode()) == len(rows)


@pytest.mark.parametrize(
    "data, message",
    [
        pytest.param(stream(MARIADB_ROWS).replace(b"-- Dump completed on 2026-12-03  8:00:21\n", b""), "before mysqldump's 'Dump completed' line", id="footer-cut"),
        pytest.param(stream(MARIADB_ROWS).split(b"UNLOCK TABLES")[0][:-3], "in the middle of a line", id="cut-inside-insert"),
        pytest.param(HEADER + schema_a(MARIADB_ROWS) + FOOTER, "no section for b", id="schema-missing"),
        pytest.param(stream(MARIADB_ROWS).replace(b"Current Database: `b`\n--\n\nCREATE", b"Current Database: `zz`\n--\n\nCREATE"), "unexpected schema marker", id="unknown-schema"),
    ],
)
def test_a_stream_that_is_not_a_complete_dump_is_an_error(data: bytes, message: str) -> None:
    with pytest.raises(DumpFormatError, match=message):
        split(data)
