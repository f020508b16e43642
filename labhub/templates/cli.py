"""`labhub templates serve`: the command line of the notebook templating server.

Flags carry only what is not secret. Secrets come from the environment (or a
file named there), never from arguments, and are never logged:

- LABHUB_TEMPLATES_SECRET_KEY or LABHUB_TEMPLATES_SECRET_KEY_FILE: signs
  confirmation tokens and cookies; all replicas must share it.
- JupyterHub's service variables: JUPYTERHUB_API_TOKEN, JUPYTERHUB_API_URL,
  JUPYTERHUB_CLIENT_ID, JUPYTERHUB_SERVICE_PREFIX,
  JUPYTERHUB_OAUTH_CALLBACK_URL, JUPYTERHUB_OAUTH_ACCESS_SCOPES (read by
  JupyterHub's HubOAuth as well; the access scopes are required).

Every mistake a user can make here is a `UserError`: one line, exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
from typing import Any

from labhub.errors import UserError
from labhub.templates.naming import NameError_, check_segment

log = logging.getLogger("labhub.templates")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--templates", required=True, metavar="DIR", help="folder of .ipynb templates (searched recursively)")
    parser.add_argument(
        "--storage", required=True, metavar="MODE",
        help="contents (the user's Jupyter server), filesystem:/home/{username} (shared homes) or download",
    )
    parser.add_argument("--dev-user", metavar="NAME", help="local runs and tests only: treat every request as this user")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8080, help="port to bind (default 8080)")
    parser.add_argument("--hub-url", metavar="URL", help="JupyterHub's public URL, e.g. https://hub.example.org")
    parser.add_argument(
        "--open-url", metavar="PATTERN",
        help="where to send the user after creating, with {username} and {path}; default {hub-url}/user/{username}/lab/tree/{path}",
    )
    parser.add_argument("--proxy-url", metavar="URL", help="how this server reaches user servers (z2jh: http://proxy-public); default --hub-url")
    parser.add_argument("--token-max-age", type=int, default=1800, metavar="SECONDS", help="lifetime of a confirmation (default 1800)")
    parser.add_argument("--max-body-bytes", type=int, default=1024 * 1024, metavar="N", help="larger request bodies get 413 (default 1 MiB)")
    parser.add_argument("--processes", type=int, default=1, metavar="N", help="server processes sharing the port (default 1)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])


def _secret_key(dev: bool) -> bytes:
    value = os.environ.get("LABHUB_TEMPLATES_SECRET_KEY")
    path = os.environ.get("LABHUB_TEMPLATES_SECRET_KEY_FILE")
    if value and path:
        raise UserError("set LABHUB_TEMPLATES_SECRET_KEY or LABHUB_TEMPLATES_SECRET_KEY_FILE, not both")
    if path:
        try:
            with open(path, "rb") as handle:
                value_bytes = handle.read().strip()
        except OSError as error:
            raise UserError(f"LABHUB_TEMPLATES_SECRET_KEY_FILE: cannot read {path}: {error.strerror}") from error
    elif value:
        value_bytes = value.strip().encode("utf-8")
    elif dev:
        log.warning("no LABHUB_TEMPLATES_SECRET_KEY: using a random key (confirmations die with this process)")
        return secrets.token_bytes(32)
    else:
        raise UserError("set LABHUB_TEMPLATES_SECRET_KEY or LABHUB_TEMPLATES_SECRET_KEY_FILE (32+ random bytes, shared by all replicas)")
    if len(value_bytes) < 32:
        raise UserError("the templates secret key must be at least 32 characters long")
    return value_bytes


def _check_access_scopes(raw: str | None) -> None:
    """The scopes a user's token must carry; without them JupyterHub's HubAuth accepts any identity the hub knows."""
    if not raw:
        raise UserError(
            "running as a JupyterHub service needs JUPYTERHUB_OAUTH_ACCESS_SCOPES "
            '(e.g. ["access:services!service=templates"]); without it any token the hub knows would be accepted'
        )
    try:
        scopes = json.loads(raw)
    except ValueError:
        scopes = None
    if not isinstance(scopes, list) or not all(isinstance(s, str) and s for s in scopes):
        raise UserError(f"JUPYTERHUB_OAUTH_ACCESS_SCOPES must be a JSON list of scope names, not {raw[:60]!r}")
    if not scopes:
        raise UserError("JUPYTERHUB_OAUTH_ACCESS_SCOPES is an empty list: any token the hub knows would be accepted")


def build_config(args: argparse.Namespace) -> Any:  # a ServerConfig, imported lazily
    """Check the flags and environment; return the ServerConfig (or raise UserError)."""
    from labhub.templates.app import ServerConfig

    env = os.environ
    dev = args.dev_user is not None
    if dev:
        hub_markers = [name for name in ("JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_OAUTH_CALLBACK_URL") if env.get(name)]
        if args.hub_url or hub_markers:
            reason = "--hub-url" if args.hub_url else hub_markers[0]
            raise UserError(f"--dev-user is for local runs only and cannot be combined with a hub ({reason} is set)")
        try:
            check_segment(args.dev_user, what="--dev-user name")
        except NameError_ as error:
            raise UserError(str(error)) from error
    else:
        missing = [name for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID") if not env.get(name)]
        if missing:
            raise UserError(f"running as a JupyterHub service needs {', '.join(missing)} in the environment (or --dev-user for local runs)")
        _check_access_scopes(env.get("JUPYTERHUB_OAUTH_ACCESS_SCOPES"))
        if not args.hub_url and not args.open_url and args.storage != "download":
            raise UserError("--hub-url is required to send users to their new notebook")
    if not os.path.isdir(args.templates):
        raise UserError(f"--templates {args.templates}: not a folder")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: must be between 1 and 65535")
    if args.token_max_age < 60:
        raise UserError("--token-max-age must be at least 60 seconds")
    if args.max_body_bytes < 1024:
        raise UserError("--max-body-bytes must be at least 1024")
    if not 1 <= args.processes <= 64:
        raise UserError("--processes must be between 1 and 64")
    for flag, url in (("--hub-url", args.hub_url), ("--proxy-url", args.proxy_url)):
        if url and not url.startswith(("http://", "https://")):
            raise UserError(f"{flag} {url}: must start with http:// or https://")
    if args.storage == "contents" and not (env.get("JUPYTERHUB_API_URL") and env.get("JUPYTERHUB_API_TOKEN")):
        raise UserError("--storage contents needs JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN in the environment")
    return ServerConfig(
        templates_dir=args.templates,
        storage=args.storage,
        secret_key=_secret_key(dev),
        dev_user=args.dev_user,
        host=args.host,
        port=args.port,
        hub_url=args.hub_url,
        open_url=args.open_url,
        proxy_url=args.proxy_url,
        hub_api_url=env.get("JUPYTERHUB_API_URL"),
        hub_api_token=env.get("JUPYTERHUB_API_TOKEN"),
        service_prefix=env.get("JUPYTERHUB_SERVICE_PREFIX", "/"),
        token_max_age=args.token_max_age,
        max_body_bytes=args.max_body_bytes,
        processes=args.processes,
    )


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; return the exit code."""
    # Our messages at the chosen level; libraries (alembic, imported by
    # jupyterhub, is chatty) and per-request access lines only from WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log.setLevel(args.log_level)
    config = build_config(args)
    from tornado.process import fork_processes

    from labhub.templates.app import listen, make_storage, start
    from labhub.templates.notebook import Catalog, TemplateError

    try:
        make_storage(config)  # fail fast, in the parent, on a bad --storage
        Catalog(config.templates_dir)
    except (ValueError, TemplateError) as error:
        raise UserError(str(error)) from error
    try:
        sockets = listen(config)
    except OSError as error:
        raise UserError(f"cannot listen on {config.host}:{config.port}: {error.strerror}") from error
    if config.processes > 1:
        try:
            fork_processes(config.processes)  # the parent stays here, restarting children that die
        except KeyboardInterrupt:
            return 0

    async def serve() -> None:
        start(config, sockets)
        await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        return 0
    return 0
