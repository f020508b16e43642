"""The z2jh chart as a `helm.v4.Chart`: how both hubs (SpyglassHub, XnatHub) deploy their release."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.models.spyglass_hub import ChartSource

CHART_NAME = "jupyterhub"


def z2jh_chart(
    resource_name: str,
    *,
    release_name: str,
    source: ChartSource,
    namespace: pulumi.Input[str],
    values: pulumi.Input[dict[str, Any]],
    opts: pulumi.ResourceOptions,
) -> k8s.helm.v4.Chart:
    """The pinned chart, rendered by Pulumi so every object is diffed and seen by the policy pack (no Helm hooks)."""
    return k8s.helm.v4.Chart(
        resource_name,
        name=release_name,
        chart=CHART_NAME,
        version=source.version,
        repository_opts=k8s.helm.v4.RepositoryOptsArgs(repo=source.repository),
        namespace=namespace,
        values=values,
        opts=opts,
    )
