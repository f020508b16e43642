"""In hub mode (JupyterHub OAuth, no --dev-user) SampleDB's POST is answered, and token checks are cached.

Invariants:
- SampleDB's cross-site form POST to /t/<template> carries no `_xsrf` and,
  in a browser, no cookie: it is redirected (303) to the same page as a GET
  with its params kept, never refused with 403 (the handler's CSRF exemption
  holds although JupyterHub's mixin defines check_xsrf_cookie too);
- that GET sends the user to the hub's OAuth authorize URL with the
  callback URL the hub has registered (JUPYTERHUB_OAUTH_CALLBACK_URL);
- a token is checked with the hub once and then served from the cache, not
  one hub API call per request;
- while the hub is slow to answer a token check, the server keeps serving
  other requests (its health probe among them): the check does not block
  the event loop.

The hub API here is a stand-in that only counts `GET /user` calls; the real
hub is driven in test_real_hub.py.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import tornado.web
from templates_testlib import run_server, run_tornado

from labhub.templates.app import ServerConfig

PREFIX = "/services/templates/"
SCOPE = "access:services!service=templates"


class CountingHubAPI:
    """`GET /hub/api/user` for one known user token, counting every call; `delay` seconds per answer."""

    def __init__(self, user_token: str) -> None:
        self.user_token = user_token
        self.calls = 0
        self.delay = 0.0

    def app(self) -> tornado.web.Application:
        api = self

        class UserHandler(tornado.web.RequestHandler):
            async def get(self) -> None:
                api.calls += 1
                await asyncio.sleep(api.delay)
                if self.request.headers.get("Authorization") != f"token {api.user_token}":
                    raise tornado.web.HTTPError(403)
                self.finish({"kind": "user", "name": "alice", "scopes": [SCOPE], "session_id": None})

        return tornado.web.Application([(r"/hub/api/user", UserHandler)])


@pytest.fixture
def hub_api():
    api = CountingHubAPI(secrets.token_hex(16))
    running = run_tornado(api.app())
    api.url = running.url + "/hub/api"
    yield api
    running.stop()


@pytest.fixture
def hub_server(hub_api, templates_dir: Path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", secrets.token_hex(16))
    monkeypatch.setenv("JUPYTERHUB_API_URL", hub_api.url)
    monkeypatch.setenv("JUPYTERHUB_CLIENT_ID", "service-templates")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", PREFIX)
    monkeypatch.setenv("JUPYTERHUB_OAUTH_CALLBACK_URL", PREFIX + "oauth_callback")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", json.dumps([SCOPE]))
    monkeypatch.setenv("JUPYTERHUB_HOST", "")
    config = ServerConfig(
        templates_dir=str(templates_dir), storage="download", secret_key=secrets.token_hex(32).encode(),
        hub_api_url=hub_api.url, service_prefix=PREFIX,
    )
    server = run_server(config)
    yield server
    server.stop()


def test_sampledb_cross_site_post_without_xsrf_or_cookie_is_redirected_not_refused(hub_server):
    params = {"measurement_name": "M-1", "gain": 2}
    response = requests.post(
        f"{hub_server.url}{PREFIX}t/Data_%7Bmeasurement_name%7D.ipynb",
        data={"params": json.dumps(params)}, headers={"Origin": "https://sampledb.example.org"},
        allow_redirects=False, timeout=10,
    )
    assert response.status_code == 303, response.text
    target = urlsplit(response.headers["Location"])
    assert target.path == f"{PREFIX}t/Data_%7Bmeasurement_name%7D.ipynb"
    assert json.loads(parse_qs(target.query)["params"][0]) == params


def test_the_get_sends_the_browser_to_the_hubs_authorize_url_with_the_registered_callback(hub_server):
    response = requests.get(f"{hub_server.url}{PREFIX}t/Untitled.ipynb", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["redirect_uri"] == [PREFIX + "oauth_callback"]
    assert query["client_id"] == ["service-templates"]


def test_a_token_is_checked_with_the_hub_once_then_cached(hub_server, hub_api):
    headers = {"Authorization": f"token {hub_api.user_token}"}
    for _ in range(20):
        response = requests.get(f"{hub_server.url}{PREFIX}", headers=headers, timeout=10)
        assert response.status_code == 200
        assert "alice" in response.text
    assert hub_api.calls == 1


def test_a_slow_hub_does_not_stall_other_requests(hub_server, hub_api):
    hub_api.delay = 2.0
    slow = threading.Thread(target=requests.get, args=(f"{hub_server.url}{PREFIX}",),
                            kwargs={"headers": {"Authorization": f"token {hub_api.user_token}"}, "timeout": 20})
    slow.start()
    deadline = time.monotonic() + 5
    while hub_api.calls == 0 and time.monotonic() < deadline:  # the token check has reached the hub
        time.sleep(0.01)
    started = time.monotonic()
    assert requests.get(f"{hub_server.url}/healthz", timeout=10).text == "ok"
    waited = time.monotonic() - started
    slow.join()
    assert waited < 1.0, f"the health probe waited {waited:.1f} s behind a token check"
