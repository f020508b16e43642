"""Where z2jh chart values may hold a credential: the one list the builders and the policy pack share.

A dotted values path, `*` standing for one key. The values builders place the
hub's generated tokens at these paths and nowhere else; the policy pack
requires every value found at one of them to be a Pulumi secret, and flags a
credential anywhere else in the values.
"""

from __future__ import annotations

Z2JH_CREDENTIAL_PATHS: tuple[str, ...] = (
    "hub.config.ConfigurableHTTPProxy.auth_token",
    "hub.config.JupyterHub.cookie_secret",
    "hub.config.CryptKeeper.keys",
    "hub.config.GitHubOAuthenticator.client_secret",
    "hub.config.GenericOAuthenticator.client_secret",
    "hub.services.*.api_token",
)
