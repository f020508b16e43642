"""The typed stack configuration: every `labhub:` key, parsed once, validated at the boundary.

A Pulumi stack file holds one object per component under the `labhub:`
namespace (`labhub:spyglassHub`, `labhub:notebookTemplates`, ...). This module
turns them into frozen pydantic models with defaults, so components receive
typed values and never read `pulumi.Config` themselves. A wrong value stops
the program with one line per problem naming the key, the bad value and what
is allowed (`ConfigError`), never a stack trace from inside a component.

Credentials supplied from outside (an OAuth client secret) are not part of
these objects: they are flat secret keys (`EXTERNAL_SECRETS`), declared here,
required only when the settings that use them are on, and read with
`require_secret` so they stay Pulumi secrets.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.fields import CpuQuantity, DnsLabel, MemoryQuantity, PinnedImage
from labhub.errors import UserError

NAMESPACE = "labhub"


class ConfigError(UserError, pulumi.RunError):
    """Bad stack configuration. A RunError, so `pulumi up` prints the message without a traceback."""


class Section(BaseModel):
    """Base of every config object: camelCase keys as in the stack file, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, validate_by_name=False, validate_by_alias=True, frozen=True
    )


class ChartSource(Section):
    version: str = Field("4.4.0", description="z2jh chart version to deploy; pinned, the values are validated against its schema.")
    repository: str = Field("https://hub.jupyter.org/helm-chart/", description="Helm repository the chart comes from.")


class TlsConfig(Section):
    enabled: bool = Field(False, description="Serve the hub over HTTPS from the ingress.")
    secret_name: DnsLabel | None = Field(
        None, description="TLS Secret the ingress uses (cert-manager fills it when clusterIssuer is set); default `<releaseName>-tls`."
    )
    cluster_issuer: str | None = Field(None, description="cert-manager ClusterIssuer that obtains the certificate, e.g. letsencrypt-prod.")


class AuthConfig(Section):
    type: Literal["dummy", "github", "generic-oauth"] = Field(
        "dummy", description="Authenticator: 'dummy' (any name, no password: local dev only), 'github' or 'generic-oauth'."
    )
    client_id: str | None = Field(None, description="OAuth client id (not secret); its secret is `labhub:spyglassOAuthClientSecret`.")
    authorize_url: str | None = Field(None, description="generic-oauth only: the provider's authorize endpoint.")
    token_url: str | None = Field(None, description="generic-oauth only: the provider's token endpoint.")
    userdata_url: str | None = Field(None, description="generic-oauth only: the provider's userinfo endpoint.")
    username_claim: str | None = Field(None, description="generic-oauth only: the userinfo claim holding the user name, e.g. preferred_username.")
    scope: list[str] = Field(default_factory=list, description="OAuth scopes to request; the authenticator's default when empty.")
    allowed_users: list[str] = Field(default_factory=list, description="Users allowed to log in.")
    allowed_organizations: list[str] = Field(default_factory=list, description="github only: organisations (or org:team) allowed to log in.")
    admin_users: list[str] = Field(default_factory=list, description="Hub administrators.")

    @model_validator(mode="after")
    def _oauth_fields(self) -> AuthConfig:
        if self.type != "dummy" and not self.client_id:
            raise ValueError(f"auth.clientId is required when auth.type is {self.type!r}")
        if self.type == "generic-oauth":
            missing = [k for k in ("authorize_url", "token_url", "userdata_url") if not getattr(self, k)]
            if missing:
                raise ValueError("generic-oauth needs " + ", ".join("auth." + to_camel(k) for k in missing))
        if self.type != "dummy" and not (self.allowed_users or self.allowed_organizations):
            raise ValueError("an OAuth hub needs auth.allowedUsers or auth.allowedOrganizations, or anyone with an account logs in")
        return self


class StorageConfig(Section):
    type: Literal["dynamic", "none"] = Field("dynamic", description="Home directories: 'dynamic' (a PVC per user) or 'none' (ephemeral).")
    capacity: MemoryQuantity = Field("10Gi", description="Size of each user's home volume.")
    storage_class: str | None = Field(None, description="StorageClass of the user volumes; the cluster default when unset.")


