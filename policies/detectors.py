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
  `HexHighEntropyString` (with a length-aware limit, see `is_high_entropy`).
  On every line they would flag image digests, checksums and commit hashes,
  which manifests are full of; the pack asks them only about a value under a
  name that mentions a credential (`PASSWORD_SALT`, `TOKEN_SIGNATURE`) and
  about Secret data, where randomness is what gives a secret away.
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
import importlib
import math
import re
from typing import Any

from policies.matching import is_reference

# (module under detect_secrets.plugins, class); imported on first use, since detect-secrets (with
# requests) costs ~0.15 s to import and `labhub render` only needs the name rules.
SHAPE_PLUGINS: tuple[tuple[str, str], ...] = (
    ("private_key", "PrivateKeyDetector"), ("aws", "AWSKeyDetector"), ("jwt", "JwtTokenDetector"),
    ("github_token", "GitHubTokenDetector"), ("gitlab_token", "GitLabTokenDetector"), ("slack", "SlackDetector"),
    ("stripe", "StripeDetector"), ("twilio", "TwilioKeyDetector"), ("sendgrid", "SendGridDetector"),
    ("npm", "NpmDetector"), ("pypi_token", "PypiTokenDetector"), ("openai", "OpenAIDetector"),
    ("discord", "DiscordBotTokenDetector"), ("mailchimp", "MailchimpDetector"), ("square_oauth", "SquareOAuthDetector"),
    ("telegram_token", "TelegramBotTokenDetector"), ("azure_storage_key", "AzureStorageKeyDetector"),
    ("cloudant", "CloudantDetector"), ("ibm_cloud_iam", "IbmCloudIamDetector"), ("ibm_cos_hmac", "IbmCosHmacDetector"),
    ("softlayer", "SoftlayerDetector"),
)
# A single token of base64/hex characters, long enough for entropy to mean something.
_TOKEN_RE = re.compile(r"[A-Za-z0-9+/=_\-]{16,}")
_HEX_RE = re.compile(r"[0-9a-fA-F]+")
_SLUG_RE = re.compile(r"[a-z0-9]+([-_][a-z0-9]+)+")


def _plugin(module: str, name: str) -> Any:
    return getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)()


@functools.cache
def _plugins() -> tuple[Any, ...]:
    return tuple(_plugin(module, name) for module, name in SHAPE_PLUGINS)


@functools.cache
def _entropy() -> tuple[Any, Any]:
    return (_plugin("high_entropy_strings", "Base64HighEntropyString"),
            _plugin("high_entropy_strings", "HexHighEntropyString"))


def credential_shapes(text: str) -> list[str]:
    """The kinds of credential (detect-secrets' `secret_type`) whose format appears in `text`, first seen first."""
    found: list[str] = []
    for line in text.splitlines() or [text]:
        for plugin in _plugins():
            if plugin.secret_type in found:
                continue
            if any(not is_reference(match) for match in plugin.analyze_string(line)):
                found.append(plugin.secret_type)
    return found


def is_high_entropy(value: str) -> bool:
    """A single random-looking token, by detect-secrets' Shannon entropy of its alphabet (hex or base64).

    The plugins' fixed limits (4.5 and 3.0 bits) are tuned for long strings: a random 32-character
    token falls below 4.5 about a third of the time. The limit here is what a random string of that
    length reaches, scaled down a little (0.8 base64, 0.75 hex); the token must mix at least two of
    lower case, upper case and digits, and lower-case slugs (`spyglass-cookie-secret-v2`) stay words.
    """
    text = value.strip()
    if not _TOKEN_RE.fullmatch(text) or _SLUG_RE.fullmatch(text):
        return False
    classes = sum(bool(re.search(p, text)) for p in ("[a-z]", "[A-Z]", "[0-9]"))
    if classes < 2:
        return False
    base64, hexadecimal = _entropy()
    hex_only = bool(_HEX_RE.fullmatch(text))
    plugin, alphabet, factor = (hexadecimal, 16, 0.75) if hex_only else (base64, 64, 0.8)
    return bool(plugin.calculate_shannon_entropy(text) >= factor * math.log2(min(len(text), alphabet)))
