"""StackSecrets: every credential the stack needs, generated per stack, never typed by a person.

Each credential is a `pulumi_random` resource (so `dev` and `prod` never share
one and nothing is in a file), regenerated only when its rotation keeper in
`labhub:secrets.rotation` changes. Credentials that containers use are kept in
Kubernetes Secrets in the namespace that uses them, named by the component's
config model; components get them as a typed bundle (`SpyglassHubSecrets`,
`NotebookTemplatesSecrets`) whose fields are all there, never optional. The
z2jh tokens travel inline: the chart only accepts them in its values, and
setting them explicitly is what keeps them stable (the chart's own generation
relies on Helm `lookup`, which a rendered chart cannot do).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import StackConfig, needed_external_secret
from components.labels import standard_labels
from components.models.backups import CREDENTIALS_KEYS, pg_service_conf, xnat_postgres_entry
from components.models.lab_database import CLIENT_CNF_KEY, PASSWORD_KEY, backup_client_cnf
from components.models.xnat_hub import ACCOUNT_PASSWORD_KEY, POSTGRES_BACKUP_PASSWORD_KEY, POSTGRES_BACKUP_ROLE, POSTGRES_PASSWORD_KEY
from components.mysql_sidecar import INIT_SQL_KEY, root_password_init_sql
from components.mysql_sidecar import secret_data as mysql_secret_data
from labhub.db.roles import accounts as db_accounts

# Length of generated passwords/tokens; the policy pack requires at least 24.
PASSWORD_LENGTH = 48
# JupyterHub wants 32 random bytes, hex-encoded, for its cookie secret and CryptKeeper keys.
HEX_KEY_BYTES = 32

TEMPLATES_API_TOKEN_KEY = "api-token"
TEMPLATES_SIGNING_KEY_KEY = "signing-key"


@dataclass(frozen=True)
class SpyglassHubSecrets:
    """The Spyglass hub's credentials: chart tokens, the sidecars' Secret, and the OAuth client secret when OAuth is on."""

    proxy_token: pulumi.Output[str]
    cookie_secret: pulumi.Output[str]
    crypt_keeper_key: pulumi.Output[str]
    mysql_secret: k8s.core.v1.Secret  # keys: components.mysql_sidecar ROOT_PASSWORD_KEY, CLIENT_CNF_KEY, INIT_SQL_KEY
    oauth_client_secret: pulumi.Output[str] | None  # None exactly when auth.type is dummy


@dataclass(frozen=True)
class NotebookTemplatesSecrets:
    """The templating service's hub API token, and the Secret its server mounts it from (with the signing key)."""

    api_token: pulumi.Output[str]
    secret: k8s.core.v1.Secret  # keys: TEMPLATES_API_TOKEN_KEY, TEMPLATES_SIGNING_KEY_KEY


@dataclass(frozen=True)
class LabDatabaseSecrets:
    """The lab MySQL's root Secret and one Secret per account (each lab user's own, the backup account's); key `password`."""

    root_secret: k8s.core.v1.Secret  # keys: PASSWORD_KEY, and mysql_sidecar.INIT_SQL_KEY (re-sets root's password at start)
    account_secrets: Mapping[str, k8s.core.v1.Secret]  # account name -> its Secret, in RolesSpec order (users, then backup)
    backup_secret: k8s.core.v1.Secret | None  # the backup account's (also key CLIENT_CNF_KEY, the dump CronJob's); None: roles.backupUser null
    cleanup_password: pulumi.Output[str] | None  # the cleanup account's (Backups copies it next to its cleanup CronJob); None: no cleanupUser
    root_rotation: str  # rotation keeper of root's password: the server restarts when it changes
    accounts_rotation: str  # rotation keeper of the accounts' passwords: the roles Job runs again when it changes


@dataclass(frozen=True)
class XnatHubSecrets:
    """The XNAT hub's credentials: chart tokens, its Postgres password, and the Secrets the pods read."""

    proxy_token: pulumi.Output[str]
    cookie_secret: pulumi.Output[str]
    service_token: pulumi.Output[str]  # the `xnat` service's hub API token, for XNAT's plugin
    postgres_secret: k8s.core.v1.Secret  # key POSTGRES_PASSWORD_KEY: generated, or labhub:xnatPostgresPassword (external)
    account_password: pulumi.Output[str]  # the hub's XNAT account's; the XNAT admin sets it in XNAT
    account_secret: k8s.core.v1.Secret  # key ACCOUNT_PASSWORD_KEY
    # The deployed Postgres's backup role (keys POSTGRES_BACKUP_PASSWORD_KEY, pg_service.conf); None unless Backups backs it up.
    postgres_backup_secret: k8s.core.v1.Secret | None
    postgres_backup_rotation: str  # rotation keeper of that role's password: the Backups ensure-role Job runs again when it changes


