"""`--storage contents`: write through the user's own Jupyter server (Contents API).

Why: with z2jh's default per-user volumes only the user's pod can see the
user's files, so the notebook must go through that server. The hub's REST
API (with the service's own token, JUPYTERHUB_API_TOKEN) says whether the
server runs; if it does not, the hub is asked to start it and the caller
gets `Waiting`, so the page can come back until the server is ready.

Never overwriting through an API that overwrites on PUT: the notebook is
PUT under a unique temporary name and then renamed (PATCH) to the first
free name; jupyter-server refuses a rename onto an existing file with 409,
so the final name is taken atomically by the server itself.

The service token must be allowed to look users up, start their servers and
reach them: give the service a role with the scopes `read:users`, `servers`
and `access:servers` (the NotebookTemplates component grants exactly these,
`components/notebook_templates.SERVICE_SCOPES`; docs/templates.md shows the
z2jh values).
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from labhub.templates.naming import candidates
from labhub.templates.storage import Outcome, Saved, StorageError, Waiting

log = logging.getLogger("labhub.templates")



class ContentsStorage:
    """Save notebooks through `<proxy_url>/user/<name>/api/contents/...`."""

    kind = "contents"

    def __init__(self, hub_api_url: str, api_token: str, proxy_url: str, timeout: float = 20.0) -> None:
        if not hub_api_url or not api_token:
            raise ValueError("contents storage needs JUPYTERHUB_API_URL and JUPYTERHUB_API_TOKEN")
        self.hub_api_url = hub_api_url.rstrip("/")
        self.proxy_url = proxy_url.rstrip("/")
        self._token = api_token
        self.timeout = timeout

    async def _request(self, url: str, method: str = "GET", body: Any = None, ok: tuple[int, ...] = (200,)) -> tuple[int, Any]:
        request = HTTPRequest(
            url,
            method=method,
            headers={"Authorization": f"token {self._token}", "Content-Type": "application/json"},
            body=None if body is None else json.dumps(body),
            request_timeout=self.timeout,
            follow_redirects=False,
        )
        try:
            response = await AsyncHTTPClient().fetch(request, raise_error=False)
        except OSError as error:
            raise StorageError(502, f"cannot reach {url.split('?')[0]}: {error}") from error
        if response.code not in ok:
            if response.code == 599:
                raise StorageError(502, f"cannot reach {url.split('?')[0]}: {response.error}")
            return response.code, None
        try:
            return response.code, json.loads(response.body) if response.body else None
        except ValueError as error:
            raise StorageError(502, f"{url.split('?')[0]} answered with something that is not JSON") from error

    async def server_status(self, user: str) -> dict[str, Any] | None:
        """The user's default server model from the hub (None: not running, nothing pending)."""
        code, model = await self._request(f"{self.hub_api_url}/users/{quote(user, safe='')}", ok=(200,))
        if code == 404:
            raise StorageError(403, f"JupyterHub does not know the user {user}")
        if code != 200 or model is None:
            raise StorageError(502, f"JupyterHub's API answered {code} for user {user}; check the service's role")
        return (model.get("servers") or {}).get("")

    async def start_server(self, user: str) -> None:
        code, _ = await self._request(
            f"{self.hub_api_url}/users/{quote(user, safe='')}/server", method="POST", body={}, ok=(201, 202)
        )
        if code == 400:  # already running or pending: the next poll will tell
            return
        if code not in (201, 202):
            raise StorageError(502, f"JupyterHub would not start the server of {user} (HTTP {code})")

    async def save(self, user: str, destination: str, data: bytes) -> Outcome:
        server = await self.server_status(user)
        if server is None or not server.get("ready"):
            if server is None or not server.get("pending"):
                await self.start_server(user)
                log.info("started the server of %s to write %s", user, destination)
            return Waiting("Your Jupyter server is starting; the notebook is created as soon as it is ready.")
        base = self.proxy_url + server["url"].rstrip("/") + "/api/contents/"
        *parents, filename = destination.split("/")
        for depth in range(1, len(parents) + 1):
            await self._ensure_folder(base, "/".join(parents[:depth]))
        taken = await self._existing_names(base, "/".join(parents))
        stem = filename.rsplit(".", 1)[0]
        temporary = "/".join([*parents, f"{stem}.creating-{secrets.token_hex(6)}.ipynb"])
        text = data.decode("utf-8")
        code, _ = await self._request(base + quote(temporary), "PUT", {"type": "file", "format": "text", "content": text}, ok=(200, 201))
        if code not in (200, 201):
            raise StorageError(502, f"your Jupyter server refused the new notebook (HTTP {code})")
        try:
            for name in candidates(filename):
                if name in taken:
                    continue
                final = "/".join([*parents, name])
                code, _ = await self._request(base + quote(temporary), "PATCH", {"path": final}, ok=(200,))
                if code == 200:
                    return Saved(final)
                if code != 409:
                    raise StorageError(502, f"your Jupyter server could not rename the new notebook (HTTP {code})")
            raise StorageError(409, f"no free name left for {destination}")
        except BaseException:
            await self._request(base + quote(temporary), "DELETE", ok=(204, 404))
            raise

    async def _ensure_folder(self, base: str, folder: str) -> None:
        code, model = await self._request(base + quote(folder) + "?content=0", ok=(200,))
        if code == 200:
            if model.get("type") != "directory":
                raise StorageError(409, f"{folder} exists in your folder and is not a folder")
            return
        code, _ = await self._request(base + quote(folder), "PUT", {"type": "directory"}, ok=(200, 201))
        if code not in (200, 201):
            raise StorageError(502, f"your Jupyter server could not create the folder {folder} (HTTP {code})")

    async def _existing_names(self, base: str, folder: str) -> set[str]:
        code, model = await self._request(base + quote(folder) + "?content=1", ok=(200,))
        if code != 200 or not model:
            raise StorageError(502, f"your Jupyter server could not list {folder or 'your home folder'} (HTTP {code})")
        return {item["name"] for item in model.get("content") or []}
