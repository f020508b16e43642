"""The typed stack configuration: every `labhub:` key, parsed once, validated at the boundary.

A Pulumi stack file holds one object per component under the `labhub:`
namespace (`labhub:spyglassHub`, `labhub:notebookTemplates`, ...). Each is
parsed into that component's model (components/models/), which is also the
component's args and its builders' input; `StackConfig` only composes them.
Components never read `pulumi.Config` themselves. A wrong value stops the
program with one line per problem naming the stack-file key, the bad value
and what is allowed (`ConfigError`), never a stack trace from a component.

Credentials supplied from outside (an OAuth client secret) are not part of
these objects: they are flat secret keys (`EXTERNAL_SECRETS`), declared here,
required only when the settings that use them are on, and read with
`require_secret` so they stay Pulumi secrets.
"""

from __future__ import annotations

import difflib
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pydantic import BaseModel, Field, ValidationError, model_validator
from pydantic_core import PydanticUndefined

from components.models.backups import CLEANUP_SECRET, BackupsConfig, cleanup_uses_lab_database, default_cleanup, default_databases
from components.models.lab_database import DEFAULT_CLEANUP_USER, LabDatabaseConfig
from components.models.notebook_templates import NotebookTemplatesConfig
from components.models.paper_environments import PaperEnvironmentsConfig
from components.models.secrets import SecretsConfig
from components.models.section import Section
from components.models.spyglass_hub import SpyglassHubConfig
from components.models.xnat_hub import XnatHubConfig
from labhub.errors import UserError

NAMESPACE = "labhub"


class ConfigError(UserError, pulumi.RunError):
    """Bad stack configuration. A RunError, so `pulumi up` prints the message without a traceback."""