class SingleUserConfig(Section):
    image: PinnedImage = Field("quay.io/jupyter/datascience-notebook:2025-10-20", description="Notebook image, pinned by tag or digest.")
    default_url: str | None = Field(None, description="Where a new server opens, e.g. an nbgitpuller link (`/git-pull?repo=...`).")
    memory_limit: MemoryQuantity = Field("4G", description="Notebook container memory limit.")
    memory_guarantee: MemoryQuantity = Field("1G", description="Notebook container memory request.")
    cpu_limit: CpuQuantity = Field(2, description="Notebook container CPU limit.")
    cpu_guarantee: CpuQuantity = Field("0.1", description="Notebook container CPU request.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="User home volumes.")


class MysqlPersistenceConfig(Section):
    enabled: bool = Field(False, description="Keep each user's database across server restarts (on the user's own volume).")


class MysqlSidecarConfig(Section):
    image: PinnedImage = Field("datajoint/mysql:8.0", description="MySQL image of the per-user sidecar.")
    memory_limit: MemoryQuantity = Field("4Gi", description="Sidecar memory limit; the InnoDB buffer pool is sized to fit inside it.")
    cpu_limit: CpuQuantity = Field(1, description="Sidecar CPU limit.")
    memory_request: MemoryQuantity = Field("64Mi", description="Sidecar memory request.")
    cpu_request: CpuQuantity = Field("0.01", description="Sidecar CPU request.")
    persistence: MysqlPersistenceConfig = Field(default_factory=MysqlPersistenceConfig, description="Database persistence.")


class NetworkConfig(Section):
    internet_egress: bool = Field(True, description="User pods may reach the internet (pip, nbgitpuller, GitHub); never other pods.")
    non_private_cluster_cidrs: list[str] = Field(
        default_factory=list,
        description="Pod/Service CIDRs outside 10/8, 172.16/12 and 192.168/16 (e.g. 100.64.0.0/10 on some clouds): "
        "kept unreachable from user pods even with internetEgress.",
    )


class CullConfig(Section):
    enabled: bool = Field(True, description="Stop servers that have been idle.")
    timeout: int = Field(3600, ge=60, description="Seconds of inactivity before a server is stopped.")
    every: int = Field(600, ge=10, description="Seconds between culler runs.")
    max_age: int = Field(0, ge=0, description="Stop servers older than this many seconds even if active (0: never).")


class SpyglassHubConfig(Section):
    enabled: bool = Field(True, description="Deploy the Spyglass hub (z2jh with a MySQL sidecar per user).")
    namespace: DnsLabel = Field("spyglass", description="Kubernetes namespace of the hub and its services.")
    release_name: DnsLabel = Field("spyglass", max_length=53, description="Helm release name.")
    chart: ChartSource = Field(default_factory=ChartSource, description="Where the z2jh chart comes from.")
    host: str = Field("spyglass.localhost", description="Public host name of the hub (ingress host).")
    ingress_class_name: str | None = Field(None, description="IngressClass to use; the cluster default when unset.")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="HTTPS on the ingress.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="How users log in.")
    singleuser: SingleUserConfig = Field(default_factory=SingleUserConfig, description="The users' notebook servers.")
    mysql: MysqlSidecarConfig = Field(default_factory=MysqlSidecarConfig, description="The per-user MySQL sidecar.")
    cull: CullConfig = Field(default_factory=CullConfig, description="Idle-server culling.")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="What user pods may reach.")

    @property
    def url(self) -> str:
        return f"{'https' if self.tls.enabled else 'http'}://{self.host}"

    @model_validator(mode="after")
    def _buildable(self) -> SpyglassHubConfig:
        """Combinations the values builder refuses (a sidecar limit mysqld cannot fit in) fail here, at parse time."""
        from components.spyglass_hub import hub_settings  # it maps this model; imported late to avoid a cycle

        hub_settings(self)
        return self


