"""The `app.kubernetes.io/*` labels every labhub object carries, so `kubectl get -l` finds them."""

from __future__ import annotations

PART_OF = "labhub"
MANAGED_BY = "pulumi"


def standard_labels(name: str, component: str) -> dict[str, str]:
    """Recommended Kubernetes labels for one labhub object."""
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
