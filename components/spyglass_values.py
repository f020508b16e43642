"""The z2jh values of the Spyglass hub, built as plain data (no Pulumi) from typed settings.

`spyglass_hub_values` returns the dict the SpyglassHub component hands to the
pinned z2jh chart (4.4.0). It wires the MySQL sidecar (components/mysql_sidecar.py)
into the user pods, and sets every token the chart would otherwise generate
with Helm `lookup` (which a rendered chart cannot do, so they would change on
every update). The tokens are the only credentials that enter this module,
typed `Any` because they are usually pulumi Outputs: they are placed, never
read. Their paths are `CREDENTIAL_VALUE_PATHS`; everything else that is
secret reaches containers by Secret reference.
"""

from __future__ import annotations

import fnmatch
import ipaddress
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components import mysql_sidecar as sidecar
from components.fields import CpuQuantity, MemoryQuantity, require_pinned_image
from components.quantities import parse_cpu_quantity

# z2jh 4.4.0's default volumeNameTemplate, set explicitly because the sidecar's
# data mount and the init container reference the home volume by this name.
HOME_VOLUME_NAME_TEMPLATE = "volume-{user_server}"
HOME_MOUNT_PATH = "/home/jovyan"
# Where the notebook's client option file goes: the first default option file
# of both the MySQL 8 and the MariaDB clients (`mysql --help`: /etc/my.cnf
# /etc/mysql/my.cnf ~/.my.cnf), absent from Debian/Ubuntu images, and later
# files (a user's ~/.my.cnf) still override it.
NOTEBOOK_CLIENT_CNF_PATH = "/etc/my.cnf"
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
CLOUD_METADATA = "169.254.169.254/32"

# Values paths that hold credentials (`*` = one key). The policy pack allow-lists exactly these.
CREDENTIAL_VALUE_PATHS: tuple[str, ...] = (
    "hub.config.ConfigurableHTTPProxy.auth_token",
    "hub.config.JupyterHub.cookie_secret",
    "hub.config.CryptKeeper.keys",
    "hub.config.GitHubOAuthenticator.client_secret",
    "hub.config.GenericOAuthenticator.client_secret",
    "hub.services.*.api_token",
)
_AUTH_CLASS = {"dummy": "DummyAuthenticator", "github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}


def is_credential_path(path: str) -> bool:
    """Whether a dotted values path (e.g. hub.services.templates.api_token) is one of `CREDENTIAL_VALUE_PATHS`."""
    parts = path.split(".")
    return any(
        len(parts) == len(pattern.split(".")) and all(fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern.split("."), strict=True))
        for pattern in CREDENTIAL_VALUE_PATHS
    )


def nbgitpuller_url(repo: str, *, branch: str | None = None, urlpath: str | None = None, hub_url: str | None = None) -> str:
    """An nbgitpuller link: `/git-pull?...` for singleuser.defaultUrl, or a shareable link when hub_url is given.

    Every parameter is percent-encoded completely (quote with safe=""), so
    the link survives the hub's redirects and has no braces for JupyterHub's
    str.format over default_url.
    """
    if not repo.startswith("https://"):
        raise ValueError(f"nbgitpuller repo {repo!r} must be an https:// URL")
    if urlpath is not None and urlpath.startswith("/"):
        raise ValueError(f"nbgitpuller urlpath {urlpath!r} is relative to the server, e.g. lab/tree/repo/notebook.ipynb")
    params = [("repo", repo)] + [(k, v) for k, v in (("urlpath", urlpath), ("branch", branch)) if v]
    query = urlencode(params, quote_via=quote, safe="")
    return f"{hub_url.rstrip('/')}/hub/user-redirect/git-pull?{query}" if hub_url else f"/git-pull?{query}"