class NotebookTemplatesConfig(Section):
    enabled: bool = Field(False, description="Deploy the SampleDB notebook templating server as a service of the Spyglass hub.")
    image: PinnedImage | None = Field(None, description="A prebuilt server image; when unset the image is built from docker/templates/Dockerfile.")
    registry: str | None = Field(None, description="Registry to push the built image to, e.g. ghcr.io/mylab (required when image is unset).")
    templates_dir: str = Field("notebook-templates", description="Directory in this repository holding the .ipynb templates; changing one rolls the server.")
    storage: str = Field(
        "contents",
        pattern=r"^(contents|download|filesystem:/.*\{username\}.*)$",
        description="Where notebooks go: 'contents' (through the user's own Jupyter server; works with z2jh's per-user volumes), "
        "'download', or 'filesystem:<path with {username}>' for shared homes, e.g. filesystem:/home/{username} (needs homesClaim).",
    )
    homes_claim: DnsLabel | None = Field(
        None, description="filesystem mode: the PersistentVolumeClaim holding every user's home (e.g. the hub's NFS share)."
    )
    files_uid: int = Field(
        1000, ge=1, description="filesystem mode: uid and gid the server runs as, so new notebooks belong to the users (z2jh's jovyan is 1000)."
    )
    replicas: int = Field(1, ge=1, le=10, description="Server replicas.")
    memory_limit: MemoryQuantity = Field("256Mi", description="Server memory limit.")
    cpu_limit: CpuQuantity = Field("500m", description="Server CPU limit.")


    @model_validator(mode="after")
    def _homes_for_filesystem(self) -> NotebookTemplatesConfig:
        if self.storage.startswith("filesystem:") and not self.homes_claim:
            raise ValueError("notebookTemplates.storage filesystem:... needs notebookTemplates.homesClaim, the PVC of the users' homes")
        if self.homes_mount == "/":
            raise ValueError("notebookTemplates.storage: put {username} below a folder (e.g. filesystem:/home/{username}), not at /")
        return self

    @property
    def homes_mount(self) -> str | None:
        """Where the homes claim is mounted: the path template's folder above the first `{username}`."""
        if not self.storage.startswith("filesystem:"):
            return None
        fixed = self.storage.removeprefix("filesystem:").split("{username}", 1)[0]
        return fixed.rstrip("/").rsplit("/", 1)[0] if not fixed.endswith("/") else fixed.rstrip("/") or "/"


class NotBuiltConfig(Section):
    """A component of DESIGN.md that this version does not deploy yet: only the switch exists."""

    enabled: bool = Field(False, description="Not available in this version; must stay false.")

    @field_validator("enabled")
    @classmethod
    def _must_be_off(cls, enabled: bool) -> bool:
        if enabled:
            raise ValueError("this component is not built in this version of labhub; allowed: false")
        return enabled


# Every credential StackSecrets generates, by the name its rotation keeper uses.
GENERATED_SECRETS: dict[str, str] = {
    "proxyToken": "z2jh proxy auth token (hub <-> configurable-http-proxy)",
    "cookieSecret": "JupyterHub cookie secret; rotating it logs every user out",
    "cryptKeeperKey": "JupyterHub CryptKeeper key encrypting auth state",
    "mysqlRootPassword": "root password of every user's MySQL sidecar",
    "templatesApiToken": "JupyterHub API token of the notebook templating service",
    "templatesSigningKey": "key signing the templating server's confirmation tokens",
}


class SecretsConfig(Section):
    rotation: dict[str, str] = Field(
        default_factory=dict,
        description="Per-secret rotation keeper: change the value (e.g. a date) to regenerate that secret on the next `pulumi up`. "
        "Keys: " + ", ".join(GENERATED_SECRETS) + ".",
    )

    @field_validator("rotation")
    @classmethod
    def _known_secrets(cls, rotation: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(rotation) - set(GENERATED_SECRETS))
        if unknown:
            raise ValueError(f"unknown secret {', '.join(unknown)}; allowed: {', '.join(GENERATED_SECRETS)}")
        return rotation


