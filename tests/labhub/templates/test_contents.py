"""`contents` storage against a real Jupyter server: start if needed, wait, write, never overwrite.

Only JupyterHub's REST API is faked (a small tornado app that answers
`GET /users/<name>` and `POST /users/<name>/server` like the hub); the user's
server is a real `python -m jupyter_server` process with a token, on a free
loopback port, serving a temporary folder under `/user/alice/`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
import requests
import tornado.web
from templates_testlib import confirm, confirm_page, form_fields, free_port, run_tornado

pytestmark = pytest.mark.integration


class FakeHub:
    """The hub's view of alice's server: absent until started, then ready after one poll."""

    def __init__(self, token: str, server_url: str) -> None:
        self.token = token
        self.server_url = server_url
        self.state = "stopped"
        self.start_requests = 0

    def app(self) -> tornado.web.Application:
        hub = self

        class UserHandler(tornado.web.RequestHandler):
            def prepare(self) -> None:
                if self.request.headers.get("Authorization") != f"token {hub.token}":
                    raise tornado.web.HTTPError(403)

            def get(self, name: str) -> None:
                servers = {}
                if hub.state == "pending":
                    servers[""] = {"name": "", "ready": False, "pending": "spawn", "url": f"/user/{name}/"}
                    hub.state = "running"  # ready at the next look
                elif hub.state == "running":
                    servers[""] = {"name": "", "ready": True, "pending": None, "url": f"/user/{name}/"}
                self.finish({"name": name, "kind": "user", "servers": servers})

            def post(self, name: str) -> None:
                hub.start_requests += 1
                hub.state = "pending"
                self.set_status(202)
                self.finish()

        return tornado.web.Application([(r"/hub/api/users/([^/]+)", UserHandler), (r"/hub/api/users/([^/]+)/server", UserHandler)])


@pytest.fixture(scope="module")
def jupyter_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """A real jupyter_server for alice: (proxy URL, token, root folder)."""
    root = tmp_path_factory.mktemp("alice-home")
    token, port = secrets.token_hex(16), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--port={port}", "--ip=127.0.0.1", "--no-browser",
         f"--ServerApp.root_dir={root}", "--ServerApp.base_url=/user/alice/", f"--IdentityProvider.token={token}",
         "--ServerApp.port_retries=0", *(["--allow-root"] if os.geteuid() == 0 else [])],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "HOME": str(root), "JUPYTER_CONFIG_DIR": str(root / ".jupyter-config"),
             "JUPYTER_RUNTIME_DIR": str(root / ".jupyter-runtime"), "JUPYTER_DATA_DIR": str(root / ".jupyter-data")},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/user/alice/api/status", headers={"Authorization": f"token {token}"}, timeout=2).ok:
                break
        except requests.ConnectionError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"jupyter_server did not start: {process.stderr.read().decode()[-2000:]}")
    yield url, token, root
    process.terminate()
    process.wait(10)


@pytest.fixture
def contents_setup(jupyter_server, make_server):
    """A fake hub (alice's server stopped) and a templating server in contents mode."""
    proxy_url, token, root = jupyter_server
    for path in root.iterdir():
        if path.suffix == ".ipynb" or path.is_dir() and not path.name.startswith("."):
            subprocess.run(["rm", "-rf", str(path)], check=True)
    hub = FakeHub(token, proxy_url)
    hub_loop = run_tornado(hub.app())
    server = make_server(storage="contents", hub_api_url=f"{hub_loop.url}/hub/api", hub_api_token=token, proxy_url=proxy_url, retry_ms=100)
    yield server, hub, root
    hub_loop.stop()


def test_a_stopped_server_is_started_then_the_notebook_is_written_through_it(contents_setup):
    server, hub, root = contents_setup
    session = requests.Session()
    page = confirm_page(session, server.url, "some_instrument/data_analysis.ipynb", {"sample": "S-1", "ok": False})
    waiting = confirm(session, server.url, page)
    assert waiting.status_code == 202
    assert "starting" in waiting.text and hub.start_requests == 1
    again = session.post(f"{server.url}/create", data=form_fields(waiting.text), allow_redirects=False, timeout=10)
    assert again.status_code == 202 and hub.start_requests == 1  # pending: no second start
    done = session.post(f"{server.url}/create", data=form_fields(waiting.text), allow_redirects=False, timeout=10)
    assert done.status_code == 303, done.text
    assert done.headers["Location"].endswith("/user/alice/lab/tree/some_instrument/data_analysis.ipynb")
    notebook = nbformat.read(root / "some_instrument" / "data_analysis.ipynb", as_version=4)
    assert notebook.cells[1].source == "sample = 'S-1'\nok = False"
    assert not [p for p in (root / "some_instrument").iterdir() if "creating" in p.name]


def test_an_existing_notebook_is_never_overwritten_through_the_contents_api(contents_setup):
    server, hub, root = contents_setup
    hub.state = "running"
    (root / "Untitled.ipynb").write_text(json.dumps({"precious": True}))
    (root / "Untitled-1.ipynb").write_text(json.dumps({"precious": True}))
    session = requests.Session()
    done = confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {"n": 1}))
    assert done.status_code == 303
    assert done.headers["Location"].endswith("/lab/tree/Untitled-2.ipynb")
    assert json.loads((root / "Untitled.ipynb").read_text()) == {"precious": True}
    assert json.loads((root / "Untitled-1.ipynb").read_text()) == {"precious": True}
    assert nbformat.read(root / "Untitled-2.ipynb", as_version=4).cells[1].source == "n = 1"
    assert hub.start_requests == 0


def test_a_user_server_that_refuses_the_token_gives_a_clear_502(contents_setup, make_server, jupyter_server):
    server, hub, root = contents_setup
    hub.state = "running"
    proxy_url, token, _ = jupyter_server
    wrong = make_server(storage="contents", hub_api_url=server.config.hub_api_url, hub_api_token=token, proxy_url=proxy_url + "/nowhere")
    session = requests.Session()
    response = confirm(session, wrong.url, confirm_page(session, wrong.url, "Untitled.ipynb", {"n": 1}))
    assert response.status_code == 502
    assert "Jupyter server" in response.text
