"""Stack files hold no plaintext credential: every credential is a `secure:` value.

`Pulumi.<stack>.yaml` is committed, so a password typed there with `pulumi
config set` (without `--secret`) is in git forever, and the CLI deploys it as
written. This check walks the file's `config:`, nested objects and lists
included, and judges every plaintext value the way the policy pack judges
free text (`policies.free_text`): a literal under a credential name
(`labhub:spyglassOAuthClientSecret`, `xnat.apiToken`), a random-looking value
under a name that mentions one, and any credential inside the text (a URL with
a password, a private key, a token of a known format). `{secure: ...}` values
are ciphertext and pass. Keys that hold rotation keepers (`secrets.rotation.
cookieSecret: "2026-11-01"`: a date, not the secret) or a reference
(`existingSecret`) are left alone with everything under them.

`labhub policy-check` runs this first; `labhub render` uses it to redact such
values and warn.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from labhub.errors import UserError
from policies.free_text import value_findings
from policies.matching import DEFAULT_NAMES, format_path, is_literal, snake
from policies.matching import Path as KeyPath

# Subtrees that never hold a credential although their keys name one.
IGNORED_SUBTREES = [r"(^|_)rotations?$", r"^existing"]


@dataclass(frozen=True)
class PlaintextCredential:
    """One plaintext credential in a stack file. `value` is for redaction only: never print it."""

    file: str
    key: str  # config path as written, e.g. config["labhub:spyglassOAuthClientSecret"]
    findings: tuple[str, ...]
    value: str

    def message(self) -> str:
        return (f"{self.key}: {self.file} holds a credential in plaintext ({'; '.join(self.findings)}). The file is "
                f"committed and the CLI deploys the value as written. Fix: set it with `pulumi config set --secret` "
                f"so the file stores only ciphertext (`secure:`).")


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"} and isinstance(value["secure"], str)


def _ignored(name: str) -> bool:
    return any(re.search(p, snake(name)) for p in IGNORED_SUBTREES)


def _walk(node: Any, path: KeyPath, name: str | None) -> Iterator[tuple[KeyPath, str | None, str]]:
    """(path, key name, scalar text) of every plaintext scalar, skipping ciphertext and ignored subtrees."""
    if _is_secure(node):
        return
    if isinstance(node, dict):
        for key, value in node.items():
            key_name = str(key).rpartition(":")[2]  # `labhub:xnatPassword` -> `xnatPassword`
            if not _ignored(key_name):
                yield from _walk(value, path + (str(key),), key_name)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, path + (index,), name)
    elif node is not None and not isinstance(node, bool):
        yield path, name, str(node)


def _plaintext(path: Path) -> Iterator[tuple[KeyPath, str | None, str]]:
    try:
        doc = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UserError(f"{path}: cannot read the stack file ({str(error).splitlines()[0]})") from None
    config = doc.get("config", {}) if isinstance(doc, dict) else {}
    yield from _walk(config, ("config",), None)


def credential_keys(path: Path) -> list[tuple[str, str]]:
    """(config path, value) of every plaintext literal under a credential name: what `labhub render` redacts."""
    return [(format_path(key_path), text) for key_path, name, text in _plaintext(path)
            if DEFAULT_NAMES.is_credential(name) and is_literal(text)]


def plaintext_credentials(path: Path) -> list[PlaintextCredential]:
    """Every plaintext credential in one stack file; UserError if the file cannot be read as YAML."""
    found = []
    for key_path, name, text in _plaintext(path):
        findings = value_findings(name, text, DEFAULT_NAMES)
        if findings:
            found.append(PlaintextCredential(Path(path).name, format_path(key_path), tuple(findings), text))
    return found
