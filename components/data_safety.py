"""Objects whose deletion deletes the lab's data are protected: Pulumi refuses to delete or replace them.

Deleting a Namespace deletes every PersistentVolumeClaim in it (users' home
folders and their MySQL data in the hub's namespace, the lab MySQL's volume,
XNAT's archive and workspaces, backup archives), and with the usual
`Delete` reclaim policy their volumes go too. A changed namespace name, a
component switched off or a `pulumi destroy` would do that in one step.
With `protect`, `pulumi preview` and `pulumi up` stop with "unable to delete
protected resource" instead; deleting on purpose takes an explicit
`pulumi state unprotect <urn>` first (README, "Removing what holds data").
StatefulSets need nothing: Kubernetes keeps their claims when they are
deleted (no `persistentVolumeClaimRetentionPolicy` is set).
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.labels import standard_labels

HOLDS_DATA = pulumi.ResourceOptions(protect=True)


def protected_namespace(resource_name: str, name: str, opts: pulumi.ResourceOptions | None = None) -> k8s.core.v1.Namespace:
    """A namespace labhub creates, with the standard labels, protected because its claims go with it."""
    return k8s.core.v1.Namespace(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, labels=standard_labels(name, "namespace")),
        opts=pulumi.ResourceOptions.merge(opts, HOLDS_DATA),
    )
