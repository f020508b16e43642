"""`labhub:spyglassHub`: the Spyglass hub's config section, args of SpyglassHub and input of its builders.

The builders (`components.spyglass_values`, `components.mysql_sidecar`) read
this model directly; the Kubernetes names of the hub's objects are its
properties. Every rule a builder relies on is checked here, once, so a bad
stack value fails at parse time with the stack-file key in the message.
"""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator

from components.fields import CpuQuantity, DnsLabel, MemoryQuantity, PinnedImage
from components.models.section import Resources, Section, require_within
from components.mysql_memory import MySQLSizing, plan_mysql_memory

Z2JH_VERSION: Literal["4.4.0"] = "4.4.0"  # the chart version whose values schema labhub/schemas/ carries
DEFAULT_HOST = "spyglass.localhost"
AuthType = Literal["dummy", "github", "generic-oauth"]


class ChartSource(Section):
    version: Literal["4.4.0"] = Field(
        Z2JH_VERSION, description="z2jh chart version; only the version whose values schema labhub carries (and validates against)."
    )
    repository: str = Field("https://hub.jupyter.org/helm-chart/", description="Helm repository the chart comes from.")


class TlsConfig(Section):
    enabled: bool = Field(False, description="Serve the hub over HTTPS from the ingress.")
    secret_name: DnsLabel | None = Field(
        None, description="TLS Secret the ingress uses (cert-manager fills it when clusterIssuer is set); default `<releaseName>-tls`."
    )
    cluster_issuer: str | None = Field(None, description="cert-manager ClusterIssuer that obtains the certificate, e.g. letsencrypt-prod.")

    @property
    def scheme(self) -> str:
        return "https" if self.enabled else "http"

    def secret_name_for(self, release_name: str) -> str | None:
        """The ingress's TLS Secret for a hub released as `release_name`; None without TLS."""
        return (self.secret_name or f"{release_name}-tls") if self.enabled else None


class AuthConfig(Section):
    type: AuthType = Field(
        "dummy", description="Authenticator: 'dummy' (any name, no password: local development only), 'github' or 'generic-oauth'."
    )
    client_id: str | None = Field(None, description="OAuth client id (not secret); its secret is `labhub:spyglassOAuthClientSecret`.")
    oauth_callback_url: str | None = Field(None, description="OAuth callback URL registered with the provider; default `<hub url>/hub/oauth_callback`.")
    authorize_url: str | None = Field(None, description="generic-oauth only: the provider's authorize endpoint.")
    token_url: str | None = Field(None, description="generic-oauth only: the provider's token endpoint.")
    userdata_url: str | None = Field(None, description="generic-oauth only: the provider's userinfo endpoint.")
    username_claim: str | None = Field(None, description="generic-oauth only: the userinfo claim holding the user name, e.g. preferred_username.")
    scope: list[str] = Field(default_factory=list, description="OAuth scopes to request; the authenticator's default when empty.")
    allowed_users: list[str] = Field(default_factory=list, description="Users allowed to log in (with dummy: only these names, when set).")
    allowed_organizations: list[str] = Field(default_factory=list, description="github only: organisations (or org:team) allowed to log in.")
    admin_users: list[str] = Field(default_factory=list, description="Hub administrators.")
    insecure_allow_dummy_on_public_host: bool = Field(
        False,
        description="Let the dummy authenticator (anyone logs in as anyone, admins included) run on a host that is not "
        "*.localhost or behind TLS. Only for a throwaway demo; never on a hub with data.",
    )

    @model_validator(mode="after")
    def _complete_for_its_type(self) -> AuthConfig:
        generic_only = ("authorize_url", "token_url", "userdata_url", "username_claim")
        if self.type != "dummy" and not self.client_id:
            raise ValueError(f"clientId is required when type is {self.type!r}")
        if self.type == "generic-oauth":
            missing = [self.field_key(k) for k in generic_only[:3] if not getattr(self, k)]
            if missing:
                raise ValueError("generic-oauth needs " + ", ".join(missing))
        if self.type != "dummy" and not (self.allowed_users or self.allowed_organizations):
            raise ValueError("an OAuth hub needs allowedUsers or allowedOrganizations, or anyone with an account logs in")
        # Settings another type would ignore are refused, not dropped: the operator meant something by them.
        ignored = [k for k in generic_only if getattr(self, k) and self.type != "generic-oauth"]
        ignored += ["allowed_organizations"] if self.allowed_organizations and self.type != "github" else []
        ignored += [k for k in ("client_id", "oauth_callback_url") if getattr(self, k) and self.type == "dummy"]
        ignored += ["scope"] if self.scope and self.type == "dummy" else []
        if ignored:
            raise ValueError(f"{', '.join(self.field_key(k) for k in ignored)} has no effect with type {self.type!r}; remove it or change type")
        return self


