"""XNAT login and XNAT-chosen server options for a z2jh hub, shipped as this one file.

The XnatHub component mounts this file into the hub with z2jh's `hub.extraFiles`
next to z2jh's own jupyterhub_config.py (which puts its folder on sys.path), names
`xnat_jupyterhub.XnatAuthenticator` in `hub.config.JupyterHub.authenticator_class`
and sets `c.KubeSpawner.pre_spawn_hook = xnat_jupyterhub.pre_spawn_hook`.
So it imports only what z2jh 4.4.0's hub image has (jupyterhub, tornado,
traitlets) and nothing from labhub or Pulumi.

- `XnatAuthenticator` checks a login the way XNAT's own authenticator does: the
  user's credentials must read the user's XNAT roles; the role `jupyter` (any
  case) or the site preference `allUsersCanStartJupyter` lets them in. Every
  XNAT failure (timeout, TLS, HTTP error, bad JSON) denies with a log line.
- `pre_spawn_hook` asks XNAT, with the hub's own XNAT account, which image,
  command, env, resources, node placement and data mounts this user's server
  gets, and applies them to the KubeSpawner; XNAT data is mounted read-only
  from the archive PVC. A failure fails the spawn with a message the user sees.

Settings are traitlets that default from the `JH_XNAT_*` environment variables
XNAT sites already use, so `hub.extraEnv` or `hub.config` can set them.
"""

from __future__ import annotations

import json
import os
import posixpath
import shlex
from typing import Any
from urllib.parse import quote, urlsplit

from jupyterhub.auth import Authenticator
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from traitlets import Bool, Float, TraitError, Unicode, default, validate
from traitlets.config import LoggingConfigurable

ARCHIVE_VOLUME = "xnat-archive"
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _env_bool(name: str, fallback: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return fallback
    if raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    raise ValueError(f"{name}={raw!r} is not a boolean (use true or false)")


def _env_float(name: str, fallback: float) -> float:
    raw = os.environ.get(name)
    try:
        return float(raw) if raw else fallback
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None


class XnatError(Exception):
    """XNAT could not be asked, or answered something unusable (the message says which)."""


class XnatSpawnError(Exception):
    """A spawn refused because of XNAT; JupyterHub shows `jupyterhub_message` to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.jupyterhub_message = message


class XnatClient(LoggingConfigurable):
    """Where XNAT is and how to reach it; shared by the authenticator and the spawn hook."""

    xnat_url = Unicode(
        config=True,
        help="""Base URL of the XNAT this hub belongs to, e.g. https://xnat.example.org
        (no trailing /xapi). Logins and spawn options are asked there.
        Defaults to the JH_XNAT_URL environment variable, as on XNAT's own hub images.""",
    )
    verify_tls = Bool(
        config=True,
        help="""Verify XNAT's TLS certificate against the system CAs (on by default).
        Turn off only for a test XNAT with a self-signed certificate: with it off,
        anyone on the path can read users' passwords.
        Defaults to the JH_XNAT_VERIFY_TLS environment variable (true/false), else true.""",
    )
    timeout = Float(
        config=True,
        help="""Seconds to wait for XNAT to connect and to answer one request. A login
        that waits longer is denied; a spawn that waits longer fails. Other users'
        logins are not held up meanwhile (requests are asynchronous).
        Defaults to the JH_XNAT_TIMEOUT environment variable, else 10.""",
    )

    @default("xnat_url")
    def _default_xnat_url(self) -> str:  # traitlets does not run @validate on defaults
        return self._check_xnat_url({"value": os.environ.get("JH_XNAT_URL", "")})

    @default("verify_tls")
    def _default_verify_tls(self) -> bool:
        return _env_bool("JH_XNAT_VERIFY_TLS", True)

    @default("timeout")
    def _default_timeout(self) -> float:
        return self._check_timeout({"value": _env_float("JH_XNAT_TIMEOUT", 10.0)})

    @validate("xnat_url")
    def _check_xnat_url(self, proposal: dict[str, Any]) -> str:
        url = proposal["value"].strip().rstrip("/")
        parts = urlsplit(url)
        if url and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise TraitError(f"xnat_url {url!r} is not an http(s) URL (set JH_XNAT_URL or {type(self).__name__}.xnat_url)")
        return url

    @validate("timeout")
    def _check_timeout(self, proposal: dict[str, Any]) -> float:
        if not proposal["value"] > 0:
            raise TraitError(f"timeout must be a positive number of seconds, not {proposal['value']!r}")
        return proposal["value"]

    async def xnat_get_json(self, path: str, username: str, password: str) -> tuple[int, Any]:
        """GET `path` on XNAT with HTTP Basic credentials: (status, parsed JSON or None).

        A fresh client per call: the hub's shared client queues requests beyond its
        connection limit, so a slow XNAT would hold up the hub's own proxy calls.
        Redirects are not followed (credentials must not travel to another URL); they
        come back as their status. Raises XnatError when XNAT cannot be reached in time
        or a 200 answer is not JSON.
        """
        if not self.xnat_url:
            raise XnatError("no XNAT URL is configured (JH_XNAT_URL)")
        request = HTTPRequest(
            self.xnat_url + path, method="GET", headers={"Accept": "application/json"},
            auth_username=username, auth_password=password, auth_mode="basic",
            connect_timeout=self.timeout, request_timeout=self.timeout,
            validate_cert=self.verify_tls, follow_redirects=False,
        )  # fmt: skip
        client = AsyncHTTPClient(force_instance=True)
        try:
            response = await client.fetch(request, raise_error=False)
        except HTTPClientError as e:  # 599: timeout, connection closed (and with curl: refused, DNS, TLS)
            raise XnatError(f"XNAT at {self.xnat_url} did not answer: {e.message}") from None
        except OSError as e:  # tornado's own client: refused, DNS, TLS verification
            raise XnatError(f"XNAT at {self.xnat_url} did not answer: {e}") from None
        finally:
            client.close()
        if response.code != 200:
            return response.code, None
        try:
            return 200, json.loads(response.body)
        except ValueError:
            raise XnatError(f"XNAT answered {path} with something that is not JSON") from None


