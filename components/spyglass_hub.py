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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components import mysql_sidecar
from components.config import ConfigError
from components.labels import standard_labels
from components.models.lab_database import LabDatabaseConfig
from components.paper_environments import PaperImages
from components.models.spyglass_hub import SpyglassHubConfig
from components.spyglass_values import HubTokens, PaperProfile, spyglass_hub_values
from components.stack_secrets import SpyglassHubSecrets
from labhub.z2jh_schema import validate_z2jh_values

CHART_NAME = "jupyterhub"
_SCHEMA_PLACEHOLDER = "<generated>"  # stands in for each token while the values are checked against the schema


def check_values_schema(
    hub: SpyglassHubConfig,
    services: Mapping[str, Mapping[str, Any]],
    load_roles: Mapping[str, Mapping[str, Any]],
    lab_database: LabDatabaseConfig | None = None,
    papers: Sequence[PaperImages] = (),
) -> None:
    """ConfigError naming every values path the chart's schema refuses, before anything is registered.

    The tokens are not known yet (they are Outputs), so placeholders stand in:
    the schema checks their place and type, not their value.
    """
    tokens = HubTokens(_SCHEMA_PLACEHOLDER, _SCHEMA_PLACEHOLDER, [_SCHEMA_PLACEHOLDER], _SCHEMA_PLACEHOLDER)
    profiles = [PaperProfile(p.paper, f"{_SCHEMA_PLACEHOLDER}:tag", f"{_SCHEMA_PLACEHOLDER}:tag") for p in papers]
    values = spyglass_hub_values(hub, tokens, services=services, load_roles=load_roles, lab_database=lab_database, papers=profiles)
    errors = validate_z2jh_values(values)
    if errors:
        raise ConfigError(f"labhub:spyglassHub: the z2jh {hub.chart.version} values schema refuses the values built from it:\n  " + "\n  ".join(errors))


@dataclass(frozen=True)
class SpyglassHubArgs:
    """Everything the hub needs: its config section, where it lives, and its credentials."""

    config: SpyglassHubConfig
    namespace: pulumi.Input[str]
    secrets: SpyglassHubSecrets
    # Hub services (name -> z2jh service, api_token may be an Output) and their roles.
    services: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    load_roles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    lab_database: LabDatabaseConfig | None = None  # the shared lab MySQL, when on: user pods may reach it
    papers: Sequence[PaperImages] = ()  # paper environments offered as profiles


class SpyglassHub(pulumi.ComponentResource):
    """The Spyglass hub: z2jh with a loopback-only MySQL sidecar per user."""

    mysql_config: k8s.core.v1.ConfigMap
    chart: k8s.helm.v4.Chart
    url: str

    def __init__(self, name: str, args: SpyglassHubArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:SpyglassHub", name, None, opts)
        hub = args.config
        secrets = args.secrets
        check_values_schema(hub, args.services, args.load_roles, args.lab_database, args.papers)
        self.url = hub.url
        child = pulumi.ResourceOptions(parent=self)

        # mysqld's own settings (loopback bind, buffer pool sized to the limit): not secret.
        self.mysql_config = k8s.core.v1.ConfigMap(
            f"{name}-mysql-config",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=hub.mysql_config_map_name, namespace=args.namespace, labels=standard_labels(hub.mysql_config_map_name, "mysql-sidecar")
            ),
            data={mysql_sidecar.SERVER_CNF_KEY: mysql_sidecar.mysqld_config(hub.mysql.sizing())},
            opts=child,
        )

        def values(resolved: list[Any]) -> dict[str, Any]:
            proxy_token, cookie_secret, crypt_key, client_secret, *images = resolved
            profiles = [PaperProfile(p.paper, images[2 * i], images[2 * i + 1]) for i, p in enumerate(args.papers)]
            return spyglass_hub_values(
                hub,
                HubTokens(proxy_token, cookie_secret, [crypt_key], client_secret),
                services=args.services,
                load_roles=args.load_roles,
                lab_database=args.lab_database,
                papers=profiles,
            )

        # The z2jh release itself; waits for the Secret and ConfigMap its pods mount.
        self.chart = k8s.helm.v4.Chart(
            f"{name}-chart",
            name=hub.release_name,
            chart=CHART_NAME,
            version=hub.chart.version,
            repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=hub.chart.repository),
            namespace=args.namespace,
            values=pulumi.Output.all(
                secrets.proxy_token,
                secrets.cookie_secret,
                secrets.crypt_keeper_key,
                secrets.oauth_client_secret,
                *[image for p in args.papers for image in (p.notebook_image, p.database_image)],
            ).apply(values),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[secrets.mysql_secret, self.mysql_config]),
        )
        self.register_outputs({"url": self.url, "releaseName": hub.release_name})
