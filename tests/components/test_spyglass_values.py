"""The Spyglass hub's z2jh values: valid for chart 4.4.0, tokens only where declared, sidecar wired in.

Invariants: dev-like and prod-like values validate against the z2jh 4.4.0
values schema; the generated tokens appear at exactly the paths in
`CREDENTIAL_VALUE_PATHS` (and are placed as given, so pulumi Outputs stay
secret); the notebook finds its database with no setup (DJ_* env, /etc/my.cnf);
persistence puts the database in the user's own home volume and nowhere else;
user pods take ingress only from the hub and proxy; images are pinned.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubespawner_expansion import expand

from components.credential_paths import CHART_CREDENTIAL_PATHS
from components.models.spyglass_hub import SpyglassHubConfig
from components.spyglass_values import HubTokens, spyglass_hub_values
from labhub import z2jh_schema
from labhub.z2jh_schema import validate_z2jh_values

SPYGLASS_DEMO = (
    "/git-pull?repo=https%3A%2F%2Fgithub.com%2FLorenFrankLab%2Fspyglass-demo"
    "&urlpath=lab%2Ftree%2Fspyglass-demo%2Fnotebooks%2F00_HubQuickStart.ipynb&branch=main"
)
# Distinct sentinels, so a test can find where each token landed.
TOKENS = HubTokens(proxy_token="PROXYTOKEN" * 6, cookie_secret="COOKIESECRET" * 5, crypt_keeper_keys=["CRYPTKEY" * 8], oauth_client_secret="OAUTHSECRET" * 4)
SERVICE_TOKEN = "SERVICETOKEN" * 4
GITHUB = {"type": "github", "clientId": "Iv1.abc", "allowedOrganizations": ["LorenFrankLab"], "adminUsers": ["lead"]}
GENERIC = {"type": "generic-oauth", "clientId": "spyglass", "authorizeUrl": "https://id.example.org/auth", "tokenUrl": "https://id.example.org/token",
           "userdataUrl": "https://id.example.org/userinfo", "usernameClaim": "preferred_username", "allowedUsers": ["ada"]}  # fmt: skip


def _hub(**section: Any) -> SpyglassHubConfig:
    """A valid dev-like hub section (dummy auth on *.localhost, ephemeral database), camelCase keys overridden."""
    return SpyglassHubConfig.model_validate({"singleuser": {"image": "quay.io/lorenlab/hhmi-spyglass-image:82450331e8f1"}, **section})


def _prod_hub(**section: Any) -> SpyglassHubConfig:
    """A prod-like hub section: GitHub OAuth, TLS from cert-manager, persistent databases."""
    return _hub(**{
        "host": "spyglass.example.org",
        "tls": {"enabled": True, "clusterIssuer": "letsencrypt-prod"},
        "ingressClassName": "nginx",
        "auth": GITHUB,
        "singleuser": {"image": "quay.io/lorenlab/hhmi-spyglass-image:82450331e8f1", "defaultUrl": SPYGLASS_DEMO, "storage": {"storageClass": "standard-rwo"}},
        "mysql": {"persistence": {"enabled": True}},
        **section,
    })  # fmt: skip


def _values(hub: SpyglassHubConfig | None = None, tokens: HubTokens = TOKENS, **kwargs: Any) -> dict[str, Any]:
    hub = hub or _hub()
    if hub.auth.type == "dummy":
        tokens = HubTokens(tokens.proxy_token, tokens.cookie_secret, tokens.crypt_keeper_keys)
    return spyglass_hub_values(hub, tokens, **kwargs)


def _templates_service() -> dict[str, Any]:
    return {
        "services": {"templates": {"url": "http://notebook-templates:8080", "api_token": SERVICE_TOKEN, "oauth_redirect_uri": "/services/templates/oauth_callback"}},
        "load_roles": {"templates": {"scopes": ["access:servers", "read:users:name"], "services": ["templates"]}},
    }



def paths_of(value: Any, predicate: Any, prefix: str = "") -> list[str]:
    """Dotted paths (list items as the parent's path) of every leaf for which predicate holds."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in paths_of(v, predicate, f"{prefix}.{k}" if prefix else k)]
    if isinstance(value, list):
        return [p for v in value for p in paths_of(v, predicate, prefix)]
    return [prefix] if predicate(value) else []


# --- schema ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "values",
    [
        pytest.param(lambda: _values(), id="dev"),
        pytest.param(lambda: _values(_prod_hub(), **_templates_service()), id="prod"),
        pytest.param(lambda: _values(_prod_hub(auth=GENERIC)), id="generic-oauth"),
        pytest.param(lambda: _values(_hub(singleuser={"storage": {"type": "none"}})), id="no-home-storage"),
        pytest.param(lambda: _values(_hub(network={"nonPrivateClusterCidrs": ["100.64.0.0/10"]})), id="carved-egress"),
    ],
)
def test_values_validate_against_the_z2jh_440_schema(values: Any) -> None:
    assert validate_z2jh_values(values()) == []


