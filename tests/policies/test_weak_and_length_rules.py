"""No weak or well-known credential anywhere; generated credentials long enough.

The weak-value list comes from the sources labhub replaces ("tutorial",
"SECRET_TOKEN", ...). Values at allow-listed generated paths are held to the
generated minimum length, so a placeholder typed at such a path still fails.
"""

from __future__ import annotations

import base64
import secrets

import pytest
from policy_helpers import UNKNOWN, policy_named, run_policy
from pulumi_policy import PolicyCustomTimeouts, PolicyResource, PolicyResourceOptions, StackValidationArgs
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UnknownValueError, unknown_checking_proxy

SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret
RELEASE = "kubernetes:helm.sh/v3:Release"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # pragma: allowlist secret
RANDOM_STRING = "random:index/randomString:RandomString"


def paths(messages: list[str]) -> list[str]:
    return [m.split(": ", 1)[0] for m in messages]


def generated(n: int = 32) -> str:
    return secrets.token_hex(n // 2)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# --- no-weak-credentials -------------------------------------------------------------------------

WEAK_VIOLATIONS = [
    pytest.param(SECRET, {"stringData": {"password": "tutorial"}}, ["stringData.password"], id="secret-string-data"),  # pragma: allowlist secret
    pytest.param(SECRET, {"data": {"root-password": b64("temppass")}}, ["data.root-password"], id="secret-data-base64"),
    pytest.param(RELEASE, {"values": {"auth": {"password": "changeme"}}}, ["values.auth.password"], id="chart-values"),  # pragma: allowlist secret
    pytest.param(RELEASE, {"values": {"proxy": {"secretToken": "Secret-Token"}}}, ["values.proxy.secretToken"],  # pragma: allowlist secret
                 id="case-insensitive"),
    pytest.param(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "env": [
        {"name": "DJ_PASS", "value": "datajoint"}]}]}}}}, ["spec.template.spec.containers[0].env[0].value"], id="env"),
    pytest.param(RELEASE, {"values": {"hub": {"extraEnv": {"XNAT_PASSWORD": "xnat"}}}}, ["values.hub.extraEnv.XNAT_PASSWORD"],  # pragma: allowlist secret
                 id="z2jh-extra-env"),
    pytest.param(SECRET, {"stringData": {"token": "abc123"}}, ["stringData.token"], id="very-short"),
    pytest.param(RELEASE, {"values": {"hub": {"services": {"xnat": {"api_token": "SECRET_TOKEN"}}}}},
                 ["values.hub.services.xnat.api_token"], id="allow-listed-path-still-weak"),
    pytest.param(RELEASE, {"values": {"hub": {"config": {"CryptKeeper": {"keys": [generated(16)]}}}}},
                 ["values.hub.config.CryptKeeper.keys[0]"], id="allow-listed-path-below-generated-min"),
    pytest.param("docker-build:index:Image", {"buildArgs": {"ROOT_PASSWORD": "root"}}, ["buildArgs.ROOT_PASSWORD"],  # pragma: allowlist secret
                 id="docker-build-arg"),
]


@pytest.mark.parametrize("resource_type, props, expected", WEAK_VIOLATIONS)
def test_weak_rule_catches_default_and_short_credentials(resource_type, props, expected):
    assert paths(run_policy("no-weak-credentials", resource_type, props)) == expected


WEAK_CLEAN = [
    pytest.param(SECRET, {"stringData": {"password": generated()}, "data": {"token": b64(generated())}}, id="generated"),
    pytest.param(SECRET, {"stringData": {"username": "root", "host": "127.0.0.1"}}, id="not-credential-keys"),
    pytest.param(RELEASE, {"values": {"hub": {"config": {"CryptKeeper": {"keys": [generated(64)]}}}}}, id="long-keys"),
    pytest.param(RELEASE, {"values": {"hub": {"extraEnv": {"DB_PASSWORD": "$(PW)"}}}}, id="reference"),
    pytest.param(SECRET, {"stringData": {"password": UNKNOWN}}, id="unknown-at-preview"),
    pytest.param(SECRET, {"data": {"password": "not base64!"}}, id="undecodable-data"),  # pragma: allowlist secret
    pytest.param(RANDOM_PASSWORD, {"length": 32, "keepers": {"passwordRotation": "2026"}}, id="random-inputs-ignored"),
    pytest.param(DEPLOYMENT, {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i", "env": [
        {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}]}]}}}},
                 id="secret-key-ref-key-is-not-a-value"),
]


@pytest.mark.parametrize("resource_type, props", WEAK_CLEAN)
def test_weak_rule_passes_strong_or_unrelated_values(resource_type, props):
    assert run_policy("no-weak-credentials", resource_type, props) == []


