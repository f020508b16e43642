"""SpyglassHub: a z2jh release in which every user pod gets its own MySQL 8 sidecar.

Deploys, in the hub's namespace: the mysqld config as a ConfigMap, and the
pinned z2jh chart as a `kubernetes.helm.v4.Chart` whose values come from
`components.spyglass_values` (sidecar, authenticator, ingress, culling,
network policy, generated tokens). It does not create the namespace or the
credentials: __main__ makes the namespace, StackSecrets the Secrets.

Why helm.v4.Chart and not helm.v3.Release: Chart renders the chart and lets
Pulumi manage every object, so `pulumi preview` diffs each Deployment,
ConfigMap and Secret of the hub (a Release shows one opaque values blob,
marked secret as a whole because it holds the hub tokens), and the policy
pack sees every rendered object, not just the values. The cost: Chart does
not run Helm hooks, so the chart's hook image puller is switched off (the
continuous puller stays on) and `helm list` does not show the release.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pydantic import ValidationError

from components import mysql_sidecar
from components.config import SpyglassHubConfig
from components.labels import standard_labels
from components.spyglass_values import AuthSettings, CullSettings, SpyglassHubSettings, spyglass_hub_values
from components.stack_secrets import StackSecrets

CHART_NAME = "jupyterhub"
MYSQL_CONFIG_MAP = "spyglass-mysql-config"


def hub_settings(config: SpyglassHubConfig, mysql_secret_name: str = "spyglass-mysql") -> SpyglassHubSettings:
    """Map the stack config onto the pure values builder's settings (ValueError if they conflict)."""
    auth = config.auth
    single = config.singleuser
    mysql = config.mysql
    try:
        return SpyglassHubSettings(
            host=config.host,
            tls_secret_name=(config.tls.secret_name or f"{config.release_name}-tls") if config.tls.enabled else None,
            cluster_issuer=config.tls.cluster_issuer if config.tls.enabled else None,
            ingress_class_name=config.ingress_class_name,
            auth=AuthSettings(
                kind=auth.type,
                client_id=auth.client_id,
                authorize_url=auth.authorize_url,
                token_url=auth.token_url,
                userdata_url=auth.userdata_url,
                username_claim=auth.username_claim,
                scope=tuple(auth.scope),
                allowed_users=tuple(auth.allowed_users),
                allowed_organizations=tuple(auth.allowed_organizations),
                admin_users=tuple(auth.admin_users),
            ),
            singleuser_image=single.image,
            default_url=single.default_url,
            storage_type=single.storage.type,
            storage_capacity=single.storage.capacity,
            storage_class=single.storage.storage_class,
            memory_limit=single.memory_limit,
            memory_guarantee=single.memory_guarantee,
            cpu_limit=single.cpu_limit,
            cpu_guarantee=single.cpu_guarantee,
            internet_egress=config.network.internet_egress,
            non_private_cluster_cidrs=tuple(config.network.non_private_cluster_cidrs),
            cull=CullSettings(enabled=config.cull.enabled, timeout=config.cull.timeout, every=config.cull.every, max_age=config.cull.max_age),
            mysql=mysql_sidecar.MySQLSidecarSettings(
                secret_name=mysql_secret_name,
                config_map_name=MYSQL_CONFIG_MAP,
                image=mysql.image,
                memory_limit=mysql.memory_limit,
                cpu_limit=mysql.cpu_limit,
                memory_request=mysql.memory_request,
                cpu_request=mysql.cpu_request,
                persistence=mysql.persistence.enabled,
            ),
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(str(first["msg"]).removeprefix("Value error, ")) from None


@dataclass(frozen=True)
class SpyglassHubArgs:
    """Everything the hub needs: its config section, where it lives, and its credentials by reference."""

    config: SpyglassHubConfig
    namespace: pulumi.Input[str]
    secrets: StackSecrets
    oauth_client_secret: pulumi.Output[str] | None = None
    # Hub services (name -> z2jh service, api_token may be an Output) and their roles.
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    load_roles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class SpyglassHub(pulumi.ComponentResource):
    """The Spyglass hub: z2jh with a loopback-only MySQL sidecar per user."""

    mysql_config: k8s.core.v1.ConfigMap
    chart: k8s.helm.v4.Chart
    url: str

    def __init__(self, name: str, args: SpyglassHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:SpyglassHub", name, None, opts)
        config = args.config
        secrets = args.secrets
        if secrets.mysql_secret is None or secrets.proxy_token is None:
            raise ValueError("SpyglassHub needs StackSecrets generated with spyglass_namespace set")
        self.url = config.url
        settings = hub_settings(config)
        child = pulumi.ResourceOptions(parent=self)

        # mysqld's own settings (loopback bind, buffer pool sized to the limit): not secret.
        self.mysql_config = k8s.core.v1.ConfigMap(
            f"{name}-mysql-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=MYSQL_CONFIG_MAP, namespace=args.namespace, labels=standard_labels(MYSQL_CONFIG_MAP, "mysql-sidecar")
            ),
            data={mysql_sidecar.SERVER_CNF_KEY: mysql_sidecar.mysqld_config(settings.mysql.sizing())},
            opts=child,
        )

        def values(resolved: list[Any]) -> dict[str, Any]:
            secret_name, config_map_name, proxy_token, cookie_secret, crypt_key, client_secret = resolved
            wired = settings.model_copy(
                update={"mysql": settings.mysql.model_copy(update={"secret_name": secret_name, "config_map_name": config_map_name})}
            )
            built = spyglass_hub_values(
                wired,
                proxy_token=proxy_token,
                cookie_secret=cookie_secret,
                crypt_keeper_keys=[crypt_key],
                oauth_client_secret=client_secret,
                services=args.services,
                load_roles=args.load_roles,
            )
            # helm.v4.Chart runs no Helm hooks: pull images continuously instead of in a pre-upgrade hook.
            built["prePuller"] = {"hook": {"enabled": False}, "continuous": {"enabled": True}}
            return built

        # The z2jh release itself; waits for the Secret and ConfigMap its pods mount.
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=config.release_name,
            chart=CHART_NAME,
            version=config.chart.version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=config.chart.repository),
            namespace=args.namespace,
            values=pulumi.Output.all(
                secrets.mysql_secret.metadata.name,
                self.mysql_config.metadata.name,
                secrets.proxy_token,
                secrets.cookie_secret,
                secrets.crypt_keeper_key,
                args.oauth_client_secret,
            ).apply(values),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secrets.mysql_secret, self.mysql_config]),
        )
        self.register_outputs({"url": self.url, "releaseName": config.release_name})
