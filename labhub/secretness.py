"""The checks only the mock engine can make: credentials must be Pulumi *secrets*, not merely well named.

The Python policy SDK hands the pack every value decrypted and unmarked, so
under `pulumi preview` a literal typed into the program and a generated
password look the same. The offline engine (`labhub.engine`) records inputs
with their secret markers, and knows every value it handed out as a secret
(generated credentials, `secure:` config), so `labhub policy-check` adds:

* `credential-paths-hold-secrets`: every value at a credential path of chart
  values (`components.credential_paths`) is a Pulumi secret;
* `secret-data-is-secret`: every value in a Secret's `data`/`stringData` is a
  Pulumi secret, and none is a credential literal typed into the program;
* `provider-inputs-keep-credentials-secret`: a credential given to a
  resource that is not a Kubernetes object (a docker registry password, a
  command's environment, a chart repository password) is a Pulumi secret;
* `stack-outputs-keep-credentials-secret`: a stack output that holds a
  credential (by name, by content, or because it carries a generated secret,
  e.g. after `Output.unsecret`) is a Pulumi secret;
* `stack-file-ciphertext-only`: the stack file holds credentials only as
  `secure:` ciphertext (`labhub.stackfile_check`).

A plain value there is a mandatory violation however long and random it looks.

How secretness is read: the SDK marks a whole object secret when one leaf is
(`values`, `stringData`), so a leaf counts as a secret when it is marked
(itself or by its object) *and* carries a value the run produced as a secret
(a pulumi_random output, `secure:` config). A literal that shares an object
with a secret, or is wrapped in `Output.secret("...")`, is still a literal in
the program's source.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

from components.credential_paths import CHART_CREDENTIAL_PATHS
from labhub.engine import RecordedResource, StackRun
from labhub.stackfile_check import PlaintextCredential
from policies.detectors import is_high_entropy
from policies.free_text import value_findings
from policies.matching import DEFAULT_NAMES, Path, format_path, head, path_matches
from policies.resource_types import CHART_TYPES, DOCKER_BUILD_ARGS, SECRET_TYPES, STACK_TYPE

# Keys of Secret data that hold settings beside the credential (head form, see policies.matching.head).
SETTING_KEYS = frozenset({
    "user", "username", "login", "email", "host", "hostname", "server", "port", "database", "db", "dbname", "schema",
    "name", "namespace", "region", "bucket", "endpoint", "url", "uri", "address", "realm", "domain", "issuer",
    "audience", "scope", "scopes", "tenant", "project", "account", "id", "type", "mode", "driver", "protocol", "sslmode",
    "ca", "config", "version",
})
SETTING_SUFFIXES = ("_id", "_name", "_user", "_username", "_host", "_port", "_url", "_uri", "_endpoint", "_crt", "_pem_crt",
                    "_cert", "_region", "_bucket", "_database", "_email")
MIN_TRACKED_SECRET = 8  # shorter generated values would match unrelated text by chance
CHECKS: dict[str, str] = {
    "stack-file-ciphertext-only": "Stack files must hold credentials only as `secure:` ciphertext.",
    "credential-paths-hold-secrets": "Values at credential paths of chart values must be Pulumi secrets.",  # pragma: allowlist secret
    "secret-data-is-secret": "Every value in a Secret's data must be a Pulumi secret, never a literal.",  # pragma: allowlist secret
    "stack-outputs-keep-credentials-secret": "Stack outputs that hold a credential must be Pulumi secrets.",  # pragma: allowlist secret
    "provider-inputs-keep-credentials-secret": "Credentials given to providers (registries, commands, chart "  # pragma: allowlist secret
                                               "repositories) must be Pulumi secrets.",
}


@dataclass(frozen=True)
class Finding:
    """One violation of an offline check, on one resource (or the stack)."""

    check: str
    resource_type: str
    resource_name: str
    urn: str
    message: str  # `path: what, why and how to fix`; never the value


def _leaves(node: Any, path: Path = (), marked: bool = False) -> Iterator[tuple[Path, Any, bool, bool]]:
    """(path, value, marked itself, inside a marked object) of every scalar below `node`."""
    if rpc.is_rpc_secret(node):
        inner = rpc.unwrap_rpc_secret(node)
        if isinstance(inner, (dict, list)):
            yield from _leaves(inner, path, True)
        else:
            yield path, inner, True, marked
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _leaves(value, path + (str(key),), marked)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _leaves(value, path + (index,), marked)
    elif node is not None:
        yield path, node, False, marked


class _Secrets:
    """What the run handed out as secrets, to tell a derived value from a literal."""

    def __init__(self, run: StackRun) -> None:
        self._values = [v for v in run.secret_values if len(v) >= MIN_TRACKED_SECRET]

    def carried_by(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        texts = [value]
        with contextlib.suppress(binascii.Error, UnicodeDecodeError, ValueError):  # not base64 text: the value as it is
            texts.append(base64.b64decode(value, validate=True).decode("utf-8"))
        return any(secret in text for secret in self._values for text in texts)

    def is_secret(self, value: Any, itself: bool, inside: bool) -> bool:
        """Marked secret and carrying a secret the run produced: `Output.secret("literal")` is still a literal."""
        return (itself or inside) and self.carried_by(value)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _name(path: Path) -> str | None:
    return next((str(k) for k in reversed(path) if isinstance(k, str)), None)


def chart_credential_leaves(run: StackRun, resource: RecordedResource) -> list[tuple[str, bool]]:
    """(values path, whether it is a Pulumi secret) of every non-empty value at a credential path of a chart."""
    secrets = _Secrets(run)
    return [(format_path(path), secrets.is_secret(value, itself, inside))
            for path, value, itself, inside in _leaves(resource.inputs.get("values"), ("values",))
            if path_matches(path[1:], CHART_CREDENTIAL_PATHS) and _text(value)]


def chart_findings(run: StackRun) -> Iterator[Finding]:
    for r in run.resources:
        if r.type not in CHART_TYPES:
            continue
        for path, secret in chart_credential_leaves(run, r):
            if not secret:
                yield Finding("credential-paths-hold-secrets", r.type, r.name, r.urn,
                              f"{path}: a credential path of the chart values holds a value that is not a "
                              f"Pulumi secret (a literal in the program, plaintext config, or Output.unsecret). Fix: "
                              f"fill it from pulumi_random or `config.require_secret`, never a literal.")


def secret_data_findings(run: StackRun, secrets: _Secrets) -> Iterator[Finding]:
    for r in run.resources:
        if r.type not in SECRET_TYPES:
            continue
        for field in ("data", "stringData"):
            for path, value, itself, inside in _leaves(r.inputs.get(field), (field,)):
                text = _text(value)
                if not text or secrets.is_secret(value, itself, inside):
                    continue
                if not (itself or inside):
                    why = "is not a Pulumi secret, so the program and its state hold it in clear"
                else:
                    decoded = _decoded(text) if field == "data" else text
                    found = value_findings(_name(path), decoded, DEFAULT_NAMES)
                    if not (found or is_high_entropy(decoded) or not _is_setting(_name(path))):
                        continue  # a plain setting (a user name, a host) beside a secret
                    why = ("is a literal typed into the program (the SDK marks Secret data secret, but the value is "
                           "in the source)")
                yield Finding("secret-data-is-secret", r.type, r.name, r.urn,
                              f"{format_path(path)}: Secret data {why}. Fix: fill it from a pulumi_random output or "
                              f"`config.require_secret`; only settings such as a user name or host may be literals.")


def _is_setting(name: str | None) -> bool:
    """A Secret key that conventionally holds a setting next to the credential: a user, a host, a certificate."""
    form = head(name or "")
    return bool(form) and (form in SETTING_KEYS or form.endswith(SETTING_SUFFIXES))


def provider_input_findings(run: StackRun, secrets: _Secrets) -> Iterator[Finding]:
    """Inputs of resources that are not Kubernetes objects (docker registries, commands, providers, chart options).

    Their credentials belong there, as inputs the provider keeps; the Pulumi state is the only
    copy, and it holds them encrypted only if they are Pulumi secrets.
    """
    for r in run.resources:
        chart = r.type in CHART_TYPES
        if not chart and (not r.custom or r.type.startswith(("kubernetes:", "random:"))):
            continue
        judged_elsewhere = {("values",)} if chart else {DOCKER_BUILD_ARGS.get(r.type, ("",))}
        for path, value, itself, inside in _leaves(r.inputs):
            text = _text(value)
            if not text or any(path[: len(p)] == p for p in judged_elsewhere) or secrets.is_secret(
                    value, itself, inside):
                continue
            found = value_findings(_name(path), text, DEFAULT_NAMES)
            if found:
                yield Finding("provider-inputs-keep-credentials-secret", r.type, r.name, r.urn,
                              f"{format_path(path)}: input holds a credential that is not a Pulumi secret "
                              f"({'; '.join(found)}), so the Pulumi state stores it in clear. Fix: pass it from "
                              f"`config.require_secret` or a pulumi_random output, never a literal.")


def _decoded(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text


def output_findings(run: StackRun, secrets: _Secrets, stack_urn: str) -> Iterator[Finding]:
    for key, output in run.outputs.items():
        for path, value, itself, inside in _leaves(output, (key,)):
            text = _text(value)
            if not text or itself or inside:
                continue
            found = value_findings(_name(path), text, DEFAULT_NAMES)
            if secrets.carried_by(text):
                found = ["carries a generated or secret config value", *found]
            if found:
                yield Finding("stack-outputs-keep-credentials-secret", STACK_TYPE, f"{run.project}-{run.stack}",
                              stack_urn, f"outputs.{format_path(path)}: stack output holds a credential in clear "
                              f"({'; '.join(found)}). Stack outputs are stored in the state and printed by "
                              f"`pulumi stack output`. Fix: export it with `pulumi.Output.secret(...)`, or do not "
                              f"export it.")


def stack_file_findings(run: StackRun, found: list[PlaintextCredential], stack_urn: str) -> Iterator[Finding]:
    for credential in found:
        yield Finding("stack-file-ciphertext-only", STACK_TYPE, f"{run.project}-{run.stack}", stack_urn,
                      credential.message())


def check(run: StackRun, stack_file: list[PlaintextCredential]) -> list[Finding]:
    """Every offline-only finding for one stack run, stack file first."""
    secrets = _Secrets(run)
    stack_urn = f"urn:pulumi:{run.stack}::{run.project}::{STACK_TYPE}::{run.project}-{run.stack}"
    return [*stack_file_findings(run, stack_file, stack_urn), *chart_findings(run),
            *secret_data_findings(run, secrets), *provider_input_findings(run, secrets),
            *output_findings(run, secrets, stack_urn)]