class XnatAuthenticator(XnatClient, Authenticator):
    """Logs users in with their XNAT username and password (the hub's login form)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not self.xnat_url:  # at hub start, not at the first login
            raise ValueError("XnatAuthenticator.xnat_url is not set: set JH_XNAT_URL to the XNAT's base URL")

    async def authenticate(self, handler: Any, data: dict[str, str]) -> dict[str, Any] | None:
        username, password = data.get("username", ""), data.get("password", "")
        if not username or not password:
            return None
        if ":" in username:  # HTTP Basic cannot carry it; XNAT usernames never contain one
            self.log.warning("XNAT login denied for %r: a username cannot contain ':'", username)
            return None
        try:
            return await self._check_with_xnat(username, password)
        except XnatError as e:
            self.log.error("XNAT login denied for %r: %s", username, e)
            return None

    async def _check_with_xnat(self, username: str, password: str) -> dict[str, Any] | None:
        status, roles = await self.xnat_get_json(f"/xapi/users/{quote(username, safe='')}/roles", username, password)
        if status == 401:
            self.log.info("XNAT login denied for %r: wrong username or password", username)
            return None
        if status != 200:
            raise XnatError(f"XNAT answered HTTP {status} when asked for the user's roles")
        if not isinstance(roles, list):
            raise XnatError("XNAT's roles answer is not a list")
        if any(isinstance(role, str) and role.lower() == "jupyter" for role in roles):
            return {"name": username}
        status, prefs = await self.xnat_get_json("/xapi/jupyterhub/preferences/allUsersCanStartJupyter", username, password)
        if status != 200:
            raise XnatError(f"XNAT answered HTTP {status} when asked whether all users can start Jupyter")
        allowed = prefs.get("allUsersCanStartJupyter") if isinstance(prefs, dict) else None
        if allowed is True or (isinstance(allowed, str) and allowed.lower() == "true"):
            return {"name": username}
        self.log.info("XNAT login denied for %r: no 'jupyter' role and allUsersCanStartJupyter is off", username)
        return None

    def check_allowed(self, username: str, authentication: dict[str, Any] | None = None) -> bool:
        """`authenticate` returns a user only once XNAT allowed them (JupyterHub 5 asks again here)."""
        return authentication is not None or super().check_allowed(username, authentication)

    def normalize_username(self, username: str) -> str:
        """Keep the name exactly as XNAT has it: XNAT asks the hub for servers by its own user name."""
        return username


class XnatSpawnHook(XnatClient):
    """Applies the server options XNAT chose (its `task_template`) to a KubeSpawner."""

    username = Unicode(config=True, help="""The hub's own XNAT account, which asks XNAT for users' server options
        (it needs XNAT's JupyterHub or Administrator role). Defaults to JH_XNAT_USERNAME.""")
    password = Unicode(config=True, help="""Password of the hub's XNAT account. Defaults to JH_XNAT_PASSWORD.""")
    archive_pvc = Unicode(config=True, help="""PersistentVolumeClaim holding XNAT's archive (mounted read-only
        with one subPath per XNAT data mount). Defaults to JH_XNAT_ARCHIVE_PVC, else 'archive'.""")
    archive_root = Unicode(config=True, help="""The path XNAT's mounts name for the root of that PVC, i.e. the
        server path of XNAT's archive after path translation. Mounts outside it are refused.
        Defaults to JH_XNAT_ARCHIVE_PATH, else /data/xnat/archive.""")
    workspace_root = Unicode(config=True, help="""The path of XNAT's user workspaces. Mounts from under it are
        skipped: the hub's own storage mounts the user's workspace. Defaults to JH_XNAT_WORKSPACE_PATH,
        else /data/xnat/workspaces.""")
    nb_uid = Unicode(config=True, help="""NB_UID for the user's server (the uid owning the archive files).
        Defaults to JH_XNAT_UID; empty leaves NB_UID unset.""")
    nb_gid = Unicode(config=True, help="""NB_GID for the user's server. Defaults to JH_XNAT_GID; empty leaves it unset.""")

    @default("username")
    def _default_username(self) -> str:
        return os.environ.get("JH_XNAT_USERNAME", "")

    @default("password")
    def _default_password(self) -> str:
        return os.environ.get("JH_XNAT_PASSWORD", "")

    @default("archive_pvc")
    def _default_archive_pvc(self) -> str:
        return os.environ.get("JH_XNAT_ARCHIVE_PVC", "archive")

    @default("archive_root")
    def _default_archive_root(self) -> str:
        return os.environ.get("JH_XNAT_ARCHIVE_PATH", "/data/xnat/archive")

    @default("workspace_root")
    def _default_workspace_root(self) -> str:
        return os.environ.get("JH_XNAT_WORKSPACE_PATH", "/data/xnat/workspaces")

    @default("nb_uid")
    def _default_nb_uid(self) -> str:
        return os.environ.get("JH_XNAT_UID", "")

    @default("nb_gid")
    def _default_nb_gid(self) -> str:
        return os.environ.get("JH_XNAT_GID", "")

    async def fetch_options(self, user: str, server: str) -> dict[str, Any]:
        """XNAT's `task_template` for this user's server (named or default)."""
        if not self.username or not self.password:
            raise XnatSpawnError("The hub has no XNAT account configured (JH_XNAT_USERNAME, JH_XNAT_PASSWORD).")
        path = f"/xapi/jupyterhub/users/{quote(user, safe='')}/server"
        path += f"/{quote(server, safe='')}/user-options" if server else "/user-options"
        try:
            status, options = await self.xnat_get_json(path, self.username, self.password)
        except XnatError as e:
            raise XnatSpawnError(f"Could not get your server options from XNAT: {e}") from None
        if status != 200:
            raise XnatSpawnError(f"XNAT answered HTTP {status} when asked for your server options; start the server from XNAT again.")
        template = options.get("task_template") if isinstance(options, dict) else None
        if not isinstance(template, dict):
            raise XnatSpawnError("XNAT's server options have no task_template; start the server from XNAT again.")
        return template

    def plan(self, template: dict[str, Any], spawner: Any) -> dict[str, Any]:
        """The spawner traits to set from XNAT's task_template, merged into the spawner's current values.

        Reads the spawner, changes nothing (the caller applies all or none). Raises
        XnatSpawnError naming the bad part of the template.
        """
        spec = _section(template, "container_spec")
        changes: dict[str, Any] = {}
        if spec.get("image"):
            changes["image"] = _text(spec["image"], "container_spec.image")
        if spec.get("command"):
            changes["cmd"] = _command(spec["command"])
        env = _env(spec.get("env"))
        env["NB_USER"] = spawner.user.name
        env.update({name: value for name, value in (("NB_UID", self.nb_uid), ("NB_GID", self.nb_gid)) if value})
        changes["environment"] = {**spawner.environment, **env}
        constraints = _section(template, "placement").get("constraints") or []
        if constraints:
            changes["node_selector"] = {**spawner.node_selector, **_node_selector(constraints)}
        changes.update(_resources(_section(template, "resources"), spawner))
        mounts = self._archive_mounts(spec.get("mounts") or [])
        if mounts:
            volume = {"name": ARCHIVE_VOLUME, "persistentVolumeClaim": {"claimName": self.archive_pvc, "readOnly": True}}
            changes["volumes"] = _add_volume(spawner.volumes, volume)
            changes["volume_mounts"] = _add_mounts(spawner.volume_mounts, mounts)
        return changes

    def _archive_mounts(self, mounts: Any) -> list[dict[str, Any]]:
        """XNAT's mounts as read-only subPath mounts of the archive PVC; the workspace mount is skipped."""
        if not isinstance(mounts, list):
            raise XnatSpawnError("XNAT's container_spec.mounts is not a list.")
        root, workspaces = posixpath.normpath(self.archive_root), posixpath.normpath(self.workspace_root)
        result, targets = [], set()
        for mount in mounts:
            if not isinstance(mount, dict):
                raise XnatSpawnError(f"XNAT sent a mount that is not an object: {mount!r}.")
            source = _abspath(mount.get("source"), "source")
            target = _abspath(mount.get("target"), "target")
            if _within(source, workspaces):
                continue
            if not _within(source, root) or source == root:
                raise XnatSpawnError(
                    f"XNAT asked to mount {source} at {target}, which is not inside the XNAT archive ({root}); "
                    "refusing to start. Ask your XNAT admin to check the JupyterHub path translation settings."
                )
            if target in targets:
                raise XnatSpawnError(f"XNAT asked to mount two folders at {target}.")
            targets.add(target)
            result.append({"name": ARCHIVE_VOLUME, "mountPath": target, "subPath": posixpath.relpath(source, root), "readOnly": True})
        return result


def _section(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key) or {}
    if not isinstance(value, dict):
        raise XnatSpawnError(f"XNAT's task_template.{key} is not an object.")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise XnatSpawnError(f"XNAT's {what} is not a non-empty string: {value!r}.")
    return value.strip()


def _command(value: Any) -> list[str]:
    """A command string is split like a shell would (quotes kept together); a list is taken as is."""
    if isinstance(value, list) and value and all(isinstance(part, str) for part in value):
        return value
    try:
        return shlex.split(_text(value, "container_spec.command"))
    except ValueError as e:
        raise XnatSpawnError(f"XNAT's container_spec.command cannot be split into words: {e}.") from None


def _env(value: Any) -> dict[str, str]:
    """container_spec.env as a name -> string dict (XNAT sends an object; docker's NAME=value list also works)."""
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(item, str) and "=" in item for item in value):
        value = dict(item.split("=", 1) for item in value)
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        raise XnatSpawnError("XNAT's container_spec.env is not a map of variable names to values.")
    return {name: "" if v is None else str(v) for name, v in value.items()}


