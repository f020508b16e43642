"""The security contexts labhub's own pods and containers run with, written once.

Every labhub workload meets the Kubernetes "restricted" Pod Security Standard
(non-root, no privilege escalation, all capabilities dropped, the runtime's
default seccomp profile); the few that cannot (the MySQL sidecar's chown init
container, the scratch server that starts as root) say why where they depart.
"""

from __future__ import annotations

from typing import Any


def restricted_pod(uid: int, fs_group: bool = True) -> dict[str, Any]:
    """A pod `securityContext` that runs as `uid`:`uid`, with that group owning its volumes when `fs_group`.

    fsGroup matters wherever a container reads a Secret file of mode 0400/0440
    or writes a fresh volume: the kubelet gives such files to that group.
    """
    context: dict[str, Any] = {"runAsNonRoot": True, "runAsUser": uid, "runAsGroup": uid}
    if fs_group:
        context["fsGroup"] = uid
    context["seccompProfile"] = {"type": "RuntimeDefault"}
    return context


def restricted_container(read_only_root: bool = True) -> dict[str, Any]:
    """A container `securityContext`: no escalation, no capabilities, and (unless the image must write) a read-only root."""
    context: dict[str, Any] = {"allowPrivilegeEscalation": False}
    if read_only_root:
        context["readOnlyRootFilesystem"] = True
    context["capabilities"] = {"drop": ["ALL"]}
    return context
