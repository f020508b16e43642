"""NotebookTemplates: the SampleDB notebook templating server, run as a service of the Spyglass hub.

Deploys, in the hub's namespace: the server image (built from
docker/templates/Dockerfile with pulumi-docker and pushed, or a prebuilt one
from config), the templates from a directory of the operator's repository as
a ConfigMap, a Deployment and a Service. It does not register itself with
the hub: it exposes `hub_service` and `hub_role`, which __main__ hands to
SpyglassHub, because the service must be in the hub's values.

Changing a template changes the ConfigMap and the Deployment's
`labhub.io/templates-sha256` annotation, so `pulumi up` rolls the server.
SampleDB is pointed at it with the stack outputs `SAMPLEDB_JUPYTERHUB_URL`
and `SAMPLEDB_JUPYTERHUB_TEMPLATES_URL`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components import images
from components.config import ConfigError
from components.labels import standard_labels
from components.models.notebook_templates import K8S_NAME, SERVICE_NAME, NotebookTemplatesConfig
from components.pod_security import restricted_container, restricted_pod
from components.stack_secrets import TEMPLATES_API_TOKEN_KEY, TEMPLATES_SIGNING_KEY_KEY, NotebookTemplatesSecrets

PORT = 8080
TEMPLATES_MOUNT = "/srv/templates"
HEALTH_PATH = "/healthz"
SERVICE_PREFIX = f"/services/{SERVICE_NAME}/"
# Registered with the hub AND sent by the server's HubOAuth (JUPYTERHUB_OAUTH_CALLBACK_URL): the hub
# compares the two as plain strings, so one constant feeds both. Relative, as the hub's own default
# for a service when the hub does not use subdomains.
OAUTH_CALLBACK_URL = f"{SERVICE_PREFIX}oauth_callback"
RUN_AS = 10001  # the Dockerfile's USER
# The API server refuses a ConfigMap whose keys and values together exceed 1 MiB (1048576 bytes).
CONFIG_MAP_LIMIT = 1024 * 1024
# What the service may do through the hub API: find users' servers, start them, write into them.
SERVICE_SCOPES = ("read:users", "servers", "access:servers")
# What a user's OAuth token must carry for the server to accept it.
USER_ACCESS_SCOPE = f"access:services!service={SERVICE_NAME}"
DOCKERFILE = "docker/templates/Dockerfile"


@dataclass(frozen=True)
class TemplateFile:
    """One template: where it sits under the templates folder, and its bytes."""

    relative_path: str
    content: str

    @property
    def config_map_key(self) -> str:
        # ConfigMap keys allow only [-._a-zA-Z0-9]; template names may hold {param} and folders.
        return "tpl-" + hashlib.sha256(self.relative_path.encode()).hexdigest()[:20] + ".ipynb"


def read_templates(directory: Path) -> list[TemplateFile]:
    """Every .ipynb under `directory`, sorted; ValueError names what makes the folder unusable."""
    if not directory.is_dir():
        raise ValueError(f"templates folder {directory} does not exist")
    files = [
        TemplateFile(path.relative_to(directory).as_posix(), path.read_text(encoding="utf-8"))
        for path in sorted(directory.rglob("*.ipynb"))
        if ".ipynb_checkpoints" not in path.parts
    ]
    if not files:
        raise ValueError(f"templates folder {directory} holds no .ipynb files")
    size = sum(len(f.config_map_key.encode()) + len(f.content.encode()) for f in files)
    if size > CONFIG_MAP_LIMIT:
        largest = sorted(files, key=lambda f: -len(f.content.encode()))
        shown = ", ".join(f"{f.relative_path} ({len(f.content.encode())} bytes)" for f in largest[:10])
        more = f" and {len(files) - 10} more" if len(files) > 10 else ""
        raise ValueError(
            f"templates in {directory} take {size} bytes in their ConfigMap (keys included), over the {CONFIG_MAP_LIMIT} a ConfigMap "
            f"holds: {shown}{more}; shrink them (clear cell outputs) or move some out"
        )
    return files


def templates_digest(files: list[TemplateFile]) -> str:
    digest = hashlib.sha256()
    for f in files:
        digest.update(f.relative_path.encode() + b"\0" + f.content.encode() + b"\0")
    return digest.hexdigest()


def source_digest(project_dir: Path) -> str:
    """The server image's tag: changes exactly when a file its Dockerfile copies (or the Dockerfile) changes."""
    return images.source_digest(project_dir, DOCKERFILE)


@dataclass(frozen=True)
class NotebookTemplatesArgs:
    config: NotebookTemplatesConfig
    namespace: pulumi.Input[str]
    hub_url: str  # the hub's public URL, where users are sent to their notebook
    secrets: NotebookTemplatesSecrets
    project_dir: Path


