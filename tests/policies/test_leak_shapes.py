"""`labhub policy-check --program DIR` blocks every shape of credential leak, and passes clean look-alikes.

Each row plants one leak in a small Pulumi program (and, for stack-file leaks,
in its `Pulumi.test.yaml`), runs the real command on it in-process (mock
engine, the pack's analyzer, the offline checks) and reads the printed report:
the expected (policy, resource, property path) must be there, so every finding
names its resource and path. The rows cover issue 9's shapes and their class
(connection URIs of any scheme, headers, structured text, secretness that only
the mock engine sees). Credentials are generated per run (`secrets`); token
formats are assembled at run time so no fixture here looks like a real secret.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import string
import textwrap
from pathlib import Path

import pytest

from labhub.cli import main

PW = secrets.token_hex(20)  # 40 hex characters, as long and random as a real client secret
SHORT_PW = "Tr0ub4dor" + secrets.token_hex(3)
AWS_KEY_ID = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(16))
JWT = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
               for part in ({"alg": "HS256", "typ": "JWT"}, {"sub": secrets.token_hex(4)})) + "." + secrets.token_urlsafe(32)
PRIVATE_KEY = "-----BEGIN " + "OPENSSH PRIVATE" + " KEY-----\\n" + secrets.token_urlsafe(48) + "\\n-----END KEY-----"
HEADER = """\
import json
import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

NS = {"namespace": "planted"}


