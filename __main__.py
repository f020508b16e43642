"""labhub: read the stack config, build the components, export what operators need."""

from pathlib import Path

import pulumi

from components import config as stack_config
from components.backups import Backups, BackupsArgs
from components.backups_jobs import PostgresRole
from components.data_safety import protected_namespace
from components.lab_database import LabDatabase, LabDatabaseArgs
from components.models.backups import cleanup_uses_lab_database, xnat_postgres_entry
from components.models.xnat_hub import POSTGRES_BACKUP_PASSWORD_KEY, POSTGRES_BACKUP_ROLE, POSTGRES_PASSWORD_KEY
from components.notebook_templates import NotebookTemplates, NotebookTemplatesArgs
from components.paper_environments import PaperEnvironments, PaperEnvironmentsArgs
from components.spyglass_hub import SpyglassHub, SpyglassHubArgs
from components.stack_secrets import StackSecrets, StackSecretsArgs
from components.xnat_hub import XnatHub, XnatHubArgs

cfg = stack_config.load()
hub = cfg.spyglass_hub

spyglass_namespace = None
if hub.enabled:
    # The hub, its users' pods, their MySQL Secret and the templating service live here.
    spyglass_namespace = protected_namespace("spyglass-namespace", hub.namespace)

xnat_cfg = cfg.xnat_hub
xnat_namespace = None
if xnat_cfg.enabled and xnat_cfg.create_namespace:
    # The XNAT hub, its Postgres and its users' servers; XNAT's archive and workspaces PVCs must be here too.
    xnat_namespace = protected_namespace("xnat-namespace", xnat_cfg.namespace)

lab_db = cfg.lab_database
# The Backups cleanup CronJob connects to the lab MySQL as its cleanup account (the default when both are on).
cleanup_on_lab_db = cleanup_uses_lab_database(cfg.backups, lab_db)
lab_db_namespace = None
if lab_db.enabled:
    # The shared lab MySQL, its account Secrets and its roles Job live here.
    lab_db_namespace = protected_namespace("lab-db-namespace", lab_db.namespace)

secrets = StackSecrets(
    "secrets",
    StackSecretsArgs(
        config=cfg,
        spyglass_namespace=spyglass_namespace.metadata.name if spyglass_namespace else None,
        xnat_namespace=(xnat_namespace.metadata.name if xnat_namespace else xnat_cfg.namespace) if xnat_cfg.enabled else None,
        lab_database_namespace=lab_db_namespace.metadata.name if lab_db_namespace else None,
    ),
)

if lab_db.enabled:
    assert lab_db_namespace is not None
    lab_database = LabDatabase(
        "lab-db",
        LabDatabaseArgs(
            config=lab_db,
            namespace=lab_db_namespace.metadata.name,
            secrets=secrets.lab_database,
            project_dir=Path(__file__).resolve().parent,
            client_namespaces=(hub.namespace,) if hub.enabled else (),
            labelled_client_namespaces=(cfg.backups.namespace,) if cleanup_on_lab_db else (),
        ),
    )
    pulumi.export("labDatabaseHost", lab_database.host)

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

    papers = []
    if cfg.paper_environments.enabled:
        paper_environments = PaperEnvironments(
            "papers", PaperEnvironmentsArgs(config=cfg.paper_environments, project_dir=Path(__file__).resolve().parent)
        )
        papers = paper_environments.papers

    spyglass = SpyglassHub(
        "spyglass",
        SpyglassHubArgs(
            config=hub,
            namespace=spyglass_namespace.metadata.name,
            secrets=secrets.spyglass_hub,
            services=services,
            load_roles=load_roles,
            lab_database=lab_db if lab_db.enabled else None,
            papers=papers,
        ),
    )
    pulumi.export("spyglassHubUrl", spyglass.url)

# The Backups entry for the deployed XNAT Postgres with the generated backup role (the default when both are on).
xnat_backup = xnat_postgres_entry(cfg.backups, xnat_cfg)
xnat_hub = None
if xnat_cfg.enabled:
    namespace = xnat_namespace.metadata.name if xnat_namespace else xnat_cfg.namespace
    xnat_hub = XnatHub(
        "xnat", XnatHubArgs(config=xnat_cfg, namespace=namespace, secrets=secrets.xnat_hub, postgres_backup_clients=xnat_backup is not None)
    )
    # What the XNAT admin enters in the JupyterHub plugin's settings (docs/xnat.md).
    pulumi.export("xnatJupyterHubUrl", xnat_hub.url)
    pulumi.export("xnatJupyterHubApiUrl", xnat_hub.api_url)
    pulumi.export("xnatJupyterHubServiceToken", xnat_hub.service_token)
    pulumi.export("xnatJupyterHubXnatAccount", xnat_hub.xnat_account)
    pulumi.export("xnatJupyterHubXnatPassword", xnat_hub.xnat_password)
if cfg.backups.enabled:
    # The default lab MySQL entry's CronJobs run in the lab database's namespace, with the backup account's Secret there.
    backup_needs: tuple = (lab_db_namespace, secrets.lab_database.backup_secret) if lab_db.enabled else ()
    postgres_roles = {}
    if xnat_backup is not None:
        # The XNAT Postgres's backup role: made (and re-passworded on rotation) by a Job as the image's superuser.
        assert xnat_hub is not None and secrets.xnat_hub.postgres_backup_secret is not None
        backup_needs += (secrets.xnat_hub.postgres_backup_secret, xnat_hub.postgres, xnat_namespace)
        postgres_roles[xnat_backup.name] = PostgresRole(
            role=POSTGRES_BACKUP_ROLE, password_secret=xnat_cfg.postgres_backup_secret_name, password_key=POSTGRES_BACKUP_PASSWORD_KEY,
            admin_user=xnat_cfg.postgres.user, admin_secret=xnat_cfg.postgres_secret_name, admin_key=POSTGRES_PASSWORD_KEY,
            admin_database=xnat_cfg.postgres.database, rotation=secrets.xnat_hub.postgres_backup_rotation,
        )  # fmt: skip
    backups = Backups(
        "backups",
        BackupsArgs(
            config=cfg.backups,
            project_dir=Path(__file__).resolve().parent,
            depends_on=tuple(r for r in backup_needs if r is not None),
            postgres_roles=postgres_roles,
            cleanup_password=secrets.lab_database.cleanup_password if cleanup_on_lab_db else None,
        ),  # fmt: skip
    )
    pulumi.export("backupCronJobs", sorted(backups.cron_jobs))