class StackConfig(Section):
    secrets: SecretsConfig = Field(default_factory=SecretsConfig, description="Generated credentials.")
    spyglass_hub: SpyglassHubConfig = Field(default_factory=SpyglassHubConfig, description="SpyglassHub component.")
    notebook_templates: NotebookTemplatesConfig = Field(default_factory=NotebookTemplatesConfig, description="NotebookTemplates component.")
    xnat_hub: NotBuiltConfig = Field(default_factory=NotBuiltConfig, description="XnatHub + Postgres component (not built yet).")
    backups: NotBuiltConfig = Field(default_factory=NotBuiltConfig, description="Backups component (not built yet).")
    lab_database: NotBuiltConfig = Field(default_factory=NotBuiltConfig, description="LabDatabase component (not built yet).")
    paper_environments: NotBuiltConfig = Field(default_factory=NotBuiltConfig, description="PaperEnvironments component (not built yet).")

    @model_validator(mode="after")
    def _cross_component(self) -> StackConfig:
        if self.notebook_templates.enabled and not self.spyglass_hub.enabled:
            raise ValueError("notebookTemplates runs as a service of the Spyglass hub: enable spyglassHub too")
        templates = self.notebook_templates
        if templates.enabled and templates.image is None and templates.registry is None:
            raise ValueError("notebookTemplates needs either image (prebuilt) or registry (to push the built image)")
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
}
EXTERNAL_SECRETS = (
    ExternalSecret("spyglassOAuthClientSecret", "OAuth client secret of the Spyglass hub, from your identity provider."),
)


def required_secret_keys(config: StackConfig) -> list[str]:
    """Fully qualified external secret keys this stack's settings need."""
    return [f"{NAMESPACE}:{s.key}" for s in EXTERNAL_SECRETS if s.needed_by(config)]


def parse_stack_config(raw: Mapping[str, Any]) -> StackConfig:
    """Parse `{"labhub:spyglassHub": "<json>", ...}` (the CLI's config bag) into a StackConfig.

    Keys of other namespaces (`kubernetes:context`, ...) are ignored; an unknown
    `labhub:` key, a wrong type or a bad value raises ConfigError, one line per problem.
    """
    sections: dict[str, Any] = {}
    secret_names = {s.key for s in EXTERNAL_SECRETS}
    known = sorted(f.alias for f in StackConfig.model_fields.values())
    problems = []
    for full_key, value in raw.items():
        namespace, _, key = full_key.partition(":")
        if namespace != NAMESPACE or key in secret_names:
            continue
        if key not in known:
            problems.append(f"{full_key}: unknown key; allowed keys are {', '.join(known + sorted(secret_names))}")
            continue
        try:
            sections[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            problems.append(f"{full_key}: {value!r} is not an object; write it as a YAML mapping in the stack file")
    if problems:
        raise ConfigError("\n".join(problems))
    try:
        return StackConfig.model_validate(sections)
    except ValidationError as error:
        raise ConfigError("\n".join(_describe(e) for e in error.errors())) from None


def _describe(error: Mapping[str, Any]) -> str:
    """One line: the full key path, the bad value, what is allowed."""
    path = [str(p) for p in error["loc"]]
    key = f"{NAMESPACE}:" + ".".join(path) if path else f"{NAMESPACE} config"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        parent = _model_at(path[:-1])
        allowed = ", ".join(sorted(f.alias for f in parent.model_fields.values())) if parent else "none"
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
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def config_bag() -> dict[str, Any]:
    """Every config key the engine gave this program (what `pulumi config` shows for the stack)."""
    from pulumi.runtime import config as runtime_config

    return {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}


def load() -> StackConfig:
    """Read and validate the current stack's `labhub:` config (the one call `__main__.py` makes)."""
    return parse_stack_config(config_bag())


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

    def walk(model: type[BaseModel], prefix: str) -> None:
        for field_info in model.model_fields.values():
            key = f"{prefix}.{field_info.alias}" if prefix else f"{NAMESPACE}:{field_info.alias}"
            annotation = field_info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                rows.append((key, "object", "", field_info.description or ""))
                walk(annotation, key)
                continue
            default = field_info.get_default(call_default_factory=True)
            type_name = getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")
            rows.append((key, type_name, "" if default is None else json.dumps(default), field_info.description or ""))

    walk(StackConfig, "")
    rows += [(f"{NAMESPACE}:{s.key}", "secret", "", s.description) for s in EXTERNAL_SECRETS]
    return rows


def config_reference_markdown() -> str:
    lines = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    for key, type_name, default, description in config_reference_rows():
        lines.append(f"| `{key}` | {type_name.replace('|', 'or')} | {default.replace('|', '/')} | {description.replace('|', '/')} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(config_reference_markdown(), end="")
