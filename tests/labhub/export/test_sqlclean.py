"""The export SQL cleaner changes table and database definitions only, and copies every other byte unchanged.

Invariant: charset/collation defaults leave `CREATE TABLE` options and
`CREATE DATABASE`, column-level charsets stay, the varchar shortenings touch
only matching column definitions, and any data row (whatever text it holds,
however long, whatever bytes) comes out byte for byte; where the seed's sed
would rewrite a row, this does not. Input that cannot be mysqldump output
stops with an error instead of a half-cleaned file.
"""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest

from labhub.export import sqlclean
from labhub.export.sqlclean import DumpFormatError, clean_sql

TABLE = b"""\
DROP TABLE IF EXISTS `nwbfile`;
CREATE TABLE `nwbfile` (
  `nwb_file_name` varchar(255) NOT NULL,
  `note` varchar(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL,
  `DEFAULT CHARSET=x` int DEFAULT NULL COMMENT 'says COLLATE=latin1_bin',
  PRIMARY KEY (`nwb_file_name`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci COMMENT='DEFAULT CHARSET=latin1 stays';
"""
CLEAN_TABLE = TABLE.replace(b" DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci", b"")
ROW = b"INSERT INTO `nwbfile` VALUES ('a.nwb',') ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_bin;',1),('b\\'.nwb',' `nwb_file_name` varchar(255)',2);\n"


def clean(data: bytes, **kwargs: bool) -> bytes:
    out = io.BytesIO()
    clean_sql(io.BytesIO(data), out, **kwargs)
    return out.getvalue()


def test_table_options_lose_their_charset_and_collation_and_nothing_else_changes() -> None:
    assert clean(TABLE + ROW) == CLEAN_TABLE + ROW


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(b"ENGINE=InnoDB DEFAULT CHARSET=latin1", b"ENGINE=InnoDB", id="mysqldump-charset"),
        pytest.param(b"ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci", b"ENGINE=InnoDB", id="charset-and-collate"),
        pytest.param(b"ENGINE=InnoDB DEFAULT COLLATE utf8mb4_bin", b"ENGINE=InnoDB", id="default-collate-without-equals"),
        pytest.param(b"ENGINE=InnoDB CHARACTER SET = utf8 COLLATE = utf8_bin", b"ENGINE=InnoDB", id="character-set-spelled-out"),
        pytest.param(b"ENGINE=InnoDB default charset=latin1 comment='x'", b"ENGINE=InnoDB comment='x'", id="lower-case"),
        pytest.param(b"ENGINE=InnoDB AUTO_INCREMENT=7", b"ENGINE=InnoDB AUTO_INCREMENT=7", id="nothing-to-remove"),
    ],
)
def test_each_spelling_of_a_table_default_is_removed(options: bytes, expected: bytes) -> None:
    assert clean(b"CREATE TABLE `t` (\n  `a` int\n) " + options + b";\n") == b"CREATE TABLE `t` (\n  `a` int\n) " + expected + b";\n"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(
            b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `common` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci */ /*!80016 DEFAULT ENCRYPTION='N' */;\n",
            b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `common` /*!40100 */ /*!80016 DEFAULT ENCRYPTION='N' */;\n",
            id="mysqldump-databases",
        ),
        pytest.param(
            b"CREATE DATABASE IF NOT EXISTS common_session; USE common_session;\n",
            b"CREATE DATABASE IF NOT EXISTS common_session; USE common_session;\n",
            id="spyglass-echo-line-keeps-its-use",
        ),
    ],
)
def test_database_definitions_lose_their_defaults(line: bytes, expected: bytes) -> None:
    assert clean(line) == expected


def test_a_data_row_sed_would_rewrite_comes_out_byte_for_byte() -> None:
    sed = shutil.which("sed")
    assert sed, "GNU sed is part of the base system"
    script = ["-e", r"s/ DEFAULT CHARSET=[^ ]\w*//g", "-e", r"s/ DEFAULT COLLATE [^ ]\w*//g", "-e", r"s/ `nwb_file_name` varchar(255)/ `nwb_file_name` varchar(64)/g"]
    by_sed = subprocess.run([sed, *script], input=ROW, capture_output=True, check=True).stdout
    assert by_sed != ROW  # the seed's pipeline changes this row...
    assert clean(ROW, shorten_varchars=True) == ROW  # ...this does not