def test_schema_validator_reports_each_error_with_its_json_path() -> None:
    values = _values()
    values["singleuser"]["imagee"] = values["singleuser"].pop("image")
    values["cull"]["timeout"] = "1h"
    assert validate_z2jh_values(values) == [
        "$.cull.timeout: '1h' is not of type 'integer', 'null'",
        "$.singleuser: Additional properties are not allowed ('imagee' was unexpected)",
    ]


def test_schema_validator_checks_unknown_values_as_strings() -> None:
    """A pulumi Output in the values is checked as a placeholder string, not a type error."""
    assert validate_z2jh_values(_values(tokens=HubTokens(object(), object(), [object()]))) == []


def test_the_schema_is_the_chart_file_kept_in_the_package() -> None:
    """The repository carries z2jh 4.4.0's own schema, byte for byte (NOTICE.md records its hash and licence)."""
    path = z2jh_schema.schema_path()
    assert path.parent == Path(z2jh_schema.__file__).resolve().parent / "schemas"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == "1d9d48ee343efda1140edfc3de4d8ec4113ae9173bf9e44b83f19c2ca335a0dc"  # pragma: allowlist secret (the schema file's public sha256)
    assert "BSD 3-Clause License" in (path.parent / "NOTICE.md").read_text()


def test_the_kept_schema_is_a_valid_draft_7_schema() -> None:
    """A render loads it without checking it (that cost a tenth of a render): this checks it once, here."""
    from labhub.json_schema import jsonschema

    jsonschema.Draft7Validator.check_schema(yaml.safe_load(z2jh_schema.schema_path().read_text()))


def test_schema_errors_name_the_values_path() -> None:
    assert z2jh_schema.validate_z2jh_values({"ingress": {}}) == ["$.ingress: 'enabled' is a required property"]


@pytest.mark.parametrize("persistence", [False, True], ids=["ephemeral", "persistent"])
def test_user_pod_containers_validate_as_kubernetes_objects(persistence: bool) -> None:
    """Extra and init containers, with the pod volumes z2jh and our values add, make a valid Pod."""
    singleuser = expand(_values(_hub(mysql={"persistence": {"enabled": persistence}}))["singleuser"])
    volumes = [{"name": "volume-test-40lab", "persistentVolumeClaim": {"claimName": "claim-test-40lab"}}, *singleuser["storage"]["extraVolumes"].values()]
    notebook = {"name": "notebook", "image": "x:1", "volumeMounts": list(singleuser["storage"]["extraVolumeMounts"].values())}
    pod = {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "jupyter-test-40lab"},
        "spec": {"initContainers": singleuser["initContainers"], "containers": [notebook, *singleuser["extraContainers"]], "volumes": volumes},
    }
    kubernetes_validate.validate(pod, kubernetes_validate.latest_version(), strict=True)
    mounted = {m["name"] for c in pod["spec"]["containers"] + pod["spec"]["initContainers"] for m in c["volumeMounts"]}
    assert mounted <= {v["name"] for v in volumes}, "every mount has its volume"


# --- credentials --------------------------------------------------------------------


