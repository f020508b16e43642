"""What KubeSpawner does to `singleuser.extraContainers` and volumes before they reach Kubernetes.

Shared by the sidecar and values tests: both check that labhub's escaping of
literal braces survives KubeSpawner's template expansion.
"""

from __future__ import annotations

from typing import Any

# What KubeSpawner 7 passes to str.format for a user "test@lab" with the default server.
KUBESPAWNER_NS = {
    "userid": 7, "username": "test-40lab", "unescaped_username": "test@lab", "legacy_escape_username": "test-40lab",
    "escaped_username": "test-40lab", "servername": "", "unescaped_servername": "", "escaped_servername": "",
    "user_server": "test-40lab", "escaped_user_server": "test-40lab", "pod_name": "jupyter-test-40lab",
    "pvc_name": "claim-test-40lab", "namespace": "spyglass",
}  # fmt: skip


def expand(value: Any) -> Any:
    """KubeSpawner's `_expand_all`: str.format on every string value (dict keys untouched)."""
    if isinstance(value, str):
        return value.format(**KUBESPAWNER_NS)
    if isinstance(value, list):
        return [expand(v) for v in value]
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    return value