class NotebookTemplates(pulumi.ComponentResource):
    """The templating server: image, templates ConfigMap, Deployment, Service."""

    image: pulumi.Output[str]
    templates: k8s.core.v1.ConfigMap
    deployment: k8s.apps.v1.Deployment
    service: k8s.core.v1.Service
    hub_service: dict[str, Any]
    hub_role: dict[str, Any]
    templates_url: str

    def __init__(self, name: str, args: NotebookTemplatesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:NotebookTemplates", name, None, opts)
        config = args.config
        child = pulumi.ResourceOptions(parent=self)
        try:
            files = read_templates(args.project_dir / config.templates_dir)
        except ValueError as error:  # the operator's folder: a config problem, reported as one line
            raise ConfigError(f"labhub:notebookTemplates.templatesDir: {error}") from None
        labels = standard_labels(K8S_NAME, "notebook-templates")
        self.templates_url = f"{args.hub_url}/services/{SERVICE_NAME}"

        # Built from this repository and pushed (the digest pins exactly what was built), or prebuilt.
        self.image = images.labhub_image(
            f"{name}-image", project_dir=args.project_dir, dockerfile=DOCKERFILE, repository="labhub-templates",
            tag=source_digest(args.project_dir) if not config.image else "", prebuilt=config.image, registry=config.registry, opts=child,
        )  # fmt: skip

        # The operator's templates, mounted read-only at their relative paths.
        self.templates = k8s.core.v1.ConfigMap(
            f"{name}-files",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=config.files_config_map_name, namespace=args.namespace, labels=labels),
            data={f.config_map_key: f.content for f in files},
            opts=child,
        )
        items = [{"key": f.config_map_key, "path": f.relative_path} for f in files]

        self.deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=K8S_NAME, namespace=args.namespace, labels=labels),
            spec=cast(k8s.apps.v1.DeploymentSpecArgsDict, _deployment_spec(args, labels, items, templates_digest(files), self.image, self.templates.metadata.name)),
            opts=child,
        )
        # What the hub's proxy routes /services/templates/ to.
        self.service = k8s.core.v1.Service(
            f"{name}-service",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=K8S_NAME, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector={"app.kubernetes.io/name": K8S_NAME},
                ports=[k8s.core.v1.ServicePortArgs(name="http", port=PORT, target_port="http")],
            ),
            opts=child,
        )
        self.hub_service = {
            SERVICE_NAME: {
                "url": f"http://{K8S_NAME}:{PORT}",
                "api_token": args.secrets.api_token,
                "oauth_redirect_uri": OAUTH_CALLBACK_URL,
                "oauth_no_confirm": True,
                "display": True,
            }
        }
        self.hub_role = {
            "notebook-templates": {"description": "create notebooks in users' servers", "services": [SERVICE_NAME], "scopes": list(SERVICE_SCOPES)},
            # Every user may log in to the service (JupyterHub's default user role is only "self").
            "user": {"description": "default user permissions, plus the templating service", "scopes": ["self", USER_ACCESS_SCOPE]},
        }
        self.register_outputs({"templatesUrl": self.templates_url, "image": self.image})


def _deployment_spec(
    args: NotebookTemplatesArgs,
    labels: dict[str, str],
    items: list[dict[str, str]],
    digest: str,
    image: pulumi.Output[str],
    config_map_name: pulumi.Output[str],
) -> dict[str, Any]:
    config = args.config
    secret_name = args.secrets.secret.metadata.name
    prefix = SERVICE_PREFIX
    env = [
        {"name": "JUPYTERHUB_API_URL", "value": "http://hub:8081/hub/api"},
        {"name": "JUPYTERHUB_CLIENT_ID", "value": f"service-{SERVICE_NAME}"},
        {"name": "JUPYTERHUB_SERVICE_PREFIX", "value": prefix},
        {"name": "JUPYTERHUB_OAUTH_CALLBACK_URL", "value": OAUTH_CALLBACK_URL},
        {"name": "JUPYTERHUB_OAUTH_ACCESS_SCOPES", "value": json.dumps([USER_ACCESS_SCOPE])},
        {"name": "JUPYTERHUB_API_TOKEN", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": TEMPLATES_API_TOKEN_KEY}}},
        {"name": "LABHUB_TEMPLATES_SECRET_KEY", "valueFrom": {"secretKeyRef": {"name": secret_name, "key": TEMPLATES_SIGNING_KEY_KEY}}},
    ]
    pod_labels = {
        **labels,
        # z2jh's network policies admit only labelled pods to the hub API and the proxy.
        "hub.jupyter.org/network-access-hub": "true",
        "hub.jupyter.org/network-access-proxy-http": "true",
    }
    probe = {"httpGet": {"path": HEALTH_PATH, "port": "http"}, "periodSeconds": 10, "timeoutSeconds": 3}
    mounts: list[dict[str, Any]] = [{"name": "templates", "mountPath": TEMPLATES_MOUNT, "readOnly": True}]
    volumes: list[dict[str, Any]] = [{"name": "templates", "configMap": {"name": config_map_name, "items": items}}]
    run_as = RUN_AS
    if config.homes_mount:
        # filesystem mode: the users' homes, written as their owner so notebooks are theirs.
        mounts.append({"name": "homes", "mountPath": config.homes_mount})
        volumes.append({"name": "homes", "persistentVolumeClaim": {"claimName": config.homes_claim}})
        run_as = config.files_uid
    return {
        "replicas": config.replicas,
        "selector": {"matchLabels": {"app.kubernetes.io/name": K8S_NAME}},
        "template": {
            "metadata": {"labels": pod_labels, "annotations": {"labhub.io/templates-sha256": digest}},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod(run_as, fs_group=False),
                "containers": [
                    {
                        "name": "server",
                        "image": image,
                        "args": [
                            "--templates", TEMPLATES_MOUNT, "--storage", config.storage,
                            "--host", "0.0.0.0", "--port", str(PORT),
                            "--hub-url", args.hub_url, "--proxy-url", "http://proxy-public",
                        ],  # fmt: skip
                        "ports": [{"name": "http", "containerPort": PORT}],
                        "env": env,
                        "volumeMounts": mounts,
                        "readinessProbe": probe,
                        "livenessProbe": {**probe, "failureThreshold": 6},
                        "resources": {
                            "limits": {"memory": config.memory_limit, "cpu": str(config.cpu_limit)},
                            "requests": {"memory": "64Mi", "cpu": "50m"},
                        },
                        "securityContext": restricted_container(),
                    }
                ],
                "volumes": volumes,
            },
        },
    }
