"""Who the user is: JupyterHub OAuth in production, a fixed user for local runs.

Why JupyterHub's helpers: `HubOAuthenticated` + `HubOAuth` +
`HubOAuthCallbackHandler` already implement the OAuth dance, the token cookie,
scope checks (`JUPYTERHUB_OAUTH_ACCESS_SCOPES`) and JupyterHub's session-bound
xsrf tokens; writing our own would be the bug. The handlers are written once
against a small surface (`current_user["name"]`, `xsrf_form_html()`,
`check_xsrf_cookie()`) and combined with one of the two mixins below when the
application is built.

`--dev-user` exists for local runs and tests only: every request is that
user, and CSRF protection is tornado's own double-submit `_xsrf` cookie. The
CLI refuses it whenever a hub is configured (`--hub-url`, or a JupyterHub
OAuth client in the environment), so a deployment cannot fall back to it.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from tornado.web import HTTPError, RequestHandler


class DevUserAuth:
    """Mixin: every request is made by `settings["labhub_dev_user"]`."""

    settings: dict[str, Any]
    _hub_auth_user_cache: dict[str, Any] | None  # JupyterHub's own per-request cache attribute

    def get_current_user(self) -> dict[str, Any]:
        return {"name": self.settings["labhub_dev_user"], "kind": "user"}


class HubUserAuth(HubOAuthenticated):
    """Mixin: the user comes from JupyterHub OAuth; the HubOAuth instance is shared via settings.

    JupyterHub's `get_current_user` is synchronous: on every request it runs
    the token check (even a cache hit) in a background thread and blocks the
    event loop until it is done, and on a cache miss that includes the call
    to the hub. Here the check is awaited in `prepare`, on this loop, and
    `get_current_user` applies JupyterHub's own rule to the result: the
    user's scopes must include the access scopes (`check_hub_user`), and a
    user who is not allowed gets 403 instead of a login redirect.
    """

    settings: dict[str, Any]

    async def prepare(self) -> None:
        self._hub_user_model = await self.hub_auth.get_user(self, sync=False)
        super().prepare()

    def get_current_user(self) -> dict[str, Any] | None:
        if not hasattr(self, "_hub_user_model"):  # prepare() did not run (an early error page)
            return super().get_current_user()
        if hasattr(self, "_hub_auth_user_cache"):
            return self._hub_auth_user_cache  # type: ignore[has-type]  # set by JupyterHub's untyped mixin
        model, self._hub_auth_user_cache = self._hub_user_model, None
        if not model:
            return None
        try:
            self._hub_auth_user_cache = self.check_hub_user(model)
        except UserNotAllowed:
            def forbidden(*args: Any, **kwargs: Any) -> None:
                raise HTTPError(403, "%s %s is not allowed.", model.get("kind", "user"), model.get("name"))

            self.redirect = forbidden  # as JupyterHub does: @authenticated's redirect becomes 403
            return None
        self.hub_auth._persist_url_token_if_set(self)
        return self._hub_auth_user_cache

    @property
    def hub_auth(self) -> HubOAuth:
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, value: HubOAuth) -> None:  # pragma: no cover - JupyterHub may assign it
        self.settings["hub_auth"] = value


# How long the hub's answer about a token is trusted: one hub API call per
# token per minute, not one per request (HubAuth's cache, keyed by token and session).
TOKEN_CACHE_SECONDS = 60


def make_hub_auth(service_prefix: str) -> HubOAuth:
    """A HubOAuth configured from JupyterHub's service environment variables.

    HubOAuth itself reads JUPYTERHUB_API_TOKEN, JUPYTERHUB_API_URL,
    JUPYTERHUB_CLIENT_ID, JUPYTERHUB_OAUTH_CALLBACK_URL,
    JUPYTERHUB_OAUTH_ACCESS_SCOPES and JUPYTERHUB_HOST; it raises if the
    token or client id is empty. Without access scopes HubAuth would accept
    any identity the hub knows (another service's token, a token issued for
    another audience), so an empty set is refused here as well as by the CLI.
    """
    auth = HubOAuth(base_url=service_prefix, cache_max_age=TOKEN_CACHE_SECONDS)
    if not auth.access_scopes:
        raise ValueError("JUPYTERHUB_OAUTH_ACCESS_SCOPES is empty: the server would accept any token the hub knows")
    return auth


def with_auth(handler: type[RequestHandler], dev: bool) -> type[RequestHandler]:
    """`handler` combined with the chosen authentication mixin.

    The mixin comes first so its `get_current_user` wins over tornado's. But
    JupyterHub's mixin also defines `check_xsrf_cookie`, which would then
    shadow a handler's own CSRF decision (the confirmation step's exemption
    for SampleDB's token-less cross-site POST): a handler that defines
    `check_xsrf_cookie` itself keeps it.
    """
    mixin: type = DevUserAuth if dev else HubUserAuth
    namespace: dict[str, Any] = {"__doc__": handler.__doc__}
    for klass in handler.__mro__:
        if klass is RequestHandler:
            break
        if "check_xsrf_cookie" in klass.__dict__:
            namespace["check_xsrf_cookie"] = klass.__dict__["check_xsrf_cookie"]
            break
    return type(handler.__name__, (mixin, handler), namespace)


class OAuthCallbackHandler(HubUserAuth, HubOAuthCallbackHandler):
    """Finishes JupyterHub's OAuth login at `<prefix>oauth_callback` and sets the cookie."""
