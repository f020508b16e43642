"""`labhub:xnatHub`: the XNAT-connected JupyterHub and its Postgres, args of XnatHub and input of its builders.

The hub serves XNAT's users at `<XNAT host><baseUrl>` (XNAT's JupyterHub plugin
expects `/jupyterhub`), logs them in against XNAT, and lets XNAT choose each
server's image, resources and data mounts (labhub/xnat/xnat_jupyterhub.py).
The names of its Kubernetes objects are properties here.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from components.fields import DnsLabel, MemoryQuantity, PinnedImage
from components.models.section import Resources, Section
from components.models.spyglass_hub import ChartSource, TlsConfig

PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
POSTGRES_PASSWORD_KEY = "password"  # pragma: allowlist secret (a key name, in the Secret `postgres_secret_name`)
ACCOUNT_PASSWORD_KEY = "password"  # pragma: allowlist secret (a key name, in the Secret `xnat_account_secret_name`)
# The deployed Postgres's backup role: LOGIN, member of pg_read_all_data (PG 14+), nothing else.
# `labhub backup postgres ensure-role` makes it so on every deploy and rotation (the Backups component's Job).
POSTGRES_BACKUP_ROLE = "labhub_backup"
POSTGRES_BACKUP_PASSWORD_KEY = "password"  # pragma: allowlist secret (a key name, in `postgres_backup_secret_name`)
# Pods of the hub's namespace with this label may reach the deployed Postgres (the backup dump and ensure-role pods).
POSTGRES_CLIENT_LABEL = "labhub.io/xnat-postgres-client"


def _cidrs(cidrs: list[str]) -> list[str]:
    for cidr in cidrs:
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise ValueError(f"{cidr!r} is not a CIDR (e.g. 10.20.0.0/16)") from None
    return cidrs


def _absolute(path: str) -> str:
    if not path.startswith("/") or ".." in path.split("/"):
        raise ValueError("must be an absolute path without '..'")
    return path.rstrip("/") or "/"


class ExternalPostgres(Section):
    host: str = Field(description="Host name of a Postgres server run elsewhere (a managed database).")
    port: int = Field(5432, ge=1, le=65535, description="Its port.")
    cidrs: list[str] = Field(description="Address ranges of that server, for the hub's network policy (which cannot match a host name).")

    @field_validator("cidrs")
    @classmethod
    def _some_cidrs(cls, cidrs: list[str]) -> list[str]:
        if not cidrs:
            raise ValueError("list at least one CIDR: the hub may reach the database only there")
        return _cidrs(cidrs)


class PostgresConfig(Section):
    image: PinnedImage = Field("postgres:17.6", description="The official postgres image, pinned.")
    database: str = Field("jupyterhub", description="Database the hub keeps its state in.")
    user: str = Field("jupyterhub", description="Role the hub logs in as (owner of the database).")
    storage_size: MemoryQuantity = Field("1Gi", description="Size of the database's PersistentVolumeClaim.")
    storage_class: str | None = Field(None, description="StorageClass of that claim; the cluster default when unset.")
    resources: Resources = Field(
        default_factory=lambda: Resources.build(memory_limit="512Mi", memory_request="128Mi", cpu_limit="500m", cpu_request="50m"),
        description="Requests and limits of the Postgres container.",
    )
    external: ExternalPostgres | None = Field(
        None, description="Use this Postgres server instead of deploying one; set the secret `labhub:xnatPostgresPassword` for its role."
    )

    @field_validator("database", "user")
    @classmethod
    def _sql_name(cls, name: str) -> str:
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError("must be a plain SQL name: lower-case letters, digits and _, not starting with a digit, at most 63")
        return name


class XnatConnection(Section):
    url: str = Field(description="Base URL the hub calls XNAT at, e.g. http://xnat-web.xnat.svc:8080 (JH_XNAT_URL).")
    verify_tls: bool = Field(True, description="Verify XNAT's TLS certificate (JH_XNAT_VERIFY_TLS).")
    timeout: float = Field(10.0, gt=0, le=120, description="Seconds the hub waits for XNAT per request (JH_XNAT_TIMEOUT).")
    hub_account: str = Field(
        "jupyterhub",
        min_length=1,
        description="The hub's XNAT account (JH_XNAT_USERNAME); its password is generated (stack output xnatJupyterHubXnatPassword).",
    )
    archive_pvc: DnsLabel = Field("archive", description="PVC of XNAT's archive, in the hub's namespace; data is mounted read-only from it.")
    archive_path: str = Field("/data/xnat/archive", description="The archive's path in the mounts XNAT sends (after path translation).")
    workspace_path: str = Field("/data/xnat/workspaces", description="XNAT's workspace path; its mounts are left to the workspaces PVC.")
    uid: int | None = Field(None, ge=0, description="uid the notebook servers run as (XNAT's Tomcat uid, which owns the archive): NB_UID.")
    gid: int | None = Field(None, ge=0, description="gid of the notebook servers and their files: NB_GID.")
    namespace: DnsLabel | None = Field(None, description="Namespace of XNAT's pods, when XNAT runs in this cluster (network policy).")
    pod_labels: dict[str, str] = Field(default_factory=dict, description="Labels of XNAT's web pods (with namespace).")
    cidrs: list[str] = Field(default_factory=list, description="Address ranges of XNAT, when it runs outside the cluster (network policy).")

    @field_validator("archive_path", "workspace_path")
    @classmethod
    def _absolute_path(cls, path: str) -> str:
        return _absolute(path)

    @field_validator("cidrs")
    @classmethod
    def _valid_cidrs(cls, cidrs: list[str]) -> list[str]:
        return _cidrs(cidrs)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise ValueError("must be an http(s) URL without credentials, e.g. http://xnat-web.xnat.svc:8080")
        return url.rstrip("/")

    @model_validator(mode="after")
    def _reachable(self) -> XnatConnection:
        if not self.cidrs and not (self.namespace and self.pod_labels):
            raise ValueError("say where XNAT runs for the hub's network policy: namespace and podLabels, or cidrs")
        if (self.uid is None) != (self.gid is None):
            raise ValueError("set uid and gid together (the archive's owner and group)")
        return self

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)


class XnatNetworkConfig(Section):
    kube_api_cidrs: list[str] = Field(
        default_factory=lambda: list(PRIVATE_RANGES), description="Where the Kubernetes API server answers (the hub starts pods through it)."
    )
    kube_api_ports: list[int] = Field(default_factory=lambda: [443, 6443], description="Ports of the Kubernetes API server.")

    @field_validator("kube_api_cidrs")
    @classmethod
    def _valid_cidrs(cls, cidrs: list[str]) -> list[str]:
        return _cidrs(cidrs)


class XnatHubConfig(Section):
    enabled: bool = Field(False, description="Deploy a JupyterHub for XNAT (z2jh, XNAT login, XNAT-chosen servers) with its Postgres.")
    namespace: DnsLabel = Field("xnat", description="Namespace of the hub, its Postgres and the users' servers (XNAT's archive PVC must be here).")
    create_namespace: bool = Field(True, description="Create the namespace; false when it exists already (XNAT's own, holding its PVCs).")
    release_name: DnsLabel = Field("xnat-jupyterhub", max_length=40, description="Helm release name; prefixes the hub's own object names.")
    chart: ChartSource = Field(default_factory=ChartSource, description="Where the z2jh chart comes from.")
    host: str | None = Field(None, description="XNAT's public host; the hub is served there under baseUrl.")
    base_url: str = Field("/jupyterhub", description="Path of the hub on the XNAT host.")
    ingress_class_name: str | None = Field(None, description="IngressClass to use; the cluster default when unset.")
    ingress_annotations: dict[str, str] = Field(default_factory=dict, description="Extra annotations of the hub's Ingress.")
    tls: TlsConfig = Field(default_factory=TlsConfig, description="HTTPS on the ingress.")
    xnat: XnatConnection | None = Field(None, description="How the hub reaches XNAT (required when enabled).")
    workspaces_pvc: DnsLabel = Field("workspaces", description="PVC of XNAT's user workspaces (each user's at /workspace/<user>).")
    workspaces_sub_path: str = Field("users/{unescaped_username}", description="Each user's folder in that PVC.")
    default_image: PinnedImage = Field("quay.io/jupyterhub/k8s-singleuser-sample:4.4.0", description="Image when XNAT names none.")
    start_timeout: int = Field(180, ge=10, description="Seconds a server may take to start (JH_START_TIMEOUT).")
    http_timeout: int = Field(75, ge=10, description="Seconds a started server may take to answer (JH_HTTP_TIMEOUT).")
    hub_resources: Resources = Field(
        default_factory=lambda: Resources.build(memory_limit="1Gi", memory_request="256Mi", cpu_limit="1", cpu_request="100m"),
        description="Requests and limits of the hub pod.",
    )
    postgres: PostgresConfig = Field(default_factory=PostgresConfig, description="The hub's database.")
    network: XnatNetworkConfig = Field(default_factory=XnatNetworkConfig, description="What the hub may reach besides XNAT and Postgres.")

    @field_validator("base_url")
    @classmethod
    def _path(cls, path: str) -> str:
        if not re.fullmatch(r"(/[A-Za-z0-9._-]+)+/?", path):
            raise ValueError("must be a path below / on the XNAT host, e.g. /jupyterhub")
        return path.rstrip("/")

    @model_validator(mode="after")
    def _complete(self) -> XnatHubConfig:
        if self.enabled and (not self.host or self.xnat is None):
            missing = [k for k, v in (("host", self.host), ("xnat", self.xnat)) if not v]
            raise ValueError(f"{' and '.join(missing)} required when enabled (the XNAT host and how to reach XNAT)")
        return self

    # --- names and addresses, derived here -------------------------------------------

    @property
    def url(self) -> str:
        return f"{self.tls.scheme}://{self.host}{self.base_url.rstrip('/')}"

    @property
    def api_url(self) -> str:
        """What XNAT's plugin setting `JupyterHub API URL` takes."""
        return f"{self.url}/hub/api"

    @property
    def tls_secret_name(self) -> str | None:
        return self.tls.secret_name_for(self.release_name)

    @property
    def postgres_name(self) -> str:
        """StatefulSet, Service and NetworkPolicy of the deployed Postgres."""
        return f"{self.release_name}-postgres"

    @property
    def postgres_secret_name(self) -> str:
        return f"{self.release_name}-postgres"

    @property
    def postgres_backup_secret_name(self) -> str:
        """The backup role's Secret (keys password and pg_service.conf), in the hub's namespace."""
        return f"{self.release_name}-postgres-backup"

    @property
    def deploys_postgres(self) -> bool:
        """Whether labhub runs this hub's Postgres (and so can make a backup role in it)."""
        return self.enabled and self.postgres.external is None

    @property
    def xnat_account_secret_name(self) -> str:
        """Secret with the password of the hub's XNAT account (read by the hub as JH_XNAT_PASSWORD)."""
        return f"{self.release_name}-xnat-account"

    @property
    def postgres_host(self) -> str:
        external = self.postgres.external
        return external.host if external else f"{self.postgres_name}.{self.namespace}.svc.cluster.local"

    @property
    def postgres_port(self) -> int:
        return self.postgres.external.port if self.postgres.external else 5432

    @property
    def db_url(self) -> str:
        """hub.db.url: no password (z2jh hands hub.db.password to the hub as PGPASSWORD)."""
        return f"postgresql+psycopg2://{self.postgres.user}@{self.postgres_host}:{self.postgres_port}/{self.postgres.database}"
