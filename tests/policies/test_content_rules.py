"""ConfigMaps, metadata, other properties, command lines and docker build args never carry a credential.

Each table plants one credential where the rule must find it (and names the
path the message must point at), then shows the look-alikes it must leave
alone: references, empty options, ports, user@host.
"""

from __future__ import annotations

import base64

import pytest
from policy_helpers import UNKNOWN, run_policy

CONFIGMAP = "kubernetes:core/v1:ConfigMap"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
RELEASE = "kubernetes:helm.sh/v3:Release"
WEAK = "tutorial"
PRIVATE_KEY_HEADER = "-----BEGIN " + "RSA PRIVATE" + " KEY-----"  # split so no scanner mistakes this file for a key


def paths(messages: list[str]) -> list[str]:
    return [m.split(": ", 1)[0] for m in messages]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def args_deployment(args: list[str], command: list[str] | None = None) -> dict:
    c = {"name": "backup", "image": "mysql:8.0", "args": args, **({"command": command} if command else {})}
    return {"spec": {"template": {"spec": {"containers": [c]}}}}


# --- no-credentials-in-configmaps ----------------------------------------------------------------

CONFIGMAP_VIOLATIONS = [
    pytest.param({"data": {"DB_PASSWORD": WEAK}}, ['data.DB_PASSWORD'], id="credential-key"),
    pytest.param({"data": {"my.cnf": f"[client]\nuser=root\npassword={WEAK}\n"}}, ['data["my.cnf"]'], id="ini-password"),
    pytest.param({"data": {"app.yaml": f'db:\n  password: "{WEAK}"\n'}}, ['data["app.yaml"]'], id="yaml-password"),
    pytest.param({"data": {"jupyterhub_config.py": f"c.GitHubOAuthenticator.client_secret = '{WEAK}'\n"}},
                 ['data["jupyterhub_config.py"]'], id="python-quoted-secret"),
    pytest.param({"data": {"tls.key": PRIVATE_KEY_HEADER + "\nAAAA\n"}}, ['data["tls.key"]'], id="private-key"),
    pytest.param({"binaryData": {"client.cnf": b64(f"password={WEAK}")}}, ['binaryData["client.cnf"]'],
                 id="binary-data-decoded"),
    pytest.param({"binaryData": {"api_token": b64(WEAK)}}, ["binaryData.api_token"], id="binary-data-credential-key"),
]


@pytest.mark.parametrize("props, expected", CONFIGMAP_VIOLATIONS)
def test_configmap_rule_catches_credentials(props, expected):
    assert paths(run_policy("no-credentials-in-configmaps", CONFIGMAP, props)) == expected


CONFIGMAP_CLEAN = [
    pytest.param({"data": {"my.cnf": "[mysqld]\nbind-address=127.0.0.1\ninnodb_buffer_pool_size=512M\n"}}, id="plain-config"),
    pytest.param({"data": {"jupyterhub_config.py": "c.JupyterHub.cookie_secret = os.environ['COOKIE_SECRET']\n"
                                                   "password = get_password()\n"}}, id="python-code-not-values"),
    pytest.param({"data": {"client.cnf": "[client]\npassword_file=/run/secrets/pw\npassword=\n"}}, id="file-and-empty"),
    pytest.param({"data": {"env": "PASSWORD=${DB_PASSWORD}\nTOKEN=$(API_TOKEN)\n"}}, id="references"),
    pytest.param({"data": {"DB_PASSWORD": UNKNOWN}}, id="unknown-at-preview"),
    pytest.param({"data": {"auth.yaml": "password:\n  minLength: 12\nenable_auth_state: true\n"}}, id="yaml-mapping-start"),
]


@pytest.mark.parametrize("props", CONFIGMAP_CLEAN)
def test_configmap_rule_passes_clean_configmaps(props):
    assert run_policy("no-credentials-in-configmaps", CONFIGMAP, props) == []