class AuthSettings(BaseModel):
    """How users log in. The OAuth client secret is not here: it is passed to `spyglass_hub_values`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["dummy", "github", "generic-oauth"] = Field("dummy", description="'dummy' is for local development only.")
    client_id: str | None = Field(None, description="OAuth client id (not secret).")
    oauth_callback_url: str | None = Field(None, description="Defaults to <hub url>/hub/oauth_callback.")
    authorize_url: str | None = Field(None, description="generic-oauth: authorize endpoint.")
    token_url: str | None = Field(None, description="generic-oauth: token endpoint.")
    userdata_url: str | None = Field(None, description="generic-oauth: userinfo endpoint.")
    username_claim: str | None = Field(None, description="generic-oauth: claim holding the user name.")
    scope: tuple[str, ...] = Field((), description="OAuth scopes to request (the authenticator's default when empty).")
    allowed_users: tuple[str, ...] = Field((), description="Users allowed to log in.")
    allowed_organizations: tuple[str, ...] = Field((), description="github: organisations (or org:team) allowed.")
    admin_users: tuple[str, ...] = Field((), description="Hub administrators.")

    @model_validator(mode="after")
    def _oauth_complete(self) -> AuthSettings:
        if self.kind == "dummy":
            return self
        missing = [k for k in ("client_id",) + (("authorize_url", "token_url", "userdata_url") if self.kind == "generic-oauth" else ()) if not getattr(self, k)]
        if missing:
            raise ValueError(f"auth kind {self.kind!r} needs {', '.join(missing)}")
        if not (self.allowed_users or self.allowed_organizations):
            raise ValueError("an OAuth hub needs allowed_users or allowed_organizations, or anyone with an account logs in")
        return self


class CullSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = Field(True, description="Stop idle servers (the sidecar's memory is held while a server runs).")
    timeout: int = Field(3600, ge=60, description="Seconds idle before a server is stopped.")
    every: int = Field(600, ge=10, description="Seconds between culler runs.")
    max_age: int = Field(0, ge=0, description="Stop servers older than this many seconds even if active (0: never).")


class SpyglassHubSettings(BaseModel):
    """Everything `spyglass_hub_values` needs apart from the tokens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field(description="Public host name (ingress host).")
    tls_secret_name: str | None = Field(None, description="TLS Secret of the ingress; no TLS when unset.")
    cluster_issuer: str | None = Field(None, description="cert-manager ClusterIssuer that fills tls_secret_name.")
    ingress_class_name: str | None = Field(None, description="IngressClass; the cluster default when unset.")
    ingress_annotations: dict[str, str] = Field(default_factory=dict, description="Extra ingress annotations.")
    auth: AuthSettings = Field(default_factory=AuthSettings, description="How users log in.")
    singleuser_image: str = Field(description="Notebook image 'name:tag' (tag required, never latest).")
    default_url: str | None = Field(None, description="Where a server opens, e.g. `nbgitpuller_url(...)`.")
    storage_type: Literal["dynamic", "none"] = Field("dynamic", description="Home volumes: a PVC per user, or none.")
    storage_capacity: MemoryQuantity = Field("10Gi", description="Size of each home volume (holds the database when persistent).")
    storage_class: str | None = Field(None, description="StorageClass of home volumes.")
    memory_limit: MemoryQuantity = Field("4G", description="Notebook container memory limit.")
    memory_guarantee: MemoryQuantity = Field("1G", description="Notebook container memory request.")
    cpu_limit: CpuQuantity = Field(2, description="Notebook container CPU limit.")
    cpu_guarantee: CpuQuantity = Field("0.1", description="Notebook container CPU request.")
    hub_resources: dict[str, dict[str, str]] = Field(
        default_factory=lambda: {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
        description="Hub pod requests/limits.",
    )
    cull: CullSettings = Field(default_factory=CullSettings, description="Idle-server culling.")
    internet_egress: bool = Field(True, description="User pods may reach non-private IPs (pip, nbgitpuller, GitHub).")
    non_private_cluster_cidrs: tuple[str, ...] = Field(
        (), description="Pod/Service CIDRs outside 10/8, 172.16/12, 192.168/16 (e.g. 100.64.0.0/10) to keep unreachable."
    )
    mysql: sidecar.MySQLSidecarSettings = Field(description="The per-user MySQL sidecar.")

    @field_validator("singleuser_image")
    @classmethod
    def _tagged(cls, ref: str) -> str:
        require_pinned_image(ref)
        if ":" not in ref.rsplit("/", 1)[-1].partition("@")[0]:
            raise ValueError(f"singleuser_image {ref!r} needs a tag (z2jh takes name and tag separately)")
        return ref

    @field_validator("non_private_cluster_cidrs")
    @classmethod
    def _ipv4(cls, cidrs: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in cidrs:
            if ipaddress.ip_network(cidr).version != 4:
                raise ValueError(f"{cidr!r}: only IPv4 CIDRs (z2jh's egress rules are IPv4)")
        return cidrs

    @model_validator(mode="after")
    def _persistence_needs_home(self) -> SpyglassHubSettings:
        if self.mysql.persistence and self.storage_type != "dynamic":
            raise ValueError("mysql persistence keeps the database in the user's home volume: it needs singleuser storage type 'dynamic'")
        return self

    @property
    def url(self) -> str:
        return f"{'https' if self.tls_secret_name else 'http'}://{self.host}"


def _auth_config(auth: AuthSettings, url: str, client_secret: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"JupyterHub": {"authenticator_class": auth.kind}}
    common = {k: list(v) for k, v in (("allowed_users", auth.allowed_users), ("admin_users", auth.admin_users)) if v}
    if auth.kind == "dummy":
        # WARNING: DummyAuthenticator lets anyone log in as any user with any password.
        # Local development only; never on a hub reachable from a network you don't control.
        config["Authenticator"] = {"allow_all": True, **common}
        return config
    if client_secret is None:
        raise ValueError(f"auth kind {auth.kind!r} needs oauth_client_secret")
    config["Authenticator"] = common
    oauth = {
        "client_id": auth.client_id,
        "client_secret": client_secret,
        "oauth_callback_url": auth.oauth_callback_url or f"{url}/hub/oauth_callback",
    }
    if auth.scope:
        oauth["scope"] = list(auth.scope)
    if auth.kind == "github" and auth.allowed_organizations:
        oauth["allowed_organizations"] = list(auth.allowed_organizations)
    if auth.kind == "generic-oauth":
        oauth.update({k: getattr(auth, k) for k in ("authorize_url", "token_url", "userdata_url", "username_claim") if getattr(auth, k)})
    config[_AUTH_CLASS[auth.kind]] = oauth
    return config


def _services(services: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, service in services.items():
        if "apiToken" in service or service.get("api_token") is None:
            raise ValueError(f"hub service {name!r}: set api_token explicitly (else z2jh generates it with Helm lookup)")
        if service.get("admin"):
            raise ValueError(f"hub service {name!r}: admin services are deprecated; grant scopes with load_roles")
        out[name] = {"name": name, **service}
    return out


def _roles(load_roles: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    for name, role in load_roles.items():
        if not role.get("scopes"):
            raise ValueError(f"role {name!r} needs scopes")
    return {name: dict(role) for name, role in load_roles.items()}


def network_policy(settings: SpyglassHubSettings) -> dict[str, Any]:
    """`singleuser.networkPolicy`: user pods accept only the hub and proxy, and reach no other pod.

    z2jh's default already lets in only pods labelled
    hub.jupyter.org/network-access-singleuser (hub, proxy) on the notebook port,
    and denies egress to private IPs; but it trusts labelled pods from other
    namespaces when interNamespaceAccessLabels is 'accept', and its
    nonPrivateIPs rule (0.0.0.0/0 minus RFC 1918) lets a user pod reach every
    other pod when the cluster's pod CIDR is not RFC 1918 (e.g. 100.64.0.0/10).
    We pin every pod-to-pod door shut explicitly, so a defaults change or a
    merged values file cannot reopen one, and carve such CIDRs out of internet
    egress. The sidecar's loopback binding is the real wall; this policy is
    the second one (and needs a CNI that enforces NetworkPolicy).
    """
    carve_out = settings.internet_egress and bool(settings.non_private_cluster_cidrs)
    egress = []
    if carve_out:
        excepts = [*PRIVATE_RANGES, CLOUD_METADATA, *settings.non_private_cluster_cidrs]
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]})
    return {
        "enabled": True,
        "ingress": [],
        "allowedIngressPorts": [],
        "interNamespaceAccessLabels": "ignore",
        "egress": egress,
        "egressAllowRules": {
            "cloudMetadataServer": False,
            "dnsPortsCloudMetadataServer": True,
            "dnsPortsKubeSystemNamespace": True,
            "dnsPortsPrivateIPs": True,
            "nonPrivateIPs": settings.internet_egress and not carve_out,
            "privateIPs": False,
        },
    }


def mysql_pod_wiring(settings: SpyglassHubSettings) -> dict[str, Any]:
    """The `singleuser` keys that add the sidecar: containers, volumes, the notebook's env and client file."""
    side = settings.mysql
    if side.persistence:
        data_mount = {"name": HOME_VOLUME_NAME_TEMPLATE, "subPath": side.data_subpath}
        init_containers = [sidecar.mysql_data_init_container(side, HOME_VOLUME_NAME_TEMPLATE)]
    else:
        data_mount = {"name": sidecar.DATA_VOLUME}
        init_containers = []
    volumes: dict[str, Any] = {
        sidecar.CONFIG_VOLUME: {
            "name": sidecar.CONFIG_VOLUME,
            "configMap": {"name": side.config_map_name, "items": [{"key": sidecar.SERVER_CNF_KEY, "path": sidecar.SERVER_CNF_KEY}], "defaultMode": 0o444},
        },
        # 0444: both the sidecar (uid 999) and the notebook read it; the password is the user's own (also DJ_PASS).
        sidecar.SECRET_VOLUME: {
            "name": sidecar.SECRET_VOLUME,
            "secret": {
                "secretName": side.secret_name,
                "items": [{"key": k, "path": k} for k in (sidecar.CLIENT_CNF_KEY, sidecar.INIT_SQL_KEY)],
                "defaultMode": 0o444,
            },
        },
    }
    if not side.persistence:
        volumes[sidecar.DATA_VOLUME] = {"name": sidecar.DATA_VOLUME, "emptyDir": {"sizeLimit": side.ephemeral_size_limit} if side.ephemeral_size_limit else {}}
    return {
        "extraContainers": [sidecar.mysql_sidecar_container(side, data_mount)],
        "initContainers": init_containers,
        "extraVolumes": sidecar.escape_kubespawner_template(volumes),
        "extraVolumeMounts": sidecar.escape_kubespawner_template({
            "labhub-mysql-client": {"name": sidecar.SECRET_VOLUME, "mountPath": NOTEBOOK_CLIENT_CNF_PATH, "subPath": sidecar.CLIENT_CNF_KEY, "readOnly": True},
        }),
        "extraEnv": {
            "DJ_HOST": sidecar.LOOPBACK,
            "DJ_USER": "root",
            "DJ_PASS": {"valueFrom": {"secretKeyRef": {"name": side.secret_name, "key": sidecar.ROOT_PASSWORD_KEY}}},
        },
    }


def _number(cpu: str | int | float) -> float | int:
    value = parse_cpu_quantity(cpu)
    return int(value) if value == int(value) else float(value)  # the schema wants a JSON number


def spyglass_hub_values(
    settings: SpyglassHubSettings,
    *,
    proxy_token: Any,
    cookie_secret: Any,
    crypt_keeper_keys: Any,
    oauth_client_secret: Any = None,
    services: Mapping[str, Mapping[str, Any]] | None = None,
    load_roles: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The z2jh values. Tokens (str or pulumi Output[str]) are placed at `CREDENTIAL_VALUE_PATHS`.

    crypt_keeper_keys: a list of keys (newest first), or a single key.
    services: name -> {url, api_token, oauth_redirect_uri, ...}; load_roles: name -> {scopes, services, ...}.
    """
    config = _auth_config(settings.auth, settings.url, oauth_client_secret)
    config.setdefault("JupyterHub", {})["cookie_secret"] = cookie_secret
    config["ConfigurableHTTPProxy"] = {"auth_token": proxy_token}
    config["CryptKeeper"] = {"keys": list(crypt_keeper_keys) if isinstance(crypt_keeper_keys, (list, tuple)) else [crypt_keeper_keys]}
    base, at, digest = settings.singleuser_image.partition("@")
    image_name, _, image_tag = base.rpartition(":")
    image_tag += at + digest  # z2jh joins name:tag, so "tag@sha256:..." keeps a digest pin
    storage: dict[str, Any] = {"type": settings.storage_type, "homeMountPath": HOME_MOUNT_PATH}
    if settings.storage_type == "dynamic":
        storage["capacity"] = settings.storage_capacity
        storage["dynamic"] = {"volumeNameTemplate": HOME_VOLUME_NAME_TEMPLATE, "storageClass": settings.storage_class}
    wiring = mysql_pod_wiring(settings)
    storage["extraVolumes"] = wiring.pop("extraVolumes")
    storage["extraVolumeMounts"] = wiring.pop("extraVolumeMounts")
    annotations = dict(settings.ingress_annotations)
    if settings.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = settings.cluster_issuer
    ingress: dict[str, Any] = {"enabled": True, "hosts": [settings.host], "annotations": annotations, "ingressClassName": settings.ingress_class_name}
    if settings.tls_secret_name:
        ingress["tls"] = [{"hosts": [settings.host], "secretName": settings.tls_secret_name}]
    # baseUrl is the chart default, set because the schema requires it wherever `hub` is given.
    hub: dict[str, Any] = {"baseUrl": "/", "config": config, "resources": settings.hub_resources}
    if services:
        hub["services"] = _services(services)
    if load_roles:
        hub["loadRoles"] = _roles(load_roles)
    cull = settings.cull
    return {
        "hub": hub,
        # Only the ingress is public: the chart's default LoadBalancer would expose the proxy a second time.
        "proxy": {"service": {"type": "ClusterIP"}},
        "ingress": ingress,
        "cull": {"enabled": cull.enabled, "timeout": cull.timeout, "every": cull.every, "maxAge": cull.max_age},
        "singleuser": {
            "image": {"name": image_name, "tag": image_tag},
            "defaultUrl": settings.default_url,
            "memory": {"limit": settings.memory_limit, "guarantee": settings.memory_guarantee},
            "cpu": {"limit": _number(settings.cpu_limit), "guarantee": _number(settings.cpu_guarantee)},
            "storage": storage,
            "networkPolicy": network_policy(settings),
            **wiring,
        },
    }
