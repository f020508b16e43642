"""`labhub:labDatabase`: the shared lab MySQL's config section, args of LabDatabase and its builders.

The roles part (`roles:`) is `labhub.db.roles.RolesSpec` itself, the model the
in-cluster roles tool takes, so `labhub db roles-sql --stack S` and the Job
print and apply the same SQL from the same validated object.
"""

from __future__ import annotations

import hashlib

from pydantic import Field, model_validator

from components.fields import DnsLabel, MemoryQuantity, PinnedImage
from components.models.section import Resources, Section
from components.quantities import parse_memory_quantity
from labhub.db.roles import RolesSpec, render_sql

PORT = 3306
ROLES_SQL_KEY = "roles.sql"
PASSWORD_KEY = "password"  # pragma: allowlist secret
CLIENT_CNF_KEY = "my.cnf"  # the backup account's Secret: a [client] option file, as the backup tool reads it
CLIENT_LABEL = "labhub.io/lab-db-client"  # pods its NetworkPolicy admits: of its namespace (roles Job, backups) and of listed ones (cleanup)
DEFAULT_CLEANUP_USER = "labhub_cleanup"  # the account the Backups cleanup CronJob gets by default (components/config.py)


def backup_client_cnf(user: str, password: str) -> str:
    """The backup account's `my.cnf` ([client] user and password; host and port are the CronJob's flags)."""
    return f"[client]\nuser={user}\npassword={password}\n"


class LabDatabaseConfig(Section):
    enabled: bool = Field(False, description="Deploy the shared lab MySQL (Spyglass's 'existing database') with DataJoint roles.")
    namespace: DnsLabel = Field("lab-db", description="Namespace of the database, its Secrets and its roles Job.")
    name: DnsLabel = Field("lab-db", description="Name of the StatefulSet and its Service (the host users connect to: <name>.<namespace>).")
    image: PinnedImage = Field(
        "mysql:8.0.44", description="MySQL server image, pinned: the official image (its entrypoint initialises the data directory)."
    )
    storage_size: MemoryQuantity = Field("100Gi", description="Size of the data volume (PersistentVolumeClaim).")
    storage_class: str | None = Field(None, description="StorageClass of the data volume; the cluster default when unset.")
    resources: Resources = Field(
        default_factory=lambda: Resources.build(memory_limit="8Gi", memory_request="4Gi", cpu_limit="2", cpu_request="500m"),
        description="Requests and limits of the MySQL container.",
    )
    buffer_pool: MemoryQuantity = Field("4Gi", description="innodb_buffer_pool_size; at most 3/4 of resources.memoryLimit.")
    roles: RolesSpec = Field(default_factory=RolesSpec, description="DataJoint roles (Spyglass's), lab users and the backup account.")
    tools_image: PinnedImage | None = Field(
        None, description="Image with `labhub[db]` for the roles Job; when unset it is built from docker/db/Dockerfile and pushed to registry."
    )
    client_namespaces: list[DnsLabel] = Field(
        default_factory=list,
        description="Other namespaces whose pods labelled labhub.io/lab-db-client=true may connect (e.g. where the Backups CronJobs run); "
        "the Spyglass hub's user pods are admitted when the hub is on.",
    )
    registry: str | None = Field(
        None, description="Registry to push the built tools image to, e.g. ghcr.io/mylab (required when toolsImage is unset)."
    )

    @model_validator(mode="after")
    def _consistent(self) -> LabDatabaseConfig:
        if parse_memory_quantity(self.buffer_pool) * 4 > parse_memory_quantity(self.resources.memory_limit) * 3:
            raise ValueError(
                f"bufferPool {self.buffer_pool!r} exceeds 3/4 of resources.memoryLimit {self.resources.memory_limit!r}: mysqld would be OOM-killed"
            )
        if self.enabled and self.tools_image is None and self.registry is None:
            raise ValueError("needs either toolsImage (prebuilt) or registry (to push the built roles-tool image)")
        return self

    @property
    def host(self) -> str:
        """Where clients in the cluster connect."""
        return f"{self.name}.{self.namespace}.svc.cluster.local"

    @property
    def headless_service_name(self) -> str:
        return f"{self.name}-headless"

    @property
    def config_map_name(self) -> str:
        return f"{self.name}-config"

    @property
    def root_secret_name(self) -> str:
        return f"{self.name}-root"

    def user_secret_name(self, user: str) -> str:
        """A lab user's own Secret ('_' is not allowed in Kubernetes names; lab user names have no '-', so this is one-to-one)."""
        return f"{self.name}-user-{user.replace('_', '-')}"

    @property
    def backup_secret_name(self) -> str:
        return f"{self.name}-backup"

    @property
    def cleanup_secret_name(self) -> str:
        """The cleanup account's Secret in this namespace (key password), read by the roles Job."""
        return f"{self.name}-cleanup"

    @property
    def roles_config_map_name(self) -> str:
        return f"{self.name}-roles"

    def roles_sql(self) -> str:
        """Exactly what `labhub db roles-sql --stack STACK` prints and the Job applies (MySQL 8)."""
        return render_sql(self.roles, "mysql8")

    def roles_job_name(self, rotation: str = "") -> str:
        """The roles Job, named by what it applies: the SQL, the accounts, and the passwords' rotation keepers.

        A Job's pod spec is immutable and a finished Job does not run again, so any
        change that must reach the server (roles, users, a rotated password) makes a
        new Job, and an unchanged stack keeps the finished one.
        """
        digest = hashlib.sha256("\0".join((self.roles_sql(), self.roles.model_dump_json(), rotation)).encode()).hexdigest()[:10]
        return f"{self.name}-roles-{digest}"
