"""The z2jh values of the Spyglass hub, built as plain data (no Pulumi) from the hub's config model.

`spyglass_hub_values` returns the dict the SpyglassHub component hands to the
pinned z2jh chart (4.4.0), from the hub's config section itself. It wires the
MySQL sidecar (components/mysql_sidecar.py) into the user pods, and sets every
token the chart would otherwise generate with Helm `lookup` (which a rendered
chart cannot do, so they would change on every update). The tokens are the
only credentials that enter this module (`HubTokens`): they are placed, never
read, at `CHART_CREDENTIAL_PATHS`; everything else that is secret reaches
containers by Secret reference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components import mysql_sidecar as sidecar
from components.fields import split_image
from components.models.lab_database import PORT as LAB_DB_PORT
from components.models.lab_database import LabDatabaseConfig
from components.models.paper_environments import PaperConfig
from components.models.spyglass_hub import AuthConfig, SpyglassHubConfig
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
_AUTH_CLASS = {"dummy": "DummyAuthenticator", "github": "GitHubOAuthenticator", "generic-oauth": "GenericOAuthenticator"}


@dataclass(frozen=True)
class HubTokens:
    """The credentials the chart takes inline (placed at `CHART_CREDENTIAL_PATHS`, never read).

    Each is a str once resolved, or anything else standing in for one (a test's
    sentinel, a schema check's placeholder).
    """

    proxy_token: Any
    cookie_secret: Any
    crypt_keeper_keys: list[Any]  # newest first
    oauth_client_secret: Any = None  # required when auth.type is not dummy


def _auth_config(auth: AuthConfig, url: str, client_secret: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"JupyterHub": {"authenticator_class": auth.type}}
    common = {k: list(v) for k, v in (("allowed_users", auth.allowed_users), ("admin_users", auth.admin_users)) if v}
    if auth.type == "dummy":
        # WARNING: DummyAuthenticator lets anyone log in as any user with any password. Config
        # allows it only on *.localhost without TLS (or with a deliberately named override).
        # With allowedUsers, only those names log in.
        config["Authenticator"] = {"allow_all": not auth.allowed_users, **common}
        return config
    if client_secret is None:
        raise ValueError(f"auth type {auth.type!r} needs the OAuth client secret")
    config["Authenticator"] = common
    oauth = {
        "client_id": auth.client_id,
        "client_secret": client_secret,
        "oauth_callback_url": auth.oauth_callback_url or f"{url}/hub/oauth_callback",
    }
    if auth.scope:
        oauth["scope"] = list(auth.scope)
    if auth.type == "github" and auth.allowed_organizations:
        oauth["allowed_organizations"] = list(auth.allowed_organizations)
    if auth.type == "generic-oauth":
        oauth.update({k: getattr(auth, k) for k in ("authorize_url", "token_url", "userdata_url", "username_claim") if getattr(auth, k)})
    config[_AUTH_CLASS[auth.type]] = oauth
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


def network_policy(hub: SpyglassHubConfig, lab_database: LabDatabaseConfig | None = None) -> dict[str, Any]:
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

    With the shared lab MySQL on, user pods may also reach it, and only it:
    its pods in its namespace, on its port (its own policy admits them back).
    """
    network = hub.network
    carve_out = network.internet_egress and bool(network.non_private_cluster_cidrs)
    egress = []
    if carve_out:
        excepts = [*PRIVATE_RANGES, CLOUD_METADATA, *network.non_private_cluster_cidrs]
        egress.append({"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": excepts}}]})
    if lab_database is not None:
        egress.append(lab_database_egress(lab_database))
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
            "nonPrivateIPs": network.internet_egress and not carve_out,
            "privateIPs": False,
        },
    }


def lab_database_egress(db: LabDatabaseConfig) -> dict[str, Any]:
    """The one egress rule to the shared lab MySQL: its pods, in its namespace, on its port."""
    return {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": db.namespace}}, "podSelector": {"matchLabels": {"app.kubernetes.io/name": db.name}}}],
        "ports": [{"protocol": "TCP", "port": LAB_DB_PORT}],
    }


