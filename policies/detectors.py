"""Credential *shapes* in free text, found by detect-secrets' maintained plugins.

A token whose format announces it (a private key block, an AWS key id, a JWT,
a GitHub or Slack token, ...) is a credential wherever it sits, whatever the
key above it is called. Those formats change as vendors add new ones; Yelp's
detect-secrets keeps the list, so the pack does not grow a regex per vendor.

Which plugins, and why:

* Used, on every line of free text: the format-specific detectors, each a
  fixed prefix or structure with a very low false-positive rate on manifests:
  `PrivateKeyDetector`, `AWSKeyDetector`, `JwtTokenDetector` (validates the
  JSON header), `GitHubTokenDetector`, `GitLabTokenDetector`, `SlackDetector`,
  `StripeDetector`, `TwilioKeyDetector`, `SendGridDetector`, `NpmDetector`,
  `PypiTokenDetector`, `OpenAIDetector`, `DiscordBotTokenDetector`,
  `MailchimpDetector`, `SquareOAuthDetector`, `TelegramBotTokenDetector`,
  `AzureStorageKeyDetector`, and the vendor-keyed assignment detectors
  (`CloudantDetector`, `IbmCloudIamDetector`, `IbmCosHmacDetector`,
  `SoftlayerDetector`), which need the vendor's name next to the value.
* Used for their entropy measure only: `Base64HighEntropyString` and
  `HexHighEntropyString` with their default limits (4.5 and 3.0 bits per
  character). On every line they would flag image digests, checksums and
  commit hashes, which manifests are full of; the pack asks them only about a
  value under a name that mentions a credential (`PASSWORD_SALT`,
  `TOKEN_SIGNATURE`), where randomness is what gives a secret away.
* Not used: `KeywordDetector`, whose keyword match is a prefix (`password\\w*`,
  `secret\\w*`), so `PASSWORD_HASHER=argon2` and `SECRETS_BACKEND=vault` are
  findings; names are judged by `policies.matching.NameMatcher` on parsed
  structure instead (see `policies.free_text`). `BasicAuthDetector`, which
  reports `$(DB_PASSWORD)` references and misses `redis://:pw@host`; URLs are
  parsed by `policies.free_text.url_passwords`. `IPPublicDetector` (an address
  is not a credential) and `ArtifactoryDetector` (its `AP[0-9A-F]...` password
  pattern matches ordinary upper-case words).

Plugins are called directly (`analyze_string`), never through detect-secrets'
settings or verification, so nothing here touches global state or the network.
"""

from __future__ import annotations

import functools
import re

from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString, HexHighEntropyString
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.private_key import PrivateKeyDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from policies.matching import is_reference

SHAPE_PLUGINS: tuple[type[BasePlugin], ...] = (
    PrivateKeyDetector, AWSKeyDetector, JwtTokenDetector, GitHubTokenDetector, GitLabTokenDetector, SlackDetector,
    StripeDetector, TwilioKeyDetector, SendGridDetector, NpmDetector, PypiTokenDetector, OpenAIDetector,
    DiscordBotTokenDetector, MailchimpDetector, SquareOAuthDetector, TelegramBotTokenDetector, AzureStorageKeyDetector,
    CloudantDetector, IbmCloudIamDetector, IbmCosHmacDetector, SoftlayerDetector,
)
# A single token of base64/hex characters, long enough for entropy to mean something.
_TOKEN_RE = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")


@functools.cache
def _plugins() -> tuple[BasePlugin, ...]:
    return tuple(plugin() for plugin in SHAPE_PLUGINS)


@functools.cache
def _entropy() -> tuple[Base64HighEntropyString, HexHighEntropyString]:
    return Base64HighEntropyString(), HexHighEntropyString()


def credential_shapes(text: str) -> list[str]:
    """The kinds of credential (detect-secrets' `secret_type`) whose format appears in `text`, in plugin order."""
    found: list[str] = []
    for line in text.splitlines() or [text]:
        for plugin in _plugins():
            if plugin.secret_type in found:
                continue
            if any(not is_reference(match) for match in plugin.analyze_string(line)):
                found.append(plugin.secret_type)
    return found


def is_high_entropy(value: str) -> bool:
    """A single random-looking token: above detect-secrets' base64 (or, for hex, hex) entropy limit."""
    text = value.strip()
    if not _TOKEN_RE.fullmatch(text):
        return False
    base64, hexadecimal = _entropy()
    plugin = hexadecimal if _HEX_RE.fullmatch(text) else base64
    return plugin.calculate_shannon_entropy(text) > plugin.entropy_limit
