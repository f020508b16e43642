"""The `labhub` command: each subcommand loads only its own module, and user errors are one line.

Invariants: `--help` of a subcommand lists that subcommand's options (they are
added after its module is imported); a subcommand whose extra is not installed
says which extra to install instead of raising ImportError; a UserError is one
line on stderr with exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.metadata

import pytest

from labhub import cli
from labhub.errors import UserError


@pytest.mark.parametrize(
    ("argv", "option"),
    [
        pytest.param(["render", "--help"], "--stack", id="render"),
        pytest.param(["policy-check", "--help"], "--policy-config", id="policy-check"),
        pytest.param(["templates", "serve", "--help"], "--storage", id="templates-serve"),
    ],
)
def test_a_subcommands_help_lists_its_own_options(argv: list[str], option: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 0
    assert option in capsys.readouterr().out


def test_a_missing_extra_is_named_with_the_install_command(monkeypatch, capsys) -> None:
    real_import = importlib.import_module

    def without_pulumi(name: str):
        if name == "labhub.render":
            raise ModuleNotFoundError("No module named 'pulumi'", name="pulumi")
        return real_import(name)

    monkeypatch.setattr(cli.importlib, "import_module", without_pulumi)
    assert cli.main(["render", "--stack", "dev", "--out", "x"]) == 2
    assert capsys.readouterr().err == "labhub: error: `labhub render` needs 'pulumi': pip install 'labhub[deploy]'\n"


def test_a_user_error_is_one_line_and_exit_2(monkeypatch, capsys) -> None:
    def fail(_args) -> int:
        raise UserError("labhub:spyglassHub.cull.every: 5 is not allowed")

    import labhub.render

    monkeypatch.setattr(labhub.render, "run", fail)
    assert cli.main(["render", "--stack", "dev", "--out", "x"]) == 2
    assert capsys.readouterr().err == "labhub: error: labhub:spyglassHub.cull.every: 5 is not allowed\n"


def test_no_subcommand_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    assert "required: command" in capsys.readouterr().err


def test_version_prints_the_installed_version(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--version"])
    assert (exit_.value.code, capsys.readouterr().out) == (0, f"labhub {importlib.metadata.version('labhub')}\n")
