"""Fixtures for the templating server tests: template folders, homes, and running servers.

Each fixture gives fresh temporary folders; servers are started for real on
127.0.0.1 (see templates_testlib.run_server) and stopped after the test.
Secrets are random per run.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from templates_testlib import RunningServer, run_server, write_template

from labhub.templates.app import ServerConfig


@pytest.fixture
def templates_dir(tmp_path: Path) -> Path:
    """A templates folder with a plain, a name-templated, a nested, and a Julia/C/R template."""
    root = tmp_path / "templates"
    write_template(root / "Untitled.ipynb")
    write_template(root / "Data_{measurement_name}.ipynb")
    write_template(root / "some_instrument" / "data_analysis.ipynb")
    write_template(root / "julia" / "analysis.ipynb", "julia")
    write_template(root / "c" / "analysis.ipynb", "c")
    write_template(root / "r" / "analysis.ipynb", "r")
    return root


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    """A shared-homes folder with alice's and bob's (empty) home folders."""
    root = tmp_path / "home"
    (root / "alice").mkdir(parents=True)
    (root / "bob").mkdir()
    return root


@pytest.fixture
def make_server(templates_dir: Path, homes: Path) -> Iterator[Callable[..., RunningServer]]:
    """Factory: a running server in filesystem mode for dev user alice; keyword overrides change the config."""
    running: list[RunningServer] = []

    def factory(**overrides) -> RunningServer:
        config = ServerConfig(
            templates_dir=str(templates_dir),
            storage=f"filesystem:{homes}/{{username}}",
            secret_key=secrets.token_hex(32).encode(),
            dev_user="alice",
            open_url="http://notebooks.invalid/user/{username}/lab/tree/{path}",
        )
        server = run_server(replace(config, **overrides))
        running.append(server)
        return server

    yield factory
    for server in running:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., RunningServer]) -> RunningServer:
    """The default running server: filesystem mode, dev user alice."""
    return make_server()