def test_configmap_rule_ignores_secrets_and_takes_custom_names():
    assert run_policy("no-credentials-in-configmaps", "kubernetes:core/v1:Secret", {"data": {"PASSWORD": b64(WEAK)}}) == []
    props = {"data": {"LAB_PIN": "1234"}}
    assert run_policy("no-credentials-in-configmaps", CONFIGMAP, props) == []
    assert paths(run_policy("no-credentials-in-configmaps", CONFIGMAP, props, {"credentialNamePatterns": ["pin$"]})) == [
        "data.LAB_PIN"]


# --- URLs with a password, wherever they sit: each territory's rule reports them ------------------

URL_VIOLATIONS = [
    pytest.param("no-credentials-in-metadata", DEPLOYMENT, args_deployment([]) | {"metadata": {"annotations": {
        "db": f"postgresql+psycopg2://hub:{WEAK}@postgres:5432/jupyterhub"}}}, ["metadata.annotations.db"],
        id="annotation"),
    pytest.param("no-plaintext-credential-in-chart-values", RELEASE,
                 {"values": {"hub": {"db": {"url": f"postgresql://hub:{WEAK}@postgres/hub"}}}}, ["values.hub.db.url"],
                 id="z2jh-hub-db-url"),
    pytest.param("no-credentials-in-configmaps", CONFIGMAP,
                 {"data": {"DATABASE_URL": f"mysql://root:{WEAK}@127.0.0.1:3306/"}}, ["data.DATABASE_URL"], id="configmap"),
    pytest.param("no-credentials-in-properties", "kubernetes:networking.k8s.io/v1:Ingress",
                 {"spec": {"rules": [{"host": f"https://u:{WEAK}@h.example.org"}]}}, ["spec.rules[0].host"],
                 id="any-resource-type"),
    pytest.param("no-credentials-in-properties", "kubernetes:batch/v1:Job",
                 {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x", "workingDir": "/w",
                                                                 "stdin": True}]}}},
                  "metadata": {"name": "j"}, "kind": "Job", "apiVersion": "batch/v1", "status": {"password": WEAK}},
                 ["status.password"], id="credential-name-in-any-field"),
]


@pytest.mark.parametrize("policy, resource_type, props, expected", URL_VIOLATIONS)
def test_url_and_property_leaks_are_caught_by_the_rule_of_their_territory(policy, resource_type, props, expected):
    assert paths(run_policy(policy, resource_type, props)) == expected


PROPERTIES_CLEAN = [
    pytest.param(CONFIGMAP, {"data": {"GIT": "ssh://git@github.com/lab/repo.git"}}, id="user-at-host"),
    pytest.param(CONFIGMAP, {"data": {"DB": "postgresql://hub:$(HUB_DB_PASSWORD)@postgres/hub"}}, id="kubelet-reference"),
    pytest.param(CONFIGMAP, {"data": {"DB": "postgresql://hub:${HUB_DB_PASSWORD}@postgres/hub"}}, id="shell-reference"),
    pytest.param(CONFIGMAP, {"data": {"URL": "https://xnat.example.org:8443/data/projects?x=a@b"}}, id="port-not-password"),
    pytest.param("kubernetes:core/v1:Secret", {"stringData": {"url": f"postgresql://hub:{WEAK}@postgres/hub"}},
                 id="secret-is-the-right-place"),
    pytest.param(CONFIGMAP, {"data": {"DB": UNKNOWN}}, id="unknown-at-preview"),
    pytest.param("docker:index/image:Image", {"registry": {"server": "ghcr.io", "password": WEAK}},
                 id="provider-inputs-are-judged-by-secretness-offline"),
    pytest.param("kubernetes:helm.sh/v4:Chart", {"repositoryOpts": {"password": WEAK}}, id="chart-options-likewise"),
    pytest.param(DEPLOYMENT, args_deployment(["--token-ttl=3600"]) | {"metadata": {"labels": {
        "app.kubernetes.io/component": "credentials"}}}, id="labels-naming-credentials"),
]


@pytest.mark.parametrize("resource_type, props", PROPERTIES_CLEAN)
@pytest.mark.parametrize("policy", ["no-credentials-in-properties", "no-credentials-in-metadata",
                                    "no-credentials-in-configmaps"])
