"""Each secret rule catches its planted violation, names the property path, and stays quiet on clean input.

Messages are compared by their leading property path (`path: what`), so a
test pins where the rule points without freezing its prose; the prose is pinned
once per rule in `test_messages_say_what_why_and_how`. Fake credentials here are
known-weak words ("tutorial") or generated at test time, never realistic.
"""

from __future__ import annotations

import secrets

import pytest
from policy_helpers import UNKNOWN, run_policy

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret
WEAK = "tutorial"  # 2i2c's MYSQL_ROOT_PASSWORD, the weak value this pack exists to catch


def generated(n: int = 32) -> str:
    """A stand-in for a pulumi_random value, made fresh per run."""
    return secrets.token_hex(n // 2)


def paths(messages: list[str]) -> list[str]:
    return [m.split(": ", 1)[0] for m in messages]


def pod(containers=None, **lists) -> dict:
    spec = {"containers": containers or []}
    spec.update(lists)
    return spec


def container(env=None, **extra) -> dict:
    return {"name": "c", "image": "mysql:8.0", **({"env": env} if env is not None else {}), **extra}


def deployment(spec: dict) -> dict:
    return {"spec": {"template": {"spec": spec}}}


def env(name: str, value) -> dict:
    return {"name": name, "value": value}


# --- no-plaintext-credential-env ----------------------------------------------------------------

ENV_VIOLATIONS = [
    pytest.param(DEPLOYMENT, deployment(pod([container([env("MYSQL_ROOT_PASSWORD", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="deployment"),
    pytest.param("kubernetes:core/v1:Pod", {"spec": pod([], initContainers=[container([env("PGPASSWORD", WEAK)])])},
                 ["spec.initContainers[0].env[0].value"], id="pod-init-container"),
    pytest.param("kubernetes:core/v1:Pod", {"spec": pod([], ephemeralContainers=[container([env("API_TOKEN", WEAK)])])},
                 ["spec.ephemeralContainers[0].env[0].value"], id="pod-ephemeral-container"),
    pytest.param("kubernetes:apps/v1:StatefulSet", deployment(pod([container([env("DB_PASSWD", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="statefulset-passwd"),
    pytest.param("kubernetes:apps/v1:DaemonSet", deployment(pod([container([env("MYSQL_PWD", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="daemonset-pwd"),
    pytest.param("kubernetes:apps/v1:ReplicaSet", deployment(pod([container([env("DJ_PASS", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="replicaset-dj-pass"),
    pytest.param("kubernetes:batch/v1:Job", deployment(pod([container([env("XNAT_SECRET", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="job-secret"),
    pytest.param("kubernetes:batch/v1:CronJob",
                 {"spec": {"jobTemplate": deployment(pod([container([env("S3_CREDENTIALS", WEAK)])]))}},
                 ["spec.jobTemplate.spec.template.spec.containers[0].env[0].value"], id="cronjob-job-template"),
    pytest.param("kubernetes:apps/v1:DeploymentPatch", deployment(pod([container([env("SIGNING_KEY", WEAK)])])),
                 ["spec.template.spec.containers[0].env[0].value"], id="deployment-patch-key"),
    pytest.param(RELEASE, {"values": {"singleuser": {"extraContainers": [container([env("MYSQL_ROOT_PASSWORD", WEAK)])]}}},
                 ["values.singleuser.extraContainers[0].env[0].value"], id="z2jh-singleuser-extra-containers"),
    pytest.param(RELEASE, {"values": {"hub": {"extraContainers": [container([env("TOKEN", WEAK)])]}}},
                 ["values.hub.extraContainers[0].env[0].value"], id="z2jh-hub-extra-containers"),
    pytest.param(RELEASE, {"values": {"singleuser": {"initContainers": [container([env("PASSWORD", WEAK)])]}}},
                 ["values.singleuser.initContainers[0].env[0].value"], id="z2jh-singleuser-init-containers"),
    pytest.param(RELEASE, {"values": {"hub": {"extraEnv": {"XNAT_PASSWORD": WEAK}}}},
                 ["values.hub.extraEnv.XNAT_PASSWORD"], id="z2jh-hub-extra-env-dict"),
    pytest.param(RELEASE, {"values": {"singleuser": {"extraEnv": {"DJ_PASS": {"value": WEAK}}}}},
                 ["values.singleuser.extraEnv.DJ_PASS.value"], id="z2jh-singleuser-extra-env-dict-value"),
    pytest.param("kubernetes:helm.sh/v4:Chart", {"values": {"singleuser": {"extraEnv": [env("DJ_PASS", WEAK)]}}},
                 ["values.singleuser.extraEnv[0].value"], id="v4-chart-extra-env-list"),
    pytest.param("kubernetes:helm.sh/v3:Chart", {"values": {"a": {"b": {"sidecars": {"db": container([env("ROOT_PASSWORD", WEAK)])}}}}},
                 ["values.a.b.sidecars.db.env[0].value"], id="v3-chart-generic-container"),
]


@pytest.mark.parametrize("resource_type, props, expected", ENV_VIOLATIONS)
def test_env_rule_catches_literal_credentials(resource_type, props, expected):
    assert paths(run_policy("no-plaintext-credential-env", resource_type, props)) == expected


ENV_CLEAN = [
    pytest.param(DEPLOYMENT, deployment(pod([container([{"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": "mysql", "key": "password"}}}])])), id="secret-key-ref"),
    pytest.param(DEPLOYMENT, deployment(pod([container([env("DJ_PASS", "$(MYSQL_ROOT_PASSWORD)")])])), id="kubelet-reference"),
    pytest.param(DEPLOYMENT, deployment(pod([container([env("DJ_USER", "root"), env("DJ_HOST", "127.0.0.1")])])),
                 id="not-credential-names"),
    pytest.param(DEPLOYMENT, deployment(pod([container([env("MYSQL_ROOT_PASSWORD_FILE", "/run/secrets/pw"),
                                                        env("MYSQL_RANDOM_ROOT_PASSWORD", "yes")])])), id="file-and-flags"),
    pytest.param(DEPLOYMENT, deployment(pod([container([env("MYSQL_ROOT_PASSWORD", UNKNOWN)])])), id="unknown-at-preview"),
    pytest.param(RELEASE, {"values": {"hub": {"extraEnv": {"DB_PASSWORD": {"valueFrom": {"secretKeyRef": {
        "name": "hub-db", "key": "password"}}}}}}}, id="z2jh-extra-env-value-from"),
    pytest.param("kubernetes:core/v1:Service", {"spec": {"containers": [container([env("PASSWORD", WEAK)])]}},
                 id="not-a-workload"),
]


@pytest.mark.parametrize("resource_type, props", ENV_CLEAN)
def test_env_rule_passes_clean_resources(resource_type, props):
    assert run_policy("no-plaintext-credential-env", resource_type, props) == []


def test_env_rule_reports_known_violation_next_to_an_unknown():
    props = deployment(pod([container([env("A_TOKEN", UNKNOWN), env("B_TOKEN", WEAK)])]))
    assert paths(run_policy("no-plaintext-credential-env", DEPLOYMENT, props)) == [
        "spec.template.spec.containers[0].env[1].value"]


def test_env_rule_takes_custom_patterns_from_config():
    props = deployment(pod([container([env("LAB_WORD", "x"), env("PASSWORD", WEAK)])]))
    config = {"credentialNamePatterns": ["^LAB_"]}
    assert paths(run_policy("no-plaintext-credential-env", DEPLOYMENT, props, config)) == [
        "spec.template.spec.containers[0].env[0].value"]


def test_env_rule_ignored_names_are_configurable():
    props = deployment(pod([container([env("LEGACY_PASSWORD", "ask the lab manager")])]))
    assert run_policy("no-plaintext-credential-env", DEPLOYMENT, props) != []
    assert run_policy("no-plaintext-credential-env", DEPLOYMENT, props, {"ignoredNamePatterns": ["^legacy_"]}) == []


# --- no-plaintext-credential-in-chart-values ---------------------------------------------------

CHART_VIOLATIONS = [
    pytest.param({"postgresql": {"auth": {"postgresPassword": WEAK}}}, ["values.postgresql.auth.postgresPassword"],
                 id="subchart-password"),
    pytest.param({"grafana": {"adminPassword": WEAK}}, ["values.grafana.adminPassword"], id="admin-password"),
    pytest.param({"hub": {"extraConfig": {"x": f"c.DummyAuthenticator.password = '{WEAK}'"}}},
                 ["values.hub.extraConfig.x"], id="extra-config-code"),
    pytest.param({"oauth": {"clientSecret": WEAK}}, ["values.oauth.clientSecret"], id="camel-client-secret"),
    pytest.param({"hub": {"services": {"xnat": {"token": WEAK}}}}, ["values.hub.services.xnat.token"],
                 id="service-token-not-allow-listed"),
    pytest.param({"other": {"auth_token": WEAK}}, ["values.other.auth_token"], id="snake-auth-token"),
    pytest.param({"vault": {"apiKeys": [WEAK, WEAK]}}, ["values.vault.apiKeys[0]", "values.vault.apiKeys[1]"],
                 id="keys-list"),
    pytest.param({"minio": {"secretKey": WEAK}}, ["values.minio.secretKey"], id="secret-key"),
]


@pytest.mark.parametrize("values, expected", CHART_VIOLATIONS)
def test_chart_rule_catches_literal_credentials(values, expected):
    assert paths(run_policy("no-plaintext-credential-in-chart-values", RELEASE, {"values": values})) == expected


@pytest.mark.parametrize("chart_type", ["kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart",
                                        "kubernetes:helm.sh/v3:Chart"])
def test_chart_rule_covers_every_chart_type(chart_type):
    assert paths(run_policy("no-plaintext-credential-in-chart-values", chart_type,
                            {"values": {"auth": {"password": WEAK}}})) == ["values.auth.password"]


def z2jh_generated_values() -> dict:
    """z2jh values with every token at the paths labhub fills from pulumi_random."""
    return {"hub": {
        "config": {"ConfigurableHTTPProxy": {"auth_token": generated()}, "JupyterHub": {"cookie_secret": generated(64)},
                   "CryptKeeper": {"keys": [generated(64)]}, "GitHubOAuthenticator": {"client_secret": generated()}},
        "services": {"xnat": {"api_token": generated()}, "templates": {"api_token": generated()}},
    }}


CHART_CLEAN = [
    pytest.param(z2jh_generated_values(), id="generated-value-paths"),
    pytest.param({"auth": {"existingSecret": "mysql-auth", "existingSecretPasswordKey": "password"}}, id="existing-secret"),  # pragma: allowlist secret
    pytest.param({"auth": {"passwordKey": "password", "secretName": "db"}}, id="reference-keys"),  # pragma: allowlist secret
    pytest.param({"hub": {"config": {"GenericOAuthenticator": {"token_url": "https://auth.example.org/token"}}}},
                 id="token-url"),
    pytest.param({"hub": {"extraEnv": {"DB_PASSWORD": "$(HUB_DB_PASSWORD)"}}}, id="env-reference"),
    pytest.param({"proxy": {"secretToken": UNKNOWN}}, id="unknown-at-preview"),
    pytest.param({"hub": {"extraEnv": {"DB_PASSWORD": WEAK}}}, id="extra-env-left-to-the-env-rule"),
    pytest.param({"hub": {"image": {"name": "jupyterhub/k8s-hub", "tag": "4.4.0"}}}, id="nothing-credential-like"),
]


@pytest.mark.parametrize("values", CHART_CLEAN)
def test_chart_rule_passes_clean_values(values):
    assert run_policy("no-plaintext-credential-in-chart-values", RELEASE, {"values": values}) == []


@pytest.mark.parametrize("values, path", [
    pytest.param({"proxy": {"secretToken": WEAK}}, "values.proxy.secretToken", id="z2jh-proxy-secret-token"),
    pytest.param({"hub": {"cookieSecret": WEAK}}, "values.hub.cookieSecret", id="z2jh-cookie-secret"),
    pytest.param({"hub": {"db": {"password": WEAK}}}, "values.hub.db.password", id="z2jh-db-password"),
])
def test_typed_in_values_at_credential_paths_fail_the_weak_rule_under_preview(values, path):
    """The name rule lets credential paths through (the SDK cannot see they are secrets); the weak rule does not."""
    assert run_policy("no-plaintext-credential-in-chart-values", RELEASE, {"values": values}) == []
    assert paths(run_policy("no-weak-credentials", RELEASE, {"values": values})) == [path]


def test_chart_rule_ignores_non_chart_resources():
    assert run_policy("no-plaintext-credential-in-chart-values", CONFIGMAP, {"values": {"password": WEAK}}) == []


def test_chart_rule_generated_value_paths_are_configurable():
    values = z2jh_generated_values()
    config = {"generatedValuePaths": ["hub.config.*.*"]}  # services' tokens no longer vouched for
    assert paths(run_policy("no-plaintext-credential-in-chart-values", RELEASE, {"values": values}, config)) == [
        "values.hub.services.xnat.api_token", "values.hub.services.templates.api_token"]
    custom = {"generatedValuePaths": ["site.*.token"]}
    assert run_policy("no-plaintext-credential-in-chart-values", RELEASE,
                      {"values": {"site": {"a": {"token": generated()}}}}, custom) == []