def test_binary_and_non_utf8_bytes_in_rows_pass_through() -> None:
    row = b"INSERT INTO `t` VALUES (_binary '\x00\xff\xfe\\'\\\\',0xDEADBEEF,'\xe9t\xe9 DEFAULT CHARSET=x');\n"
    assert clean(TABLE + row) == CLEAN_TABLE + row


def test_a_row_longer_than_the_read_chunk_is_copied_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlclean, "CHUNK", 64)
    row = b"INSERT INTO `t` VALUES ('" + b"DEFAULT CHARSET=latin1;\\n" * 50 + b"');\n"
    assert clean(TABLE + row + TABLE) == CLEAN_TABLE + row + CLEAN_TABLE


def test_a_create_table_inside_a_multi_line_string_is_data_not_a_definition() -> None:
    """A raw newline inside a string (not mysqldump's style, but legal SQL) keeps the statement open until its `;`."""
    row = b"INSERT INTO `t` VALUES ('first line\nCREATE TABLE `x` (a int) DEFAULT CHARSET=latin1;\nlast');\n"
    assert clean(row + TABLE) == row + CLEAN_TABLE


def test_mariadb_dump_rows_on_their_own_lines_are_data() -> None:
    rows = b"INSERT INTO `t` VALUES\n('a',') DEFAULT CHARSET=latin1'),\n('b','x');\n"
    assert clean(rows + TABLE) == rows + CLEAN_TABLE


SHORT_TABLE = b"""\
CREATE TABLE `session` (
  `nwb_file_name` varchar(255) NOT NULL,
  `sorter` varchar(200) NOT NULL,
  `interval_list_name` varchar(100) NOT NULL,
  `my_nwb_file_name` varchar(255) NOT NULL,
  PRIMARY KEY (`nwb_file_name`,`sorter`)
) ENGINE=InnoDB;
"""


def test_varchar_shortenings_touch_only_the_listed_columns_at_their_old_width() -> None:
    out = clean(SHORT_TABLE + ROW, shorten_varchars=True)
    assert out == (
        SHORT_TABLE.replace(b"`nwb_file_name` varchar(255)", b"`nwb_file_name` varchar(64)", 1).replace(b"`sorter` varchar(200)", b"`sorter` varchar(32)")
        + ROW
    )
    assert clean(SHORT_TABLE, shorten_varchars=False) == SHORT_TABLE


def test_shortening_makes_the_load_strict_so_a_value_that_no_longer_fits_fails_instead_of_truncating() -> None:
    header = b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
    assert clean(header, shorten_varchars=True) == b"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES' */;\n"
    assert clean(header) == header


@pytest.mark.parametrize(
    "dump",
    [
        pytest.param(b"CREATE TABLE `t` (\n  `a` int\n", id="truncated-inside-a-definition"),
        pytest.param(b"CREATE TABLE `t` ENGINE=InnoDB;\n", id="no-column-list"),
        pytest.param(b"CREATE TABLE `t` (\n  `a` int COMMENT 'unterminated\n) ENGINE=InnoDB;\n", id="unterminated-string"),
    ],
)
def test_input_that_is_not_a_complete_dump_is_refused(dump: bytes) -> None:
    with pytest.raises(DumpFormatError):
        clean(dump)


def test_a_definition_without_end_is_refused_at_the_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlclean, "MAX_DDL", 1000)
    with pytest.raises(DumpFormatError, match="runs past 1000 bytes"):
        clean(b"CREATE TABLE `t` (\n" + b"  `a` int,\n" * 200)


def test_blank_and_comment_lines_between_statements_keep_the_next_definition_recognised() -> None:
    dump = b"/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump\n   \n\r\n" + TABLE
    assert clean(dump) == dump.replace(TABLE, CLEAN_TABLE)
