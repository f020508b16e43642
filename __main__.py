"""labhub: read the stack config, build the components, export what operators need."""

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from components import config as stack_config
from components.backups import Backups, BackupsArgs
from components.labels import standard_labels
from components.notebook_templates import NotebookTemplates, NotebookTemplatesArgs
from components.spyglass_hub import SpyglassHub, SpyglassHubArgs
from components.stack_secrets import StackSecrets, StackSecretsArgs

cfg = stack_config.load()
hub = cfg.spyglass_hub

spyglass_namespace = None
if hub.enabled:
    # The hub, its users' pods, their MySQL Secret and the templating service live here.
    spyglass_namespace = k8s.core.v1.Namespace(
        "spyglass-namespace",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=hub.namespace, labels=standard_labels(hub.namespace, "namespace")),
    )

secrets = StackSecrets(
    "secrets",
    StackSecretsArgs(config=cfg, spyglass_namespace=spyglass_namespace.metadata.name if spyglass_namespace else None),
)

if hub.enabled:
    assert spyglass_namespace is not None
    services: dict = {}
    load_roles: dict = {}
    if cfg.notebook_templates.enabled:
        templates = NotebookTemplates(
            "templates",
            NotebookTemplatesArgs(
                config=cfg.notebook_templates,
                namespace=spyglass_namespace.metadata.name,
                hub_url=hub.url,
                secrets=secrets.notebook_templates,
                project_dir=Path(__file__).resolve().parent,
            ),
        )
        services, load_roles = templates.hub_service, templates.hub_role
        pulumi.export("SAMPLEDB_JUPYTERHUB_URL", hub.url)
        pulumi.export("SAMPLEDB_JUPYTERHUB_TEMPLATES_URL", templates.templates_url)

    spyglass = SpyglassHub(
        "spyglass",
        SpyglassHubArgs(
            config=hub,
            namespace=spyglass_namespace.metadata.name,
            secrets=secrets.spyglass_hub,
            services=services,
            load_roles=load_roles,
        ),
    )
    pulumi.export("spyglassHubUrl", spyglass.url)

if cfg.backups.enabled:
    backups = Backups("backups", BackupsArgs(config=cfg.backups, project_dir=Path(__file__).resolve().parent))
    pulumi.export("backupCronJobs", sorted(backups.cron_jobs))
