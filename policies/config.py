"""Config schemas of the secret rules, and the one place their defaults live.

Every knob a site may want to turn (which names are credentials, which chart
value paths are filled from generated secrets, how long is long enough) is a
`PolicyConfigSchema` property with a `default`. The CLI applies schema defaults
before calling the pack, but the SDK does not (offline, `args.get_config()` is
exactly what was configured), so `settings()` merges the same defaults in: a rule
behaves the same whether or not anyone configured it.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import PolicyConfigSchema, ResourceValidationArgs, StackValidationArgs

from components.credential_paths import CHART_CREDENTIAL_PATHS
from policies.command_line import DEFAULT_MYSQL_TOOLS
from policies.matching import DEFAULT_CREDENTIAL_NAME_PATTERNS, DEFAULT_IGNORED_NAME_PATTERNS, NameMatcher
from policies.resource_types import SECRET_TYPES

# Chart value paths (relative to `values`, `*` = one key) that labhub fills from generated
# or `secure:` secrets, because z2jh's own generation needs Helm `lookup`: the one list.
DEFAULT_GENERATED_VALUE_PATHS: list[str] = list(CHART_CREDENTIAL_PATHS)
DEFAULT_WEAK_VALUES: list[str] = [
    "tutorial", "temppass", "simple", "secret-token", "SECRET_TOKEN", "changeme", "change-me", "jupyterhub",
    "password", "admin", "root", "secret", "test", "datajoint", "xnat",
]
DEFAULT_MIN_LENGTH = 12  # below this a credential is "very short", whoever chose it
DEFAULT_GENERATED_MIN_LENGTH = 24  # generated passwords and tokens: characters
DEFAULT_GENERATED_MIN_BYTES = 16  # RandomId / RandomBytes: 128 bits


def _strings(default: list[str], description: str) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "string"}, "default": list(default), "description": description}


def _int(default: int, description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "default": default, "description": description}


NAME_PROPERTIES: dict[str, dict[str, Any]] = {
    "credentialNamePatterns": _strings(
        DEFAULT_CREDENTIAL_NAME_PATTERNS,
        "Regexes (case-insensitive) searched in a name's head: its snake_case form without trailing qualifiers "
        "(`DB_PASSWORD_B64` -> `db_password`). A match means the name holds a credential."),
    "ignoredNamePatterns": _strings(
        DEFAULT_IGNORED_NAME_PATTERNS,
        "Regexes for names whose head matches but which hold a reference or a flag (existingSecret)."),
}
GENERATED_PATHS_PROPERTY: dict[str, dict[str, Any]] = {
    "generatedValuePaths": _strings(
        DEFAULT_GENERATED_VALUE_PATHS,
        "Chart value paths (dotted, `*` = one key) known to be filled from generated Pulumi secrets."),
}
ENV_SCHEMA = PolicyConfigSchema(properties={**NAME_PROPERTIES})
CHART_VALUES_SCHEMA = PolicyConfigSchema(properties={**NAME_PROPERTIES, **GENERATED_PATHS_PROPERTY})
CONFIGMAP_SCHEMA = PolicyConfigSchema(properties={**NAME_PROPERTIES})
PROPERTIES_SCHEMA = PolicyConfigSchema(properties={
    **NAME_PROPERTIES,
    "ignoredResourceTypes": _strings(
        sorted(SECRET_TYPES) + ["random:*"],
        "Resource type patterns not checked: a Secret is where credentials belong; random resources hold none."),
})
METADATA_SCHEMA = PolicyConfigSchema(properties={**NAME_PROPERTIES})
COMMAND_LINE_SCHEMA = PolicyConfigSchema(properties={
    **NAME_PROPERTIES,
    "mysqlTools": _strings(DEFAULT_MYSQL_TOOLS, "Programs for which `-p<value>` means a password."),
})
DOCKER_SCHEMA = PolicyConfigSchema(properties={**NAME_PROPERTIES})
WEAK_SCHEMA = PolicyConfigSchema(properties={
    **NAME_PROPERTIES,
    **GENERATED_PATHS_PROPERTY,
    "weakValues": _strings(DEFAULT_WEAK_VALUES, "Well-known default credentials, compared case-insensitively."),
    "minLength": _int(DEFAULT_MIN_LENGTH, "Shortest acceptable credential, in characters."),
    "generatedMinLength": _int(DEFAULT_GENERATED_MIN_LENGTH, "Shortest acceptable value at a generatedValuePaths path."),
    "ignoredResourceTypes": _strings(["random:*"], "Resource type patterns not checked (their inputs hold no credential)."),
})
GENERATED_LENGTH_SCHEMA = PolicyConfigSchema(properties={
    **NAME_PROPERTIES,
    "minLength": _int(DEFAULT_GENERATED_MIN_LENGTH, "Shortest acceptable RandomPassword / RandomString, in characters."),
    "minByteLength": _int(DEFAULT_GENERATED_MIN_BYTES, "Shortest acceptable RandomId / RandomBytes, in bytes."),
})


def settings(args: ResourceValidationArgs | StackValidationArgs, schema: PolicyConfigSchema) -> dict[str, Any]:
    """The policy's config with the schema defaults filled in, as the CLI would."""
    merged = {key: prop["default"] for key, prop in schema.properties.items() if "default" in prop}
    merged.update(args.get_config() or {})
    for key, prop in schema.properties.items():  # config crosses gRPC as a Struct: 24 arrives as 24.0
        if prop.get("type") == "integer" and isinstance(merged.get(key), float) and merged[key].is_integer():
            merged[key] = int(merged[key])
    return merged


def name_matcher(config: dict[str, Any]) -> NameMatcher:
    return NameMatcher(config["credentialNamePatterns"], config["ignoredNamePatterns"])
