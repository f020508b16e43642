"""What verify reports and what restore picks, shared by the MySQL and PostgreSQL backups (labhub/backup/layout.py).

Invariant: every way a restored copy can differ from the manifest's record
(a table missing on either side, another row count, other data, other
views/routines/...) is one line naming the schema or database and the table;
an identical copy gives no line; asking a backup for a schema or database it
does not hold is one user error listing what it holds.
"""

from __future__ import annotations

import pytest

from labhub.backup.layout import compare_stats, select_entries
from labhub.errors import UserError

RECORD = {"tables": {"t": {"rows": 2, "sha256": "a"}, "u": {"rows": 1, "sha256": "b"}}, "views": ["v"], "routines": []}


def test_an_identical_copy_verifies() -> None:
    assert compare_stats("s", RECORD, RECORD, "sha256", ("views", "routines")) == []


def test_each_difference_is_one_line_naming_where() -> None:
    found = {"tables": {"t": {"rows": 3, "sha256": "a"}, "x": {"rows": 0, "sha256": "c"}}, "views": [], "routines": []}
    assert compare_stats(
        "s", {**RECORD, "tables": {**RECORD["tables"], "w": {"rows": 1, "sha256": "z"}}}, found, "sha256", ("views", "routines")
    ) == [
        "s.t: 3 rows after restore, 2 dumped",
        "s.u: missing after restore",
        "s.w: missing after restore",
        "s.x: not in the backup",
        "s: views differ after restore (['v'] dumped, [] restored)",
    ]
    changed = {**RECORD, "tables": {**RECORD["tables"], "u": {"rows": 1, "sha256": "other"}}}
    assert compare_stats("s", RECORD, changed, "sha256", ()) == ["s.u: data differs after restore"]


def test_select_entries_keeps_the_asked_order_and_names_what_the_backup_holds() -> None:
    entries = [{"name": "a"}, {"name": "b"}]
    assert select_entries(entries, None, "schema") == entries
    assert select_entries(entries, ["b", "a"], "database") == [{"name": "b"}, {"name": "a"}]
    with pytest.raises(UserError, match=r"^database 'c' is not in this backup \(it has: a, b\)$"):
        select_entries(entries, ["c"], "database")
