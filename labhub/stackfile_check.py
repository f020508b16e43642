"""Stack files hold no plaintext credential: every credential-like key is a `secure:` value.

`Pulumi.<stack>.yaml` is committed, so a password typed there with `pulumi
config set` (without `--secret`) is in git forever. This check walks each
file's `config:` and flags any value whose key names a credential (the same
classifier the policy pack uses) unless it is `{secure: ...}`. Keys that hold a
reference or a setting (`secretName`, `passwordLength`, `rotation` keepers) are
left alone, with everything under them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from policies.matching import (
    DEFAULT_CREDENTIAL_NAME_PATTERNS, DEFAULT_IGNORED_NAME_PATTERNS, NameMatcher, format_path, snake,
)

# Stack config also holds rotation keepers (`secrets.rotation.cookieSecret: "2026-11-01"`): a date, not a secret.
IGNORED_NAME_PATTERNS = [*DEFAULT_IGNORED_NAME_PATTERNS, r"(^|_)rotations?$"]
NAMES = NameMatcher(DEFAULT_CREDENTIAL_NAME_PATTERNS, IGNORED_NAME_PATTERNS)


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _walk(node: Any, path: tuple[str | int, ...], credential: bool) -> Iterator[tuple[str | int, ...]]:
    if _is_secure(node):
        return
    if isinstance(node, dict):
        for key, value in node.items():
            name = str(key).rpartition(":")[2]  # `labhub:xnatPassword` -> `xnatPassword`
            if _ignored(name):
                continue  # a reference or a setting, and everything under it
            yield from _walk(value, path + (str(key),), NAMES.is_credential(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, path + (index,), credential)
    elif credential and isinstance(node, (str, int, float)) and not isinstance(node, bool) and str(node).strip():
        yield path


def _ignored(name: str) -> bool:
    return any(re.search(p, s, re.IGNORECASE) for p in IGNORED_NAME_PATTERNS for s in (name, snake(name)))


def find_plaintext_credentials(path: Path) -> list[str]:
    """One line per plaintext credential in a stack file: `file: config path: why and how to fix`."""
    doc = yaml.safe_load(Path(path).read_text()) or {}
    config = doc.get("config", {}) if isinstance(doc, dict) else {}
    return [
        f"{Path(path).name}: {format_path(found)} looks like a credential but is plaintext; "
        f"set it with `pulumi config set --secret` so the file stores only ciphertext (`secure:`)"
        for found in _walk(config, ("config",), False)
    ]
