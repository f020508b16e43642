"""`labhub db roles-sql --stack` prints the stack's roles SQL, in the dialect asked for, and nothing for a stack without the database.

Invariant: the printout is the config's own `render_sql` output (the same text
the LabDatabase ConfigMap holds: tests/components/test_lab_database.py), no
password is in it, and a stack whose labDatabase is off is one line, exit 2.
"""

from __future__ import annotations

import pytest

from components.config import parse_stack_config
from labhub.cli import main
from labhub.db.roles import render_sql
from labhub.engine import PROJECT_DIR, read_stack_files


def _prod_roles():  # type: ignore[no-untyped-def]
    return parse_stack_config(read_stack_files(PROJECT_DIR, "prod").config).lab_database.roles


@pytest.mark.parametrize("dialect", ["mysql8", "mariadb"])
def test_it_prints_the_stacks_roles_in_the_dialect_asked_for(dialect: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "roles-sql", "--stack", "prod", "--dialect", dialect]) == 0
    out = capsys.readouterr().out
    assert out == render_sql(_prod_roles(), dialect)  # type: ignore[arg-type]
    assert "GRANT 'dj_user' TO 'alice'@'%'" in out and "IDENTIFIED" not in out


def test_a_stack_without_the_lab_database_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "roles-sql", "--stack", "dev"]) == 2
    assert capsys.readouterr().err == "labhub: error: labhub:labDatabase is not enabled on stack 'dev': it has no roles to print\n"
