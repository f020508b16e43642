"""Helpers for the templating server tests: template files, a real running server, the SampleDB steps.

The server runs for real: the same `app.start` the CLI uses, on 127.0.0.1
and a free port, in a background thread with its own event loop; tests talk
HTTP to it with `requests`. Secrets are random per run (`secrets.token_hex`).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from dataclasses import dataclass, replace
from pathlib import Path

import nbformat
import requests
import tornado.web
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from labhub.templates.app import ServerConfig, start

KERNELS = {
    "python": {"name": "python3", "language": "python", "display_name": "Python 3"},
    "julia": {"name": "julia-1.10", "language": "julia", "display_name": "Julia 1.10"},
    "r": {"name": "ir", "language": "R", "display_name": "R"},
    "c": {"name": "c", "language": "c", "display_name": "C"},
}


def write_template(path: Path, language: str = "python", cells: int = 3, minor: int = 5) -> Path:
    """A small valid notebook template in `language` at `path`."""
    notebook = new_notebook(cells=[new_markdown_cell("# Analysis of a SampleDB object")])
    notebook.cells += [new_code_cell(f"print({i})") for i in range(cells - 1)]
    notebook.metadata.kernelspec = KERNELS[language]
    notebook.nbformat_minor = minor
    if minor < 5:
        for cell in notebook.cells:
            cell.pop("id", None)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(nbformat.writes(notebook, version=nbformat.NO_CONVERT), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RunningServer:
    """A templating server serving in a background thread."""

    url: str
    config: ServerConfig
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def run_server(config: ServerConfig) -> RunningServer:
    """Start `config` for real on 127.0.0.1 and a free port; return once it listens."""
    config = replace(config, host="127.0.0.1", port=free_port())
    from labhub.templates.app import listen

    sockets = listen(config)
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    errors: list[BaseException] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def begin() -> None:
            try:
                start(config, sockets)
            except BaseException as error:  # surfaced to the test below
                errors.append(error)
            ready.set()

        loop.create_task(begin())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(15), "templating server did not start"
    if errors:
        raise errors[0]
    return RunningServer(f"http://127.0.0.1:{config.port}", config, loop, thread)


@dataclass
class RunningApp:
    """Any tornado Application serving on 127.0.0.1 in a background thread (e.g. a fake hub)."""

    url: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def run_tornado(app: tornado.web.Application) -> RunningApp:
    """Serve `app` on 127.0.0.1 and a free port; return once it listens."""
    sockets = bind_sockets(0, address="127.0.0.1")
    port = sockets[0].getsockname()[1]
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def begin() -> None:
            HTTPServer(app).add_sockets(sockets)
            ready.set()

        loop.create_task(begin())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10), "tornado app did not start"
    return RunningApp(f"http://127.0.0.1:{port}", loop, thread)


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page's form (the `_xsrf` and `token` fields)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


def confirm_page(session: requests.Session, base: str, template: str, params: object) -> requests.Response:
    """What SampleDB does: a urlencoded form POST of `params` (JSON) to /t/<template>."""
    import json

    body = {"params": params if isinstance(params, str) else json.dumps(params)}
    return session.post(f"{base}/t/{template}", data=body, allow_redirects=False, timeout=10)


def confirm(session: requests.Session, base: str, page: requests.Response) -> requests.Response:
    """Press "Create notebook" on a confirmation page (its form, with its xsrf cookie)."""
    import html as html_module

    fields = {k: html_module.unescape(v) for k, v in form_fields(page.text).items()}
    return session.post(f"{base}/create", data=fields, allow_redirects=False, timeout=10)
