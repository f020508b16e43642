"""Stack config: one typed model, defaults filled in, every wrong value stopped with one clear line.

The invariant: a mistake in a stack file never reaches a component. It fails at
parse time with a line that names the full key, the bad value and what is allowed.
"""

from __future__ import annotations

import json

import pytest
from secret_outputs import is_secret_output

from components.config import (
    ConfigError,
    StackConfig,
    config_reference_markdown,
    config_reference_rows,
    external_secret,
    parse_stack_config,
    required_secret_keys,
)
from labhub.engine import PROJECT_DIR, run_program, run_stack, run_under_mocks


def _raw(**sections: object) -> dict[str, str]:
    return {f"labhub:{key}": json.dumps(value) for key, value in sections.items()}


def test_an_empty_stack_gets_every_default() -> None:
    config = parse_stack_config({})
    assert config.spyglass_hub.enabled is True
    assert config.spyglass_hub.chart.version == "4.4.0"
    assert config.spyglass_hub.mysql.image == "datajoint/mysql:8.0"
    assert (config.spyglass_hub.mysql.memory_limit, config.spyglass_hub.mysql.cpu_limit) == ("4Gi", "1")
    assert (config.spyglass_hub.mysql.memory_request, config.spyglass_hub.mysql.cpu_request) == ("64Mi", "0.01")
    assert config.spyglass_hub.mysql.persistence.enabled is False
    assert config.notebook_templates.enabled is False


def test_keys_of_other_namespaces_are_left_to_their_providers() -> None:
    assert parse_stack_config({"kubernetes:context": "kind-labhub"}) == StackConfig()


