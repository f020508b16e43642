"""A real JupyterHub 5.5.0 keeps its state in a real PostgreSQL, configured the way z2jh's hub.db does it.

z2jh with `hub.db.type: postgres` passes `hub.db.url` as `JupyterHub.db_url`
and the password (`hub.db.password`, from the chart Secret) only as the hub's
PGPASSWORD environment variable, which libpq reads. Invariants: with a URL that
carries no password, the hub connects with PGPASSWORD, creates its tables on
the first start, and a second start (a new hub pod) reuses them: users made
before are still there; without PGPASSWORD the hub does not start.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from hub_harness import HubError, HubSettings, missing_executables, start_hub
from psycopg import sql

pytestmark = pytest.mark.integration


@pytest.fixture
def hub_database(postgres_factory) -> tuple[str, str, object]:  # type: ignore[no-untyped-def]
    """A server with a `jupyterhub` login role owning database `jupyterhub` (what the official image's
    POSTGRES_USER/POSTGRES_DB/POSTGRES_PASSWORD make); the URL as hub.db.url has it, and the password."""
    if missing_executables():
        pytest.skip(f"real hub not installed ({', '.join(missing_executables())}): run make test-deps")
    server = postgres_factory.start(f"hubdb-{secrets.token_hex(3)}")
    password = secrets.token_urlsafe(18)
    with server.connect() as conn:
        conn.execute(sql.SQL("CREATE ROLE jupyterhub LOGIN PASSWORD {}").format(sql.Literal(password)))
        conn.execute("CREATE DATABASE jupyterhub OWNER jupyterhub")
    return f"postgresql+psycopg2://jupyterhub@{server.host}:{server.port}/jupyterhub", password, server


def _tables(server) -> set[str]:  # type: ignore[no-untyped-def]
    with server.connect("jupyterhub") as conn:
        return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_the_hub_creates_its_tables_and_a_second_start_reuses_them(hub_database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, password, server = hub_database
    assert ":" not in url.split("@")[0].split("//")[1]  # no password in the URL
    settings = HubSettings(db_url=url, env={"PGPASSWORD": password}, spawn=False, authenticator_class="dummy")
    assert _tables(server) == set()
    with start_hub(settings, tmp_path / "first") as hub:
        assert hub.api("POST", "users/ada").status_code == 201
    tables = _tables(server)
    assert {"users", "spawners", "api_tokens", "alembic_version"} <= tables
    with server.connect("jupyterhub") as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    with start_hub(settings, tmp_path / "second") as hub:  # a fresh hub pod: nothing on local disk carries over
        assert hub.api("GET", "users/ada").status_code == 200
        assert "jupyterhub.sqlite" not in {p.name for p in (tmp_path / "second").iterdir()}
    with server.connect("jupyterhub") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == version
    assert _tables(server) == tables


def test_without_pgpassword_the_hub_does_not_start(hub_database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    url, _, _ = hub_database
    monkeypatch.delenv("PGPASSWORD", raising=False)
    with pytest.raises(HubError, match="Failed to connect to db"):
        with start_hub(HubSettings(db_url=url, spawn=False), tmp_path / "hub", timeout=30):
            pass