def test_property_rules_pass_clean_resources(policy, resource_type, props):
    assert run_policy(policy, resource_type, props) == []


def test_property_rule_ignored_types_are_configurable():
    secret = {"stringData": {"url": f"postgresql://hub:{WEAK}@postgres/hub"}}
    assert paths(run_policy("no-credentials-in-properties", "kubernetes:core/v1:Secret", secret,
                            {"ignoredResourceTypes": []})) == ["stringData.url"]


# --- no-credentials-on-command-line ------------------------------------------------------------

COMMAND_VIOLATIONS = [
    pytest.param(args_deployment([f"--password={WEAK}"], ["mysqldump"]), ["spec.template.spec.containers[0].args[0]"],
                 id="long-option-equals"),
    pytest.param(args_deployment(["--password", WEAK, "db"], ["mysql"]), ["spec.template.spec.containers[0].args[0]"],
                 id="long-option-separate-value"),
    pytest.param(args_deployment(["-uroot", f"-p{WEAK}", "--all-databases"], ["mysqldump"]),
                 ["spec.template.spec.containers[0].args[1]"], id="mysql-glued-p"),
    pytest.param(args_deployment([f"mysqldump -uroot -p'{WEAK}' --all-databases | gzip > /backup/all.sql.gz"], ["sh", "-c"]),
                 ["spec.template.spec.containers[0].args[0]"], id="shell-script-glued-p"),
    pytest.param(args_deployment([f"PGPASSWORD={WEAK} pg_dump -h postgres hub"], ["sh", "-c"]),
                 ["spec.template.spec.containers[0].args[0]"], id="inline-pgpassword"),
    pytest.param(args_deployment([f"export MYSQL_PWD={WEAK}; mysql -uroot"], ["bash", "-c"]),
                 ["spec.template.spec.containers[0].args[0]"], id="inline-mysql-pwd"),
    pytest.param(args_deployment([f"mysql -e \"CREATE USER 'dj' IDENTIFIED BY '{WEAK}'\""], ["sh", "-c"]),
                 ["spec.template.spec.containers[0].args[0]"], id="sql-identified-by"),
    pytest.param(args_deployment([f"--db-url=postgresql://hub:{WEAK}@postgres/hub"]),
                 ["spec.template.spec.containers[0].args[0]"], id="url-credentials"),
    pytest.param({"spec": {"template": {"spec": {"containers": [{"name": "db", "image": "mysql:8.0", "livenessProbe": {
        "exec": {"command": ["mysqladmin", "ping", "-uroot", f"-p{WEAK}"]}}}]}}}},
                 ["spec.template.spec.containers[0].livenessProbe.exec.command[3]"], id="exec-probe"),
    pytest.param({"values": {"singleuser": {"extraContainers": [{"name": "mysql", "image": "mysql:8.0",
                                                                 "args": [f"--password={WEAK}"]}]}}},
                 ["values.singleuser.extraContainers[0].args[0]"], id="chart-extra-container"),
    pytest.param({"values": {"singleuser": {"cmd": f"start.sh --NotebookApp.token={WEAK}"}}}, ["values.singleuser.cmd"],
                 id="chart-singleuser-cmd-string"),
]


@pytest.mark.parametrize("props, expected", COMMAND_VIOLATIONS)
def test_command_line_rule_catches_passwords(props, expected):
    resource_type = RELEASE if "values" in props else DEPLOYMENT
    assert paths(run_policy("no-credentials-on-command-line", resource_type, props)) == expected


