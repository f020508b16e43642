"""XnatHub under mocks: the z2jh chart an XNAT plugin can drive, wired to StackSecrets and its Postgres.

Invariants: the chart is pinned and installed in the hub's namespace after the
Secrets and database it needs; its values pass z2jh 4.4.0's schema; they carry
the XNAT module exactly as the repository has it (hub.extraFiles beside z2jh's
config), name its authenticator and set its spawn hook; the hub database URL
has no password and the hub reads the password, and its XNAT account's, from
Secrets, never from a literal; the generated tokens are secrets; the `xnat`
service holds only the scopes XNAT's calls need; the hub's network policy
opens egress to XNAT, its Postgres, the API server and DNS only; the stack
outputs give the XNAT admin what the plugin asks for, credentials as secrets.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type, the_one

from components.config import StackConfig
from components.models.xnat_hub import XnatHubConfig
from components.postgres import postgres_manifests
from components.stack_secrets import ComponentOffError, StackSecrets, StackSecretsArgs
from components.xnat_hub import XnatHub, XnatHubArgs
from labhub.engine import StackRun
from labhub.xnat import HUB_MODULE
from labhub.z2jh_schema import validate_z2jh_values

CHART = "kubernetes:helm.sh/v4:Chart"
SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret
XNAT = {"url": "https://xnat-web.xnat.svc:8443", "namespace": "xnat", "podLabels": {"app": "xnat-web"}, "uid": 54, "gid": 55}
HUB = {"enabled": True, "releaseName": "jh", "host": "xnat.example.org", "xnat": XNAT}


def _run(run_component, hub: dict[str, Any], config: dict[str, str] | None = None) -> tuple[StackRun, dict[str, Any]]:
    stack = StackConfig.model_validate({"spyglassHub": {"enabled": False}, "xnatHub": hub})

    def build(built: dict[str, Any]) -> None:
        secrets = StackSecrets("secrets", StackSecretsArgs(config=stack, xnat_namespace="xnat"))
        built["secrets"] = secrets
        built["hub"] = XnatHub("xnat", XnatHubArgs(config=stack.xnat_hub, namespace="xnat", secrets=secrets.xnat_hub))

    return run_component(build, config=config)


def _values(result: StackRun) -> dict[str, Any]:
    chart = the_one(result, CHART, "xnat-chart")
    assert rpc.is_rpc_secret(chart.inputs["values"]), "values hold the hub tokens and must be secret"
    return rpc.unwrap_rpc_secret(chart.inputs["values"])


def test_the_chart_is_pinned_and_waits_for_its_secrets_and_database(run_component) -> None:
    result, _ = _run(run_component, HUB)
    chart = the_one(result, CHART, "xnat-chart")
    assert {k: chart.inputs[k] for k in ("chart", "version", "namespace", "name")} == {
        "chart": "jupyterhub", "version": "4.4.0", "namespace": "xnat", "name": "jh",
    }  # fmt: skip
    needed = {the_one(result, SECRET, "secrets-xnat-postgres").urn, the_one(result, SECRET, "secrets-xnat-account").urn,
              the_one(result, "kubernetes:apps/v1:StatefulSet", "xnat-postgres-statefulset").urn}  # fmt: skip
    assert needed <= set(chart.dependencies)
    assert chart.parent_urn == the_one(result, "labhub:components:XnatHub", "xnat").urn


def test_the_values_pass_the_z2jh_schema(run_component) -> None:
    result, _ = _run(run_component, HUB)
    assert validate_z2jh_values(_values(result)) == []


def test_the_xnat_module_ships_as_one_file_beside_z2jhs_config_and_is_wired_in(run_component) -> None:
    hub = _values(_run(run_component, HUB)[0])["hub"]
    assert hub["extraFiles"] == {
        "xnat-jupyterhub": {"mountPath": "/usr/local/etc/jupyterhub/xnat_jupyterhub.py", "stringData": HUB_MODULE.read_text(encoding="utf-8")}
    }
    assert hub["config"]["JupyterHub"]["authenticator_class"] == "xnat_jupyterhub.XnatAuthenticator"
    assert list(hub["extraConfig"].values()) == ["import xnat_jupyterhub\nc.KubeSpawner.pre_spawn_hook = xnat_jupyterhub.pre_spawn_hook\n"]
    assert (hub["baseUrl"], hub["allowNamedServers"]) == ("/jupyterhub", True)


def test_the_database_url_has_no_password_and_passwords_come_from_secrets(run_component) -> None:
    result, _ = _run(run_component, HUB)
    hub = _values(result)["hub"]
    assert hub["db"] == {"type": "postgres", "url": "postgresql+psycopg2://jupyterhub@jh-postgres.xnat.svc.cluster.local:5432/jupyterhub", "upgrade": True}
    env = hub["extraEnv"]
    assert env["PGPASSWORD"] == {"valueFrom": {"secretKeyRef": {"name": "jh-postgres", "key": "password"}}}
    assert env["JH_XNAT_PASSWORD"] == {"valueFrom": {"secretKeyRef": {"name": "jh-xnat-account", "key": "password"}}}
    assert {k: v for k, v in env.items() if isinstance(v, str)} == {
        "JH_XNAT_URL": "https://xnat-web.xnat.svc:8443", "JH_XNAT_VERIFY_TLS": "true", "JH_XNAT_TIMEOUT": "10", "JH_XNAT_USERNAME": "jupyterhub",
        "JH_XNAT_ARCHIVE_PVC": "archive", "JH_XNAT_ARCHIVE_PATH": "/data/xnat/archive", "JH_XNAT_WORKSPACE_PATH": "/data/xnat/workspaces",
        "JH_XNAT_UID": "54", "JH_XNAT_GID": "55",
    }  # fmt: skip
    for key in ("secrets-xnat-postgres", "secrets-xnat-account"):
        string_data = the_one(result, SECRET, key).inputs["stringData"]
        assert rpc.is_rpc_secret(string_data) or rpc.is_rpc_secret(string_data["password"]), key
    statefulset = the_one(result, "kubernetes:apps/v1:StatefulSet", "xnat-postgres-statefulset")
    password_env = next(e for e in statefulset.inputs["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "POSTGRES_PASSWORD")
    assert password_env["valueFrom"]["secretKeyRef"] == {"name": "jh-postgres", "key": "password"}


def test_the_generated_tokens_are_secrets_in_their_places(run_component) -> None:
    result, _ = _run(run_component, HUB)
    values = _values(result)
    secret_values = result.secret_values
    hub = values["hub"]
    for token in (hub["config"]["JupyterHub"]["cookie_secret"], hub["config"]["ConfigurableHTTPProxy"]["auth_token"], hub["services"]["xnat"]["api_token"]):
        assert token in secret_values
    assert len({hub["config"]["JupyterHub"]["cookie_secret"], hub["config"]["ConfigurableHTTPProxy"]["auth_token"], hub["services"]["xnat"]["api_token"]}) == 3


def test_the_xnat_service_gets_only_the_scopes_of_xnats_calls(run_component) -> None:
    hub = _values(_run(run_component, HUB)[0])["hub"]
    assert set(hub["services"]) == {"xnat"} and "admin" not in hub["services"]["xnat"]
    assert hub["loadRoles"]["xnat"]["services"] == ["xnat"]
    assert sorted(hub["loadRoles"]["xnat"]["scopes"]) == ["access:servers", "admin:servers", "admin:users", "read:hub", "tokens"]


def test_users_get_their_xnat_workspace_and_run_as_the_archive_owner(run_component) -> None:
    single = _values(_run(run_component, {**HUB, "startTimeout": 240})[0])["singleuser"]
    assert single["storage"] == {"type": "static", "static": {"pvcName": "workspaces", "subPath": "users/{unescaped_username}"}, "homeMountPath": "/workspace/{unescaped_username}"}
    assert (single["uid"], single["fsGid"], single["startTimeout"]) == (54, 55, 240)


def test_the_hub_may_reach_xnat_its_postgres_the_api_server_and_dns_only(run_component) -> None:
    policy = _values(_run(run_component, HUB)[0])["hub"]["networkPolicy"]
    assert policy["egressAllowRules"] == {
        "cloudMetadataServer": False, "dnsPortsCloudMetadataServer": True, "dnsPortsKubeSystemNamespace": True,
        "dnsPortsPrivateIPs": True, "nonPrivateIPs": False, "privateIPs": False,
    }  # fmt: skip
    xnat, postgres, api = policy["egress"]
    assert xnat == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "xnat"}}, "podSelector": {"matchLabels": {"app": "xnat-web"}}}],
        "ports": [{"protocol": "TCP", "port": 8443}],
    }
    assert postgres == {"to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "jh-postgres"}}}], "ports": [{"protocol": "TCP", "port": 5432}]}
    assert {p["port"] for p in api["ports"]} == {443, 6443}


def test_the_postgres_policy_admits_the_pods_z2jh_labels_as_this_hub(run_component) -> None:
    """z2jh labels the hub pod app=jupyterhub, component=hub, release=<release name>."""
    result, _ = _run(run_component, HUB)
    policy = the_one(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "xnat-postgres-networkpolicy")
    (rule,) = policy.inputs["spec"]["ingress"]
    assert rule["from"] == [{"podSelector": {"matchLabels": {"app": "jupyterhub", "component": "hub", "release": "jh"}}}]


def test_an_external_postgres_is_reached_at_its_address_with_the_operators_password(run_component) -> None:
    hub = {**HUB, "postgres": {"external": {"host": "db.example.org", "port": 6432, "cidrs": ["10.9.0.0/24"]}}}
    result, _ = _run(run_component, hub, config={"labhub:xnatPostgresPassword": "operator-chosen-" + "x" * 16})
    values = _values(result)
    assert values["hub"]["db"]["url"] == "postgresql+psycopg2://jupyterhub@db.example.org:6432/jupyterhub"
    assert values["hub"]["networkPolicy"]["egress"][1] == {"to": [{"ipBlock": {"cidr": "10.9.0.0/24"}}], "ports": [{"protocol": "TCP", "port": 6432}]}
    assert of_type(result, "kubernetes:apps/v1:StatefulSet") == []
    assert [r.name for r in of_type(result, "random:index/randomPassword:RandomPassword") if "Postgres" in r.name] == []


def test_secrets_of_an_xnat_hub_are_refused_when_it_is_off(run_component) -> None:
    stack = StackConfig.model_validate({"spyglassHub": {"enabled": False}})

    def build(built: dict[str, Any]) -> None:
        with pytest.raises(ComponentOffError, match="xnatHub is not enabled"):
            _ = StackSecrets("secrets", StackSecretsArgs(config=stack)).xnat_hub

    run_component(build)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_outputs_give_the_xnat_admin_the_plugin_settings(stack_runs: dict[str, StackRun], stack: str) -> None:
    outputs = stack_runs[stack].outputs
    host = {"dev": "http://xnat.localhost", "prod": "https://xnat.lab.example.org"}[stack]
    assert outputs["xnatJupyterHubUrl"] == f"{host}/jupyterhub"
    assert outputs["xnatJupyterHubApiUrl"] == f"{host}/jupyterhub/hub/api"
    assert outputs["xnatJupyterHubXnatAccount"] == "jupyterhub"
    for key in ("xnatJupyterHubServiceToken", "xnatJupyterHubXnatPassword"):
        assert rpc.is_rpc_secret(outputs[key]), key
    values = next(r for r in of_type(stack_runs[stack], CHART) if r.name == "xnat-chart").inputs["values"]
    assert rpc.unwrap_rpc_secret(outputs["xnatJupyterHubServiceToken"]) == rpc.unwrap_rpc_secret(values)["hub"]["services"]["xnat"]["api_token"]


def test_the_postgres_builder_and_the_hub_agree_on_names() -> None:
    hub = XnatHubConfig.model_validate(HUB)
    manifests = postgres_manifests(hub.postgres, hub.postgres_name, hub.namespace, hub.postgres_secret_name, {})
    assert f"{manifests['Service']['metadata']['name']}.{hub.namespace}.svc.cluster.local" in hub.db_url
