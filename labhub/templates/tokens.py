"""The confirmation token: what the user agreed to create, signed and expiring.

Why: the confirmation page must not let the confirm request change anything
the user saw. The token binds user, template, destination and parameters
with itsdangerous' URLSafeTimedSerializer (HMAC with the server's secret key)
and expires after `max_age` seconds (30 minutes by default, configurable).
It is checked before anything is written; the CSRF check of the confirm
form is separate (tornado / JupyterHub xsrf), so a forged cross-site
request fails even with a token copied from somewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "labhub.templates.create.v1"
DEFAULT_MAX_AGE = 30 * 60


class TokenError(ValueError):
    """A confirmation token that is forged, damaged, expired or someone else's (a 400/403)."""


@dataclass(frozen=True)
class CreateRequest:
    """What a confirmed token says to create."""

    user: str
    template: str
    destination: str
    params: dict[str, Any]


class TokenSigner:
    """Signs and checks confirmation tokens with one secret key and lifetime."""

    def __init__(self, secret_key: bytes, max_age: int = DEFAULT_MAX_AGE) -> None:
        if len(secret_key) < 16:
            raise ValueError("the signing key must be at least 16 bytes")
        if max_age <= 0:
            raise ValueError("the token lifetime must be positive")
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_SALT)

    def dumps(self, request: CreateRequest) -> str:
        return self._serializer.dumps([request.user, request.template, request.destination, request.params])

    def loads(self, token: str, user: str) -> CreateRequest:
        """The request in `token`, if it is genuine, fresh and was issued to `user`."""
        try:
            payload = self._serializer.loads(token, max_age=self.max_age)
        except SignatureExpired as error:
            minutes = max(1, self.max_age // 60)
            raise TokenError(f"this confirmation is older than {minutes} minutes; start again from SampleDB") from error
        except BadSignature as error:
            raise TokenError("this confirmation link is not valid (damaged or not issued by this server)") from error
        if not (isinstance(payload, list) and len(payload) == 4 and isinstance(payload[3], dict)):
            raise TokenError("this confirmation link is not valid (unexpected content)")
        request = CreateRequest(*payload)
        if request.user != user:
            raise TokenError("this confirmation was issued to another user")
        return request