def _node_selector(constraints: Any) -> dict[str, str]:
    """Swarm placement constraints `key==value` (`node.labels.key==value` too) as node labels to select."""
    if not isinstance(constraints, list):
        raise XnatSpawnError("XNAT's placement.constraints is not a list.")
    selector = {}
    for constraint in constraints:
        key, sep, value = constraint.partition("==") if isinstance(constraint, str) else ("", "", "")
        key, value = key.strip(), value.strip()
        if not sep or not key or "!=" in constraint or "==" in value:
            raise XnatSpawnError(f"XNAT's placement constraint {constraint!r} is not of the form label==value.")
        selector[key.removeprefix("node.labels.")] = value
    return selector


def _resources(resources: dict[str, Any], spawner: Any) -> dict[str, Any]:
    """CPU and memory limits and reservations, and generic resources (gpu -> nvidia.com/gpu), for KubeSpawner."""
    changes: dict[str, Any] = {}
    for key, trait in (("cpu_limit", "cpu_limit"), ("cpu_reservation", "cpu_guarantee")):
        if resources.get(key):
            changes[trait] = resources[key]
    for key, trait in (("mem_limit", "mem_limit"), ("mem_reservation", "mem_guarantee")):
        value = resources.get(key)
        if value:  # docker writes 4g, JupyterHub reads 4G
            changes[trait] = value.strip().upper() if isinstance(value, str) else value
    generic = resources.get("generic_resources") or {}
    if not isinstance(generic, dict):
        raise XnatSpawnError("XNAT's resources.generic_resources is not a map of resource names to counts.")
    extra = {}
    for name, count in generic.items():
        if isinstance(count, bool) or not (isinstance(count, int) or (isinstance(count, str) and count.isdigit())):
            raise XnatSpawnError(f"XNAT's generic resource {name} count {count!r} is not a whole number.")
        if int(count):
            extra["nvidia.com/gpu" if name.lower() == "gpu" else name] = str(int(count))
    if extra:  # Kubernetes wants requests equal to limits for extended resources
        changes["extra_resource_limits"] = {**spawner.extra_resource_limits, **extra}
        changes["extra_resource_guarantees"] = {**spawner.extra_resource_guarantees, **extra}
    return changes


