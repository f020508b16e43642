"""A real JupyterHub 5.5.0 (the version z2jh 4.4.0's hub image runs) with its proxy, for integration tests.

Why: what meets a hub in production (service OAuth, roles and scopes, the
redirect-URI string comparison, custom authenticators, the hub database)
is only proven against the real hub. This module starts `.hub-venv/bin/jupyterhub`
(installed by `scripts/install-test-hub`, pinned by tests/hub_env) with
configurable-http-proxy from tests/hub_env/node_modules, on free loopback
ports, with a generated `jupyterhub_config.py`, and stops it and every
process it started. Nothing here is a stand-in: the hub spawns real
`jupyterhub-singleuser` servers (jupyter-server) with SimpleLocalProcessSpawner.

The API, in the order a test uses it:

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

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

REPO = Path(__file__).resolve().parent.parent
HUB_VENV = REPO / ".hub-venv"
JUPYTERHUB = HUB_VENV / "bin" / "jupyterhub"
SINGLEUSER = HUB_VENV / "bin" / "jupyterhub-singleuser"
CHP = REPO / "tests" / "hub_env" / "node_modules" / ".bin" / "configurable-http-proxy"
HARNESS_SERVICE = "hub-harness"
REDACTED = "[secret]"  # what `labhub render` writes in place of every secret
# hub.config keys z2jh's jupyterhub_config.py drops before applying hub.config (it seeds them from its Secret).
_Z2JH_SEEDED = {"JupyterHub": ("proxy_auth_token", "cookie_secret", "services"), "ConfigurableHTTPProxy": ("auth_token",), "CryptKeeper": ("keys",)}


class HubError(RuntimeError):
    """The hub did not come up (the message carries the tail of its log)."""


def missing_executables() -> list[str]:
    """What `scripts/install-test-hub` must install before a hub can run (empty when ready)."""
    return [str(p) for p in (JUPYTERHUB, SINGLEUSER, CHP) if not os.access(p, os.X_OK)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- rendered values -> hub settings -------------------------------------------------


@dataclass
class RenderedStack:
    """What `labhub render` wrote for one stack."""

    out: Path
    values: dict[str, dict[str, Any]]  # release -> chart values
    manifests: dict[tuple[str, str], dict[str, Any]]  # (kind, name) -> object

    def manifest(self, kind: str, name: str) -> dict[str, Any]:
        return self.manifests[(kind, name)]


def render_stack(stack: str, out: Path) -> RenderedStack:
    """Run `labhub render --stack <stack> --out <out>` and load what it wrote."""
    labhub = Path(sys.executable).parent / "labhub"
    result = subprocess.run([str(labhub), "render", "--stack", stack, "--out", str(out)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"labhub render --stack {stack} failed: {result.stderr.strip()[-2000:]}")
    values = {p.parent.name: yaml.safe_load(p.read_text()) for p in sorted((out / "charts").glob("*/values.yaml"))}
    manifests = {}
    for path in sorted((out / "manifests").rglob("*.yaml")):
        obj = yaml.safe_load(path.read_text())
        manifests[(obj["kind"], obj["metadata"]["name"])] = obj
    return RenderedStack(out, values, manifests)


@dataclass
class HubSettings:
    """Everything a test decides about the hub; the rest (ports, proxy, spawner, paths) is the harness's."""

    services: list[dict[str, Any]] = field(default_factory=list)  # c.JupyterHub.services
    load_roles: list[dict[str, Any]] = field(default_factory=list)  # c.JupyterHub.load_roles
    config: dict[str, dict[str, Any]] = field(default_factory=dict)  # traitlets sections, like hub.config
    authenticator_class: str | None = None  # overrides config["JupyterHub"]["authenticator_class"] when set
    extra_files: dict[str, str] = field(default_factory=dict)  # name -> text, beside the config (on sys.path)
    extra_config: str = ""  # python appended to jupyterhub_config.py
    db_url: str | None = None  # default: sqlite in the work folder
    env: dict[str, str] = field(default_factory=dict)  # extra environment of the hub process (PGPASSWORD, ...)
    spawn: bool = True  # SimpleLocalProcessSpawner running jupyterhub-singleuser (else the hub's default)


def z2jh_hub_settings(values: dict[str, Any], secret: Callable[[str], str]) -> HubSettings:
    """`HubSettings` from chart values, mapped as z2jh 4.4.0's jupyterhub_config.py maps them.

    `secret(path)` gives the value the chart Secret would hold for a dotted
    values path (e.g. `hub.services.templates.apiToken`); it is called only
    where the rendered value is redacted or absent.
    """
    hub = json.loads(json.dumps(values.get("hub", {})))  # a deep copy
    services = []
    for key, service in (hub.get("services") or {}).items():
        service.setdefault("name", key)
        given = service.pop("apiToken", None) or service.get("api_token")
        service["api_token"] = given if given and given != REDACTED else secret(f"hub.services.{key}.apiToken")
        services.append(service)
    roles = []
    for key, role in (hub.get("loadRoles") or {}).items():
        role.setdefault("name", key)
        roles.append(role)
    config: dict[str, dict[str, Any]] = {}
    for section, entries in (hub.get("config") or {}).items():
        entries = dict(entries)
        for seeded in _Z2JH_SEEDED.get(section, ()):
            entries.pop(seeded, None)
        config[section] = entries
    if "keys" in (hub.get("config") or {}).get("CryptKeeper", {}):  # z2jh seeds these from its Secret
        config["CryptKeeper"]["keys"] = [secrets.token_hex(32)]
    if _contains(config, REDACTED):
        raise ValueError("hub.config still holds a redacted value the harness does not know how to seed")
    return HubSettings(services=services, load_roles=roles, config=config)


def _contains(value: Any, needle: str) -> bool:
    if isinstance(value, dict):
        return any(_contains(v, needle) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, needle) for v in value)
    return value == needle


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
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


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
