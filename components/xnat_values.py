"""The z2jh values of the XNAT hub, built as plain data (no Pulumi) from its config model.

What the values wire up, and why each piece is where it is:
- the XNAT module (labhub/xnat/xnat_jupyterhub.py) ships as `hub.extraFiles` at
  /usr/local/etc/jupyterhub/, beside z2jh's jupyterhub_config.py, which puts that
  folder on sys.path; `hub.config` names its authenticator and one
  `hub.extraConfig` snippet sets its pre-spawn hook (a function, which YAML
  cannot name);
- its settings reach it as the JH_XNAT_* variables XNAT sites know, the hub
  account's password by reference to a Secret, never inline;
- `hub.db` is postgres with a password-free URL; the hub reads the password as
  PGPASSWORD, the variable z2jh would set from `hub.db.password`, but straight
  from the Postgres Secret (`hub.extraEnv`), so it is in neither the values nor
  the Helm release;
- the `xnat` service gets only the scopes of the hub API calls XNAT's plugin
  makes (anchors §2.6); its token and the hub's own tokens are set explicitly
  (`XnatHubTokens`), so a rendered chart keeps them stable;
- the hub's network policy lets it reach XNAT, its Postgres, the Kubernetes API
  and DNS, and nothing else; user servers may reach XNAT too (XNAT_HOST).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.fields import split_image
from components.models.xnat_hub import ACCOUNT_PASSWORD_KEY, POSTGRES_PASSWORD_KEY, XnatConnection, XnatHubConfig
from labhub.xnat import AUTHENTICATOR_CLASS, HUB_EXTRA_CONFIG, HUB_MODULE, MOUNT_PATH

SERVICE_NAME = "xnat"
# What XNAT's DefaultJupyterHubClient calls: /info (read:hub), /users[/{u}] (admin:users),
# /users/{u}/server[s/{name}] (admin:servers), /users/{u}/tokens[/{id}] (tokens), and it
# sends users to their servers (access:servers).
SERVICE_SCOPES = ("read:hub", "admin:users", "admin:servers", "tokens", "access:servers")
HOME_MOUNT_PATH = "/workspace/{unescaped_username}"
# z2jh's hub pod labels (app is the chart name): what the Postgres NetworkPolicy admits.
HUB_POD_LABELS = {"app": "jupyterhub", "component": "hub"}


@dataclass(frozen=True)
class XnatHubTokens:
    """The credentials the chart takes inline (at `Z2JH_CREDENTIAL_PATHS`), each a str once resolved."""

    proxy_token: Any
    cookie_secret: Any
    service_token: Any  # the `xnat` service's API token, which XNAT's plugin is given


def hub_pod_selector(hub: XnatHubConfig) -> dict[str, str]:
    return {**HUB_POD_LABELS, "release": hub.release_name}


def xnat_peers(xnat: XnatConnection) -> list[dict[str, Any]]:
    """NetworkPolicy peers that are XNAT: its pods (namespace + labels) and/or its address ranges."""
    peers: list[dict[str, Any]] = [{"ipBlock": {"cidr": cidr}} for cidr in xnat.cidrs]
    if xnat.namespace and xnat.pod_labels:
        peers.append({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": xnat.namespace}},
            "podSelector": {"matchLabels": dict(xnat.pod_labels)},
        })  # fmt: skip
    return peers


def hub_network_policy(hub: XnatHubConfig) -> dict[str, Any]:
    """`hub.networkPolicy`: z2jh's own rules (proxy API, user servers) plus XNAT, Postgres, the API server, DNS."""
    assert hub.xnat is not None
    external = hub.postgres.external
    postgres_peers = (
        [{"ipBlock": {"cidr": cidr}} for cidr in external.cidrs] if external else [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": hub.postgres_name}}}]
    )
    egress = [
        {"to": xnat_peers(hub.xnat), "ports": [{"protocol": "TCP", "port": hub.xnat.port}]},
        {"to": postgres_peers, "ports": [{"protocol": "TCP", "port": hub.postgres_port}]},
        {
            "to": [{"ipBlock": {"cidr": cidr}} for cidr in hub.network.kube_api_cidrs],
            "ports": [{"protocol": "TCP", "port": port} for port in hub.network.kube_api_ports],
        },
    ]
    return {
        "enabled": True,
        "interNamespaceAccessLabels": "ignore",
        "egress": egress,
        "egressAllowRules": {
            "cloudMetadataServer": False,
            "dnsPortsCloudMetadataServer": True,
            "dnsPortsKubeSystemNamespace": True,
            "dnsPortsPrivateIPs": True,
            "nonPrivateIPs": False,
            "privateIPs": False,
        },
    }


def hub_env(hub: XnatHubConfig) -> dict[str, Any]:
    """`hub.extraEnv`: the module's JH_XNAT_* settings; the account password by Secret reference."""
    xnat = hub.xnat
    assert xnat is not None
    env: dict[str, Any] = {
        "JH_XNAT_URL": xnat.url,
        "JH_XNAT_VERIFY_TLS": "true" if xnat.verify_tls else "false",
        "JH_XNAT_TIMEOUT": format(xnat.timeout, "g"),
        "JH_XNAT_USERNAME": xnat.hub_account,
        "JH_XNAT_PASSWORD": {"valueFrom": {"secretKeyRef": {"name": hub.xnat_account_secret_name, "key": ACCOUNT_PASSWORD_KEY}}},
        "JH_XNAT_ARCHIVE_PVC": xnat.archive_pvc,
        "JH_XNAT_ARCHIVE_PATH": xnat.archive_path,
        "JH_XNAT_WORKSPACE_PATH": xnat.workspace_path,
        # libpq reads it; z2jh sets the same variable when hub.db.password is given inline.
        "PGPASSWORD": {"valueFrom": {"secretKeyRef": {"name": hub.postgres_secret_name, "key": POSTGRES_PASSWORD_KEY}}},
    }
    if xnat.uid is not None:
        env.update({"JH_XNAT_UID": str(xnat.uid), "JH_XNAT_GID": str(xnat.gid)})
    return env


def xnat_hub_values(hub: XnatHubConfig, tokens: XnatHubTokens) -> dict[str, Any]:
    """The z2jh values of the XNAT hub; the tokens land at `Z2JH_CREDENTIAL_PATHS` and nowhere else."""
    xnat = hub.xnat
    if not hub.enabled or xnat is None or not hub.host:
        raise ValueError("xnat_hub_values needs an enabled xnatHub with host and xnat (the config model checks this)")
    image_name, image_tag = split_image(hub.default_image)
    annotations = dict(hub.ingress_annotations)
    if hub.tls.enabled and hub.tls.cluster_issuer:
        annotations["cert-manager.io/cluster-issuer"] = hub.tls.cluster_issuer
    ingress: dict[str, Any] = {"enabled": True, "hosts": [hub.host], "annotations": annotations, "ingressClassName": hub.ingress_class_name}
    if hub.tls_secret_name:
        ingress["tls"] = [{"hosts": [hub.host], "secretName": hub.tls_secret_name}]
    singleuser: dict[str, Any] = {
        "image": {"name": image_name, "tag": image_tag},
        "startTimeout": hub.start_timeout,
        "storage": {
            "type": "static",
            "static": {"pvcName": hub.workspaces_pvc, "subPath": hub.workspaces_sub_path},
            "homeMountPath": HOME_MOUNT_PATH,
        },
        # z2jh's defaults (hub and proxy in, internet out, no private IPs) plus XNAT, which notebooks call.
        "networkPolicy": {"enabled": True, "interNamespaceAccessLabels": "ignore", "egress": [{"to": xnat_peers(xnat), "ports": [{"protocol": "TCP", "port": xnat.port}]}]},
    }
    if xnat.uid is not None:  # run as the archive's owner, so read-only data mounts are readable
        singleuser.update({"uid": xnat.uid, "fsGid": xnat.gid})
    return {
        "hub": {
            "baseUrl": hub.base_url,
            "allowNamedServers": True,
            "db": {"type": "postgres", "url": hub.db_url, "upgrade": True},
            "config": {
                "JupyterHub": {"authenticator_class": AUTHENTICATOR_CLASS, "cookie_secret": tokens.cookie_secret},
                "ConfigurableHTTPProxy": {"auth_token": tokens.proxy_token},
                "KubeSpawner": {"http_timeout": hub.http_timeout, "working_dir": HOME_MOUNT_PATH},
            },
            "extraFiles": {"xnat-jupyterhub": {"mountPath": MOUNT_PATH, "stringData": HUB_MODULE.read_text(encoding="utf-8")}},
            "extraConfig": {"xnat-spawn-hook": HUB_EXTRA_CONFIG},
            "extraEnv": hub_env(hub),
            "services": {SERVICE_NAME: {"name": SERVICE_NAME, "api_token": tokens.service_token}},
            "loadRoles": {
                "xnat": {"description": "what XNAT's JupyterHub plugin does through the hub API", "services": [SERVICE_NAME], "scopes": list(SERVICE_SCOPES)}
            },
            "networkPolicy": hub_network_policy(hub),
            "resources": hub.hub_resources.manifest(),
        },
        # Only the ingress is public: the chart's default LoadBalancer would expose the proxy a second time.
        "proxy": {"service": {"type": "ClusterIP"}},
        "ingress": ingress,
        # XNAT picks each server's image; there is no fixed image to pull ahead (and helm.v4.Chart runs no hooks).
        "prePuller": {"hook": {"enabled": False}, "continuous": {"enabled": False}},
        "singleuser": singleuser,
    }