class StackConfig(Section):
    secrets: SecretsConfig = Field(default_factory=SecretsConfig, description="Generated credentials.")
    spyglass_hub: SpyglassHubConfig = Field(default_factory=SpyglassHubConfig, description="SpyglassHub component.")
    notebook_templates: NotebookTemplatesConfig = Field(default_factory=NotebookTemplatesConfig, description="NotebookTemplates component.")
    xnat_hub: XnatHubConfig = Field(default_factory=XnatHubConfig, description="XnatHub component: JupyterHub for XNAT, with its Postgres.")
    backups: BackupsConfig = Field(default_factory=BackupsConfig, description="Backups component: database backup CronJobs and the lab's cleanup.")
    lab_database: LabDatabaseConfig = Field(default_factory=lambda: LabDatabaseConfig(), description="LabDatabase component: the shared lab MySQL.")
    paper_environments: PaperEnvironmentsConfig = Field(
        default_factory=lambda: PaperEnvironmentsConfig(), description="PaperEnvironments component: Spyglass paper exports as hub profiles."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_backup_databases(cls, data: Any) -> Any:
        """`backups.databases` not listed: the databases the stack deploys (models/backups.py `default_databases`);
        `backups.cleanup` on without a database: the lab MySQL, as the lab database's cleanup account (`default_cleanup`).

        Before validation, so the Backups section is validated once, defaults included.
        A labDatabase or xnatHub section that does not parse adds nothing here: its own validation reports it.
        """
        if not isinstance(data, dict) or not isinstance(data.get("backups"), dict):
            return data
        try:
            lab_database = LabDatabaseConfig.model_validate(data.get("labDatabase", {}))
            xnat_hub = XnatHubConfig.model_validate(data.get("xnatHub", {}))
        except ValidationError:
            return data
        backups = dict(data["backups"])
        if "databases" not in backups:
            backups["databases"] = default_databases(lab_database, xnat_hub)
        cleanup = backups.get("cleanup")
        lab_raw = data.get("labDatabase", {})
        roles = lab_raw.get("roles", {}) if isinstance(lab_raw, dict) else None
        if isinstance(cleanup, dict) and data["backups"].get("enabled") and isinstance(roles, dict):
            username = roles.get("cleanupUser", DEFAULT_CLEANUP_USER)
            backups["cleanup"] = default_cleanup(cleanup, lab_database, username) if username is not None else cleanup
            if backups["cleanup"].get("credentialsFrom") == CLEANUP_SECRET and "cleanupUser" not in roles:
                lab = {**lab_raw, "roles": {**roles, "cleanupUser": DEFAULT_CLEANUP_USER}}
                return {**data, "backups": backups, "labDatabase": lab}
        return {**data, "backups": backups}

    @model_validator(mode="after")
    def _cross_component(self) -> StackConfig:
        if self.notebook_templates.enabled and not self.spyglass_hub.enabled:
            raise ValueError("notebookTemplates runs as a service of the Spyglass hub: enable spyglassHub too")
        if self.paper_environments.enabled and not self.spyglass_hub.enabled:
            raise ValueError("paperEnvironments are profiles of the Spyglass hub: enable spyglassHub too")
        cleanup = self.backups.cleanup
        if (
            self.backups.enabled
            and cleanup.enabled
            and cleanup.credentials_from == CLEANUP_SECRET
            and not cleanup_uses_lab_database(self.backups, self.lab_database)
        ):
            raise ValueError(
                f"backups.cleanup.credentialsFrom {CLEANUP_SECRET} is the lab database's cleanup account, which this stack does not make: "
                "enable labDatabase with roles.cleanupUser set, or give cleanup its own databaseHost and credentialsFrom"
            )
        return self


@dataclass(frozen=True)
class ExternalSecret:
    """A credential that comes from outside and is set with `pulumi config set --secret`."""

    key: str
    description: str

    def needed_by(self, config: StackConfig) -> bool:
        return _EXTERNAL_SECRET_CONDITIONS[self.key](config)


_EXTERNAL_SECRET_CONDITIONS = {
    "spyglassOAuthClientSecret": lambda c: c.spyglass_hub.enabled and c.spyglass_hub.auth.type != "dummy",
    "xnatPostgresPassword": lambda c: c.xnat_hub.enabled and c.xnat_hub.postgres.external is not None,
}
EXTERNAL_SECRETS = (
    ExternalSecret("spyglassOAuthClientSecret", "OAuth client secret of the Spyglass hub, from your identity provider."),
    ExternalSecret("xnatPostgresPassword", "Password of the XNAT hub's role on an external Postgres (xnatHub.postgres.external)."),
)


def required_secret_keys(config: StackConfig) -> list[str]:
    """Fully qualified external secret keys this stack's settings need."""
    return [f"{NAMESPACE}:{s.key}" for s in EXTERNAL_SECRETS if s.needed_by(config)]


# Namespaces whose keys belong to a provider this program uses (or to Pulumi itself).
PROVIDER_NAMESPACES = frozenset({"kubernetes", "docker", "random", "pulumi"})


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Parse `{"labhub:spyglassHub": "<json>", ...}` (the CLI's config bag) into a StackConfig.

    Keys of other namespaces (`kubernetes:context`, ...) are left to their providers
    (see `unknown_namespace_warnings` for misspelled ones). A key set without
    `--path` (`labhub:secrets.rotation.cookieSecret`, flat) is read like the nested
    form. An unknown `labhub:` key, a wrong type or a bad value raises ConfigError,
    one line per problem.
    """
    sections: dict[str, Any] = {}
    flat: list[tuple[str, list[str], Any]] = []
    secret_names = {s.key for s in EXTERNAL_SECRETS}
    known = sorted(f.alias for f in StackConfig.model_fields.values() if f.alias)
    problems = []
    for full_key, value in sorted(raw.items()):
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE or key in secret_names:
            continue
        section, *rest = key.split(".")
        if section not in known:
            hint = difflib.get_close_matches(section, known + sorted(secret_names), n=1)
            suggestion = f" (did you mean {NAMESPACE}:{hint[0]}?)" if hint else ""
            problems.append(f"{full_key}: unknown key{suggestion}; allowed keys are {', '.join(known + sorted(secret_names))}")
        elif rest:
            flat.append((full_key, [section, *rest], value))
        else:
            try:
                sections[key] = json.loads(value) if isinstance(value, str) else value
            except json.JSONDecodeError:
                problems.append(f"{full_key}: {value!r} is not an object; write it as a YAML mapping in the stack file")
    for full_key, path, value in flat:
        problem = _merge_flat_key(sections, path, value)
        if problem:
            problems.append(f"{full_key}: {problem}")
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        return StackConfig.model_validate(sections)
    except ValidationError as error:
        raise ConfigError("\n".join(_describe(e) for e in error.errors())) from None


def _merge_flat_key(sections: dict[str, Any], path: list[str], value: Any) -> str | None:
    """Put a flat dotted key's value at its place in the nested sections; the problem, if it cannot go there."""
    node = sections
    for part in path[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            return f"{part!r} is set to a value here and used as an object by this key"
        node = child
    if path[-1] in node:
        return "is set twice, as a flat key and in the nested form: keep one"
    node[path[-1]] = value
    return None


def unknown_namespace_warnings(raw: Mapping[str, Any]) -> list[str]:
    """One line per config key whose namespace no part of this program reads (`labhb:...` disables nothing loudly)."""
    warnings = []
    for full_key in sorted(raw):
        namespace, colon, _ = full_key.partition(":")
        if colon and namespace != NAMESPACE and namespace not in PROVIDER_NAMESPACES:
            hint = difflib.get_close_matches(namespace, [NAMESPACE, *sorted(PROVIDER_NAMESPACES)], n=1)
            suggestion = f"; did you mean {hint[0]}:?" if hint else ""
            warnings.append(f"config key {full_key!r} is in namespace {namespace!r}, which nothing in this program reads{suggestion}")
    return warnings


def _describe(error: Mapping[str, Any]) -> str:
    """One line: the full key path, the bad value, what is allowed."""
    path = [str(p) for p in error["loc"]]
    key = f"{NAMESPACE}:" + ".".join(path) if path else f"{NAMESPACE} config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = _model_at(path[:-1])
        allowed = ", ".join(sorted(f.alias or name for name, f in parent.model_fields.items())) if parent else "none"
        return f"{key}: unknown key; allowed keys here are {allowed}"
    if error["type"] == "missing":
        return f"{key}: required value is missing"
    if isinstance(error["input"], dict):  # a rule across several keys of this section: the message names them
        return f"{key}: {message}"
    return f"{key}: {error['input']!r} is not allowed: {message}"


def _model_at(path: list[str]) -> type[BaseModel] | None:
    model: type[BaseModel] = StackConfig
    for alias in path:
        field = next((f for f in model.model_fields.values() if f.alias == alias), None)
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):  # `Model | None`: the model
            annotation = next((a for a in typing.get_args(annotation) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if annotation is None:
            return None
        model = annotation
    return model


def config_bag() -> dict[str, Any]:
    """Every config key the engine gave this program (what `pulumi config` shows for the stack)."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load() -> StackConfig:
    """Read and validate the current stack's `labhub:` config (the one call `__main__.py` makes)."""
    bag = config_bag()
    for warning in unknown_namespace_warnings(bag):
        pulumi.log.warn(warning)
    return parse_stack_config(bag)


def needed_external_secret(config: StackConfig, key: str) -> pulumi.Output[str] | None:
    """The external credential `key` if this stack's settings use it (see EXTERNAL_SECRETS), else None."""
    return external_secret(key) if f"{NAMESPACE}:{key}" in required_secret_keys(config) else None


def external_secret(key: str) -> pulumi.Output[str]:
    """An external credential as a Pulumi secret; missing -> ConfigError with the command that sets it."""
    value = pulumi.Config(NAMESPACE).get_secret(key)
    if value is None:
        raise ConfigError(f"{NAMESPACE}:{key}: required secret is missing; set it with `pulumi config set --secret {key} <value>`")
    return value


def load_required_secret_keys(raw: Mapping[str, Any]) -> list[str]:
    """The external secrets a config bag needs (what the offline engine must stand in for)."""
    return required_secret_keys(parse_stack_config(raw))


def config_reference_rows() -> list[tuple[str, str, str, str]]:
    """(key, type, default, description) for every config key, generated from the models.

    The field descriptions are the documentation: README's reference table is
    this list (`python -m components.config` prints it), and a test keeps them equal.
    """
    rows: list[tuple[str, str, str, str]] = []

    def walk(model: type[BaseModel], prefix: str, defaults: BaseModel | None) -> None:
        for name, field_info in model.model_fields.items():
            key = f"{prefix}.{field_info.alias}" if prefix else f"{NAMESPACE}:{field_info.alias}"
            annotation = field_info.annotation
            default = getattr(defaults, name) if defaults is not None else field_info.get_default(call_default_factory=True)
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                rows.append((key, "object", "", field_info.description or ""))
                walk(annotation, key, default if isinstance(default, BaseModel) else None)
                continue
            type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
            shown = "" if default is None or default is PydanticUndefined else json.dumps(default)
            rows.append((key, type_name, shown, field_info.description or ""))

    walk(StackConfig, "", StackConfig())
    rows += [(f"{NAMESPACE}:{s.key}", "secret", "", s.description) for s in EXTERNAL_SECRETS]
    return rows


def config_reference_markdown() -> str:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, type_name, default, description in config_reference_rows():
        lines.append(f"| `{key}` | {type_name.replace('|', 'or')} | {default.replace('|', '/')} | {description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_reference_markdown(), end="")