def test_tokens_appear_exactly_at_the_declared_credential_paths() -> None:
    values = _values(_prod_hub(), **_templates_service())
    sentinels = {TOKENS.proxy_token, TOKENS.cookie_secret, *TOKENS.crypt_keeper_keys, TOKENS.oauth_client_secret, SERVICE_TOKEN}
    found = paths_of(values, lambda leaf: leaf in sentinels)
    assert sorted(found) == sorted(
        [
            "hub.config.ConfigurableHTTPProxy.auth_token",
            "hub.config.CryptKeeper.keys",
            "hub.config.GitHubOAuthenticator.client_secret",
            "hub.config.JupyterHub.cookie_secret",
            "hub.services.templates.api_token",
        ]
    )
    patterns = [pattern.split(".") for pattern in CHART_CREDENTIAL_PATHS]
    assert all(any(len(p.split(".")) == len(q) and all(b in ("*", a) for a, b in zip(p.split("."), q, strict=True)) for q in patterns) for p in found)


def test_tokens_are_placed_as_given_so_outputs_stay_outputs() -> None:
    proxy, cookie, key, secret = object(), object(), object(), object()
    values = spyglass_hub_values(_prod_hub(), HubTokens(proxy, cookie, [key], secret))
    config = values["hub"]["config"]
    assert config["ConfigurableHTTPProxy"]["auth_token"] is proxy
    assert config["JupyterHub"]["cookie_secret"] is cookie
    assert config["CryptKeeper"]["keys"] == [key] and config["CryptKeeper"]["keys"][0] is key
    assert config["GitHubOAuthenticator"]["client_secret"] is secret


def test_no_database_password_reaches_the_values() -> None:
    """The sidecar and notebook get the MySQL password by Secret reference only."""
    values = json.dumps(_values(_prod_hub()))
    assert "secretKeyRef" in values and "MYSQL_ROOT_PASSWORD\", \"value\"" not in values
    assert paths_of(_values(), lambda leaf: isinstance(leaf, str) and "password" in leaf.lower() and "=" in leaf) == []


# --- authentication ---------------------------------------------------------------


def test_dummy_authenticator_allows_all_for_local_development() -> None:
    config = _values()["hub"]["config"]
    assert config["JupyterHub"]["authenticator_class"] == "dummy"
    assert config["Authenticator"] == {"allow_all": True}
    assert not any(k.endswith("OAuthenticator") for k in config)


def test_github_oauth_gets_client_callback_and_allowed_organisations() -> None:
    config = _values(_prod_hub())["hub"]["config"]
    assert config["JupyterHub"] == {"authenticator_class": "github", "cookie_secret": TOKENS.cookie_secret}
    assert config["Authenticator"] == {"admin_users": ["lead"]}
    assert config["GitHubOAuthenticator"] == {
        "client_id": "Iv1.abc",
        "client_secret": TOKENS.oauth_client_secret,
        "oauth_callback_url": "https://spyglass.example.org/hub/oauth_callback",
        "allowed_organizations": ["LorenFrankLab"],
    }


def test_generic_oauth_gets_its_endpoints() -> None:
    auth = {"type": "generic-oauth", "clientId": "c", "authorizeUrl": "https://i/a", "tokenUrl": "https://i/t", "userdataUrl": "https://i/u", "scope": ["openid"], "allowedUsers": ["ada"]}
    config = _values(_prod_hub(auth=auth))["hub"]["config"]
    assert config["Authenticator"] == {"allowed_users": ["ada"]}
    assert config["GenericOAuthenticator"] == {
        "client_id": "c", "client_secret": TOKENS.oauth_client_secret, "oauth_callback_url": "https://spyglass.example.org/hub/oauth_callback",
        "scope": ["openid"], "authorize_url": "https://i/a", "token_url": "https://i/t", "userdata_url": "https://i/u",
    }


def test_oauth_without_a_client_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="^auth type 'github' needs the OAuth client secret$"):
        spyglass_hub_values(_prod_hub(), HubTokens(TOKENS.proxy_token, TOKENS.cookie_secret, TOKENS.crypt_keeper_keys))


# --- ingress, culling, image --------------------------------------------------------


def test_ingress_serves_the_host_with_tls_from_cert_manager() -> None:
    values = _values(_prod_hub(ingressAnnotations={"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}))
    assert values["ingress"] == {
        "enabled": True,
        "hosts": ["spyglass.example.org"],
        "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m", "cert-manager.io/cluster-issuer": "letsencrypt-prod"},
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["spyglass.example.org"], "secretName": "spyglass-tls"}],
    }
    assert values["proxy"] == {"service": {"type": "ClusterIP"}}