@pytest.mark.parametrize("config, props, expected", [
    pytest.param({"weakValues": ["spyglass"]}, {"stringData": {"password": "SPYGLASS"}}, ["stringData.password"],  # pragma: allowlist secret
                 id="custom-weak-list"),
    pytest.param({"minLength": 40}, {"stringData": {"password": "x" * 39}}, ["stringData.password"], id="raised-min-length"),
    pytest.param({"minLength": 4}, {"stringData": {"password": "k7#q"}}, [], id="lowered-min-length"),  # pragma: allowlist secret
    pytest.param({"ignoredResourceTypes": ["kubernetes:core/v1:*"]}, {"stringData": {"password": "tutorial"}}, [],  # pragma: allowlist secret
                 id="ignored-types"),
])
def test_weak_rule_is_configurable(config, props, expected):
    assert paths(run_policy("no-weak-credentials", SECRET, props, config)) == expected


def test_weak_rule_generated_min_length_is_configurable():
    values = {"values": {"hub": {"config": {"JupyterHub": {"cookie_secret": generated(32)}}}}}
    assert run_policy("no-weak-credentials", RELEASE, values) == []
    assert paths(run_policy("no-weak-credentials", RELEASE, values, {"generatedMinLength": 64})) == [
        "values.hub.config.JupyterHub.cookie_secret"]


# --- generated-passwords-long-enough -------------------------------------------------------------

@pytest.mark.parametrize("resource_type, name, props, expected", [
    pytest.param(RANDOM_PASSWORD, "mysql-root", {"length": 8}, ["length"], id="short-password"),
    pytest.param(RANDOM_PASSWORD, "mysql-root", {"length": 23.0}, ["length"], id="just-below-as-float"),
    pytest.param(RANDOM_STRING, "cookie-secret", {"length": 16}, ["length"], id="credential-named-string"),
    pytest.param("random:index/randomId:RandomId", "crypt-keeper-key", {"byteLength": 8}, ["byteLength"], id="random-id"),
    pytest.param("random:index/randomBytes:RandomBytes", "hub-token", {"length": 8}, ["length"], id="random-bytes"),
    pytest.param(RANDOM_PASSWORD, "mysql-root", {"length": 24}, [], id="at-minimum"),
    pytest.param(RANDOM_STRING, "suffix", {"length": 6}, [], id="string-not-a-credential"),
    pytest.param("random:index/randomId:RandomId", "name-suffix", {"byteLength": 4}, [], id="id-not-a-credential"),
    pytest.param("kubernetes:core/v1:Secret", "mysql-root", {"length": 1}, [], id="other-types"),
])
def test_generated_length_rule(resource_type, name, props, expected):
    assert paths(run_policy("generated-passwords-long-enough", resource_type, props, name=name)) == expected


def test_generated_length_rule_min_lengths_are_configurable():
    assert paths(run_policy("generated-passwords-long-enough", RANDOM_PASSWORD, {"length": 24},
                            {"minLength": 32}, name="pw")) == ["length"]
    assert run_policy("generated-passwords-long-enough", "random:index/randomId:RandomId", {"byteLength": 8},
                      {"minByteLength": 8}, name="api-key") == []


def test_generated_length_unknown_at_preview_raises_the_sdk_unknown_error():
    """The SDK turns this into the advisory "can't run policy during preview" (see test_policy_analyzer)."""
    with pytest.raises(UnknownValueError) as raised:
        run_policy("generated-passwords-long-enough", RANDOM_PASSWORD, {"length": UNKNOWN_NUMBER_VALUE}, name="pw")
    assert raised.value.props == ["length"]


# --- secret-random-values-long-enough (stack) ----------------------------------------------------

def resource(type_: str, name: str, props: dict, dependencies=()) -> PolicyResource:
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    return PolicyResource(type_, unknown_checking_proxy(props), f"urn:pulumi:t::labhub::{type_}::{name}", name, opts,
                          None, None, list(dependencies), {})


def run_stack_policy(resources: list[PolicyResource], config=None) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    policy_named("secret-random-values-long-enough").validate(
        StackValidationArgs(resources, config), lambda message, urn=None: found.append((message, urn)))
    return found


def test_stack_rule_catches_a_short_random_string_feeding_a_secret():
    short = resource(RANDOM_STRING, "db", {"length": 8})
    long = resource(RANDOM_STRING, "db2", {"length": 32})
    password = resource(RANDOM_PASSWORD, "pw", {"length": 8})  # judged by the resource rule
    secret = resource(SECRET, "mysql", {"stringData": {}}, [short, long, password])
    found = run_stack_policy([short, long, password, secret])
    assert [(m.split(": ", 1)[0], urn) for m, urn in found] == [("length", short.urn)]
    assert "feeds the Secret mysql" in found[0][0]


def test_stack_rule_ignores_random_values_no_secret_uses():
    short = resource(RANDOM_STRING, "suffix", {"length": 4})
    assert run_stack_policy([short, resource(SECRET, "s", {}, [])]) == []
    assert run_stack_policy([short, resource(SECRET, "s", {}, [short])], {"minLength": 4}) == []
