"""The pack's one judgement of names and text: every credential-bearing construct is found, every look-alike passes.

Names are judged by their head (the last word, qualifiers dropped), so names
that merely mention a credential hold settings. Text is judged by its parsed
structure, by URL user info, by command-line syntax and by detect-secrets'
shape detectors. Each finding says what and where, never the value.
"""

from __future__ import annotations

import base64
import json
import secrets
import string

import pytest

from policies.detectors import credential_shapes, is_high_entropy
from policies.free_text import scan, url_passwords, value_findings
from policies.matching import DEFAULT_NAMES, head

PW = secrets.token_hex(12)


@pytest.mark.parametrize("name", [
    "MYSQL_ROOT_PASSWORD", "PGPASSWORD", "MYSQL_PWD", "DB_PW", "DJ_PASS", "GITHUB_PAT", "GITHUB_TOKEN", "clientSecret",
    "cookie_secret", "api_key", "apiKey", "X-API-Key", "AWS_SECRET_ACCESS_KEY", "SECRET_KEY", "signingKey",
    "Authorization", "Private-Token", "--db-password", "DB_PASSWORD_B64", "API_TOKEN_2", "S3_CREDENTIALS", "requirepass",
    ".pgpass", ".netrc", "tls.key", "passphrase", "cryptKeeperKeys",
])
def test_names_whose_head_is_a_credential_word_are_credentials(name):
    assert DEFAULT_NAMES.is_credential(name), head(name)


@pytest.mark.parametrize("name", [
    "GIT_CREDENTIAL_HELPER", "TOKEN_AUDIENCE", "PASSWORD_HASHER", "SECRETS_BACKEND", "passwordLength", "TOKEN_TTL",
    "tokenUrl", "secretName", "existingSecret", "secretKeyRef", "MYSQL_ROOT_PASSWORD_FILE", "MYSQL_RANDOM_ROOT_PASSWORD",
    "PGPASSFILE", "passwordKey", "key", "client_id", "AWS_ACCESS_KEY_ID", "bypass", "compass", "keys",
])
def test_names_that_only_mention_a_credential_are_settings(name):
    assert not DEFAULT_NAMES.is_credential(name), head(name)


def test_a_random_value_under_a_name_that_mentions_a_credential_is_one():
    assert value_findings("PASSWORD_SALT", secrets.token_urlsafe(24), DEFAULT_NAMES) == [
        "PASSWORD_SALT holds a random-looking value"]
    assert value_findings("PASSWORD_HASHER", "argon2", DEFAULT_NAMES) == []
    assert value_findings("SECRET_NAME", "spyglass-hub-cookie-secret-v2", DEFAULT_NAMES) == []


@pytest.mark.parametrize("text, finding", [
    pytest.param(f"postgresql://app:pa#ss/{PW}@db:5432/app", "URL with user:password@", id="url-hash-slash"),
    pytest.param(f"redis://:{PW}@redis:6379/0", "URL with user:password@", id="url-empty-user"),
    pytest.param(f"amqps://app:{PW}@mq.example.org/vhost", "URL with user:password@", id="url-any-scheme"),
    pytest.param(f"jdbc:postgresql://db/app?user=app&password={PW}", "password is set to a literal", id="jdbc-query"),
    pytest.param(f"Server=db;Uid=sa;Pwd={PW};", "Pwd is set to a literal", id="odbc-pwd"),
    pytest.param(json.dumps({"db": {"password": PW}}), "password is set to a literal", id="json"),
    pytest.param(json.dumps({"outer": json.dumps({"token": PW})}), "token is set to a literal", id="nested-json-string"),
    pytest.param(f"db:\n  auth:\n    password: {PW}\n", "password is set to a literal", id="yaml"),
    pytest.param(json.dumps([{"name": "DB_PASSWORD", "value": PW}]), "DB_PASSWORD is set to a literal",
                 id="name-value-objects"),
    pytest.param(f"{{'user': 'app', 'password': '{PW}'}}", "password is set to a literal", id="python-dict"),
    pytest.param(f"create_engine(url, password='{PW}')", "password is set to a literal", id="python-keyword"),
    pytest.param(f"os.environ.setdefault('API_TOKEN', '{PW}')", "API_TOKEN is set to a literal", id="python-setdefault"),
    pytest.param(f"<settings><password>{PW}</password></settings>", "password is set to a literal", id="xml-element"),
    pytest.param(f'<add key="ApiKey" value="{PW}"/>', "ApiKey is set to a literal", id="xml-key-value"),
    pytest.param(f"[client]\npassword = {PW}\n", "password is set to a literal", id="ini"),
    pytest.param(f'export GITHUB_TOKEN="{PW}"\n', "GITHUB_TOKEN is set to a literal", id="shell-export"),
    pytest.param(f"requirepass {PW}\n", "requirepass is set to a literal", id="config-directive"),
    pytest.param(f"machine api.example.org login app password {PW}", "password is set to a literal", id="netrc"),
    pytest.param(f"mysqldump -uroot -p{PW} app", "mysql -p<password> (password glued to -p)".replace("mysql ", "mysqldump "),
                 id="mysql-glued"),
    pytest.param(f"sshpass -p {PW} ssh backup@host", "sshpass -p <password>", id="sshpass"),
    pytest.param(f"redis-cli -a {PW} ping", "redis-cli -a <password>", id="redis-cli"),
    pytest.param(f"docker login -u lab -p {PW} ghcr.io", "login -p <password>", id="docker-login"),
    pytest.param(f"curl --user lab:{PW} https://x", "curl --user user:<password>", id="curl-user-long"),
    pytest.param(f"smbclient //srv/share -U lab%{PW}", "smbclient -U user%<password>", id="smbclient"),
    pytest.param(f"vault login --token {PW}", "option --token <value>", id="option-separate-value"),
    pytest.param(f"java -Djavax.net.ssl.trustStorePassword={PW} -jar app.jar", "trustStorePassword is set to a literal",
                 id="java-property"),
    pytest.param(f"ALTER USER 'root'@'%' IDENTIFIED WITH caching_sha2_password BY '{PW}';",
                 "SQL password literal (IDENTIFIED BY / PASSWORD '<password>')", id="sql-mysql"),
    pytest.param(f"CREATE ROLE app LOGIN PASSWORD '{PW}';", "SQL password literal (IDENTIFIED BY / PASSWORD '<password>')",
                 id="sql-postgres"),
    pytest.param("Authorization: Basic " + base64.b64encode(f"lab:{PW}".encode()).decode(),
                 "base64 user:password (HTTP Basic or registry auth)", id="basic-auth"),
    pytest.param(base64.b64encode(f"password={PW}\n".encode()).decode(), "base64 text with password is set to a literal",
                 id="whole-value-base64"),
])
def test_credentials_in_text_are_found(text, finding):
    assert finding in scan(text, DEFAULT_NAMES)