COMMAND_CLEAN = [
    pytest.param(["--password", "-h", "127.0.0.1"], ["mysql"], id="password-option-without-value"),
    pytest.param(["-uroot", "-p"], ["mysql"], id="p-alone"),
    pytest.param(["--defaults-extra-file=/etc/mysql/backup.cnf", "--single-transaction"], ["mysqldump"], id="option-file"),
    pytest.param(["-p$(MYSQL_ROOT_PASSWORD)", "--password=${MYSQL_PWD}"], ["mysqldump"], id="references"),
    pytest.param(['mysqldump -uroot -p"$MYSQL_ROOT_PASSWORD" --all-databases'], ["sh", "-c"], id="shell-variable"),
    pytest.param(["-h", "postgres", "-p", "5432", "-U", "hub"], ["pg_dump"], id="pg-dump-port"),
    pytest.param(["-ppostgres"], ["pg_dump"], id="p-glued-to-a-non-mysql-tool"),
    pytest.param(["-P3306", "-hdb"], ["mysql"], id="capital-p-port"),
    pytest.param(["mysql -e \"CREATE USER 'dj' IDENTIFIED BY '${DJ_PASSWORD}'\""], ["sh", "-c"], id="sql-reference"),
    pytest.param(["--password-file=/run/secrets/pw", "--token-ttl=3600"], ["tool"], id="file-and-setting-options"),
    pytest.param([UNKNOWN], ["mysqldump"], id="unknown-at-preview"),
]


@pytest.mark.parametrize("args, command", COMMAND_CLEAN)
def test_command_line_rule_passes_clean_command_lines(args, command):
    assert run_policy("no-credentials-on-command-line", DEPLOYMENT, args_deployment(args, command)) == []


def test_command_line_mysql_tools_are_configurable():
    props = args_deployment(["-pabc123"], ["mytool"])
    assert run_policy("no-credentials-on-command-line", DEPLOYMENT, props) == []
    assert paths(run_policy("no-credentials-on-command-line", DEPLOYMENT, props, {"mysqlTools": ["mytool"]})) == [
        "spec.template.spec.containers[0].args[0]"]


# --- no-credential-docker-build-args -------------------------------------------------------------

DOCKER_VIOLATIONS = [
    pytest.param("docker:index/image:Image", {"build": {"args": {"DB_PASSWORD": WEAK, "PYTHON": "3.11"}}},
                 ["build.args.DB_PASSWORD"], id="docker-image"),
    pytest.param("docker:index/remoteImage:RemoteImage", {"build": {"buildArgs": {"API_KEY": "x"}}},
                 ["build.buildArgs.API_KEY"], id="docker-remote-image"),
    pytest.param("docker-build:index:Image", {"buildArgs": {"GITHUB_TOKEN": "$(TOKEN)"}}, ["buildArgs.GITHUB_TOKEN"],
                 id="docker-build-reference-still-baked-in"),
    pytest.param("docker-build:index:Image", {"buildArgs": {"PIP_INDEX_PASSWORD": UNKNOWN}},
                 ["buildArgs.PIP_INDEX_PASSWORD"], id="unknown-value-name-still-known"),
]


@pytest.mark.parametrize("resource_type, props, expected", DOCKER_VIOLATIONS)
def test_docker_rule_catches_credential_build_args(resource_type, props, expected):
    assert paths(run_policy("no-credential-docker-build-args", resource_type, props)) == expected


@pytest.mark.parametrize("resource_type, props", [
    pytest.param("docker:index/image:Image", {"build": {"args": {"PYTHON_VERSION": "3.11", "SPYGLASS_REF": "v0.5"}}},
                 id="plain-build-args"),
    pytest.param("docker-build:index:Image", {"secrets": {"pip_token": "x"}, "buildArgs": {}}, id="build-secrets"),
    pytest.param("docker:index/image:Image", {"build": UNKNOWN}, id="unknown-build"),
    pytest.param("kubernetes:core/v1:ConfigMap", {"buildArgs": {"PASSWORD": "x"}}, id="not-an-image"),
])
def test_docker_rule_passes_clean_builds(resource_type, props):
    assert run_policy("no-credential-docker-build-args", resource_type, props) == []


def test_docker_rule_patterns_are_configurable():
    props = {"buildArgs": {"NPM_AUTH": "x"}}
    assert run_policy("no-credential-docker-build-args", "docker-build:index:Image", props) == []
    assert paths(run_policy("no-credential-docker-build-args", "docker-build:index:Image", props,
                            {"credentialNamePatterns": ["_auth$"]})) == ["buildArgs.NPM_AUTH"]
