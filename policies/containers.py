"""Where containers, env vars and command lines live in the resources labhub makes.

Two shapes carry containers: Kubernetes workloads (the pod spec sits at a
kind-specific path) and Helm chart values (z2jh `singleuser.extraContainers`,
`hub.extraContainers`, `singleuser.initContainers`, and any other chart's
sidecars). Charts are searched generically: any mapping with a string `name` and
a string `image` is a container, wherever it sits, because KubeSpawner accepts
extra containers as a list or a dict and other charts nest them freely. Env
comes as the Kubernetes list (`[{name, value|valueFrom}]`) or as z2jh's
`extraEnv` dict (`NAME: value` or `NAME: {valueFrom: ...}`).

All functions yield paths from the resource's property root, so messages can
name the exact property to fix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from policies.matching import Path, children, get, is_list, is_mapping, walk
from policies.resource_types import CHART_TYPES

# Kind -> where its pod spec sits (Patch variants have the same shape).
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "PodTemplate": ("template", "spec"),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")
# Keys whose value is (part of) a command line: containers, exec probes and hooks, z2jh `singleuser.cmd`.
COMMAND_KEYS = ("command", "args", "cmd", "extraArgs")

_K8S_TYPE_RE = re.compile(r"^kubernetes:[\w.-]+/v\w+:(?P<kind>\w+?)(?:Patch)?$")


def is_chart(resource_type: str) -> bool:
    return resource_type in CHART_TYPES


def workload_kind(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; None if the type carries no pod spec."""
    match = _K8S_TYPE_RE.match(resource_type)
    if match and match["kind"] in POD_SPEC_PATHS:
        return match["kind"]
    return None


def pod_spec(resource_type: str, props: Any) -> tuple[Path, Any] | None:
    kind = workload_kind(resource_type)
    if kind is None:
        return None
    path = POD_SPEC_PATHS[kind]
    spec = get(props, *path)
    return (path, spec) if is_mapping(spec) else None


def is_container(node: Any) -> bool:
    return is_mapping(node) and isinstance(get(node, "name"), str) and isinstance(get(node, "image"), str)


def containers(resource_type: str, props: Any) -> Iterator[tuple[Path, Any]]:
    """Every container of a workload, or every container-shaped mapping in a chart's values."""
    if is_chart(resource_type):
        for path, node in walk(get(props, "values"), ("values",)):
            if is_container(node):
                yield path, node
        return
    found = pod_spec(resource_type, props)
    if found is None:
        return
    path, spec = found
    for list_key in CONTAINER_LISTS:
        for index, container in children(get(spec, list_key)):
            if is_mapping(container):
                yield path + (list_key, index), container


def env_entries(node: Any, path: Path) -> Iterator[tuple[str, Path, Any]]:
    """(name, path of the value, value) for a k8s env list or a z2jh extraEnv dict.

    The value is a string (a literal) or a mapping (`valueFrom`); entries in
    list form report the path of their `value` field.
    """
    if is_list(node):
        for index, entry in children(node):
            name = get(entry, "name")
            if not isinstance(name, str):
                continue
            for field in ("value", "valueFrom"):
                value = get(entry, field)
                if value is not None:
                    yield name, path + (index, field), value if field == "value" else {field: value}
    elif is_mapping(node):
        for name, entry in children(node):
            if isinstance(entry, str):
                yield str(name), path + (name,), entry
            elif is_mapping(entry):
                literal = get(entry, "value")
                if isinstance(literal, str):
                    yield str(name), path + (name, "value"), literal
                else:
                    yield str(name), path + (name,), entry


def all_env(resource_type: str, props: Any) -> Iterator[tuple[str, Path, Any]]:
    """Env of every container, plus every chart-level `extraEnv` (z2jh hub, singleuser, proxy...)."""
    for path, container in containers(resource_type, props):
        yield from env_entries(get(container, "env"), path + ("env",))
    if is_chart(resource_type):
        for path, node in walk(get(props, "values"), ("values",)):
            if path and path[-1] == "extraEnv":
                yield from env_entries(node, path)


def command_lines(resource_type: str, props: Any) -> Iterator[list[tuple[Path, str]]]:
    """Each command line as its (path, word) list; `command` and `args` of one mapping form one line.

    Covers containers, exec probes and lifecycle hooks (anything under the pod
    spec) and, in charts, every `command`/`args`/`cmd`/`extraArgs` in the values.
    """
    if is_chart(resource_type):
        root: Any = get(props, "values")
        root_path: Path = ("values",)
    else:
        found = pod_spec(resource_type, props)
        if found is None:
            return
        root_path, root = found
    for path, node in walk(root, root_path):
        if not is_mapping(node):
            continue
        words: list[tuple[Path, str]] = []
        for key in COMMAND_KEYS:
            value = get(node, key)
            if isinstance(value, str):
                words.append((path + (key,), value))
            elif is_list(value):
                words.extend((path + (key, i), w) for i, w in children(value) if isinstance(w, str))
        if words:
            yield words


def metadata_maps(props: Any) -> Iterator[tuple[Path, Any]]:
    """Every `annotations` and `labels` mapping in the properties (object, pod template, chart values)."""
    for path, node in walk(props):
        if path and path[-1] in ("annotations", "labels") and is_mapping(node):
            yield path, node


# A Kubernetes object name, optionally namespace/name: what `*-secret` annotations hold.
_OBJECT_NAME_RE = re.compile(r"([a-z0-9]([-a-z0-9]*[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]*[a-z0-9])?")


def names_a_secret_object(path: Path, value: Any) -> bool:
    """An annotation such as `nginx.ingress.kubernetes.io/auth-secret: basic-auth`: the name of a Secret, not its content."""
    if len(path) < 2 or path[-2] != "annotations" or not isinstance(path[-1], str) or "/" not in path[-1]:
        return False
    return path[-1].lower().endswith("secret") and isinstance(value, str) and bool(_OBJECT_NAME_RE.fullmatch(value))


def owned_paths(resource_type: str, props: Any) -> set[Path]:
    """Paths judged by the env, command-line and metadata rules, which the catch-all rules leave to them."""
    owned: set[Path] = {path for _, path, _ in all_env(resource_type, props)}
    owned |= {path for words in command_lines(resource_type, props) for path, _ in words}
    owned |= {path for path, _ in metadata_maps(props)}
    return owned


def under(path: Path, prefixes: set[Path]) -> bool:
    """Whether `path` is one of `prefixes` or below one."""
    return any(path[: len(p)] == p for p in prefixes)
