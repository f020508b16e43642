"""The offline checks count a value as a Pulumi secret only when it is marked *and* carries a secret the run produced.

Hand-built runs, as the mock engine records them: the SDK marks whole
objects (`values`, `stringData`) when one leaf is secret, so a literal beside
a secret, or wrapped in `Output.secret`, must still be found, and a plain
setting beside a secret must pass.
"""

from __future__ import annotations

import secrets

import pytest
from pulumi.runtime import rpc

from labhub.engine import RecordedResource, StackRun
from labhub.secretness import check

GENERATED = secrets.token_hex(24)  # what the run handed out as a secret
LITERAL = secrets.token_hex(24)  # typed into the program
CHART = "kubernetes:helm.sh/v4:Chart"
SECRET = "kubernetes:core/v1:Secret"  # pragma: allowlist secret


def resource(type_: str, inputs: dict, custom: bool = True) -> RecordedResource:
    return RecordedResource(type=type_, name="r", urn=f"urn:pulumi:t::p::{type_}::r", parent_urn=None, custom=custom,
                            inputs=inputs)


def findings(resources: list[RecordedResource], outputs: dict | None = None) -> list[tuple[str, str]]:
    run = StackRun(stack="t", project="p", resources=resources, outputs=outputs or {},
                   secret_values=frozenset({GENERATED}))
    return [(f.check, f.message.split(": ", 1)[0]) for f in check(run, [])]


def values(**config: object) -> dict:
    return {"values": rpc.wrap_rpc_secret({"hub": {"config": config}})}


@pytest.mark.parametrize("resources, outputs, expected", [
    pytest.param([resource(CHART, values(JupyterHub={"cookie_secret": GENERATED}), custom=False)], {}, [],
                 id="generated-at-a-credential-path"),
    pytest.param([resource(CHART, values(JupyterHub={"cookie_secret": LITERAL},
                                         ConfigurableHTTPProxy={"auth_token": GENERATED}), custom=False)], {},
                 [("credential-paths-hold-secrets", "values.hub.config.JupyterHub.cookie_secret")],
                 id="literal-beside-a-secret"),
    pytest.param([resource(CHART, {"values": {"hub": {"config": {"CryptKeeper": {"keys": [
        rpc.wrap_rpc_secret(LITERAL)]}}}}}, custom=False)], {},
                 [("credential-paths-hold-secrets", "values.hub.config.CryptKeeper.keys[0]")],
                 id="literal-wrapped-in-output-secret"),
    pytest.param([resource(CHART, {"values": {"hub": {"config": {"JupyterHub": {"cookie_secret": LITERAL}}}}},
                           custom=False)], {},
                 [("credential-paths-hold-secrets", "values.hub.config.JupyterHub.cookie_secret")], id="plain"),
    pytest.param([resource(SECRET, {"stringData": rpc.wrap_rpc_secret({"username": "app", "password": GENERATED,
                                                                       "my.cnf": f"password={GENERATED}"})})], {}, [],
                 id="secret-with-a-setting-beside-generated-values"),
    pytest.param([resource(SECRET, {"stringData": rpc.wrap_rpc_secret({"username": "app", "pw": LITERAL})})], {},
                 [("secret-data-is-secret", "stringData.pw")], id="secret-literal"),
    pytest.param([resource(SECRET, {"data": rpc.wrap_rpc_secret({"blob": secrets.token_urlsafe(24)})})], {},
                 [("secret-data-is-secret", "data.blob")], id="secret-random-literal-any-key"),
    pytest.param([resource(SECRET, {"stringData": rpc.wrap_rpc_secret({"value": "hunter2"})})], {},
                 [("secret-data-is-secret", "stringData.value")], id="short-literal-under-a-neutral-key"),
    pytest.param([resource(SECRET, {"stringData": rpc.wrap_rpc_secret({
        "host": "db.example.org", "port": "5432", "db_user": "app", "ca.crt": "-----BEGIN CERTIFICATE-----",
        "password": GENERATED})})], {}, [], id="settings-beside-the-credential"),
    pytest.param([resource(SECRET, {"stringData": {"password": LITERAL}})], {},
                 [("secret-data-is-secret", "stringData.password")], id="secret-unmarked"),
    pytest.param([resource("docker:index/image:Image", {"registry": {"server": "ghcr.io", "password": LITERAL}})], {},
                 [("provider-inputs-keep-credentials-secret", "registry.password")], id="provider-input-literal"),
    pytest.param([resource("docker:index/image:Image", {"registry": rpc.wrap_rpc_secret({"password": GENERATED})})],
                 {}, [], id="provider-input-secret"),
    pytest.param([resource("kubernetes:core/v1:ConfigMap", {"data": {"password": LITERAL}})], {}, [],
                 id="kubernetes-objects-are-the-pack-s"),
    pytest.param([], {"dbPassword": rpc.wrap_rpc_secret(GENERATED), "url": "https://hub.example.org"}, [],
                 id="secret-output"),
    pytest.param([], {"db": {"user": "app", "password": LITERAL}},
                 [("stack-outputs-keep-credentials-secret", "outputs.db.password")], id="output-literal-nested"),
    pytest.param([], {"dsn": f"mysql://root:{GENERATED}@db/"},
                 [("stack-outputs-keep-credentials-secret", "outputs.dsn")], id="output-carrying-a-secret"),
])
def test_offline_checks(resources, outputs, expected):
    assert findings(resources, outputs) == expected