def test_without_a_tls_secret_there_is_no_tls_and_the_callback_is_http() -> None:
    values = _values()
    assert "tls" not in values["ingress"]
    assert _hub().url == "http://spyglass.localhost"


def test_culling_is_configurable() -> None:
    values = _values(_hub(cull={"enabled": True, "timeout": 7200, "every": 300, "maxAge": 86400}))
    assert values["cull"] == {"enabled": True, "timeout": 7200, "every": 300, "maxAge": 86400}


@pytest.mark.parametrize(
    ("image", "name", "tag"),
    [
        pytest.param("quay.io/lorenlab/hhmi-spyglass-image:82450331e8f1", "quay.io/lorenlab/hhmi-spyglass-image", "82450331e8f1", id="tag"),
        pytest.param("registry:5000/spyglass:1.2", "registry:5000/spyglass", "1.2", id="registry-port"),
        pytest.param("spyglass:1.2@sha256:" + "a" * 64, "spyglass", "1.2@sha256:" + "a" * 64, id="tag-and-digest"),
        pytest.param("localhost:5001/spyglass@sha256:" + "a" * 64, "localhost:5001/spyglass@sha256:" + "a" * 64, "", id="digest-only"),
    ],
)
def test_singleuser_image_is_split_into_name_and_pinned_tag(image: str, name: str, tag: str) -> None:
    assert _values(_hub(singleuser={"image": image}))["singleuser"]["image"] == {"name": name, "tag": tag}


@pytest.mark.parametrize(
    "image",
    [
        pytest.param("quay.io/jupyter/scipy-notebook:latest", id="latest"),
        pytest.param("quay.io/jupyter/scipy-notebook:LATEST", id="latest-upper"),
        pytest.param("quay.io/jupyter/scipy-notebook", id="untagged"),
        pytest.param("registry:5000/spyglass", id="untagged-with-port"),
    ],
)
def test_unpinned_singleuser_images_are_refused(image: str) -> None:
    with pytest.raises(ValueError, match="singleuser.image"):
        _hub(singleuser={"image": image})


def test_resources_of_the_notebook_and_the_hub_are_set() -> None:
    values = _values(_hub(singleuser={"memoryLimit": "8G", "memoryGuarantee": "2G", "cpuLimit": "1500m", "cpuGuarantee": 0.5}))
    assert values["singleuser"]["memory"] == {"limit": "8G", "guarantee": "2G"}
    assert values["singleuser"]["cpu"] == {"limit": 1.5, "guarantee": 0.5}
    assert values["hub"]["resources"] == {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}}


# --- the database in the user pod ---------------------------------------------------


def test_notebook_finds_the_database_with_no_setup() -> None:
    singleuser = _values()["singleuser"]
    assert singleuser["extraEnv"] == {
        "DJ_HOST": "127.0.0.1",
        "DJ_USER": "root",
        "DJ_PASS": {"valueFrom": {"secretKeyRef": {"name": "spyglass-mysql", "key": "root-password"}}},
    }
    assert singleuser["storage"]["extraVolumeMounts"] == {
        "labhub-mysql-client": {"name": "labhub-mysql-secret", "mountPath": "/etc/my.cnf", "subPath": "client.cnf", "readOnly": True},
    }


def test_ephemeral_database_lives_in_an_emptydir_and_needs_no_init_container() -> None:
    singleuser = _values(_hub(mysql={"ephemeralSizeLimit": "5Gi"}))["singleuser"]
    assert singleuser["initContainers"] == []
    assert singleuser["extraContainers"][0]["volumeMounts"][0] == {"name": "labhub-mysql-data", "mountPath": "/var/lib/mysql"}
    assert singleuser["storage"]["extraVolumes"] == {
        "labhub-mysql-config": {"name": "labhub-mysql-config", "configMap": {"name": "spyglass-mysql-config", "items": [{"key": "labhub.cnf", "path": "labhub.cnf"}], "defaultMode": 0o444}},
        "labhub-mysql-secret": {"name": "labhub-mysql-secret", "secret": {"secretName": "spyglass-mysql", "items": [{"key": "client.cnf", "path": "client.cnf"}, {"key": "init.sql", "path": "init.sql"}], "defaultMode": 0o444}},
        "labhub-mysql-data": {"name": "labhub-mysql-data", "emptyDir": {"sizeLimit": "5Gi"}},
    }


