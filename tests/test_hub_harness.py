"""The real-hub harness configures the hub the way z2jh does, and what it starts is a working hub.

Invariants: rendered chart values become hub settings by z2jh 4.4.0's own
mapping (names default to keys, redacted tokens replaced, seeded secrets not
applied as plain config); a custom authenticator shipped beside the config
(z2jh's hub.extraFiles) is importable; a postgres database reached with the
password only in PGPASSWORD works; stopping the hub leaves none of its processes.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests
from hub_harness import REDACTED, HubSettings, _alive, _descendants, start_hub, z2jh_hub_settings


def _values() -> dict:
    return {
        "hub": {
            "services": {
                "templates": {"url": "http://t:8080", "api_token": REDACTED, "oauth_no_confirm": True},
                "other": {"name": "renamed", "apiToken": "given-token-value"},  # pragma: allowlist secret
            },
            "loadRoles": {"user": {"scopes": ["self"]}, "ops": {"name": "operators", "scopes": ["admin:users"], "users": ["root"]}},
            "config": {
                "JupyterHub": {"authenticator_class": "dummy", "cookie_secret": REDACTED},
                "ConfigurableHTTPProxy": {"auth_token": REDACTED},
                "CryptKeeper": {"keys": [REDACTED]},
                "Authenticator": {"allow_all": True},
            },
        }
    }


def test_services_and_roles_are_mapped_as_z2jh_maps_them():
    generated = {}
    settings = z2jh_hub_settings(_values(), lambda path: generated.setdefault(path, secrets.token_hex(16)))
    services = {s["name"]: s for s in settings.services}
    assert set(services) == {"templates", "renamed"}
    assert services["templates"]["api_token"] == generated["hub.services.templates.apiToken"]
    assert services["renamed"]["api_token"] == "given-token-value"  # pragma: allowlist secret
    assert "apiToken" not in services["renamed"]
    assert [r["name"] for r in settings.load_roles] == ["user", "operators"]
    assert settings.config["JupyterHub"] == {"authenticator_class": "dummy"}
    assert settings.config["ConfigurableHTTPProxy"] == {}
    assert settings.config["CryptKeeper"]["keys"] != [REDACTED]


def test_a_redacted_value_the_harness_cannot_seed_is_refused():
    values = _values()
    values["hub"]["config"]["GenericOAuthenticator"] = {"client_secret": REDACTED}  # pragma: allowlist secret
    with pytest.raises(ValueError, match="redacted"):
        z2jh_hub_settings(values, lambda path: "x")


AUTHENTICATOR = '''
from jupyterhub.auth import Authenticator

class FixedPasswordAuthenticator(Authenticator):
    """Accepts any name with the password from the hub's config."""

    async def authenticate(self, handler, data):
        return data["username"] if data["password"] == self.parent.config.FixedPasswordAuthenticator.password else None
'''


@pytest.mark.integration
def test_a_custom_authenticator_beside_the_config_and_a_postgres_database_run_in_a_real_hub(postgres, tmp_path: Path):
    with postgres.connect() as conn:
        conn.autocommit = True
        conn.execute("CREATE DATABASE jupyterhub")
    password = secrets.token_urlsafe(12)
    settings = HubSettings(
        authenticator_class="fixed_auth.FixedPasswordAuthenticator",
        extra_files={"fixed_auth.py": AUTHENTICATOR},
        config={"FixedPasswordAuthenticator": {"password": password}, "Authenticator": {"allow_all": True}},
        db_url=f"postgresql+psycopg2://{postgres.superuser}@{postgres.host}:{postgres.port}/jupyterhub",
        env={"PGPASSWORD": postgres.password},
        spawn=False,
    )
    with start_hub(settings, tmp_path / "hub") as hub:
        refused = requests.Session()
        with pytest.raises(Exception, match="403"):
            hub.login(refused, "alice", "wrong")
        session = hub.login(requests.Session(), "alice", password)
        assert session.get(f"{hub.url}/hub/api/user", timeout=10).json()["name"] == "alice"
        pid = hub.process.pid
        children = _descendants(pid)
        assert children, "the hub runs its proxy as a child"
    assert postgres.password not in (tmp_path / "hub" / "jupyterhub_config.py").read_text()
    with postgres.connect("jupyterhub") as conn:
        assert conn.execute("SELECT name FROM users").fetchall() == [("alice",)]
    assert not any(_alive(p) for p in [pid, *children])