@dataclass(frozen=True)
class PaperProfile:
    """A paper offered on the hub: its config and its two images, resolved (digests)."""

    paper: PaperConfig
    notebook_image: str
    database_image: str


def profile_list(hub: SpyglassHubConfig, papers: Sequence[PaperProfile]) -> list[dict[str, Any]]:
    """`singleuser.profileList`: the lab's own environment (default), then one profile per paper.

    A paper's profile swaps the notebook image for the paper's and the MySQL
    sidecar's image for the paper's database image; everything else about the
    sidecar (root password Secret, loopback bind, probes) is the hub's own. With
    persistent sidecar data, each paper gets its own data folder, so the export
    is loaded once per user and paper, never over the user's own database.
    """
    if not papers:
        return []
    profiles: list[dict[str, Any]] = [
        {"display_name": "Spyglass", "slug": "spyglass", "description": "The lab's Spyglass environment with your own database.", "default": True}
    ]
    for entry in papers:
        mysql = hub.mysql.model_copy(
            update={
                "image": entry.database_image,
                "persistence": hub.mysql.persistence.model_copy(update={"data_sub_path": f"{hub.mysql.persistence.data_sub_path}-paper-{entry.paper.name}"}),
            }
        )
        wiring = mysql_pod_wiring(hub.model_copy(update={"mysql": mysql}))
        # The paper's notebooks are in its image: open JupyterLab, not the lab's default (e.g. a git pull).
        override: dict[str, Any] = {"image": entry.notebook_image, "default_url": "/lab", "extra_containers": wiring["extraContainers"]}
        if wiring["initContainers"]:
            override["init_containers"] = wiring["initContainers"]
        profiles.append(
            {
                "display_name": entry.paper.display_name,
                "slug": f"paper-{entry.paper.name}",
                "description": "The paper's analysis environment, with its database preloaded (a Spyglass export).",
                "kubespawner_override": override,
            }
        )
    return profiles


def mysql_pod_wiring(hub: SpyglassHubConfig) -> dict[str, Any]:
    """The `singleuser` keys that add the sidecar: containers, volumes, the notebook's env and client file."""
    side = hub.mysql
    persistent = side.persistence.enabled
    if persistent:
        data_mount = {"name": HOME_VOLUME_NAME_TEMPLATE, "subPath": side.persistence.data_sub_path}
        init_containers = [sidecar.mysql_data_init_container(hub, HOME_VOLUME_NAME_TEMPLATE)]
    else:
        data_mount = {"name": sidecar.DATA_VOLUME}
        init_containers = []
    volumes: dict[str, Any] = {
        sidecar.CONFIG_VOLUME: {
            "name": sidecar.CONFIG_VOLUME,
            "configMap": {"name": hub.mysql_config_map_name, "items": [{"key": sidecar.SERVER_CNF_KEY, "path": sidecar.SERVER_CNF_KEY}], "defaultMode": 0o444},
        },
        # 0444: both the sidecar (uid 999) and the notebook read it; the password is the user's own (also DJ_PASS).
        sidecar.SECRET_VOLUME: {
            "name": sidecar.SECRET_VOLUME,
            "secret": {
                "secretName": hub.mysql_secret_name,
                "items": [{"key": k, "path": k} for k in (sidecar.CLIENT_CNF_KEY, sidecar.INIT_SQL_KEY)],
                "defaultMode": 0o444,
            },
        },
    }
    if not persistent:
        volumes[sidecar.DATA_VOLUME] = {"name": sidecar.DATA_VOLUME, "emptyDir": {"sizeLimit": side.ephemeral_size_limit}}
    return {
        "extraContainers": [sidecar.mysql_sidecar_container(hub, data_mount)],
        "initContainers": init_containers,
        "extraVolumes": sidecar.escape_kubespawner_template(volumes),
        "extraVolumeMounts": sidecar.escape_kubespawner_template({
            "labhub-mysql-client": {"name": sidecar.SECRET_VOLUME, "mountPath": NOTEBOOK_CLIENT_CNF_PATH, "subPath": sidecar.CLIENT_CNF_KEY, "readOnly": True},
        }),
        "extraEnv": {
            "DJ_HOST": sidecar.LOOPBACK,
            "DJ_USER": "root",
            "DJ_PASS": {"valueFrom": {"secretKeyRef": {"name": hub.mysql_secret_name, "key": sidecar.ROOT_PASSWORD_KEY}}},
        },
    }


