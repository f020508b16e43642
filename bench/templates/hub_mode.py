"""Hub mode for the create-flow benchmark: the server behind a real JupyterHub 5.5.0, browsers logged in by OAuth.

Why a real hub: what hub mode adds per request is the token check
(HubOAuth's cookie -> the hub's `GET /hub/api/user`), and whether that is
cached is exactly what must be measured. The hub is started with
tests/hub_harness.py from the dev stack's rendered `hub.services` and
`hub.loadRoles`; the server gets the rendered Deployment's JupyterHub
environment (hub address and secrets made local), but filesystem storage,
so its flows do the same work as dev mode's and the floor's.

Each load-generator thread logs a user in at the hub and completes the
service's OAuth round trip once, with `requests`; its flows then carry the
cookies a browser would send to /services/templates/ (the service's token
cookie, the hub session id, the xsrf cookie). Hub API calls during the
measured phase are counted from the hub's access log.
"""

from __future__ import annotations

import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from hub_harness import RunningHub, free_port, render_stack, start_hub, z2jh_hub_settings  # noqa: E402

USER_CHECK = "GET /hub/api/user "  # the hub's access-log line for one token check


@dataclass
class HubSetup:
    hub: RunningHub
    port: int  # where the templating server must listen
    prefix: str
    env: dict[str, str]  # the server's JupyterHub environment
    hub_url: str

    def login(self, name: str) -> str:
        """Log `name` in and through the service's OAuth; the Cookie header a browser sends to the service."""
        session = self.hub.login(requests.Session(), name)
        response = session.get(f"{self.hub.url}{self.prefix}", timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"OAuth round trip for {name} ended with HTTP {response.status_code}")
        sent = [c for c in session.cookies if c.path == "/" or self.prefix.startswith(c.path.rstrip("/") + "/")]
        return "; ".join(f"{c.name}={c.value}" for c in sent)

    def user_checks(self) -> int:
        """Token checks the hub has answered so far."""
        return self.hub.log_text().count(USER_CHECK)


@contextmanager
def hub_setup(work: Path) -> Iterator[HubSetup]:
    """A real hub with the dev stack's rendered service and roles; the server's environment to match."""
    stack = render_stack("dev", work / "render")
    container = stack.manifest("Deployment", "notebook-templates")["spec"]["template"]["spec"]["containers"][0]
    token = secrets.token_hex(32)
    settings = z2jh_hub_settings(stack.values["spyglass"], lambda path: token if path == "hub.services.templates.apiToken" else secrets.token_hex(32))
    port = free_port()
    settings.services = [dict(s, url=f"http://127.0.0.1:{port}") if s["name"] == "templates" else s for s in settings.services]
    settings.spawn = False
    with start_hub(settings, work / "hub") as hub:
        env: dict[str, str] = {}
        for entry in container["env"]:
            name = entry["name"]
            if name == "JUPYTERHUB_API_TOKEN":
                env[name] = token
            elif "value" in entry:
                value = entry["value"]
                if name == "JUPYTERHUB_API_URL":  # the in-cluster hub Service -> the local hub
                    value = value.replace(f"{urlsplit(value).scheme}://{urlsplit(value).netloc}", f"http://127.0.0.1:{hub.hub_port}")
                env[name] = value
        yield HubSetup(hub, port, env["JUPYTERHUB_SERVICE_PREFIX"], env, hub.url)
