"""A small fake XNAT over real HTTP: the three endpoints the hub calls, and their failure modes.

Endpoints (as XNAT and its JupyterHub plugin serve them, anchors §2.3-2.4):
- `GET /xapi/users/{user}/roles`: the user's roles, readable with the user's own
  Basic credentials (401 otherwise);
- `GET /xapi/jupyterhub/preferences/allUsersCanStartJupyter`: `{"allUsersCanStartJupyter": bool}`
  for any logged-in user;
- `GET /xapi/jupyterhub/users/{user}/server[/{name}]/user-options`: the user options,
  only for the hub's own account.

Path segments are URL-decoded one by one, so a username whose `/` was not encoded
lands on a path that does not exist (404). `faults` and `requests` use the decoded
path joined with `/`. `faults` maps a decoded path to a
failure: "500", "badjson", "slow" (held until `release` is set, or the server
stops), "redirect". Every request is recorded as (decoded path, Basic username).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


@dataclass
class FakeXnat:
    accounts: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # user -> (password, roles)
    all_users_can_start: Any = False
    user_options: dict[tuple[str, str], Any] = field(default_factory=dict)  # (user, server name) -> JSON
    faults: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    hub_account: tuple[str, str] | None = None
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self, tls: ssl.SSLContext | None = None) -> FakeXnat:
        handler = type("Handler", (_Handler,), {"xnat": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def requested(self, path: str) -> bool:
        return any(p == path for p, _ in list(self.requests))

    def answer(self, segments: list[str], user: str | None, password: str | None) -> tuple[int, Any]:
        """Status and JSON body for the URL-decoded path segments, as XNAT would answer."""
        path = "/".join(segments)
        if len(segments) == 5 and segments[1:3] == ["xapi", "users"] and segments[4] == "roles":
            account = self.accounts.get(segments[3])
            if account is None or user != segments[3] or password != account[0]:
                return 401, {"error": "unauthorized"}
            return 200, account[1]
        if path == "/xapi/jupyterhub/preferences/allUsersCanStartJupyter":
            if user not in self.accounts or password != self.accounts[user][0]:
                return 401, {"error": "unauthorized"}
            return 200, {"allUsersCanStartJupyter": self.all_users_can_start}
        if segments[1:4] == ["xapi", "jupyterhub", "users"] and segments[-1] == "user-options" and len(segments) in (7, 8):
            if self.hub_account is None or (user, password) != self.hub_account:
                return 401, {"error": "unauthorized"}
            server = segments[6] if len(segments) == 8 else ""
            if segments[5] != "server" or (segments[4], server) not in self.user_options:
                return 404, {"error": "no such server"}
            return 200, self.user_options[(segments[4], server)]
        return 404, {"error": "not found"}


class _Server(ThreadingHTTPServer):
    request_queue_size = 64  # the concurrency test opens a dozen connections at once
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    xnat: FakeXnat

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        raw = self.path.split("?", 1)[0]
        segments = [unquote(segment) for segment in raw.split("/")]
        path = "/".join(segments)
        user = password = None
        header = self.headers.get("Authorization", "")
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        self.xnat.requests.append((path, user))
        fault = self.xnat.faults.get(path)
        if fault == "slow":
            self.xnat.release.wait(timeout=60)
        if fault == "500":
            return self._send(500, b"<html>Internal Server Error</html>", "text/html")
        if fault == "badjson":
            return self._send(200, b"<html>XNAT login page</html>", "text/html")
        if fault == "redirect":
            self.send_response(302)
            self.send_header("Location", "/app/template/Login.vm")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        status, body = self.xnat.answer(segments, user, password)
        return self._send(status, json.dumps(body).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client gave up (timeout tests)
            pass


def run_async(coroutine: Any) -> Any:
    """Run a coroutine on a private event loop, leaving the thread's current loop alone.

    `asyncio.run` would leave the main thread with no current loop, which breaks
    later tests in the session that ask for one (Pulumi's mock engine does).
    """
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:  # as asyncio.run does: background tasks (KubeSpawner's client closer) end before the loop
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(_gather(pending))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _gather(tasks: set[asyncio.Task[Any]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