@pytest.mark.parametrize("text", [
    pytest.param("postgresql://app:$(DB_PASSWORD)@db/app", id="kubelet-reference-in-url"),
    pytest.param("postgresql://app:${DB_PASSWORD}@db/app", id="shell-reference-in-url"),
    pytest.param("https://hub.example.org:8443/hub/api@v2", id="port-then-path"),
    pytest.param("ssh://git@github.com/lab/repo.git", id="user-without-password"),
    pytest.param("password: {{ .Values.db.password }}\n", id="template"),
    pytest.param("[client]\npassword_file = /run/secrets/db\n", id="file-reference"),
    pytest.param("import os\nc.GitHubOAuthenticator.client_secret = os.environ['CLIENT_SECRET']\n", id="python-code"),
    pytest.param("auth:\n  password:\n    minLength: 12\n", id="settings-under-a-credential-key"),
    pytest.param("mysql --defaults-extra-file=/etc/mysql/client.cnf -p -h db", id="option-file"),
    pytest.param("pg_dump -h db -p 5432 -U app app", id="pg-port"),
    pytest.param("GIT_CREDENTIAL_HELPER=store\nTOKEN_AUDIENCE=https://hub.example.org\nSECRETS_BACKEND=vault\n",
                 id="settings-that-mention-credentials"),
    pytest.param("image: busybox@sha256:" + "ab" * 32, id="image-digest"),
    pytest.param("The password is read from the mounted Secret.", id="prose"),
])
def test_look_alikes_pass(text):
    assert scan(text, DEFAULT_NAMES) == []


def test_shapes_come_from_detect_secrets_plugins():
    aws = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').decode().rstrip("=")
    jwt = f"{header}.{base64.urlsafe_b64encode(b'{}').decode().rstrip('=')}.{secrets.token_urlsafe(16)}"
    key = "-----BEGIN " + "EC PRIVATE" + " KEY-----"
    github = "ghp_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(36))
    assert credential_shapes(f"id={aws}\nhdr={jwt}\n{key}\ntoken {github}") == [
        "AWS Access Key", "JSON Web Token", "Private Key", "GitHub Token"]


def test_references_are_not_shapes():
    assert credential_shapes("postgresql://u:$(PW)@db") == []


@pytest.mark.parametrize("value, expected", [
    pytest.param(secrets.token_urlsafe(24), True, id="random-base64"),
    pytest.param(secrets.token_hex(20), True, id="random-hex"),
    pytest.param("my-app-secret-credentials", False, id="slug"),
    pytest.param("abcdefghijklmnopqrstuvwx", False, id="one-character-class"),
    pytest.param("short1A", False, id="too-short"),
    pytest.param("https://hub.example.org/x", False, id="not-one-token"),
])
def test_high_entropy_needs_a_random_looking_token(value, expected):
    assert is_high_entropy(value) is expected


def test_url_passwords_are_returned_for_judging_only_not_printed():
    assert url_passwords(f"mysql://root:{PW}@db/ and redis://:$(R)@r") == [PW]
    assert all(PW not in finding for finding in scan(f"mysql://root:{PW}@db/", DEFAULT_NAMES))
