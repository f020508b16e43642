"""The example paper's committed build context is exactly what `labhub export prepare` makes of its committed export.

Invariant: prod builds papers/example/context; regenerating it from
papers/example/export gives the same files byte for byte, so the two cannot
drift apart unnoticed.
"""

from __future__ import annotations

from pathlib import Path

from labhub.cli import main
from labhub.engine import PROJECT_DIR

EXAMPLE = PROJECT_DIR / "papers" / "example"


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_the_committed_context_is_what_prepare_makes_of_the_committed_export(tmp_path: Path) -> None:
    out = tmp_path / "context"
    assert main(["export", "prepare", "--export-dir", str(EXAMPLE / "export"), "--out", str(out)]) == 0
    committed = _files(EXAMPLE / "context")
    assert "initdb/1-_Populate_example-paper.sql" in committed
    assert _files(out) == committed
