"""Building and running the tornado application from one typed configuration.

Why a `ServerConfig`: the CLI, the tests and the benchmark all start the same
server from the same object, so what a test proves is what `labhub templates
serve` runs. Secrets (the signing key, JupyterHub's token) reach it from the
environment via the CLI and are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import socket
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from labhub.templates.auth import OAuthCallbackHandler, make_hub_auth, with_auth
from labhub.templates.contents import ContentsStorage
from labhub.templates.handlers import _CSP, CreateHandler, HealthHandler, ListHandler, TemplateHandler, open_url
from labhub.templates.notebook import Catalog
from labhub.templates.storage import DownloadStorage, FilesystemStorage
from labhub.templates.tokens import DEFAULT_MAX_AGE, TokenSigner

log = logging.getLogger("labhub.templates")

# Bodies past this are cut off by tornado itself (400 and the connection
# closed); between max_body_bytes and this the server answers 413.
HARD_BODY_LIMIT = 16 * 1024 * 1024


@dataclass
class ServerConfig:
    """Everything `labhub templates serve` needs, already checked by the CLI."""

    templates_dir: str
    storage: str  # "contents" | "download" | "filesystem:/path/{username}"
    secret_key: bytes = field(repr=False)
    dev_user: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    hub_url: str | None = None  # public hub URL, for redirects to the new notebook
    open_url: str | None = None  # explicit open-notebook URL pattern with {username} and {path}
    proxy_url: str | None = None  # how this server reaches /user/<name>/ (z2jh: http://proxy-public)
    hub_api_url: str | None = None
    hub_api_token: str | None = field(default=None, repr=False)
    service_prefix: str = "/"
    token_max_age: int = DEFAULT_MAX_AGE
    max_body_bytes: int = 1024 * 1024
    retry_ms: int = 2000
    processes: int = 1


@dataclass
class AppState:
    """What every handler shares (`self.settings["labhub"]`)."""

    catalog: Catalog
    storage: Any
    signer: TokenSigner
    prefix: str
    max_body_bytes: int
    retry_ms: int
    open_url_pattern: str | None
    csp: str = ""

    def open_url_for(self, user: str, path: str) -> str | None:
        return open_url(self.open_url_pattern, user, path) if self.open_url_pattern else None


def make_storage(config: ServerConfig) -> Any:
    """The storage backend named by `config.storage` (ValueError with one line if it is wrong)."""
    if config.storage == "download":
        return DownloadStorage()
    if config.storage.startswith("filesystem:"):
        return FilesystemStorage(config.storage.split(":", 1)[1])
    if config.storage == "contents":
        proxy = config.proxy_url or config.hub_url
        if not proxy:
            raise ValueError("contents storage needs --proxy-url (or --hub-url) to reach user servers")
        return ContentsStorage(config.hub_api_url or "", config.hub_api_token or "", proxy)
    raise ValueError(f"unknown storage {config.storage!r}: use contents, download or filesystem:/path/{{username}}")


def content_security_policy(open_url_pattern: str | None) -> str:
    """Nothing but inline styles; forms (and their redirects) only to us and the notebook's origin."""
    policy = _CSP
    if open_url_pattern:
        parts = urlsplit(open_url_pattern)
        if parts.scheme in ("http", "https") and parts.netloc:
            policy = policy.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return policy


def _derived(secret: bytes, purpose: bytes) -> bytes:
    # One configured key, independent sub-keys per use (token signing, cookies).
    return hmac.new(secret, purpose, hashlib.sha256).digest()


def make_app(config: ServerConfig) -> tornado.web.Application:
    """The tornado Application for `config` (no sockets opened)."""
    prefix = "/" + config.service_prefix.strip("/") + "/" if config.service_prefix.strip("/") else "/"
    pattern = config.open_url
    if pattern is None and config.hub_url and config.storage != "download":
        pattern = config.hub_url.rstrip("/") + "/user/{username}/lab/tree/{path}"
    state = AppState(
        catalog=Catalog(config.templates_dir),
        storage=make_storage(config),
        signer=TokenSigner(_derived(config.secret_key, b"labhub-templates-token"), config.token_max_age),
        prefix=prefix,
        max_body_bytes=config.max_body_bytes,
        retry_ms=config.retry_ms,
        open_url_pattern=pattern,
        csp=content_security_policy(pattern),
    )
    dev = config.dev_user is not None
    settings: dict[str, Any] = {
        "labhub": state,
        "xsrf_cookies": True,
        "xsrf_cookie_kwargs": {"httponly": True, "samesite": "Strict", "path": prefix},
        "cookie_secret": _derived(config.secret_key, b"labhub-templates-cookie"),
        "login_url": prefix,
        "compress_response": False,
    }
    routes: list[tuple[Any, ...]] = [
        (r"/healthz", HealthHandler),
        (prefix + r"healthz", HealthHandler),
        (prefix, with_auth(ListHandler, dev)),
        (prefix + r"t/(.+)", with_auth(TemplateHandler, dev)),
        (prefix + r"create", with_auth(CreateHandler, dev)),
    ]
    if dev:
        settings["labhub_dev_user"] = config.dev_user
    else:
        settings["hub_auth"] = make_hub_auth(prefix)
        routes.append((prefix + r"oauth_callback", OAuthCallbackHandler))
    if prefix != "/":
        routes.append((r"/", tornado.web.RedirectHandler, {"url": prefix}))
    return tornado.web.Application(routes, **settings)


def listen(config: ServerConfig) -> list[socket.socket]:
    """Bind the listening sockets (before any fork, so all processes share them)."""
    return bind_sockets(config.port, address=config.host, reuse_port=False)


def start(config: ServerConfig, sockets: list[socket.socket]) -> HTTPServer:
    """Build the app and serve it on `sockets` in the current IOLoop."""
    app = make_app(config)
    server = HTTPServer(app, max_body_size=HARD_BODY_LIMIT, xheaders=config.host != "127.0.0.1", idle_connection_timeout=60)
    server.add_sockets(sockets)
    log.info(
        "serving %d templates from %s, storage %s, on http://%s:%d%s",
        len(app.settings["labhub"].catalog.all()), config.templates_dir, config.storage.split(":")[0],
        config.host, config.port, app.settings["labhub"].prefix,
    )
    return server
