"""StackSecrets: every credential generated per stack, secret end to end, rotated by config.

The invariant: a generated credential is a Pulumi secret from the moment it is
made (as the engine marks `additionalSecretOutputs`), reaches containers only
through Kubernetes Secrets, and changes only when its rotation keeper changes.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type, the_one
from secret_outputs import is_secret_output

from components.config import StackConfig
from components.stack_secrets import PASSWORD_LENGTH, ComponentOffError, StackSecrets, StackSecretsArgs

PASSWORD = "random:index/randomPassword:RandomPassword"
BYTES = "random:index/randomBytes:RandomBytes"
SECRET = "kubernetes:core/v1:Secret"


def _args(hub: bool = True, templates: bool = True, rotation: dict[str, Any] | None = None) -> StackSecretsArgs:
    config = StackConfig.model_validate(
        {
            "spyglassHub": {"enabled": hub},
            "notebookTemplates": {"enabled": templates, "registry": "localhost:5001"},
            "secrets": {"rotation": rotation or {}},
        }
    )
    return StackSecretsArgs(config=config, spyglass_namespace="spyglass" if hub else None)


def _build(args: StackSecretsArgs):
    def build(built: dict[str, Any]) -> None:
        built["secrets"] = StackSecrets("secrets", args)

    return build


def test_a_hub_stack_generates_each_credential_once_with_its_own_resource(run_component) -> None:
    result, _ = run_component(_build(_args()))
    assert sorted(r.name for r in of_type(result, PASSWORD)) == [
        "secrets-mysqlRootPassword",
        "secrets-templatesApiToken",
        "secrets-templatesSigningKey",
    ]
    assert sorted(r.name for r in of_type(result, BYTES)) == ["secrets-cookieSecret", "secrets-cryptKeeperKey", "secrets-proxyToken"]
    for resource in of_type(result, PASSWORD):
        assert resource.inputs["length"] == PASSWORD_LENGTH >= 24, resource.urn
    for resource in of_type(result, BYTES):
        assert resource.inputs["length"] == 32, f"{resource.urn}: JupyterHub keys must be 32 bytes"


def test_every_child_is_parented_to_the_component(run_component) -> None:
    result, _ = run_component(_build(_args()))
    component = the_one(result, "labhub:components:StackSecrets", "secrets")
    children = [r for r in result.resources if r is not component]
    assert children and all(r.parent_urn == component.urn for r in children)


def test_only_the_credentials_of_enabled_components_exist(run_component) -> None:
    result, built = run_component(_build(_args(templates=False)))
    assert "secrets-templatesApiToken" not in {r.name for r in result.resources}
    with pytest.raises(ComponentOffError, match="^notebookTemplates is not enabled on this stack: it has no secrets$"):
        built["secrets"].notebook_templates  # noqa: B018 - the property raises
    result, _ = run_component(_build(_args(hub=False, templates=False)))
    assert [r.type for r in result.resources] == ["labhub:components:StackSecrets"]


def test_generated_values_are_pulumi_secrets(run_component) -> None:
    _, built = run_component(_build(_args()))
    secrets: StackSecrets = built["secrets"]
    hub = secrets.spyglass_hub
    outputs = {"proxy_token": hub.proxy_token, "cookie_secret": hub.cookie_secret, "crypt_keeper_key": hub.crypt_keeper_key}
    outputs["templates api_token"] = secrets.notebook_templates.api_token
    for name, output in outputs.items():
        assert is_secret_output(output), f"{name} must be a Pulumi secret"


def test_kubernetes_secrets_hold_the_credentials_as_secret_string_data(run_component) -> None:
    result, _ = run_component(_build(_args()))
    by_name = {r.inputs["metadata"]["name"]: r for r in of_type(result, SECRET)}
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
        pytest.param({"mysqlRootPassword": __import__("datetime").date(2026, 11, 22)}, "2026-11-22", id="unquoted-yaml-date"),
        pytest.param({"mysqlRootPassword": 3}, "3", id="a-number"),
    ],
)
def test_rotation_is_a_keeper_driven_by_config(run_component, rotation: dict[str, str], expected: str) -> None:
    result, _ = run_component(_build(_args(rotation=rotation)))
    password = the_one(result, PASSWORD, "secrets-mysqlRootPassword")
    assert password.inputs["keepers"] == {"rotation": expected}
    untouched = the_one(result, BYTES, "secrets-cookieSecret")
    assert untouched.inputs["keepers"] == {"rotation": "initial"}