def _number(cpu: str) -> float | int:
    value = parse_cpu_quantity(cpu)
    return int(value) if value == int(value) else float(value)  # the schema wants a JSON number


def spyglass_hub_values(
    hub: SpyglassHubConfig,
    tokens: HubTokens,
    *,
    services: Mapping[str, Mapping[str, Any]] | None = None,
    load_roles: Mapping[str, Mapping[str, Any]] | None = None,
    lab_database: LabDatabaseConfig | None = None,
    papers: Sequence[PaperProfile] = (),
) -> dict[str, Any]:
    """The z2jh values of one Spyglass hub; the tokens land at `CHART_CREDENTIAL_PATHS` and nowhere else.

    services: name -> {url, api_token, oauth_redirect_uri, ...}; load_roles: name -> {scopes, services, ...}.
    """
    config = _auth_config(hub.auth, hub.url, tokens.oauth_client_secret)
    config.setdefault("JupyterHub", {})["cookie_secret"] = tokens.cookie_secret
    config["ConfigurableHTTPProxy"] = {"auth_token": tokens.proxy_token}
    config["CryptKeeper"] = {"keys": list(tokens.crypt_keeper_keys)}
    image_name, image_tag = split_image(hub.singleuser.image)
    single = hub.singleuser
    storage: dict[str, Any] = {"type": single.storage.type, "homeMountPath": HOME_MOUNT_PATH}
    if single.storage.type == "dynamic":
        storage["capacity"] = single.storage.capacity
        storage["dynamic"] = {"volumeNameTemplate": HOME_VOLUME_NAME_TEMPLATE, "storageClass": single.storage.storage_class}
    wiring = mysql_pod_wiring(hub)
    storage["extraVolumes"] = wiring.pop("extraVolumes")
    storage["extraVolumeMounts"] = wiring.pop("extraVolumeMounts")
    annotations = dict(hub.ingress_annotations)
    if hub.tls.enabled and hub.tls.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = hub.tls.cluster_issuer
    ingress: dict[str, Any] = {"enabled": True, "hosts": [hub.host], "annotations": annotations, "ingressClassName": hub.ingress_class_name}
    if hub.tls_secret_name:
        ingress["tls"] = [{"hosts": [hub.host], "secretName": hub.tls_secret_name}]
    # baseUrl is the chart default, set because the schema requires it wherever `hub` is given.
    hub_values: dict[str, Any] = {"baseUrl": "/", "config": config, "resources": hub.hub_resources.manifest()}
    if services:
        hub_values["services"] = _services(services)
    if load_roles:
        hub_values["loadRoles"] = _roles(load_roles)
    cull = hub.cull
    return {
        "hub": hub_values,
        # Only the ingress is public: the chart's default LoadBalancer would expose the proxy a second time.
        "proxy": {"service": {"type": "ClusterIP"}},
        "ingress": ingress,
        "cull": {"enabled": cull.enabled, "timeout": cull.timeout, "every": cull.every, "maxAge": cull.max_age},
        # helm.v4.Chart runs no Helm hooks: pull images continuously instead of in a pre-upgrade hook.
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": True}},
        "singleuser": {
            "image": {"name": image_name, "tag": image_tag},
            "defaultUrl": single.default_url,
            "memory": {"limit": single.memory_limit, "guarantee": single.memory_guarantee},
            "cpu": {"limit": _number(single.cpu_limit), "guarantee": _number(single.cpu_guarantee)},
            "storage": storage,
            "networkPolicy": network_policy(hub, lab_database),
            **wiring,
            **({"profileList": profile_list(hub, papers)} if papers else {}),
        },
    }