def test_persistent_database_lives_in_the_users_own_home_volume() -> None:
    singleuser = _values(_prod_hub())["singleuser"]
    assert singleuser["storage"]["type"] == "dynamic"
    assert singleuser["storage"]["dynamic"] == {"volumeNameTemplate": "volume-{user_server}", "storageClass": "standard-rwo"}
    assert singleuser["extraContainers"][0]["volumeMounts"][0] == {"name": "volume-{user_server}", "subPath": ".labhub/mysql", "mountPath": "/var/lib/mysql"}
    assert [c["name"] for c in singleuser["initContainers"]] == ["mysql-data-owner"]
    assert "labhub-mysql-data" not in singleuser["storage"]["extraVolumes"]


def test_home_storage_is_independent_of_the_database_switch() -> None:
    storage = _values(_hub(singleuser={"storage": {"type": "none"}}))["singleuser"]["storage"]
    assert (storage["type"], "capacity" in storage, "dynamic" in storage) == ("none", False, False)
    assert _values(_hub(singleuser={"storage": {"capacity": "20Gi"}}))["singleuser"]["storage"]["capacity"] == "20Gi"


def test_every_kubespawner_expanded_string_expands_to_itself_except_the_home_volume() -> None:
    singleuser = _values(_prod_hub())["singleuser"]
    expanded_sections = {k: singleuser[k] for k in ("extraContainers", "initContainers", "extraEnv")}
    expanded_sections.update({k: singleuser["storage"][k] for k in ("extraVolumes", "extraVolumeMounts")})
    before = json.dumps(expanded_sections).replace("volume-{user_server}", "volume-test-40lab")
    assert json.dumps(expand(expanded_sections)) == before


# --- network policy -------------------------------------------------------------------


def test_user_pods_take_ingress_only_from_hub_and_proxy_and_reach_no_private_ip() -> None:
    assert _values()["singleuser"]["networkPolicy"] == {
        "enabled": True,
        "ingress": [],
        "allowedIngressPorts": [],
        "interNamespaceAccessLabels": "ignore",
        "egress": [],
        "egressAllowRules": {
            "cloudMetadataServer": False, "dnsPortsCloudMetadataServer": True, "dnsPortsKubeSystemNamespace": True,
            "dnsPortsPrivateIPs": True, "nonPrivateIPs": True, "privateIPs": False,
        },
    }


def test_non_private_cluster_cidrs_are_carved_out_of_internet_egress() -> None:
    policy = _values(_hub(network={"nonPrivateClusterCidrs": ["100.64.0.0/10"]}))["singleuser"]["networkPolicy"]
    assert policy["egressAllowRules"]["nonPrivateIPs"] is False
    assert policy["egress"] == [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.169.254/32", "100.64.0.0/10"]}}]}
    ]


def test_internet_egress_can_be_switched_off() -> None:
    policy = _values(_hub(network={"internetEgress": False, "nonPrivateClusterCidrs": ["100.64.0.0/10"]}))["singleuser"]["networkPolicy"]
    assert (policy["egressAllowRules"]["nonPrivateIPs"], policy["egress"]) == (False, [])


# --- services ---------------------------------------------------------------------------


def test_services_and_roles_are_passed_to_the_hub() -> None:
    hub = _values(_prod_hub(), **_templates_service())["hub"]
    assert hub["services"] == {
        "templates": {"name": "templates", "url": "http://notebook-templates:8080", "api_token": SERVICE_TOKEN, "oauth_redirect_uri": "/services/templates/oauth_callback"}
    }
    assert hub["loadRoles"] == {"templates": {"scopes": ["access:servers", "read:users:name"], "services": ["templates"]}}
    assert "services" not in _values()["hub"] and "loadRoles" not in _values()["hub"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"services": {"t": {"url": "http://t"}}}, "api_token explicitly", id="generated-token"),
        pytest.param({"services": {"t": {"url": "http://t", "apiToken": "x"}}}, "api_token explicitly", id="camel-token"),
        pytest.param({"services": {"t": {"api_token": "x", "admin": True}}}, "load_roles", id="admin-service"),
        pytest.param({"load_roles": {"r": {"services": ["t"]}}}, "scopes", id="role-without-scopes"),
    ],
)
def test_bad_services_and_roles_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _values(**kwargs)
