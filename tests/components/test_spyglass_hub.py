"""SpyglassHub under mocks: the z2jh chart as the engine would receive it, wired to StackSecrets.

Invariants: the chart is pinned (name, version, repository) and installed in
the hub's namespace; its values carry the sidecar with the root password by
reference to the Secret StackSecrets made (never a literal), the generated hub
tokens as secrets, and Helm hooks off (helm.v4.Chart runs none); mysqld's
config (loopback only, buffer pool inside the limit) ships as a ConfigMap; the
stack config maps onto the values builder faithfully, and a combination it
refuses fails at config time with one line.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import the_one

from components import mysql_sidecar
from components.config import ConfigError, StackConfig
from components.models.spyglass_hub import SpyglassHubConfig
from components.mysql_memory import plan_mysql_memory
from components.spyglass_hub import SpyglassHub, SpyglassHubArgs
from components.stack_secrets import StackSecrets, StackSecretsArgs
from labhub.engine import StackRun

CHART = "kubernetes:helm.sh/v4:Chart"


def _config(**overrides: Any) -> SpyglassHubConfig:
    return SpyglassHubConfig.model_validate({"namespace": "spyglass", **overrides})


def _run(run_component, config: SpyglassHubConfig, **args: Any) -> tuple[StackRun, dict[str, Any]]:
    def build(built: dict[str, Any]) -> None:
        stack = StackConfig(spyglassHub=config)
        secrets = StackSecrets("secrets", StackSecretsArgs(config=stack, spyglass_namespace="spyglass"))
        built["secrets"] = secrets
        built["hub"] = SpyglassHub("spyglass", SpyglassHubArgs(config=config, namespace="spyglass", secrets=secrets.spyglass_hub, **args))

    return run_component(build)


def _values(result: StackRun) -> dict[str, Any]:
    chart = the_one(result, CHART, "spyglass-chart")
    assert rpc.is_rpc_secret(chart.inputs["values"]), f"{chart.urn}: values hold the hub tokens and must be secret"
    return rpc.unwrap_rpc_secret(chart.inputs["values"])


def test_the_chart_is_pinned_and_installed_in_the_hub_namespace(run_component) -> None:
    result, built = _run(run_component, _config())
    chart = the_one(result, CHART, "spyglass-chart")
    assert {k: chart.inputs[k] for k in ("chart", "version", "namespace", "name")} == {
        "chart": "jupyterhub", "version": "4.4.0", "namespace": "spyglass", "name": "spyglass",
    }  # fmt: skip
    assert chart.inputs["repositoryOpts"] == {"repo": "https://hub.jupyter.org/helm-chart/"}
    hub = the_one(result, "labhub:components:SpyglassHub", "spyglass")
    assert chart.parent_urn == hub.urn
    secret = the_one(result, "kubernetes:core/v1:Secret", "secrets-mysql")
    config_map = the_one(result, "kubernetes:core/v1:ConfigMap", "spyglass-mysql-config")
    assert {secret.urn, config_map.urn} <= set(chart.dependencies), "pods must not start before what they mount"


def test_the_sidecar_takes_its_password_from_the_stack_secret_never_a_literal(run_component) -> None:
    result, _ = _run(run_component, _config())
    values = _values(result)
    (sidecar,) = values["singleuser"]["extraContainers"]
    env = {e["name"]: e for e in sidecar["env"]}
    assert env["MYSQL_ROOT_PASSWORD"] == {
        "name": "MYSQL_ROOT_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": "spyglass-mysql", "key": "root-password"}},
    }
    assert values["singleuser"]["extraEnv"]["DJ_PASS"]["valueFrom"]["secretKeyRef"]["name"] == "spyglass-mysql"
    assert sidecar["image"] == "datajoint/mysql:8.0"
    assert sidecar["resources"] == {"limits": {"memory": "4Gi", "cpu": "1"}, "requests": {"memory": "64Mi", "cpu": "0.01"}}
    assert sidecar["startupProbe"] and sidecar["readinessProbe"] and sidecar["securityContext"]["runAsNonRoot"]
    assert "tutorial" not in json.dumps(values)


def test_generated_tokens_are_set_explicitly_so_they_survive_upgrades(run_component) -> None:
    result, built = _run(run_component, _config())
    config = _values(result)["hub"]["config"]
    generated = result.secret_values
    assert config["ConfigurableHTTPProxy"]["auth_token"] in generated
    assert config["JupyterHub"]["cookie_secret"] in generated
    assert config["CryptKeeper"]["keys"][0] in generated
    assert len({config["ConfigurableHTTPProxy"]["auth_token"], config["JupyterHub"]["cookie_secret"], config["CryptKeeper"]["keys"][0]}) == 3


def test_helm_hooks_are_off_because_helm_v4_chart_runs_none(run_component) -> None:
    result, _ = _run(run_component, _config())
    assert _values(result)["prePuller"] == {"hook": {"enabled": False}, "continuous": {"enabled": True}}


def test_mysqld_config_binds_loopback_and_sizes_the_pool_to_the_limit(run_component) -> None:
    result, _ = _run(run_component, _config(mysql={"memoryLimit": "1Gi"}))
    config_map = the_one(result, "kubernetes:core/v1:ConfigMap", "spyglass-mysql-config")
    text = config_map.inputs["data"][mysql_sidecar.SERVER_CNF_KEY]
    assert "bind-address = 127.0.0.1" in text or "bind_address = 127.0.0.1" in text, text
    assert plan_mysql_memory("1Gi").buffer_pool_bytes == 512 * 2**20
    assert f"innodb_buffer_pool_size = {512 * 2**20}\n" in text, text


@pytest.mark.parametrize(
    ("persistent", "data_volume"),
    [pytest.param(False, mysql_sidecar.DATA_VOLUME, id="ephemeral"), pytest.param(True, "volume-{user_server}", id="persistent")],
)
def test_persistence_puts_the_database_on_the_users_own_volume(run_component, persistent: bool, data_volume: str) -> None:
    result, _ = _run(run_component, _config(mysql={"persistence": {"enabled": persistent}}))
    singleuser = _values(result)["singleuser"]
    (sidecar,) = singleuser["extraContainers"]
    assert sidecar["volumeMounts"][0]["name"] == data_volume
    assert [c["name"] for c in singleuser["initContainers"]] == (["mysql-data-owner"] if persistent else [])


def test_values_the_chart_schema_refuses_stop_the_program_naming_the_values_path(run_component) -> None:
    """Defence in depth: whatever the model lets through, the chart's own schema checks before anything registers.

    The model refuses every value it knows to be wrong, so the bad value here is
    put in past validation (`model_copy(update=...)` does not validate).
    """
    unchecked = _config().model_copy(update={"ingress_class_name": 7})
    with pytest.raises(ConfigError) as error:
        _run(run_component, unchecked)
    assert str(error.value) == (
        "labhub:spyglassHub: the z2jh 4.4.0 values schema refuses the values built from it:\n"
        "  $.ingress.ingressClassName: 7 is not of type 'string', 'null'"
    )


def test_prod_values_carry_the_stack_files_hub_settings(stack_runs: dict[str, StackRun]) -> None:
    """The prod stack file, end to end under mocks: OAuth, ingress with TLS, culling, image, network policy."""
    prod = stack_runs["prod"]
    values = _values(prod)
    github = values["hub"]["config"]["GitHubOAuthenticator"]
    assert github["client_id"] == "Iv1.0123456789abcdef" and github["allowed_organizations"] == ["example-lab"]
    assert github["client_secret"] in prod.secret_values, "the OAuth client secret comes from secure config"
    assert github["oauth_callback_url"] == "https://spyglass.lab.example.org/hub/oauth_callback"
    assert values["ingress"]["tls"] == [{"hosts": ["spyglass.lab.example.org"], "secretName": "spyglass-tls"}]  # pragma: allowlist secret
    assert values["ingress"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"
    assert values["cull"] == {"enabled": True, "timeout": 3600, "every": 600, "maxAge": 0}
    assert values["singleuser"]["image"] == {"name": "quay.io/lorenlab/hhmi-spyglass-image", "tag": "82450331e8f1"}  # pragma: allowlist secret (a public image tag)
    assert values["singleuser"]["defaultUrl"].startswith("/git-pull?repo=https%3A%2F%2Fgithub.com%2FLorenFrankLab%2Fspyglass-demo")
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True and policy["egressAllowRules"]["privateIPs"] is False and policy["ingress"] == []
    assert values["singleuser"]["initContainers"][0]["name"] == "mysql-data-owner", "prod keeps databases"


def test_dev_values_use_the_dummy_authenticator_and_ephemeral_databases(stack_runs: dict[str, StackRun]) -> None:
    values = _values(stack_runs["dev"])
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "dummy"
    assert "GitHubOAuthenticator" not in values["hub"]["config"]
    assert values["singleuser"]["initContainers"] == []
    assert "tls" not in values["ingress"]
