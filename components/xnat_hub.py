"""XnatHub: the JupyterHub an XNAT's JupyterHub plugin drives, with its Postgres.

Deploys, in the hub's namespace: the hub's Postgres (components.postgres; or
nothing, with an external server) and the pinned z2jh chart as a
`kubernetes.helm.v4.Chart` whose values come from `components.xnat_values`
(XNAT login and spawn hook shipped as one file, postgres `hub.db`, the `xnat`
service and its role, the network policy). The namespace and the credentials
come from __main__ and StackSecrets. XNAT's own objects (its archive and
workspaces PVCs) are XNAT's; the hub mounts them by name.

The outputs are what the XNAT admin types into the plugin's settings: the hub
URL, the hub API URL, the service token (secret) and the hub's XNAT account.
See docs/xnat.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart_values import SCHEMA_PLACEHOLDER, require_valid_values
from components.models.xnat_hub import POSTGRES_CLIENT_LABEL, XnatHubConfig
from components.postgres import Postgres, PostgresArgs
from components.stack_secrets import XnatHubSecrets
from components.xnat_values import XnatHubTokens, hub_pod_selector, xnat_hub_values
from components.z2jh_chart import z2jh_chart


def check_values_schema(hub: XnatHubConfig) -> None:
    """ConfigError naming every values path the chart's schema refuses, before anything is registered."""
    placeholder = XnatHubTokens(*[SCHEMA_PLACEHOLDER] * 3)
    require_valid_values("xnatHub", hub.chart.version, xnat_hub_values(hub, placeholder))


@dataclass(frozen=True)
class XnatHubArgs:
    config: XnatHubConfig
    namespace: pulumi.Input[str]
    secrets: XnatHubSecrets
    # Admit this namespace's pods labelled POSTGRES_CLIENT_LABEL to the Postgres: the Backups dump and ensure-role pods.
    postgres_backup_clients: bool = False


class XnatHub(pulumi.ComponentResource):
    """z2jh for XNAT: XNAT login, XNAT-chosen servers with read-only archive mounts, state in Postgres."""

    postgres: Postgres
    chart: k8s.helm.v4.Chart
    url: str
    api_url: str
    service_token: pulumi.Output[str]
    xnat_account: str
    xnat_password: pulumi.Output[str]

    def __init__(self, name: str, args: XnatHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:XnatHub", name, None, opts)
        hub, secrets = args.config, args.secrets
        if not hub.enabled or hub.xnat is None:
            raise ValueError("XnatHub needs an enabled xnatHub config")
        check_values_schema(hub)
        self.url, self.api_url = hub.url, hub.api_url
        self.service_token = pulumi.Output.secret(secrets.service_token)
        self.xnat_password = pulumi.Output.secret(secrets.account_password)
        self.xnat_account = hub.xnat.hub_account

        self.postgres = Postgres(
            f"{name}-postgres",
            PostgresArgs(
                config=hub.postgres,
                name=hub.postgres_name,
                namespace=args.namespace,
                secret_name=secrets.postgres_secret.metadata.name,
                client_selector=hub_pod_selector(hub),
                more_client_selectors=({POSTGRES_CLIENT_LABEL: "true"},) if args.postgres_backup_clients else (),
            ),  # fmt: skip
            opts=pulumi.ResourceOptions(parent=self),
        )

        def values(resolved: list[Any]) -> dict[str, Any]:
            return xnat_hub_values(hub, XnatHubTokens(*resolved))

        self.chart = z2jh_chart(
            f"{name}-chart",
            release_name=hub.release_name,
            source=hub.chart,
            namespace=args.namespace,
            values=pulumi.Output.all(secrets.proxy_token, secrets.cookie_secret, secrets.service_token).apply(values),
            # The hub starts once its database and the Secrets it reads its passwords from exist.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secrets.postgres_secret, secrets.account_secret, self.postgres]),
        )
        self.register_outputs({"url": self.url, "apiUrl": self.api_url, "xnatAccount": self.xnat_account})
