"""`labhub:secrets`: rotation keepers of the generated credentials."""

from __future__ import annotations

import datetime
from typing import Annotated

from pydantic import BeforeValidator, Field, field_validator

from components.models.section import Section

# Every credential StackSecrets generates, by the name its rotation keeper uses.
GENERATED_SECRETS: dict[str, str] = {
    "proxyToken": "z2jh proxy auth token (hub <-> configurable-http-proxy)",
    "cookieSecret": "JupyterHub cookie secret; rotating it logs every user out",  # pragma: allowlist secret (a description)
    "cryptKeeperKey": "JupyterHub CryptKeeper key encrypting auth state",
    "mysqlRootPassword": "root password of every user's MySQL sidecar",
    "templatesApiToken": "JupyterHub API token of the notebook templating service",
    "templatesSigningKey": "key signing the templating server's confirmation tokens",
    "xnatProxyToken": "XNAT hub: z2jh proxy auth token",
    "xnatCookieSecret": "XNAT hub: JupyterHub cookie secret; rotating it logs every user out",  # pragma: allowlist secret
    "xnatServiceToken": "XNAT hub: API token of the `xnat` service (set it in XNAT's JupyterHub plugin after rotating)",  # pragma: allowlist secret
    "xnatPostgresPassword": "XNAT hub: password of the deployed Postgres (the entrypoint sets it on the first start only)",  # pragma: allowlist secret
    "xnatPostgresBackupPassword": "XNAT hub: password of the deployed Postgres's backup role (the Backups Job sets it again)",  # pragma: allowlist secret
    "xnatHubAccountPassword": "XNAT hub: password of the hub's own XNAT account (set it in XNAT after rotating)",  # pragma: allowlist secret
    "labDatabaseRootPassword": "root password of the shared lab MySQL",  # pragma: allowlist secret
    "labDatabaseUserPasswords": "every lab database account's password (each lab user's, the backup account's)",
}


def _keeper_text(value: object) -> object:
    """A keeper is any scalar the stack file holds: `2026-12-03` (YAML may give a date), `3`, `v2`."""
    if isinstance(value, datetime.date | int | float) and not isinstance(value, bool):
        return value.isoformat() if isinstance(value, datetime.date) else str(value)
    return value


Keeper = Annotated[str, BeforeValidator(_keeper_text)]


class SecretsConfig(Section):
    rotation: dict[str, Keeper] = Field(
        default_factory=dict,
        description="Per-secret rotation keeper: change the value (e.g. today's date) to regenerate that secret on the next "
        "`pulumi up`. Keys: " + ", ".join(GENERATED_SECRETS) + ".",
    )

    @field_validator("rotation")
    @classmethod
    def _known_secrets(cls, rotation: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(rotation) - set(GENERATED_SECRETS))
        if unknown:
            raise ValueError(f"unknown secret {', '.join(unknown)}; allowed: {', '.join(GENERATED_SECRETS)}")
        return rotation

    def keeper(self, secret: str) -> str:
        """The rotation keeper of one generated secret ('initial' until the operator rotates it)."""
        if secret not in GENERATED_SECRETS:
            raise KeyError(f"{secret!r} is not a generated secret; add it to GENERATED_SECRETS")
        return self.rotation.get(secret, "initial")
