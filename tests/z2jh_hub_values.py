"""Rendered chart values -> JupyterHub settings, exactly as z2jh 4.4.0's jupyterhub_config.py maps them.

Split from tests/hub_harness.py (which re-exports everything here): this
half only reads what `labhub render` wrote and translates it; it starts nothing.
See hub_harness's docstring for the whole API.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REDACTED = "[secret]"  # what `labhub render` writes in place of every secret
# hub.config keys z2jh's jupyterhub_config.py drops before applying hub.config (it seeds them from its Secret).
_Z2JH_SEEDED = {"JupyterHub": ("proxy_auth_token", "cookie_secret", "services"), "ConfigurableHTTPProxy": ("auth_token",), "CryptKeeper": ("keys",)}


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
