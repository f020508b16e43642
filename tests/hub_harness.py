"""A real JupyterHub 5.5.0 (the version z2jh 4.4.0's hub image runs) with its proxy, for integration tests.

Why: what meets a hub in production (service OAuth, roles and scopes, the
redirect-URI string comparison, custom authenticators, the hub database)
is only proven against the real hub. This module starts `.hub-venv/bin/jupyterhub`
(installed by `scripts/install-test-hub`, pinned by tests/hub_env) with
configurable-http-proxy from tests/hub_env/node_modules, on free loopback
ports, with a generated `jupyterhub_config.py`, and stops it and every
process it started. Nothing here is a stand-in: the hub spawns real
`jupyterhub-singleuser` servers (jupyter-server) with SimpleLocalProcessSpawner.

The API, in the order a test uses it (the first two live in
tests/z2jh_hub_values.py and are re-exported here):

- `render_stack(stack, out)` runs `labhub render` (the CLI, as an operator
  does) and returns a `RenderedStack`: the chart values and every manifest.
- `z2jh_hub_settings(values, secret)` turns rendered chart values into
  `HubSettings` exactly as z2jh 4.4.0's `files/hub/jupyterhub_config.py`
  does: `hub.services` (a dict of dicts) becomes `c.JupyterHub.services`
  with `name` defaulting to the key, `apiToken` popped and `api_token` taken
  from the chart Secret (the value's `api_token`/`apiToken`, which render
  redacts: `secret(path)` supplies a per-run value); `hub.loadRoles` becomes
  `c.JupyterHub.load_roles` with `name` defaulting to the key; `hub.config`
  is applied as traitlets config after dropping the keys z2jh seeds from its
  Secret (cookie secret, proxy token, CryptKeeper keys, services).
- `HubSettings(...)` can also be written by hand, e.g. for an authenticator
  test: `authenticator_class="xnat_authenticator.XNATAuthenticator"`,
  `extra_files={"xnat_authenticator.py": source}` (written next to the
  generated config, which puts its own folder first on `sys.path` as z2jh's
  does, so this is where `hub.extraFiles` mounted at
  /usr/local/etc/jupyterhub/ ships modules), `config={"XNATAuthenticator":
  {...}}`, and a database the way z2jh's `hub.db.type: postgres` runs it:
  `db_url="postgresql+psycopg2://hub@127.0.0.1:5432/jupyterhub"` with the password
  only in the environment, `env={"PGPASSWORD": password}` (z2jh sets
  PGPASSWORD from `hub.db.password`). `extra_config` is appended verbatim.
- `start_hub(settings, workdir)` (a context manager) yields a `RunningHub`:
  `.url` (the public proxy URL a browser uses), `.api_url`, `.admin_token`,
  `.api(method, path, ...)`, `.login(session, name)`, `.start_server(name)`,
  `.log_text()`. On exit the hub is stopped with SIGTERM (it stops its proxy
  and the servers it spawned); any process it started that is still alive
  after that is killed by pid.

The one addition to the configured hub is the harness's own service
`hub-harness` with an admin token (role `hub-harness`: users, servers and
tokens), used by tests to create users, start servers and issue tokens; it
is not part of any rendered configuration and never needed by the code
under test.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from z2jh_hub_values import REDACTED, HubSettings, RenderedStack, render_stack, z2jh_hub_settings

__all__ = ["REDACTED", "HubError", "HubSettings", "RenderedStack", "RunningHub", "free_port", "missing_executables",
           "render_stack", "start_hub", "z2jh_hub_settings"]

REPO = Path(__file__).resolve().parent.parent
HUB_VENV = REPO / ".hub-venv"
JUPYTERHUB = HUB_VENV / "bin" / "jupyterhub"
SINGLEUSER = HUB_VENV / "bin" / "jupyterhub-singleuser"
CHP = REPO / "tests" / "hub_env" / "node_modules" / ".bin" / "configurable-http-proxy"
HARNESS_SERVICE = "hub-harness"


class HubError(RuntimeError):
    """The hub did not come up (the message carries the tail of its log)."""


def missing_executables() -> list[str]:
    """What `scripts/install-test-hub` must install before a hub can run (empty when ready)."""
    return [str(p) for p in (JUPYTERHUB, SINGLEUSER, CHP) if not os.access(p, os.X_OK)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the running hub -----------------------------------------------------------------


@dataclass
class RunningHub:
    """A started hub. `url` is the proxy's public URL; `api_url` the hub API behind it."""

    url: str
    api_url: str
    hub_port: int
    admin_token: str = field(repr=False)
    workdir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def api(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """A hub API request (`path` relative to /hub/api/), with the harness's admin token by default."""
        headers = {"Authorization": f"token {token or self.admin_token}", **kwargs.pop("headers", {})}
        return requests.request(method, f"{self.api_url}/{path.lstrip('/')}", headers=headers, timeout=30, **kwargs)

    def login(self, session: requests.Session, name: str, password: str = "") -> requests.Session:
        """Log `name` in through the hub's login form (its `_xsrf` field included), as a browser does."""
        form = session.get(f"{self.url}/hub/login", timeout=30)
        xsrf = re.search(r'name="_xsrf" value="([^"]+)"', form.text)
        data = {"username": name, "password": password, **({"_xsrf": xsrf.group(1)} if xsrf else {})}
        response = session.post(f"{self.url}/hub/login", data=data, allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise HubError(f"login of {name} answered {response.status_code}")
        return session

    def start_server(self, name: str, timeout: float = 60) -> None:
        """Create `name` if needed and start their default server; return once it is ready."""
        self.api("POST", f"users/{name}")  # 201, or 409 when the user exists
        response = self.api("POST", f"users/{name}/server")
        if response.status_code not in (201, 202, 400):  # 400: already running
            raise HubError(f"starting {name}'s server answered {response.status_code}: {response.text[:200]}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            user = self.api("GET", f"users/{name}").json()
            server = user.get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(0.2)
        raise HubError(f"{name}'s server was not ready after {timeout:.0f} s\n{self.log_text()[-3000:]}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


def _config_source(settings: HubSettings, ports: dict[str, int], workdir: Path, db_url: str) -> str:
    """The generated jupyterhub_config.py: the test's settings, then the harness's own wiring."""
    spawner = ""
    if settings.spawn:
        args = ["--allow-root"] if os.geteuid() == 0 else []
        spawner = f"""
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {str(workdir / "home" / "{username}")!r}
c.Spawner.cmd = [{str(SINGLEUSER)!r}]
c.Spawner.args = {args!r}
c.Spawner.start_timeout = 60
c.Spawner.http_timeout = 60
"""
    authenticator = f"c.JupyterHub.authenticator_class = {settings.authenticator_class!r}\n" if settings.authenticator_class else ""
    return f"""# Generated by tests/hub_harness.py for one test run.
import os, sys
# As z2jh's jupyterhub_config.py: modules beside the config (hub.extraFiles) are importable.
sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

c = get_config()  # noqa: F821
for _section, _entries in {settings.config!r}.items():
    c[_section].update(_entries)
{authenticator}c.JupyterHub.services = {settings.services!r}
c.JupyterHub.load_roles = {settings.load_roles!r}

# The harness's admin client (never part of a rendered configuration).
c.JupyterHub.services.append({{"name": {HARNESS_SERVICE!r}, "api_token": os.environ["HARNESS_ADMIN_TOKEN"]}})
c.JupyterHub.load_roles.append({{"name": {HARNESS_SERVICE!r}, "services": [{HARNESS_SERVICE!r}],
    "scopes": ["admin:users", "admin:servers", "tokens", "read:roles", "read:services", "access:servers"]}})

c.JupyterHub.bind_url = "http://127.0.0.1:{ports["proxy"]}"
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{ports["hub"]}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{ports["proxy_api"]}"
c.ConfigurableHTTPProxy.command = [{str(CHP)!r}]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = {db_url!r}
c.JupyterHub.cookie_secret_file = {str(workdir / "cookie_secret")!r}
c.JupyterHub.pid_file = {str(workdir / "jupyterhub.pid")!r}
c.JupyterHub.cleanup_servers = True
c.JupyterHub.cleanup_proxy = True
{spawner}
{settings.extra_config}
"""


def _descendants(root: int) -> list[int]:
    """Every live process below `root` (from /proc), so none outlives the hub."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _stop(process: subprocess.Popen[bytes]) -> None:
    started = _descendants(process.pid)
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)  # the hub stops its spawned servers and its proxy
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    for pid in started + _descendants(process.pid):
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):  # it exited since the check
                os.kill(pid, signal.SIGKILL)


@contextmanager
def start_hub(settings: HubSettings, workdir: Path | None = None, timeout: float = 60) -> Iterator[RunningHub]:
    """Run a hub with `settings` in `workdir` (a fresh temporary folder by default) until the block ends."""
    missing = missing_executables()
    if missing:
        raise HubError(f"{', '.join(missing)} missing: run scripts/install-test-hub (make test-deps)")
    with tempfile.TemporaryDirectory(prefix="hub-") as scratch:
        workdir = Path(workdir or scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "home").mkdir(exist_ok=True)
        for name, text in settings.extra_files.items():
            (workdir / name).write_text(text)
        ports = {"proxy": free_port(), "hub": free_port(), "proxy_api": free_port()}
        db_url = settings.db_url or f"sqlite:///{workdir / 'jupyterhub.sqlite'}"
        config = workdir / "jupyterhub_config.py"
        config.write_text(_config_source(settings, ports, workdir, db_url))
        admin_token = secrets.token_hex(32)
        env = {
            **os.environ,
            "HARNESS_ADMIN_TOKEN": admin_token,
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(32),
            "PATH": f"{HUB_VENV / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            **settings.env,
        }
        for name in [k for k in env if k.startswith("JUPYTERHUB_")]:  # never leak a service's identity into the hub
            del env[name]
        env.pop("VIRTUAL_ENV", None)
        log_path = workdir / "jupyterhub.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [str(JUPYTERHUB), "-f", str(config), "--debug"] if os.environ.get("HUB_HARNESS_DEBUG") else [str(JUPYTERHUB), "-f", str(config)],
                cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        hub = RunningHub(
            url=f"http://127.0.0.1:{ports['proxy']}",
            api_url=f"http://127.0.0.1:{ports['proxy']}/hub/api",
            hub_port=ports["hub"],
            admin_token=admin_token,
            workdir=workdir,
            process=process,
            log_path=log_path,
        )
        try:
            _wait_ready(hub, timeout)
            yield hub
        finally:
            _stop(process)


def _wait_ready(hub: RunningHub, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if hub.process.poll() is not None:
            raise HubError(f"jupyterhub exited with {hub.process.returncode}:\n{hub.log_text()[-3000:]}")
        try:
            if requests.get(f"{hub.api_url}/", timeout=2).status_code == 200:  # through the proxy: both are up
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise HubError(f"jupyterhub did not answer within {timeout:.0f} s:\n{hub.log_text()[-3000:]}")
