"""The HTTP handlers: list, confirm (`/t/<template>`), create, health.

The flow SampleDB drives (anchors.md §3.3): a plain cross-site form POST to
`/t/<template>` with a `params` JSON object and no CSRF token. That request
only *shows* a confirmation page, so it is exempt from the CSRF check; the
confirmation's own form (to `/create`) carries the xsrf token and a signed,
expiring token that fixes user, template, destination and params. If the
POST arrives without a usable login (browsers do not send SameSite=Lax
cookies on cross-site POSTs), it is redirected (303) to the same page as a
GET, which can log the user in through JupyterHub and come back.

Bad input of any kind is a 4xx page with one clear sentence; nothing a
client sends can produce a 5xx.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any
from urllib.parse import quote, urlencode

from tornado.web import HTTPError, RequestHandler, authenticated

from labhub.templates import pages
from labhub.templates.literals import ParameterError
from labhub.templates.naming import NameError_, candidates, check_relative_path, content_disposition
from labhub.templates.notebook import Template
from labhub.templates.storage import Download, Saved, StorageError, Waiting
from labhub.templates.tokens import CreateRequest, TokenError

log = logging.getLogger("labhub.templates")

MAX_PARAMS = 200
# form-action also governs where a form's redirect may go: the open-notebook
# origin is added per app (AppState.csp), or Chromium blocks the final redirect.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


class PageError(HTTPError):
    """An HTTP error whose message is meant for the user's eyes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, "%s", message)
        self.user_message = message


class BaseHandler(RequestHandler):
    """Security headers, the body-size limit, error pages and the shared state."""

    @property
    def state(self) -> Any:
        return self.settings["labhub"]

    def set_default_headers(self) -> None:
        self.set_header("Content-Security-Policy", self.state.csp)
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")
        self.set_header("Cache-Control", "no-store")

    def prepare(self) -> None:
        if len(self.request.body) > self.state.max_body_bytes:
            raise PageError(413, f"the request body is larger than {self.state.max_body_bytes} bytes")

    @property
    def username(self) -> str | None:
        user = self.current_user
        return user["name"] if user else None

    def compute_etag(self) -> None:
        """No ETags: every page is personal and single-use (and hashing it costs CPU)."""
        return None

    def page(self, name: str, status: int = 200, **namespace: Any) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(pages.render(name, prefix=self.state.prefix, **namespace))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(error, PageError):
            message = error.user_message
        elif isinstance(error, HTTPError) and status_code < 500 and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        elif status_code < 500:
            message = self._reason
        else:
            message = "Something went wrong on our side; the administrators can find the details in the server log."
        title = pages.TITLES.get(status_code, "Error")
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.set_header("Content-Security-Policy", self.state.csp)
        self.finish(pages.render("error.html", prefix=self.state.prefix, status=status_code, title=title, message=message))