def deployment(name, container, **spec):
    k8s.apps.v1.Deployment(name, metadata=NS, spec={
        "selector": {"match_labels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [container], **spec}},
    })


def configmap(name, data):
    k8s.core.v1.ConfigMap(name, metadata=NS, data=data)


def chart(name, values):
    k8s.helm.v4.Chart(name, chart="jupyterhub", version="4.4.0", namespace="planted", values=values)


generated = random.RandomPassword("generated", length=32, special=False)
"""
CONTAINER = '{"name": "app", "image": "busybox:1.36"'


def container(**fields: object) -> str:
    return CONTAINER + "".join(f", {json.dumps(k)}: {v}" for k, v in fields.items()) + "}"


def env(name: str, value: str) -> str:
    return container(env=f'[{{"name": {name!r}, "value": {value!r}}}]')


def args(*words: str) -> str:
    return container(command='["sh", "-c"]', args=json.dumps(list(words)))


BASIC = base64.b64encode(f"lab:{PW}".encode()).decode()
BEARER_HEADER = args(f"curl -H 'Authorization: Bearer {PW}' https://x.example.org")
# (program body, stack config lines, expected (policy, resource name, path the message starts with))
BLOCKED = [
    # 1. the stack file: plaintext at a credential-like key, top level or nested
    pytest.param("", f"planted:oauthClientSecret: {PW}",
                 ("stack-file-ciphertext-only", "planted-test", 'config["planted:oauthClientSecret"]'),
                 id="stack-file-plaintext-client-secret"),
    pytest.param("", f"planted:db:\n    auth:\n      pw: {SHORT_PW}",
                 ("stack-file-ciphertext-only", "planted-test", 'config["planted:db"].auth.pw'), id="stack-file-nested"),
    pytest.param("", f"planted:dbUrl: postgresql://app:{PW}@db/app",
                 ("stack-file-ciphertext-only", "planted-test", 'config["planted:dbUrl"]'), id="stack-file-url"),
    # 2. literals at the chart's credential paths, however long and random
    pytest.param(f'chart("hub", {{"hub": {{"config": {{"GitHubOAuthenticator": {{"client_secret": "{PW}"}}}}}}}})', "",
                 ("credential-paths-hold-secrets", "hub", "values.hub.config.GitHubOAuthenticator.client_secret"),
                 id="chart-github-client-secret-literal"),
    pytest.param(f'chart("hub", {{"hub": {{"services": {{"x": {{"api_token": "{PW}"}}}}}}}})', "",
                 ("credential-paths-hold-secrets", "hub", "values.hub.services.x.api_token"), id="chart-service-token"),
    pytest.param(f'chart("hub", {{"hub": {{"config": {{"JupyterHub": {{"cookie_secret": "{PW}"}}, '
                 f'"ConfigurableHTTPProxy": {{"auth_token": generated.result}}}}}}}})', "",
                 ("credential-paths-hold-secrets", "hub", "values.hub.config.JupyterHub.cookie_secret"),
                 id="chart-cookie-secret-beside-a-real-secret"),
    pytest.param('chart("hub", {"hub": {"config": {"JupyterHub": {"cookie_secret": '
                 'pulumi.Output.unsecret(generated.result)}}}})', "",
                 ("credential-paths-hold-secrets", "hub", "values.hub.config.JupyterHub.cookie_secret"),
                 id="chart-unsecret-generated"),
    pytest.param(f'chart("hub", {{"hub": {{"services": {{"x": {{"api_token": pulumi.Output.secret("{PW}")}}}}}}}})', "",
                 ("credential-paths-hold-secrets", "hub", "values.hub.services.x.api_token"),
                 id="chart-literal-wrapped-in-output-secret"),
    pytest.param(f'import pulumi_docker as docker\ndocker.Image("img", image_name="ghcr.io/lab/app:1", skip_push=True, '
                 f'build={{"context": "."}}, registry={{"server": "ghcr.io", "username": "lab", "password": "{PW}"}})',
                 "", ("provider-inputs-keep-credentials-secret", "img", "registry.password"),
                 id="docker-registry-password-literal"),
    # 3. hub.extraConfig code
    pytest.param(f'chart("hub", {{"hub": {{"extraConfig": {{"auth": "c.DummyAuthenticator.password = \'{PW}\'"}}}}}})',
                 "", ("no-plaintext-credential-in-chart-values", "hub", "values.hub.extraConfig.auth"),
                 id="extra-config-python"),
    # 4. shapes: URLs of any scheme, connection strings, command lines, structured text, metadata, names
    pytest.param(f'deployment("app", {env("DATABASE_URL", "postgresql://app:pa#ss/" + PW + "@db:5432/app")})', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.containers[0].env[0].value"),
                 id="url-password-with-hash-and-slash"),
    pytest.param(f'configmap("cfg", {{"REDIS": "redis://:{PW}@redis:6379/0"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.REDIS"), id="url-empty-user"),
    pytest.param(f'configmap("cfg", {{"MONGO": "mongodb+srv://app:{PW}@cluster0.example.net/db"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.MONGO"), id="url-mongodb-srv"),
    pytest.param(f'configmap("cfg", {{"JDBC": "jdbc:mysql://db:3306/app?user=app&password={PW}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.JDBC"), id="jdbc-query-password"),
    pytest.param(f'configmap("cfg", {{"CONN": "Server=db;Database=app;User Id=sa;Password={PW};"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.CONN"), id="ado-connection-string"),
    pytest.param(f'configmap("cfg", {{"DSN": "host=db dbname=app user=app password={PW}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.DSN"), id="libpq-keyword-dsn"),
    pytest.param(f'deployment("app", {args(f"curl -u admin:{PW} https://api.example.org")})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"), id="curl-user"),
    pytest.param(f'deployment("app", {BEARER_HEADER})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"),
                 id="authorization-bearer-header"),
    pytest.param(f'deployment("app", {container(args=json.dumps(["--password=" + PW]))})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"),
                 id="long-option"),
    pytest.param(f'deployment("app", {args(f"mysqldump -uroot -p{PW} --all-databases")})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"), id="mysql-p"),
    pytest.param(f'deployment("app", {args(f"PGPASSWORD={PW} pg_dump -h db app")})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"), id="pgpassword"),
    pytest.param(f'deployment("app", {args(f"export MYSQL_PWD={PW}; mysql -uroot")})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"), id="mysql-pwd"),
    pytest.param(f'deployment("app", {args(f"redis-cli -a {PW} ping")})', "",
                 ("no-credentials-on-command-line", "app", "spec.template.spec.containers[0].args[0]"), id="redis-cli-a"),
    pytest.param(f'deployment("app", {env("JAVA_OPTS", "-Xmx1g -Dspring.datasource.password=" + PW)})', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.containers[0].env[0].value"),
                 id="java-system-property"),
    pytest.param(f'deployment("app", {env("EXTRA_ARGS", "--db-password " + PW)})', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.containers[0].env[0].value"),
                 id="option-with-separate-value-in-env"),
    pytest.param(f'configmap("cfg", {{"init.sql": "CREATE ROLE app LOGIN PASSWORD \'{PW}\';"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["init.sql"]'), id="sql-postgres-password"),
    pytest.param(f'configmap("cfg", {{"redis.conf": "bind 0.0.0.0\\nrequirepass {PW}\\n"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["redis.conf"]'), id="config-directive"),
    pytest.param(f'configmap("cfg", {{".pgpass": "db:5432:app:app:{PW}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data[".pgpass"]'), id="pgpass-file"),
    pytest.param(f'configmap("cfg", {{"auth": "machine github.com login lab password {PW}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.auth"), id="netrc-line"),
    pytest.param(f'configmap("cfg", {{"config.json": json.dumps({{"auths": {{"ghcr.io": {{"auth": "{BASIC}"}}}}}})}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["config.json"]'), id="docker-config-auth"),
    pytest.param(f'k8s.networking.v1.Ingress("web", metadata={{**NS, "annotations": {{"nginx.ingress.kubernetes.io/'
                 f'configuration-snippet": "proxy_set_header Authorization \\"Basic {BASIC}\\";"}}}})', "",
                 ("no-credentials-in-metadata", "web",
                  'metadata.annotations["nginx.ingress.kubernetes.io/configuration-snippet"]'), id="basic-auth-snippet"),
    pytest.param(f'configmap("cfg", {{"app.json": json.dumps({{"db": {{"host": "db", "password": "{PW}"}}}})}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["app.json"]'), id="one-line-json"),
    pytest.param(f'configmap("cfg", {{"settings.py": "DATABASES = {{\'default\': {{\'PASSWORD\': \'{PW}\'}}}}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["settings.py"]'), id="python-dict"),
    pytest.param(f'configmap("cfg", {{"db.py": "engine = connect(host=\'db\', password=\'{PW}\')"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["db.py"]'), id="python-keyword-argument"),
    pytest.param(f'configmap("cfg", {{"ctx.xml": \'<Resource name="jdbc/app" password="{PW}"/>\'}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["ctx.xml"]'), id="xml-attribute"),
    pytest.param(f'configmap("cfg", {{"wrapped": json.dumps({{"config": json.dumps({{"api_key": "{PW}"}})}})}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.wrapped"), id="nested-json-string"),
    pytest.param(f'configmap("cfg", {{"ci.env": "AWS_ACCESS_KEY_ID={AWS_KEY_ID}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", 'data["ci.env"]'), id="aws-key-id"),
    pytest.param(f'configmap("cfg", {{"id": "{PRIVATE_KEY}"}})', "",
                 ("no-credentials-in-configmaps", "cfg", "data.id"), id="private-key"),
    pytest.param(f'k8s.networking.v1.Ingress("web", metadata={{**NS, "annotations": '
                 f'{{"nginx.ingress.kubernetes.io/auth-url": "https://u:{PW}@auth.example.org"}}}})', "",
                 ("no-credentials-in-metadata", "web", 'metadata.annotations["nginx.ingress.kubernetes.io/auth-url"]'),
                 id="ingress-annotation-url"),
    pytest.param(f'k8s.core.v1.Service("svc", metadata={{**NS, "annotations": {{"example.org/api-token": "{PW}"}}}})',
                 "", ("no-credentials-in-metadata", "svc", 'metadata.annotations["example.org/api-token"]'),
                 id="annotation-credential-name"),
    pytest.param(f'k8s.core.v1.Service("svc", metadata={{**NS, "labels": {{"jwt": "{JWT}"}}}})',
                 "", ("no-credentials-in-metadata", "svc", "metadata.labels.jwt"), id="label-jwt"),
    pytest.param(f'deployment("app", {env("DB_PW", SHORT_PW)})', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.containers[0].env[0].value"), id="env-db-pw"),
    pytest.param(f'deployment("app", {env("GITHUB_PAT", PW)})', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.containers[0].env[0].value"),
                 id="env-github-pat"),
    pytest.param(f'deployment("app", {container()}, init_containers=[{env("PASSWORD_SALT", PW)}])', "",
                 ("no-plaintext-credential-env", "app", "spec.template.spec.initContainers[0].env[0].value"),
                 id="init-container-high-entropy-salt"),
    pytest.param(f'chart("hub", {{"hub": {{"extraEnv": {{"XNAT_TOKEN": "{PW}"}}}}}})', "",
                 ("no-plaintext-credential-env", "hub", "values.hub.extraEnv.XNAT_TOKEN"), id="hub-extra-env"),
    pytest.param(f'k8s.core.v1.Secret("s", metadata=NS, string_data={{"pw": "{PW}"}})', "",
                 ("secret-data-is-secret", "s", "stringData.pw"), id="secret-key-pw-plain"),
    pytest.param(f'k8s.core.v1.Secret("s", metadata=NS, data={{"password": "{base64.b64encode(PW.encode()).decode()}"}})',
                 "", ("secret-data-is-secret", "s", "data.password"), id="secret-base64-data-plain"),
    pytest.param(f'k8s.core.v1.Secret("s", metadata=NS, string_data={{"token": generated.result, "password": "{PW}"}})',
                 "", ("secret-data-is-secret", "s", "stringData.password"), id="secret-literal-beside-generated"),
    pytest.param(f'k8s.core.v1.Secret("s", metadata=NS, string_data={{"key": pulumi.Output.secret("{PW}")}})',
                 "", ("secret-data-is-secret", "s", "stringData.key"), id="secret-literal-wrapped-in-output-secret"),
    pytest.param(f'pulumi.export("adminPassword", "{PW}")', "",
                 ("stack-outputs-keep-credentials-secret", "planted-test", "outputs.adminPassword"), id="output-literal"),
    pytest.param('pulumi.export("db", pulumi.Output.unsecret(generated.result))', "",
                 ("stack-outputs-keep-credentials-secret", "planted-test", "outputs.db"), id="output-unsecret"),
    pytest.param('pulumi.export("dbUrl", pulumi.Output.unsecret(generated.result).apply(lambda p: f"mysql://root:{p}@db/"))',
                 "", ("stack-outputs-keep-credentials-secret", "planted-test", "outputs.dbUrl"), id="output-url"),
    pytest.param(f'k8s.yaml.ConfigGroup("manifests", yaml=["apiVersion: v1\\nkind: ConfigMap\\nmetadata: {{name: a}}\\n'
                 f'data: {{DB_PASSWORD: {PW}}}\\n"])', "", ("no-credentials-in-configmaps", "a", "data.DB_PASSWORD"),
                 id="yaml-config-group-v1-children"),
    pytest.param(f'k8s.yaml.v2.ConfigGroup("manifests", yaml="kind: Pod\\napiVersion: v1\\nspec:\\n  containers:\\n'
                 f'  - {{name: c, image: x, env: [{{name: API_TOKEN, value: {PW}}}]}}\\n")', "",
                 ("no-credentials-in-properties", "manifests", "yaml"), id="yaml-config-group-v2-text"),
    pytest.param(f'k8s.helm.v3.Chart("hub3", k8s.helm.v3.ChartOpts(chart="jupyterhub", version="4.4.0", values='
                 f'{{"singleuser": {{"extraEnv": {{"DB_PW": "{PW}"}}}}}}))', "",
                 ("no-plaintext-credential-env", "hub3", "values.singleuser.extraEnv.DB_PW"), id="helm-v3-chart-values"),
    pytest.param(f'k8s.helm.v3.Release("rel", chart="jupyterhub", values={{"hub": {{"config": {{"JupyterHub": '
                 f'{{"cookie_secret": "{PW}"}}}}}}}})', "",
                 ("credential-paths-hold-secrets", "rel", "values.hub.config.JupyterHub.cookie_secret"),
                 id="helm-v3-release-credential-path"),
    pytest.param(f'k8s.yaml.v2.ConfigGroup("objs", objs=[{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "p"}}, '
                 f'"spec": {{"containers": [{env("DB_PASSWORD", PW)}]}}}}])', "",
                 ("no-credentials-in-properties", "objs", "objs[0].spec.containers[0].env[0].value"),
                 id="yaml-config-group-v2-objects"),
    pytest.param(f'k8s.batch.v1.Job("job", metadata=NS, spec={{"template": {{"spec": {{"restart_policy": "Never", '
                 f'"containers": [{env("MYSQL_ROOT_PASSWORD", PW)}]}}}}}})', "",
                 ("no-plaintext-credential-env", "job", "spec.template.spec.containers[0].env[0].value"), id="job-env"),
]


def planted(tmp_path: Path, body: str, config: str = "") -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: planted\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text("config:\n" + textwrap.indent(config, "  ") + "\n" if config else "config: {}\n")
    (tmp_path / "__main__.py").write_text(HEADER + body + "\n")
    return tmp_path


def verdict(program: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[tuple[str, str, str, str]]]:
    """Exit code and (level, policy, resource name, message) of each violation, parsed from the printed report."""
    code = main(["policy-check", "--stack", "test", "--program", str(program)])
    lines = capsys.readouterr().out.splitlines()
    found = []
    for index, line in enumerate(lines):
        if match := re.fullmatch(r" {8}- \[(\w+)\]  ([\w-]+)  \((.+): (.+)\)", line):
            found.append((match[1], match[2], match[4], lines[index + 2].strip()))
    return code, found


@pytest.mark.parametrize("body, config, expected", BLOCKED)
def test_each_leak_shape_is_a_mandatory_violation_naming_resource_and_path(tmp_path, capsys, body, config, expected):
    code, found = verdict(planted(tmp_path, body, config), capsys)
    policy, resource, path = expected
    hits = [f for f in found if (f[1], f[2]) == (policy, resource) and f[3].startswith(path + ": ")]
    assert hits, f"expected {expected}, got {found}"
    assert {level for level, *_ in hits} == {"mandatory"}
    assert code == 1
    assert all(PW not in message and SHORT_PW not in message for *_, message in found), "a finding echoed the value"


CLEAN_ENV = [
    {"name": "GIT_CREDENTIAL_HELPER", "value": "store"},
    {"name": "TOKEN_AUDIENCE", "value": "https://hub.example.org/hub/api"},
    {"name": "PASSWORD_HASHER", "value": "argon2"},
    {"name": "SECRETS_BACKEND", "value": "vault"},
    {"name": "PASSWORD_MIN_LENGTH", "value": "12"},
    {"name": "GOOGLE_APPLICATION_CREDENTIALS", "value": "/var/run/secrets/gcp/key.json"},
    {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
    {"name": "GIT_COMMIT", "value": secrets.token_hex(20)},
]
CLEAN_SCRIPT = ("#!/bin/sh\nset -eu\nexport PGPASSWORD\nread -r PASSWORD < /run/secrets/db/password\n"
                "# the password is read from the mounted Secret\nunset PASSWORD\ntoken refresh\n")
CLEAN_COMMANDS = args("mysqldump --defaults-extra-file=/etc/mysql/backup.cnf -p --all-databases",
                      "curl -H 'Authorization: Bearer $(API_TOKEN)' https://x.example.org",
                      "psql postgresql://app:$(DB_PASSWORD)@db/app -p 5432")
EVERYDAY_FILES = {
    "nginx.conf": "server {\n  auth_basic \"Restricted\";\n  auth_basic_user_file /etc/nginx/htpasswd;\n"
                  "  proxy_set_header Authorization $http_authorization;\n}\n",
    "prometheus.yml": "scrape_configs:\n- job_name: app\n  basic_auth:\n    username: prom\n"
                      "    password_file: /etc/prom/password\n  bearer_token_file: /var/run/secrets/token\n",
    "jupyterhub_config.py": "import os\nc.GitHubOAuthenticator.client_secret = os.environ['GITHUB_CLIENT_SECRET']\n"
                            "c.JupyterHub.cookie_secret_file = '/srv/jupyterhub/cookie_secret'\n",
    "app.env": "SESSION_COOKIE_SECURE=true\nPASSWORD_RESET_TIMEOUT=3600\nTOKEN_ISSUER=https://id.example.org\n",
    "my.cnf": "[mysqld]\ndefault_authentication_plugin=mysql_native_password\nskip-name-resolve\n",
    "ssh_config": "Host *\n  PasswordAuthentication no\n  IdentityFile ~/.ssh/id_ed25519\n",
}
INGRESS_ANNOTATIONS = {"nginx.ingress.kubernetes.io/auth-type": "basic",
                       "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",  # pragma: allowlist secret
                       "nginx.ingress.kubernetes.io/auth-tls-secret": "ingress/ca-secret",  # pragma: allowlist secret
                       "cert-manager.io/cluster-issuer": "letsencrypt"}
CLEAN = [
    pytest.param(f'configmap("cfg", {EVERYDAY_FILES!r})', "", id="everyday-configuration-files"),
    pytest.param(f'k8s.networking.v1.Ingress("web", metadata={{**NS, "annotations": {INGRESS_ANNOTATIONS!r}}})\n'
                 f'deployment("app", {container()}, volumes=[])\n'
                 f'k8s.core.v1.Service("svc", metadata={{**NS, "annotations": {{"checksum/secret": "{secrets.token_hex(32)}"}}}})',
                 "", id="annotations-naming-secrets-and-checksums"),
    pytest.param(f'deployment("app", {container(env=json.dumps(CLEAN_ENV))})', "", id="env-names-that-mention-credentials"),
    pytest.param(f'deployment("app", {CLEAN_COMMANDS})', "", id="command-lines-with-references"),
    pytest.param(f'configmap("cfg", {{"backup.sh": {CLEAN_SCRIPT!r}, "nss_wrapper": "lab:x:1000:100::/home/lab:/bin/sh"}})',
                 "", id="scripts-that-read-credentials-from-files"),
    pytest.param('k8s.core.v1.Secret("s", metadata=NS, string_data={"password": generated.result, "username": "app"})\n'
                 'configmap("cfg", {"DATABASE_URL": "postgresql://app@db:5432/app", '
                 '"image": "busybox@sha256:' + "0" * 64 + '", "auth.yaml": "password:\\n  minLength: 12\\n"})\n'
                 'pulumi.export("dbPassword", generated.result)\n'
                 'pulumi.export("url", "https://hub.example.org:8443/hub")',
                 "planted:secrets:\n    rotation:\n      cookieSecret: '2026-11-01'\n"
                 "planted:tls:\n    secretName: hub-tls\n"
                 "planted:oauth:\n    clientSecret:\n      secure: v1:" + "A" * 16, id="secrets-where-they-belong"),
    pytest.param('chart("hub", {"hub": {"config": {"JupyterHub": {"cookie_secret": generated.result}}, "extraConfig": '
                 '{"auth": "import os\\nc.GitHubOAuthenticator.client_secret = os.environ[\'CLIENT_SECRET\']\\n"}, '
                 '"extraEnv": {"DB_PASSWORD": {"valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}}}}})',
                 "", id="chart-with-generated-and-referenced-credentials"),
    pytest.param('k8s.helm.v3.Chart("hub3", k8s.helm.v3.ChartOpts(chart="jupyterhub", values={"hub": {"config": '
                 '{"JupyterHub": {"cookie_secret": generated.result}}}}))', "", id="helm-v3-chart-generated-secret"),
    pytest.param('import pulumi_docker as docker\ndocker.Image("img", image_name="ghcr.io/lab/app:1", skip_push=True, '
                 'build={"context": "."}, registry={"server": "ghcr.io", "username": "lab", '
                 '"password": pulumi.Config().require_secret("ghcrToken")})',
                 "planted:ghcrToken:\n    secure: v1:" + "B" * 16, id="registry-password-from-secure-config"),
]


@pytest.mark.parametrize("body, config", CLEAN)
def test_clean_programs_pass(tmp_path, capsys, body, config):
    code, found = verdict(planted(tmp_path, body, config), capsys)
    assert found == []
    assert code == 0


def test_manifest_files_are_read_relative_to_the_program_as_the_cli_runs_it(tmp_path, capsys, monkeypatch):
    """`k8s.yaml.ConfigFile("m", file="manifest.yaml")` opens the file from the program's directory, wherever we are."""
    (tmp_path / "program").mkdir()
    program = planted(tmp_path / "program", 'k8s.yaml.ConfigFile("m", file="manifest.yaml")')
    (program / "manifest.yaml").write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\ndata: {{DB_PW: {PW}}}\n")
    monkeypatch.chdir(tmp_path)
    code, found = verdict(program, capsys)
    assert [(policy, name, message.split(": ")[0]) for _, policy, name, message in found] == [
        ("no-credentials-in-configmaps", "a", "data.DB_PW")]
    assert code == 1