class StorageConfig(Section):
    type: Literal["dynamic", "none"] = Field("dynamic", description="Home directories: 'dynamic' (a PVC per user) or 'none' (ephemeral).")
    capacity: MemoryQuantity = Field("10Gi", description="Size of each user's home volume.")
    storage_class: str | None = Field(None, description="StorageClass of the user volumes; the cluster default when unset.")


class SingleUserConfig(Section):
    image: PinnedImage = Field(
        "quay.io/lorenlab/hhmi-spyglass-image:82450331e8f1",
        description="Notebook image, pinned by tag or digest. The default is the HHMI Spyglass image (DataJoint, Spyglass, the mysql client).",
    )
    default_url: str | None = Field(None, description="Where a new server opens, e.g. an nbgitpuller link (`/git-pull?repo=...`).")
    memory_limit: MemoryQuantity = Field("4G", description="Notebook container memory limit.")
    memory_guarantee: MemoryQuantity = Field("1G", description="Notebook container memory request; at most memoryLimit.")
    cpu_limit: CpuQuantity = Field("2", description="Notebook container CPU limit.")
    cpu_guarantee: CpuQuantity = Field("0.1", description="Notebook container CPU request; at most cpuLimit.")
    storage: StorageConfig = Field(default_factory=StorageConfig, description="User home volumes.")

    @model_validator(mode="after")
    def _guarantees_within_limits(self) -> SingleUserConfig:
        require_within(self, "memory_guarantee", "memory_limit", memory=True)
        require_within(self, "cpu_guarantee", "cpu_limit", memory=False)
        return self


class MysqlPersistenceConfig(Section):
    enabled: bool = Field(False, description="Keep each user's database across server restarts (on the user's own volume).")
    data_sub_path: str = Field(".labhub/mysql", description="Where in the user's home volume the database lives when persistent.")

    @field_validator("data_sub_path")
    @classmethod
    def _inside_the_home(cls, path: str) -> str:
        if path.startswith("/") or ".." in path.split("/") or not path.strip("/"):
            raise ValueError("must be a relative path inside the home volume, e.g. .labhub/mysql")
        return path.strip("/")


class MysqlSidecarConfig(Section):
    image: PinnedImage = Field("datajoint/mysql:8.0", description="MySQL image of the per-user sidecar; built on the official mysql image.")
    memory_limit: MemoryQuantity = Field("4Gi", description="Sidecar memory limit; the InnoDB buffer pool is sized to fit inside it.")
    cpu_limit: CpuQuantity = Field("1", description="Sidecar CPU limit.")
    memory_request: MemoryQuantity = Field("64Mi", description="Sidecar memory request (small: without one Kubernetes reserves the limit).")
    cpu_request: CpuQuantity = Field("0.01", description="Sidecar CPU request.")
    buffer_pool_fraction: float = Field(0.5, gt=0, le=0.75, description="Share of memoryLimit given to the InnoDB buffer pool.")
    ephemeral_size_limit: MemoryQuantity = Field(
        "10Gi", description="Size limit of the database's emptyDir when not persistent (the kubelet evicts a pod that exceeds it)."
    )
    init_image: PinnedImage = Field("busybox:1.36.1", description="Image of the init container that hands a persistent database to uid 999.")
    persistence: MysqlPersistenceConfig = Field(default_factory=MysqlPersistenceConfig, description="Database persistence.")

    @model_validator(mode="after")
    def _fits(self) -> MysqlSidecarConfig:
        self.sizing()  # a limit too small for mysqld fails here
        self.resources()  # request <= limit, refused with the same words as for every other container
        return self

    def sizing(self) -> MySQLSizing:
        return plan_mysql_memory(self.memory_limit, self.buffer_pool_fraction)

    def resources(self) -> Resources:
        return Resources.build(
            memory_limit=self.memory_limit, memory_request=self.memory_request, cpu_limit=self.cpu_limit, cpu_request=self.cpu_request
        )


