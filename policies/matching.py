"""Shared vocabulary of the secret rules: what a credential-like name is, what a
reference is, and how to walk resource properties without tripping on values
that are unknown at preview time.

Why one module: every rule must agree on these, or a name that one rule calls a
credential would slip past another. Nothing here imports Pulumi, so
`labhub.stackfile_check` reuses the same name classifier for stack files.

Names are matched in two spellings: as written (`MYSQL_ROOT_PASSWORD`,
`cookieSecret`) and in snake_case (`mysql_root_password`, `cookie_secret`), so a
pattern list written once covers env vars, camelCase chart keys, snake_case
traitlets and `--kebab-case` options. Patterns are case-insensitive regexes,
searched (not anchored) in the name.

Unknown values (the SDK's sentinels, or the proxy raising `UnknownValueError`)
are skipped by the walkers: a value that is not known until the update runs is
computed from another resource's output, so it cannot be a literal typed into
the program. `pulumi up` re-runs the policies once the values are known.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
    UnknownValueError,
)

Path = tuple[str | int, ...]

# A name holds a credential when its *head* says so: the last word of its
# snake_case spelling, once trailing qualifiers (`_B64`, `_2`, `_PROD`, ...) are
# dropped. `DB_PASSWORD`, `clientSecret`, `GITHUB_PAT` end in a credential word;
# `PASSWORD_HASHER`, `TOKEN_AUDIENCE`, `GIT_CREDENTIAL_HELPER`, `SECRETS_BACKEND`
# only mention one and hold a setting. The patterns are searched in that head form.
DEFAULT_CREDENTIAL_NAME_PATTERNS: list[str] = [
    r"(password|passwd|passphrase|secret|token|credential|apikey)s?$",  # db_password, clientsecret, auth_tokens
    r"pwd$",  # MYSQL_PWD
    r"(?<!by)(?<!com)(?<!sur)(?<!over)(?<!under)(?<!tres)pass$",  # DJ_PASS, redis requirepass, .pgpass
    r"(^|_)(pw|pat|creds|authorization|netrc|masterauth)$",  # DB_PW, GITHUB_PAT, an Authorization header, .netrc
    (r"(^|_)(api|private|secret|signing|encryption|access|auth|ssh|client|master|session|crypt|crypt_keeper|hmac|jwt"
     r"|tls|ssl|deploy|account|storage|service|webhook|gpg|pgp)_?keys?$"),  # SECRET_KEY, aws_secret_access_key
]

# Names whose head is a credential word but which hold a reference or a flag, never the
# credential itself (existingSecret names a Secret; MYSQL_RANDOM_ROOT_PASSWORD is yes/no).
DEFAULT_IGNORED_NAME_PATTERNS: list[str] = [
    r"^existing",
    r"(allow_empty|random_root|onetime)_password$",
    r"^(checksum|digest|hash|sha\d*)_",  # Helm's `checksum/secret` annotation: a digest that rolls the pods
]

# Trailing words that qualify a name without changing what it holds: DB_PASSWORD_B64, API_TOKEN_2.
_QUALIFIER_RE = re.compile(
    r"_(\d+|v\d+|b64|base64|hex|enc|encoded|value|val|plain|plaintext|raw|str|string|literal|old|new|prev|previous"
    r"|current|next|primary|secondary|prod|production|dev|staging|test|default)$")
# A credential word anywhere in a name: not enough on its own (PASSWORD_HASHER), but a
# high-entropy value under such a name is a credential (see policies.free_text).
_CREDENTIAL_WORD_RE = re.compile(r"passw|passwd|pwd|secret|token|credential|passphrase|salt|(^|_)keys?$")

_UNKNOWNS = frozenset({
    UNKNOWN_ARCHIVE_VALUE, UNKNOWN_ARRAY_VALUE, UNKNOWN_ASSET_VALUE, UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE, UNKNOWN_OBJECT_VALUE, UNKNOWN_STRING_VALUE,
})
# Kubelet `$(VAR)`, shell `${VAR}` / `$VAR`, a template (`{{ .Values.x }}`, `%(name)s`): the value is elsewhere.
_REFERENCE_RE = re.compile(r"\$\(\w+\)|\$\{\w+\}|^\$\w+$|^\$\(|^\$\{|\{\{.*\}\}|%\(\w+\)s")
# An absolute or home-relative file path names where a credential is kept, it is not one.
_FILE_PATH_RE = re.compile(r"(/|~/)[\w.@+-]+(/[\w.@+-]*)*")
_NOT_A_VALUE = frozenset({"null", "none", "nil", "~", "true", "false", "yes", "no"})
_CAMEL_RE = re.compile(r"([a-z0-9])([A-Z])")
_NON_WORD_RE = re.compile(r"[^A-Za-z0-9]+")


def snake(name: str) -> str:
    """`cookieSecret` -> `cookie_secret`, `--db-password` -> `db_password`."""
    return _NON_WORD_RE.sub("_", _CAMEL_RE.sub(r"\1_\2", name)).strip("_").lower()


def head(name: str) -> str:
    """The snake_case name without trailing qualifiers: `DB_PASSWORD_B64` -> `db_password`."""
    form = snake(name)
    while (match := _QUALIFIER_RE.search(form)) and match.start() > 0:
        form = form[: match.start()]
    return form


class NameMatcher:
    """Decides whether a key, env var, option or header name names a credential (by its head)."""

    def __init__(self, patterns: Sequence[str], ignored: Sequence[str] = ()) -> None:
        self._patterns = [re.compile(p, re.IGNORECASE) for p in patterns]
        self._ignored = [re.compile(p, re.IGNORECASE) for p in ignored]

    def is_credential(self, name: Any) -> bool:
        if not isinstance(name, str) or not name:
            return False
        form = head(name)
        if any(p.search(form) or p.search(snake(name)) for p in self._ignored):
            return False
        return any(p.search(form) for p in self._patterns)

    def mentions_credential(self, name: Any) -> bool:
        """A credential word anywhere in the name (`TOKEN_AUDIENCE` too): only a high-entropy value makes it one."""
        return isinstance(name, str) and bool(_CREDENTIAL_WORD_RE.search(head(name)))


DEFAULT_NAMES = NameMatcher(DEFAULT_CREDENTIAL_NAME_PATTERNS, DEFAULT_IGNORED_NAME_PATTERNS)


def is_unknown(value: Any) -> bool:
    """True for the SDK's preview-time unknown sentinels."""
    return isinstance(value, str) and value in _UNKNOWNS