class HealthHandler(RequestHandler):
    """`GET /healthz`: 200 "ok" while the process serves requests (for Kubernetes probes, no login)."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.set_header("Cache-Control", "no-store")
        self.finish("ok")


class ListHandler(BaseHandler):
    """`GET /`: the templates this server offers."""

    @authenticated
    def get(self) -> None:
        self.page("list.html", user=self.username, templates=self.state.catalog.all())


class TemplateHandler(BaseHandler):
    """`GET|POST /t/<template>`: check the request and ask the user to confirm."""

    def check_xsrf_cookie(self) -> None:
        """Exempt: SampleDB posts here without a token, and this step changes nothing."""

    def get(self, path: str) -> None:
        self._confirm(path, post=False)

    def post(self, path: str) -> None:
        self._confirm(path, post=True)

    def _confirm(self, path: str, post: bool) -> None:
        template = self._template(path)
        params = read_params(self)
        try:
            destination = template.destination(params)
            cell = template.parameters_source(params) if params else ""
        except (NameError_, ParameterError) as error:
            raise PageError(400, str(error)) from error
        user = self.username
        if user is None:
            if post:  # come back as a GET, which can log in and keep the params
                query = urlencode({"params": json.dumps(params, ensure_ascii=False)}) if params else ""
                self.redirect(self.request.path + ("?" + query if query else ""), status=303)
                return
            self.redirect(self.get_login_url())
            return
        token = self.state.signer.dumps(CreateRequest(user, template.path, destination, params))
        self.page(
            "confirm.html",
            user=user,
            template=template.path,
            destination=destination,
            example_alternative=list(candidates(destination.rsplit("/", 1)[-1], limit=2))[1],
            cell=cell,
            token=token,
            xsrf_html=self.xsrf_form_html(),
        )

    def _template(self, path: str) -> Template:
        try:
            check_relative_path(path, what="template name")
        except NameError_ as error:
            raise PageError(400, str(error)) from error
        template = self.state.catalog.get(path)
        if template is None:
            raise PageError(404, f'there is no template called "{path}"')
        return template


class CreateHandler(BaseHandler):
    """`POST /create`: the confirmed request (xsrf-checked, token-checked) is written."""

    async def post(self) -> None:
        user = self.username
        if user is None:
            raise PageError(403, "you are not logged in any more; start again from SampleDB")
        token = self.get_body_argument("token", "")
        if not token:
            raise PageError(400, "the confirmation token is missing")
        try:
            request = self.state.signer.loads(token, user)
        except TokenError as error:
            raise PageError(403 if "another user" in str(error) else 400, str(error)) from error
        template = self.state.catalog.get(request.template)
        if template is None:
            raise PageError(404, f'the template "{request.template}" was removed in the meantime')
        try:
            if template.destination(request.params) != request.destination:
                raise PageError(409, "the template's file name changed in the meantime; start again from SampleDB")
            data = template.build(request.params)
        except (NameError_, ParameterError) as error:
            raise PageError(400, str(error)) from error
        try:
            outcome = await self.state.storage.save(user, request.destination, data)
        except StorageError as error:
            raise PageError(error.status, error.message) from error
        log.info("%s: %s from %s -> %s", user, type(outcome).__name__, request.template, getattr(outcome, "path", "-"))
        if isinstance(outcome, Saved):
            url = self.state.open_url_for(user, outcome.path)
            if url:
                self.redirect(url, status=303)
            else:
                self.page("created.html", path=outcome.path)
        elif isinstance(outcome, Download):
            self.set_header("Content-Type", "application/x-ipynb+json")
            self.set_header("Content-Disposition", content_disposition(outcome.filename))
            self.finish(outcome.data)
        elif isinstance(outcome, Waiting):
            nonce = secrets.token_urlsafe(12)
            self.set_header("Content-Security-Policy", self.state.csp + f"; script-src 'nonce-{nonce}'")
            self.page("waiting.html", status=202, message=outcome.message, token=token, nonce=nonce,
                      delay_ms=self.state.retry_ms, xsrf_html=self.xsrf_form_html())


def read_params(handler: RequestHandler) -> dict[str, Any]:
    """`params` from the query string and the form body (body wins), each a JSON object."""
    raw = handler.request.query_arguments.get("params", []) + handler.request.body_arguments.get("params", [])
    merged: dict[str, Any] = {}
    for value in raw:
        try:
            parsed = json.loads(value.decode("utf-8"), parse_constant=_refuse_constant)
        except UnicodeDecodeError as error:
            raise PageError(400, "params is not UTF-8 text") from error
        except (ValueError, RecursionError) as error:
            raise PageError(400, f"params is not valid JSON ({str(error)[:80]})") from error
        if not isinstance(parsed, dict):
            raise PageError(400, f"params must be a JSON object, not a JSON {type(parsed).__name__}")
        if _has_lone_surrogate(parsed):
            raise PageError(400, "params holds a lone surrogate (a \\ud800-\\udfff escape without its pair), which is not Unicode text")
        merged.update(parsed)
    if len(merged) > MAX_PARAMS:
        raise PageError(400, f"at most {MAX_PARAMS} parameters are accepted")
    return merged


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value, at any depth) holds a code point JSON allows but UTF-8 cannot encode."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def open_url(pattern: str, user: str, path: str) -> str:
    """Fill `{username}` and `{path}` (URL-quoted) into the open-notebook URL pattern."""
    return pattern.replace("{username}", quote(user, safe="")).replace("{path}", quote(path))