def _abspath(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise XnatSpawnError(f"XNAT sent a mount whose {what} is not an absolute path: {value!r}.")
    return posixpath.normpath(value)


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _add_volume(volumes: Any, volume: dict[str, Any]) -> Any:
    """KubeSpawner takes volumes as a list or as a dict keyed by any name (z2jh may pass either)."""
    if isinstance(volumes, dict):
        return {**volumes, ARCHIVE_VOLUME: volume}
    return [*[v for v in volumes if v.get("name") != ARCHIVE_VOLUME], volume]


def _add_mounts(existing: Any, mounts: list[dict[str, Any]]) -> Any:
    if isinstance(existing, dict):
        return {**existing, **{f"{ARCHIVE_VOLUME}-{i}": m for i, m in enumerate(mounts)}}
    return [*existing, *mounts]


async def pre_spawn_hook(spawner: Any) -> None:
    """`c.KubeSpawner.pre_spawn_hook`: configure the server from XNAT's options, or fail the spawn."""
    hook = XnatSpawnHook(parent=spawner)
    template = await hook.fetch_options(spawner.user.name, spawner.name or "")
    changes = hook.plan(template, spawner)
    mounts = changes.get("volume_mounts", [])
    mounts = [f"{m['subPath']} at {m['mountPath']}" for m in (mounts.values() if isinstance(mounts, dict) else mounts) if m.get("name") == ARCHIVE_VOLUME]
    try:
        with spawner.hold_trait_notifications():  # all or nothing: a bad value rolls back the others
            for name, value in changes.items():
                setattr(spawner, name, value)
    except TraitError as e:
        raise XnatSpawnError(f"XNAT's server options do not fit this hub: {e}") from None
    hook.log.info("XNAT options applied to %s: image %s, XNAT mounts %s", spawner._log_name, spawner.image, mounts or "none")