def is_reference(value: str) -> bool:
    """True when a string points at a value kept elsewhere: `$(VAR)` (kubelet), `${VAR}` / `$VAR` (shell)."""
    return bool(_REFERENCE_RE.search(value.strip()))


def is_literal(value: Any) -> bool:
    """A known string typed into the program: not empty, a reference, a file path or a YAML flag word."""
    if not isinstance(value, str) or is_unknown(value):
        return False
    text = value.strip()
    return bool(text) and text.lower() not in _NOT_A_VALUE and not is_reference(text) and not _FILE_PATH_RE.fullmatch(text)


def is_mapping(node: Any) -> bool:
    return isinstance(node, Mapping)


def is_list(node: Any) -> bool:
    return isinstance(node, Sequence) and not isinstance(node, (str, bytes))


def children(node: Any) -> Iterator[tuple[str | int, Any]]:
    """(key, value) pairs of a mapping or list, skipping values unknown at preview time."""
    if is_mapping(node):
        keys: Sequence[str | int] = list(node)
    elif is_list(node):
        keys = range(len(node))
    else:
        return
    for key in keys:
        try:
            value = node[key]
        except UnknownValueError:
            continue
        if not is_unknown(value):
            yield key, value


def get(node: Any, *keys: str | int) -> Any:
    """node[k1][k2]...; None if any step is missing, unknown or not a container."""
    for key in keys:
        found = dict(children(node)) if (is_mapping(node) or is_list(node)) else {}
        if key not in found:
            return None
        node = found[key]
    return node


def walk(node: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every known node below `node` (itself included), depth first, with its path."""
    yield path, node
    for key, value in children(node):
        yield from walk(value, path + (key,))


def leaves_under_credential_names(node: Any, names: NameMatcher, path: Path = ()) -> Iterator[tuple[Path, str]]:
    """Known string values whose own key (or, in lists, the nearest key) is credential-like."""
    for sub_path, value in walk(node, path):
        if isinstance(value, str) and sub_path:
            key = next((k for k in reversed(sub_path) if isinstance(k, str)), None)
            if names.is_credential(key):
                yield sub_path, value


def format_path(path: Path) -> str:
    """('spec', 'containers', 0, 'env') -> 'spec.containers[0].env'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][\w-]*", part):
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


def path_matches(path: Path, patterns: Sequence[str]) -> bool:
    """True if a dotted pattern (`*` = one key) matches `path` or a prefix of it (list items included)."""
    keys = [str(p) for p in path]
    for pattern in patterns:
        parts = pattern.split(".")
        # A prefix match: keys may be longer than the pattern, so zip stops at the pattern's end.
        if len(parts) <= len(keys) and all(fnmatch.fnmatchcase(k, p) for k, p in zip(keys, parts)):  # noqa: B905
            return True
    return False


def type_matches(resource_type: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatchcase(resource_type, p) for p in patterns)