@pytest.mark.parametrize(
    ("raw", "expected_line"),
    [
        pytest.param(
            _raw(spyglasHub={}),
            "labhub:spyglasHub: unknown key (did you mean labhub:spyglassHub?); allowed keys are backups, labDatabase, "
            "notebookTemplates, paperEnvironments, secrets, spyglassHub, xnatHub, spyglassOAuthClientSecret, xnatPostgresPassword",
            id="unknown-top-level-key",
        ),
        pytest.param(
            _raw(spyglassHub={"mysql": {"memry": "4Gi"}}),
            "labhub:spyglassHub.mysql.memry: unknown key; allowed keys here are bufferPoolFraction, cpuLimit, cpuRequest, "
            "ephemeralSizeLimit, image, initImage, memoryLimit, memoryRequest, persistence",
            id="unknown-nested-key",
        ),
        pytest.param(
            _raw(spyglassHub={"enabled": "maybe"}),
            "labhub:spyglassHub.enabled: 'maybe' is not allowed: Input should be a valid boolean, unable to interpret input",
            id="wrong-type",
        ),
        pytest.param(
            _raw(spyglassHub={"cull": {"timeout": "an hour"}}),
            "labhub:spyglassHub.cull.timeout: 'an hour' is not allowed: Input should be a valid integer, unable to parse string as an integer",
            id="wrong-type-int",
        ),
        pytest.param(
            _raw(spyglassHub={"auth": {"type": "ldap"}}),
            "labhub:spyglassHub.auth.type: 'ldap' is not allowed: Input should be 'dummy', 'github' or 'generic-oauth'",
            id="invalid-enum",
        ),
        pytest.param(
            _raw(spyglassHub={"mysql": {"memoryLimit": "4GB"}}),
            "labhub:spyglassHub.mysql.memoryLimit: '4GB' is not allowed: '4GB' is not a memory quantity (e.g. 512Mi, 4Gi, 1G or a plain number of bytes)",
            id="malformed-memory",
        ),
        pytest.param(
            _raw(spyglassHub={"mysql": {"cpuLimit": "2 cores"}}),
            "labhub:spyglassHub.mysql.cpuLimit: '2 cores' is not allowed: '2 cores' is not a CPU quantity (e.g. 1, 0.5, 250m)",
            id="malformed-cpu",
        ),
        pytest.param(
            _raw(spyglassHub={"mysql": {"memoryLimit": "512m"}}),
            "labhub:spyglassHub.mysql.memoryLimit: '512m' is not allowed: '512m' is not a memory quantity: 'm' means milli-bytes "
            "(e.g. 512Mi, 4Gi, 1G or a plain number of bytes)",
            id="milli-bytes",
        ),
        pytest.param(
            _raw(spyglassHub={"singleuser": {"image": "quay.io/lab/image:latest"}}),
            "labhub:spyglassHub.singleuser.image: 'quay.io/lab/image:latest' is not allowed: must not use the 'latest' tag: pin a version so a deploy is repeatable",
            id="latest-tag",
        ),
        pytest.param(
            _raw(spyglassHub={"mysql": {"image": "datajoint/mysql"}}),
            "labhub:spyglassHub.mysql.image: 'datajoint/mysql' is not allowed: must pin a tag or digest (e.g. 'repo/image:1.2.3'); an untagged image means 'latest'",
            id="untagged-image",
        ),
        pytest.param(
            _raw(spyglassHub={"namespace": "Spyglass_Prod"}),
            "labhub:spyglassHub.namespace: 'Spyglass_Prod' is not allowed: must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters",
            id="bad-namespace",
        ),
        pytest.param(
            _raw(secrets={"rotation": {"mysqlPassword": "2026-01-01"}}),
            "labhub:secrets.rotation: unknown secret mysqlPassword; allowed: proxyToken, cookieSecret, cryptKeeperKey, "
            "mysqlRootPassword, templatesApiToken, templatesSigningKey, xnatProxyToken, xnatCookieSecret, xnatServiceToken, "
            "xnatPostgresPassword, xnatPostgresBackupPassword, xnatHubAccountPassword, labDatabaseRootPassword, labDatabaseUserPasswords",
            id="unknown-rotation-key",
        ),
        pytest.param(
            {"labhub:spyglassHub": "enabled"},
            "labhub:spyglassHub: 'enabled' is not an object; write it as a YAML mapping in the stack file",
            id="section-not-an-object",
        ),
        pytest.param(
            _raw(spyglassHub={"auth": {"type": "github"}}),
            "labhub:spyglassHub.auth: clientId is required when type is 'github'",
            id="oauth-without-client-id",
        ),
    ],
)
def test_a_bad_value_fails_with_one_line_naming_key_value_and_allowed(raw: dict[str, str], expected_line: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config(raw)
    assert str(error.value) == expected_line


def test_an_oauth_hub_needs_its_client_secret_from_outside() -> None:
    config = parse_stack_config(_raw(spyglassHub={"host": "hub.example.org", "auth": {"type": "github", "clientId": "abc", "allowedUsers": ["ann"]}}))
    assert required_secret_keys(config) == ["labhub:spyglassOAuthClientSecret"]
    assert required_secret_keys(parse_stack_config({})) == []


def test_a_missing_required_secret_stops_the_program_with_the_command_to_set_it() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^labhub:spyglassOAuthClientSecret: required secret is missing; set it with `pulumi config set --secret spyglassOAuthClientSecret <value>`$",
    ):
        run_under_mocks(lambda: external_secret("spyglassOAuthClientSecret"))


def test_a_required_secret_is_read_as_a_pulumi_secret() -> None:
    seen = {}
    run_under_mocks(
        lambda: seen.update(value=external_secret("spyglassOAuthClientSecret")),
        config={"labhub:spyglassOAuthClientSecret": "from-the-stack-file"},
        secret_keys={"labhub:spyglassOAuthClientSecret"},
    )
    assert is_secret_output(seen["value"])


def test_the_program_stops_on_bad_config_without_a_traceback(tmp_path) -> None:
    (tmp_path / "Pulumi.yaml").write_text((PROJECT_DIR / "Pulumi.yaml").read_text())
    with pytest.raises(ConfigError, match=r"^labhub:spyglassHub.cull.every: 5 is not allowed"):
        run_program(PROJECT_DIR, "labhub", "bad", _raw(spyglassHub={"cull": {"every": 5}}))


def test_render_of_prod_stands_in_for_the_secret_the_stack_file_does_not_hold() -> None:
    result = run_stack("prod", PROJECT_DIR)
    assert any(w.startswith("labhub:spyglassOAuthClientSecret is a required secret that Pulumi.prod.yaml does not hold") for w in result.warnings)


def test_the_readme_config_reference_is_the_one_the_models_generate() -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    block = readme.split("<!-- config-reference:start -->\n", 1)[1].split("<!-- config-reference:end -->", 1)[0]
    assert block == config_reference_markdown(), "README.md is stale: run scripts/update-config-reference"
    assert all(f"`{key}`" in block for key, *_ in config_reference_rows())
