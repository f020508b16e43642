"""A real JupyterHub 5.5.0 keeps its state in a real PostgreSQL, both set up as the dev stack renders them.

The server is started by the tests and given what the rendered StatefulSet gives
the official postgres image (POSTGRES_USER, POSTGRES_DB, POSTGRES_PASSWORD from the
Secret), which its entrypoint turns into a superuser role owning the database;
its rendered pg_isready probe is run against it. The hub gets the rendered
`hub.db` (type postgres, a URL without password, the host and port swapped for the
test server's) and the password as PGPASSWORD, from the Secret the rendered
`hub.extraEnv` names: the same Secret key the server's password comes from.

Invariants: the rendered probe finds the server ready; the hub connects with
PGPASSWORD alone, creates its tables on the first start, and a second start (a
new hub pod) reuses them, users made before still there; without PGPASSWORD the
hub does not start.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from hub_harness import HubError, HubSettings, missing_executables, start_hub
from psycopg import sql
from rendered import chart_values, resource_inputs

pytestmark = pytest.mark.integration

RELEASE = "xnat-jupyterhub"


def _rendered_postgres() -> dict[str, Any]:
    (container,) = resource_inputs("dev", "kubernetes:apps/v1:StatefulSet", "xnat-postgres-statefulset")["spec"]["template"]["spec"]["containers"]
    return container


@pytest.fixture
def hub_database(postgres_factory, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(hub.db.url for the test server, the password, the server), set up as the rendered settings say."""
    if missing_executables():
        pytest.skip(f"real hub not installed ({', '.join(missing_executables())}): run make test-deps")
    container = _rendered_postgres()
    env = {e["name"]: e for e in container["env"]}
    hub = chart_values("dev", RELEASE)["hub"]
    assert env["POSTGRES_PASSWORD"]["valueFrom"] == hub["extraEnv"]["PGPASSWORD"]["valueFrom"], "server and hub must share one password"
    user, database = env["POSTGRES_USER"]["value"], env["POSTGRES_DB"]["value"]
    server = postgres_factory.start(f"hubdb-{secrets.token_hex(3)}")
    password = secrets.token_urlsafe(18)
    with server.connect() as conn:  # what the official entrypoint does with POSTGRES_USER/DB/PASSWORD on a fresh volume
        conn.execute(sql.SQL("CREATE ROLE {} SUPERUSER LOGIN PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database), sql.Identifier(user)))
    probe = container["readinessProbe"]["exec"]["command"]
    probe_env = {**os.environ, "PGPORT": str(server.port), "PATH": f"{postgres_factory.bin_dir}:{os.environ['PATH']}"}
    assert subprocess.run(probe, env=probe_env, capture_output=True, timeout=30).returncode == 0, "the rendered pg_isready probe"
    db = hub["db"]
    assert db["type"] == "postgres" and "password" not in db
    rendered = urlsplit(db["url"])
    assert rendered.password is None and rendered.username == user and rendered.path == f"/{database}"
    url = rendered._replace(netloc=f"{user}@{server.host}:{server.port}").geturl()
    return url, password, server


def _tables(server) -> set[str]:  # type: ignore[no-untyped-def]
    with server.connect("jupyterhub") as conn:
        return {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_the_hub_creates_its_tables_and_a_second_start_reuses_them(hub_database, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, password, server = hub_database
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
        with start_hub(HubSettings(db_url=url, spawn=False, authenticator_class="dummy"), tmp_path / "hub", timeout=30):
            pass