@dataclass(frozen=True)
class StackSecretsArgs:
    """The stack's config, and the namespace of each component that is on (its Secrets live there)."""

    config: StackConfig
    spyglass_namespace: pulumi.Input[str] | None = None  # required when spyglassHub is enabled
    lab_database_namespace: pulumi.Input[str] | None = None  # required when labDatabase is enabled
    xnat_namespace: pulumi.Input[str] | None = None  # required when xnatHub is enabled


class ComponentOffError(LookupError):
    """Asked for the secrets of a component this stack does not deploy: a bug in __main__, not in config."""


Bundle = TypeVar("Bundle")


def _enabled(bundle: Bundle | None, section: str) -> Bundle:
    """A component's bundle, which exists exactly when its config section is enabled."""
    if bundle is None:
        raise ComponentOffError(f"{section} is not enabled on this stack: it has no secrets")
    return bundle


class StackSecrets(pulumi.ComponentResource):
    """Generated credentials and the Kubernetes Secrets that hold them, bundled per component."""

    def __init__(self, name: str, args: StackSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:StackSecrets", name, None, opts)
        self._name = name
        self._config = args.config
        self._spyglass: SpyglassHubSecrets | None = None
        self._templates: NotebookTemplatesSecrets | None = None
        self._lab_database: LabDatabaseSecrets | None = None
        self._xnat: XnatHubSecrets | None = None
        if args.config.xnat_hub.enabled:
            if args.xnat_namespace is None:
                raise ValueError("StackSecrets needs xnat_namespace when xnatHub is enabled")
            self._xnat = self._make_xnat(args.xnat_namespace)
        hub = args.config.spyglass_hub
        if hub.enabled:
            if args.spyglass_namespace is None:
                raise ValueError("StackSecrets needs spyglass_namespace when spyglassHub is enabled")
            self._spyglass = self._make_spyglass(args.spyglass_namespace)
            if args.config.notebook_templates.enabled:
                self._templates = self._make_templates(args.spyglass_namespace)
        if args.config.lab_database.enabled:
            if args.lab_database_namespace is None:
                raise ValueError("StackSecrets needs lab_database_namespace when labDatabase is enabled")
            self._lab_database = self._make_lab_database(args.lab_database_namespace)
        self.register_outputs(
            {
                "mysqlSecretName": self._spyglass.mysql_secret.metadata.name if self._spyglass else None,
                "labDatabaseRootSecretName": self._lab_database.root_secret.metadata.name if self._lab_database else None,
                "templatesSecretName": self._templates.secret.metadata.name if self._templates else None,
                "xnatAccountSecretName": self._xnat.account_secret.metadata.name if self._xnat else None,
            }
        )

    @property
    def spyglass_hub(self) -> SpyglassHubSecrets:
        return _enabled(self._spyglass, "spyglassHub")

    @property
    def notebook_templates(self) -> NotebookTemplatesSecrets:
        return _enabled(self._templates, "notebookTemplates")

    @property
    def lab_database(self) -> LabDatabaseSecrets:
        return _enabled(self._lab_database, "labDatabase")

    def _make_lab_database(self, namespace: pulumi.Input[str]) -> LabDatabaseSecrets:
        db = self._config.lab_database
        # mysqld's entrypoint and the roles Job read root's password from here.
        root_password = self._password("labDatabaseRootPassword")
        root_data = {PASSWORD_KEY: root_password, INIT_SQL_KEY: root_password.apply(root_password_init_sql)}
        root = self._k8s_secret("lab-db-root", db.root_secret_name, namespace, root_data)
        accounts: dict[str, k8s.core.v1.Secret] = {}
        passwords: dict[str, pulumi.Output[str]] = {}
        for account in db_accounts(db.roles):
            k8s_name = {db.roles.backup_user: db.backup_secret_name, db.roles.cleanup_user: db.cleanup_secret_name}.get(
                account
            ) or db.user_secret_name(account)
            password = self._password("labDatabaseUserPasswords", resource=f"lab-db-account-{account}")
            passwords[account] = password
            data: dict[str, pulumi.Input[str]] = {PASSWORD_KEY: password}
            if account == db.roles.backup_user:
                # The backup CronJobs (in this namespace) read the account as the backup tool does: a [client] option file.
                data[CLIENT_CNF_KEY] = password.apply(functools.partial(backup_client_cnf, account))
            # One Secret per account: the roles Job mounts them all (key password), each user only their own.
            accounts[account] = self._k8s_secret(f"lab-db-account-{account}", k8s_name, namespace, data)
        keeper = self._config.secrets.keeper
        return LabDatabaseSecrets(
            root_secret=root,
            account_secrets=accounts,
            backup_secret=accounts.get(db.roles.backup_user) if db.roles.backup_user is not None else None,
            cleanup_password=passwords.get(db.roles.cleanup_user) if db.roles.cleanup_user is not None else None,
            root_rotation=keeper("labDatabaseRootPassword"),
            accounts_rotation=keeper("labDatabaseUserPasswords"),
        )

    @property
    def xnat_hub(self) -> XnatHubSecrets:
        return _enabled(self._xnat, "xnatHub")

    def _make_xnat(self, namespace: pulumi.Input[str]) -> XnatHubSecrets:
        hub = self._config.xnat_hub
        external_password = needed_external_secret(self._config, "xnatPostgresPassword")
        postgres_password = external_password if external_password is not None else self._password("xnatPostgresPassword")
        account_password = self._password("xnatHubAccountPassword")
        backup_secret = None
        if xnat_postgres_entry(self._config.backups, hub) is not None:
            # The backup CronJobs (in this namespace) read the role as the backup tool does: a libpq service file;
            # the ensure-role Job reads the bare password.
            backup_password = self._password("xnatPostgresBackupPassword")
            backup_data = {
                POSTGRES_BACKUP_PASSWORD_KEY: backup_password,
                CREDENTIALS_KEYS["postgres"]: backup_password.apply(functools.partial(pg_service_conf, POSTGRES_BACKUP_ROLE)),
            }
            backup_secret = self._k8s_secret("xnat-postgres-backup", hub.postgres_backup_secret_name, namespace, backup_data)
        return XnatHubSecrets(
            proxy_token=self._hex_key("xnatProxyToken"),
            cookie_secret=self._hex_key("xnatCookieSecret"),
            service_token=self._password("xnatServiceToken"),
            # The deployed Postgres (POSTGRES_PASSWORD) and the hub (PGPASSWORD) read the password from here.
            postgres_secret=self._k8s_secret("xnat-postgres", hub.postgres_secret_name, namespace, {POSTGRES_PASSWORD_KEY: postgres_password}),
            account_password=account_password,
            # The hub reads its XNAT account's password from here (JH_XNAT_PASSWORD).
            account_secret=self._k8s_secret("xnat-account", hub.xnat_account_secret_name, namespace, {ACCOUNT_PASSWORD_KEY: account_password}),
            postgres_backup_secret=backup_secret,
            postgres_backup_rotation=self._config.secrets.keeper("xnatPostgresBackupPassword"),
        )

    def _make_spyglass(self, namespace: pulumi.Input[str]) -> SpyglassHubSecrets:
        hub = self._config.spyglass_hub
        return SpyglassHubSecrets(
            proxy_token=self._hex_key("proxyToken"),
            cookie_secret=self._hex_key("cookieSecret"),
            crypt_keeper_key=self._hex_key("cryptKeeperKey"),
            # The sidecar reads its root password, and the notebook its client config, from here.
            mysql_secret=self._k8s_secret("mysql", hub.mysql_secret_name, namespace, mysql_secret_data(self._password("mysqlRootPassword"))),
            oauth_client_secret=needed_external_secret(self._config, "spyglassOAuthClientSecret"),
        )

    def _make_templates(self, namespace: pulumi.Input[str]) -> NotebookTemplatesSecrets:
        api_token = self._password("templatesApiToken")
        data = {TEMPLATES_API_TOKEN_KEY: api_token, TEMPLATES_SIGNING_KEY_KEY: self._password("templatesSigningKey")}
        # The templating server's hub token and signing key, mounted from here.
        secret = self._k8s_secret("templates", self._config.notebook_templates.secret_name, namespace, data)
        return NotebookTemplatesSecrets(api_token=api_token, secret=secret)

    def _password(self, secret: str, resource: str | None = None) -> pulumi.Output[str]:
        password = random.RandomPassword(
            f"{self._name}-{resource or secret}",
            length=PASSWORD_LENGTH,
            special=False,  # goes into option files and URLs; length gives the entropy
            keepers={"rotation": self._config.secrets.keeper(secret)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return password.result

    def _hex_key(self, secret: str) -> pulumi.Output[str]:
        key = random.RandomBytes(
            f"{self._name}-{secret}",
            length=HEX_KEY_BYTES,
            keepers={"rotation": self._config.secrets.keeper(secret)},
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key.hex

    def _k8s_secret(self, role: str, k8s_name: str, namespace: pulumi.Input[str], data: Mapping[str, pulumi.Input[str]]) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            f"{self._name}-{role}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=k8s_name,
                namespace=namespace,
                labels=standard_labels(k8s_name, component="credentials"),
            ),
            type="Opaque",
            string_data=dict(data),
            opts=pulumi.ResourceOptions(parent=self),
        )
