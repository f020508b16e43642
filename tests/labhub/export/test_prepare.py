"""`labhub export prepare` writes a complete build context or nothing, and its images carry no password.

Invariant: the context holds both Dockerfiles, the export's environment.yml
verbatim, the server configuration and the cleaned SQL in the export's order
under initdb/ (the official image's /docker-entrypoint-initdb.d); bad input
(no environment.yml, no SQL, an unsafe environment name, a broken dump, an
existing --out) is one line on stderr, exit 2, and leaves no context and no
staging directory behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labhub.cli import main

ENVIRONMENT = "name: paper_2024.v1\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip:\n    - spyglass-neuro==0.5.4\n"
DUMP = b"CREATE TABLE `t` (\n  `a` int\n) ENGINE=InnoDB DEFAULT CHARSET=latin1;\nINSERT INTO `t` VALUES (1);\n"


@pytest.fixture
def export(tmp_path: Path) -> Path:
    directory = tmp_path / "export" / "paper"
    directory.mkdir(parents=True)
    (directory / "environment.yml").write_text(ENVIRONMENT)
    (directory / "_Populate_paper_b.sql").write_bytes(DUMP)
    (directory / "_Populate_paper_a.sql").write_bytes(DUMP.replace(b"`t`", b"`u`"))
    (directory / "_ExportSQL_paper.sh").write_text("#!/bin/bash\n")  # the dump script Spyglass writes: not SQL
    return directory


def prepare(export: Path, out: Path, *extra: str) -> int:
    return main(["export", "prepare", "--export-dir", str(export), "--out", str(out), *extra])


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_the_context_holds_both_images_and_the_cleaned_sql_in_the_exports_order(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    assert prepare(export, out) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        "database.Dockerfile", "environment.yml", "initdb", "initdb/1-_Populate_paper_a.sql", "initdb/2-_Populate_paper_b.sql",
        "jupyter_server_config.py", "labhub-export.json", "mysqld.cnf", "notebook.Dockerfile",
    ]  # fmt: skip
    assert (out / "environment.yml").read_text() == ENVIRONMENT
    assert (out / "initdb/2-_Populate_paper_b.sql").read_bytes() == DUMP.replace(b" DEFAULT CHARSET=latin1", b"")
    assert leftovers(tmp_path) == []


def test_the_database_image_loads_the_sql_at_initialisation_and_bakes_no_password(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    assert prepare(export, out, "--database-base", "mysql:8.0.44") == 0
    lines = [line for line in (out / "database.Dockerfile").read_text().splitlines() if line and not line.startswith("#")]
    assert lines == ["FROM mysql:8.0.44", "COPY mysqld.cnf /etc/mysql/conf.d/labhub-paper.cnf", "COPY initdb/ /docker-entrypoint-initdb.d/"]
    assert "max_allowed_packet = 512M" in (out / "mysqld.cnf").read_text()


def test_the_notebook_image_installs_the_papers_environment_as_the_default_kernel(export: Path, tmp_path: Path) -> None:
    out = tmp_path / "ctx"
    assert prepare(export, out) == 0
    dockerfile = (out / "notebook.Dockerfile").read_text()
    assert dockerfile.splitlines()[1] == "FROM quay.io/jupyter/base-notebook:2025-10-20"
    assert "mamba env create --yes --name paper --file /tmp/paper-environment.yml" in dockerfile
    assert '--display-name "paper_2024.v1"' in dockerfile
    assert "PASSWORD" not in dockerfile.upper() and "passwd" not in dockerfile
    assert (out / "jupyter_server_config.py").read_text().splitlines()[-1] == 'c.MappingKernelManager.default_kernel_name = "paper"'


def test_force_replaces_an_existing_context_and_without_it_the_context_is_kept(export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ctx"
    out.mkdir()
    (out / "stale").write_text("old")
    assert prepare(export, out) == 2
    assert "already exists" in capsys.readouterr().err
    assert (out / "stale").exists()
    assert prepare(export, out, "--force") == 0
    assert not (out / "stale").exists() and (out / "database.Dockerfile").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(lambda d: (d / "environment.yml").unlink(), "environment.yml is missing", id="no-environment"),
        pytest.param(lambda d: (d / "environment.yml").write_text("- just\n- a list\n"), "not a conda environment file", id="not-an-environment"),
        pytest.param(lambda d: (d / "environment.yml").write_text('name: "$(reboot)"\ndependencies: []\n'), "environment name", id="shell-in-the-name"),
        pytest.param(lambda d: [p.unlink() for p in d.glob("*.sql")], "holds no .sql file", id="no-sql"),
        pytest.param(lambda d: (d / "_Populate_paper_z.sql").write_bytes(b"CREATE TABLE `t` (\n  `a` int\n"), "_Populate_paper_z.sql: the dump ends inside", id="truncated-dump"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing_behind(export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage, message: str) -> None:  # type: ignore[no-untyped-def]
    damage(export)
    out = tmp_path / "ctx"
    assert prepare(export, out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
    assert leftovers(tmp_path) == []
