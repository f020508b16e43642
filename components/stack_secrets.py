"""StackSecrets: every credential the stack needs, generated per stack, never typed by a person.

Each credential is a `pulumi_random` resource (so `dev` and `prod` never share
one and nothing is in a file), regenerated only when its rotation keeper in
config changes. Credentials that containers use are kept in Kubernetes Secrets
in the namespace that uses them; other components get those Secrets by
reference (name + key), never the raw string. The z2jh tokens are the one
exception: the chart only accepts them inline in its values, and setting them
explicitly is what keeps them stable (the chart's own generation relies on
Helm `lookup`, which a rendered chart cannot do).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.config import GENERATED_SECRETS
from components.labels import standard_labels

# Length of generated passwords/tokens; the policy pack requires at least 24.
PASSWORD_LENGTH = 48
# JupyterHub wants 32 random bytes, hex-encoded, for its cookie secret and CryptKeeper keys.
HEX_KEY_BYTES = 32

MYSQL_ROOT_PASSWORD_KEY = "root-password"
TEMPLATES_API_TOKEN_KEY = "api-token"
TEMPLATES_SIGNING_KEY_KEY = "signing-key"


@dataclass(frozen=True)
class StackSecretsArgs:
    """What to generate: only the credentials of the components that are on."""

    spyglass_namespace: pulumi.Input[str] | None = None  # None: the Spyglass hub is off
    templates_enabled: bool = False
    rotation: Mapping[str, str] = field(default_factory=dict)


class StackSecrets(pulumi.ComponentResource):
    """Generated credentials and the Kubernetes Secrets that hold them."""

    proxy_token: pulumi.Output[str] | None
    cookie_secret: pulumi.Output[str] | None
    crypt_keeper_key: pulumi.Output[str] | None
    mysql_secret: k8s.core.v1.Secret | None
    templates_api_token: pulumi.Output[str] | None
    templates_secret: k8s.core.v1.Secret | None

    def __init__(self, name: str, args: StackSecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("labhub:components:StackSecrets", name, None, opts)
        self._name = name
        self._args = args
        self.proxy_token = self.cookie_secret = self.crypt_keeper_key = self.templates_api_token = None
        self.mysql_secret = self.templates_secret = None

        if args.spyglass_namespace is not None:
            self.proxy_token = self._hex_key("proxyToken")
            self.cookie_secret = self._hex_key("cookieSecret")
            self.crypt_keeper_key = self._hex_key("cryptKeeperKey")
            mysql_root_password = self._password("mysqlRootPassword")
            # The sidecar reads its root password, and the notebook its client config, from here.
            self.mysql_secret = self._k8s_secret(
                "mysql", "spyglass-mysql", args.spyglass_namespace, _mysql_secret_data(mysql_root_password)
            )
            if args.templates_enabled:
                self.templates_api_token = self._password("templatesApiToken")
                signing_key = self._password("templatesSigningKey")
                # The templating server's hub token and signing key, mounted from here.
                self.templates_secret = self._k8s_secret(
                    "templates",
                    "notebook-templates",
                    args.spyglass_namespace,
                    {TEMPLATES_API_TOKEN_KEY: self.templates_api_token, TEMPLATES_SIGNING_KEY_KEY: signing_key},
                )

        self.register_outputs(
            {
                "mysqlSecretName": self.mysql_secret.metadata.name if self.mysql_secret else None,
                "templatesSecretName": self.templates_secret.metadata.name if self.templates_secret else None,
            }
        )

    def _keepers(self, secret: str) -> dict[str, str]:
        assert secret in GENERATED_SECRETS, secret
        return {"rotation": self._args.rotation.get(secret, "initial")}

    def _password(self, secret: str) -> pulumi.Output[str]:
        password = random.RandomPassword(
            f"{self._name}-{secret}",
            length=PASSWORD_LENGTH,
            special=False,  # goes into option files and URLs; length gives the entropy
            keepers=self._keepers(secret),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return password.result

    def _hex_key(self, secret: str) -> pulumi.Output[str]:
        key = random.RandomBytes(
            f"{self._name}-{secret}",
            length=HEX_KEY_BYTES,
            keepers=self._keepers(secret),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key.hex

    def _k8s_secret(
        self, role: str, k8s_name: str, namespace: pulumi.Input[str], data: Mapping[str, pulumi.Input[str]]
    ) -> k8s.core.v1.Secret:
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


def _mysql_secret_data(root_password: pulumi.Output[str]) -> dict[str, pulumi.Input[str]]:
    from components.mysql_sidecar import secret_data  # the sidecar decides the files it mounts

    return secret_data(root_password)