class NetworkConfig(Section):
    internet_egress: bool = Field(True, description="User pods may reach the internet (pip, nbgitpuller, GitHub); never other pods.")
    non_private_cluster_cidrs: list[str] = Field(
        default_factory=list,
        description="Pod/Service CIDRs outside 10/8, 172.16/12 and 192.168/16 (e.g. 100.64.0.0/10 on some clouds): "
        "kept unreachable from user pods even with internetEgress.",
    )

    @field_validator("non_private_cluster_cidrs")
    @classmethod
    def _ipv4(cls, cidrs: list[str]) -> list[str]:
        for cidr in cidrs:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR (e.g. 100.64.0.0/10)") from None
            if network.version != 4:
                raise ValueError(f"{cidr!r}: only IPv4 CIDRs (z2jh's egress rules are IPv4)")
        return cidrs


class CullConfig(Section):
    enabled: bool = Field(True, description="Stop servers that have been idle (a running server holds its sidecar's memory).")
    timeout: int = Field(3600, ge=60, description="Seconds of inactivity before a server is stopped.")
    every: int = Field(600, ge=10, description="Seconds between culler runs.")
    max_age: int = Field(0, ge=0, description="Stop servers older than this many seconds even if active (0: never).")


class SpyglassHubConfig(Section):
    enabled: bool = Field(True, description="Deploy the Spyglass hub (z2jh with a MySQL sidecar per user).")
    namespace: DnsLabel = Field("spyglass", description="Kubernetes namespace of the hub and its services.")
    release_name: DnsLabel = Field("spyglass", max_length=40, description="Helm release name; prefixes the hub's own object names.")
    chart: ChartSource = Field(default_factory=ChartSource, description="Where the z2jh chart comes from.")
    host: str = Field(DEFAULT_HOST, description="Public host name of the hub (ingress host); required with TLS or OAuth.")
    ingress_class_name: str | None = Field(None, description="IngressClass to use; the cluster default when unset.")
    ingress_annotations: dict[str, str] = Field(default_factory=dict, description="Extra annotations of the hub's Ingress.")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="HTTPS on the ingress.")
    auth: AuthConfig = Field(default_factory=AuthConfig, description="How users log in.")
    hub_resources: Resources = Field(
        default_factory=lambda: Resources.build(memory_limit="1Gi", memory_request="256Mi", cpu_limit="1", cpu_request="100m"),
        description="Requests and limits of the hub pod.",
    )
    singleuser: SingleUserConfig = Field(default_factory=SingleUserConfig, description="The users' notebook servers.")
    mysql: MysqlSidecarConfig = Field(default_factory=MysqlSidecarConfig, description="The per-user MySQL sidecar.")
    cull: CullConfig = Field(default_factory=CullConfig, description="Idle-server culling.")
    network: NetworkConfig = Field(default_factory=NetworkConfig, description="What user pods may reach.")

    @model_validator(mode="after")
    def _consistent(self) -> SpyglassHubConfig:
        public = self.tls.enabled or self.auth.type != "dummy"
        if public and "host" not in self.model_fields_set:
            raise ValueError(f"host is required when TLS or OAuth is on (the default {DEFAULT_HOST!r} is for local development)")
        if self.mysql.persistence.enabled and self.singleuser.storage.type != "dynamic":
            raise ValueError("mysql.persistence keeps the database in the user's home volume: it needs singleuser.storage.type 'dynamic'")
        local_host = self.host == "localhost" or self.host.endswith(".localhost")
        if self.auth.type == "dummy" and (self.tls.enabled or not local_host) and not self.auth.insecure_allow_dummy_on_public_host:
            raise ValueError(
                f"auth.type 'dummy' lets anyone log in as anyone (admins included) and host {self.host!r} "
                f"{'has TLS on' if self.tls.enabled else 'is not *.localhost'}: use github or generic-oauth, "
                "or set auth.insecureAllowDummyOnPublicHost for a throwaway demo"
            )
        return self

    # --- names of the hub's objects: derived here, asked for everywhere else -------------------

    @property
    def url(self) -> str:
        return f"{self.tls.scheme}://{self.host}"

    @property
    def tls_secret_name(self) -> str | None:
        return self.tls.secret_name_for(self.release_name)

    @property
    def mysql_secret_name(self) -> str:
        """Secret with the sidecars' root password, client option file and init SQL."""
        return f"{self.release_name}-mysql"

    @property
    def mysql_config_map_name(self) -> str:
        """ConfigMap with mysqld's option file."""
        return f"{self.release_name}-mysql-config"
