"""What every z2jh release labhub deploys shares: the schema check before registration, the egress rules.

Both hubs (SpyglassHub, XnatHub) build their values with pure functions; these
two pieces are the same for both, so they live here once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.models.spyglass_hub import TlsConfig

# Stands in for each generated token while values are checked against the schema: the tokens
# are Outputs, unknown before the engine runs; the schema checks their place and type, not value.
SCHEMA_PLACEHOLDER = "<generated>"


def require_valid_values(section: str, chart_version: str, values: Mapping[str, Any]) -> None:
    """ConfigError naming every values path the chart's schema refuses (`section` is the stack-file key).

    Imported here, not at the top: the pure values builders import this module for
    `egress_allow_rules` and must not load Pulumi (ConfigError is a pulumi.RunError) or jsonschema.
    """
    from components.config import ConfigError
    from labhub.z2jh_schema import validate_z2jh_values

    errors = validate_z2jh_values(values)
    if errors:
        raise ConfigError(
            f"labhub:{section}: the z2jh {chart_version} values schema refuses the values built from it:\n  " + "\n  ".join(errors)
        )


def egress_allow_rules(*, non_private_ips: bool) -> dict[str, bool]:
    """z2jh's `egressAllowRules`, every switch set explicitly: DNS only, never the cloud metadata server or private IPs.

    Pinning each one (not leaving the chart defaults) means a defaults change in
    a chart upgrade or a merged values file cannot reopen a door.
    """
    return {
        "cloudMetadataServer": False,
        "dnsPortsCloudMetadataServer": True,
        "dnsPortsKubeSystemNamespace": True,
        "dnsPortsPrivateIPs": True,
        "nonPrivateIPs": non_private_ips,
        "privateIPs": False,
    }


def ingress_values(
    *, host: str, tls: TlsConfig, tls_secret_name: str | None, ingress_class_name: str | None, annotations: Mapping[str, str]
) -> dict[str, Any]:
    """z2jh's `ingress`: the one host, TLS from cert-manager when a ClusterIssuer is named."""
    merged = dict(annotations)
    if tls.enabled and tls.cluster_issuer:
        merged["cert-manager.io/cluster-issuer"] = tls.cluster_issuer
    ingress: dict[str, Any] = {"enabled": True, "hosts": [host], "annotations": merged, "ingressClassName": ingress_class_name}
    if tls_secret_name:
        ingress["tls"] = [{"hosts": [host], "secretName": tls_secret_name}]
    return ingress
