"""StackSecrets: every credential generated per stack, secret end to end, rotated by config.

The invariant: a generated credential is a Pulumi secret from the moment it is
made (as the engine marks `additionalSecretOutputs`), reaches containers only
through Kubernetes Secrets, and changes only when its rotation keeper changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc

from labhub.engine import is_secret_output
from components.stack_secrets import PASSWORD_LENGTH, StackSecrets, StackSecretsArgs

PASSWORD = "random:index/randomPassword:RandomPassword"
BYTES = "random:index/randomBytes:RandomBytes"
SECRET = "kubernetes:core/v1:Secret"


def _args(**overrides: Any) -> StackSecretsArgs:
    values: dict[str, Any] = {"spyglass_namespace": "spyglass", "templates_enabled": True, "rotation": {}}
    values.update(overrides)
    return StackSecretsArgs(**values)


def _build(args: StackSecretsArgs):
    def build(built: dict[str, Any]) -> None:
        built["secrets"] = StackSecrets("secrets", args)

    return build


def test_a_hub_stack_generates_each_credential_once_with_its_own_resource(run_component) -> None:
    result, _ = run_component(_build(_args()))
    assert sorted(r.name for r in result.by_type(PASSWORD)) == [
        "secrets-mysqlRootPassword",
        "secrets-templatesApiToken",
        "secrets-templatesSigningKey",
    ]
    assert sorted(r.name for r in result.by_type(BYTES)) == ["secrets-cookieSecret", "secrets-cryptKeeperKey", "secrets-proxyToken"]
    for resource in result.by_type(PASSWORD):
        assert resource.inputs["length"] == PASSWORD_LENGTH >= 24, resource.urn
    for resource in result.by_type(BYTES):
        assert resource.inputs["length"] == 32, f"{resource.urn}: JupyterHub keys must be 32 bytes"


def test_every_child_is_parented_to_the_component(run_component) -> None:
    result, _ = run_component(_build(_args()))
    component = result.one("labhub:components:StackSecrets", "secrets")
    children = [r for r in result.resources if r is not component]
    assert children and all(r.parent_urn == component.urn for r in children)


def test_only_the_credentials_of_enabled_components_exist(run_component) -> None:
    result, _ = run_component(_build(_args(templates_enabled=False)))
    assert "secrets-templatesApiToken" not in {r.name for r in result.resources}
    result, _ = run_component(_build(_args(spyglass_namespace=None, templates_enabled=False)))
    assert [r.type for r in result.resources] == ["labhub:components:StackSecrets"]


def test_generated_values_are_pulumi_secrets(run_component) -> None:
    _, built = run_component(_build(_args()))
    secrets: StackSecrets = built["secrets"]
    for name in ("proxy_token", "cookie_secret", "crypt_keeper_key", "templates_api_token"):
        output = getattr(secrets, name)
        assert output is not None and is_secret_output(output), f"{name} must be a Pulumi secret"


def test_kubernetes_secrets_hold_the_credentials_as_secret_string_data(run_component) -> None:
    result, _ = run_component(_build(_args()))
    by_name = {r.inputs["metadata"]["name"]: r for r in result.by_type(SECRET)}
    assert sorted(by_name) == ["notebook-templates", "spyglass-mysql"]
    for resource in by_name.values():
        assert resource.inputs["metadata"]["namespace"] == "spyglass"
        assert rpc.is_rpc_secret(resource.inputs["stringData"]), f"{resource.urn}: stringData must be secret"
        assert resource.inputs["metadata"]["labels"]["app.kubernetes.io/part-of"] == "labhub"
    templates = rpc.unwrap_rpc_secret(by_name["notebook-templates"].inputs["stringData"])
    assert sorted(templates) == ["api-token", "signing-key"]
    assert templates["api-token"] != templates["signing-key"]


@pytest.mark.parametrize(
    ("rotation", "expected"),
    [
        pytest.param({}, "initial", id="never-rotated"),
        pytest.param({"mysqlRootPassword": "2026-11-22"}, "2026-11-22", id="rotated"),
    ],
)
def test_rotation_is_a_keeper_driven_by_config(run_component, rotation: dict[str, str], expected: str) -> None:
    result, _ = run_component(_build(_args(rotation=rotation)))
    password = result.one(PASSWORD, "secrets-mysqlRootPassword")
    assert password.inputs["keepers"] == {"rotation": expected}
    untouched = result.one(BYTES, "secrets-cookieSecret")
    assert untouched.inputs["keepers"] == {"rotation": "initial"}
