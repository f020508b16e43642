"""NotebookTemplates: the templating server deployed as a hub service, rolled when a template changes.

Invariants: the image is built from this repository (tagged by its sources) or
taken pinned from config; templates reach the pod at their relative paths; a
changed template changes the pod template, so `pulumi up` rolls the server;
credentials reach the container only by Secret reference; the hub learns the
service with a generated token; SampleDB gets its exact settings as outputs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type, the_one
from secret_outputs import is_secret_output

from components.config import ConfigError, StackConfig, parse_stack_config
from components.models.notebook_templates import NotebookTemplatesConfig
from components.notebook_templates import (
    SERVICE_SCOPES,
    NotebookTemplates,
    NotebookTemplatesArgs,
    read_templates,
    source_digest,
)
from components.stack_secrets import StackSecrets, StackSecretsArgs
from labhub.engine import PROJECT_DIR, StackRun

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
IMAGE = "docker:index/image:Image"


def _notebook(text: str = "print('hello')") -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}],
                       "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
                       "nbformat": 4, "nbformat_minor": 5})  # fmt: skip


def _config(**overrides: Any) -> NotebookTemplatesConfig:
    values: dict[str, Any] = {"enabled": True, "registry": "registry.example/lab", "templatesDir": "templates"}
    values.update(overrides)
    return NotebookTemplatesConfig.model_validate(values)


def _project(tmp_path: Path) -> Path:
    """A project folder: this repository's image sources plus a templates folder of our own."""
    templates = tmp_path / "templates"
    (templates / "instrument").mkdir(parents=True)
    (templates / "Sample_{name}.ipynb").write_text(_notebook())
    (templates / "instrument" / "analysis.ipynb").write_text(_notebook("x = 1"))
    return tmp_path


def _run(run_component, project_dir: Path, config: NotebookTemplatesConfig) -> tuple[StackRun, NotebookTemplates]:
    def build(built: dict[str, Any]) -> None:
        stack = StackConfig(notebookTemplates=config)
        secrets = StackSecrets("secrets", StackSecretsArgs(config=stack, spyglass_namespace="spyglass")).notebook_templates
        built["templates"] = NotebookTemplates(
            "templates",
            NotebookTemplatesArgs(config=config, namespace="spyglass", hub_url="https://hub.example.org", secrets=secrets, project_dir=project_dir),
        )

    result, built = run_component(build)
    return result, built["templates"]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr("components.notebook_templates.source_digest", lambda _: "0123456789abcdef")
    return _project(tmp_path)


def test_the_image_is_built_from_this_repository_and_tagged_by_its_sources(run_component) -> None:
    result, templates = _run(run_component, PROJECT_DIR, _config(templatesDir="notebook-templates"))
    image = the_one(result, IMAGE, "templates-image")
    assert image.inputs["build"]["dockerfile"] == str(PROJECT_DIR / "docker" / "templates" / "Dockerfile")
    assert image.inputs["build"]["context"] == str(PROJECT_DIR)
    assert image.inputs["imageName"] == f"registry.example/lab/labhub-templates:{source_digest(PROJECT_DIR)}"
    assert "args" not in image.inputs["build"], "no build args: nothing secret may go there"
    container = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    assert re.fullmatch(r"registry\.example/lab/labhub-templates@sha256:[0-9a-f]{64}", container["image"]), "deploy by digest"


def test_a_prebuilt_image_from_config_is_used_as_is(run_component, project: Path) -> None:
    result, _ = _run(run_component, project, _config(image="ghcr.io/lab/templates:1.2.0", registry=None))
    assert of_type(result, IMAGE) == []
    container = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "ghcr.io/lab/templates:1.2.0"


def test_templates_are_mounted_at_their_relative_paths(run_component, project: Path) -> None:
    result, _ = _run(run_component, project, _config())
    config_map = the_one(result, CONFIG_MAP, "templates-files")
    keys = set(config_map.inputs["data"])
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", k) for k in keys), keys
    volume = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]["volumes"][0]
    assert sorted(i["path"] for i in volume["configMap"]["items"]) == ["Sample_{name}.ipynb", "instrument/analysis.ipynb"]
    assert {i["key"] for i in volume["configMap"]["items"]} == keys


def test_changing_a_template_rolls_the_server(run_component, project: Path) -> None:
    def annotation() -> str:
        result, _ = _run(run_component, project, _config())
        return the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["metadata"]["annotations"]["labhub.io/templates-sha256"]

    before = annotation()
    assert annotation() == before, "the same templates must not roll the server"
    (project / "templates" / "instrument" / "analysis.ipynb").write_text(_notebook("x = 2"))
    assert annotation() != before


def test_the_container_gets_credentials_only_by_secret_reference(run_component, project: Path) -> None:
    result, _ = _run(run_component, project, _config())
    pod = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    by_name = {e["name"]: e for e in container["env"]}
    for name in ("JUPYTERHUB_API_TOKEN", "LABHUB_TEMPLATES_SECRET_KEY"):
        assert by_name[name]["valueFrom"]["secretKeyRef"]["name"] == "notebook-templates" and "value" not in by_name[name]
    assert by_name["JUPYTERHUB_SERVICE_PREFIX"]["value"] == "/services/templates/"
    assert json.loads(by_name["JUPYTERHUB_OAUTH_ACCESS_SCOPES"]["value"]) == ["access:services!service=templates"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["resources"]["limits"] == {"memory": "256Mi", "cpu": "500m"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert "--host" in container["args"] and container["args"][container["args"].index("--hub-url") + 1] == "https://hub.example.org"


def test_the_hub_learns_the_service_with_a_secret_token_and_narrow_scopes(run_component, project: Path) -> None:
    _, templates = _run(run_component, project, _config())
    service = templates.hub_service["templates"]
    assert service["url"] == "http://notebook-templates:8080"
    assert is_secret_output(service["api_token"])
    assert templates.hub_role["notebook-templates"]["scopes"] == list(SERVICE_SCOPES)
    assert templates.hub_role["user"]["scopes"] == ["self", "access:services!service=templates"], "users may log in to it"
    assert "admin:users" not in SERVICE_SCOPES and "admin:servers" not in SERVICE_SCOPES


def test_the_registered_oauth_redirect_uri_is_the_exact_string_the_server_sends(run_component, project: Path) -> None:
    """The hub compares the two as plain strings (jupyterhub/oauth/provider.py); HubOAuth sends JUPYTERHUB_OAUTH_CALLBACK_URL."""
    result, templates = _run(run_component, project, _config())
    container = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]["containers"][0]
    sent = {e["name"]: e.get("value") for e in container["env"]}["JUPYTERHUB_OAUTH_CALLBACK_URL"]
    assert templates.hub_service["templates"]["oauth_redirect_uri"] == sent
    # Relative, as the hub's own default for a service without subdomains (host + prefix + "oauth_callback").
    assert sent == "/services/templates/oauth_callback"


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        pytest.param({}, "holds no .ipynb files", id="empty"),
        pytest.param({"big.ipynb": "x" * (1024 * 1024)}, r"big.ipynb \(1048576 bytes\)", id="one-file-too-big"),
    ],
)
def test_an_unusable_templates_folder_is_refused_by_name(tmp_path: Path, layout: dict[str, str], message: str) -> None:
    for name, text in layout.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ValueError, match=message):
        read_templates(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        read_templates(tmp_path / "missing")


def test_templates_over_a_configmaps_1_mib_fail_at_preview_naming_each_file_and_size(run_component, tmp_path: Path) -> None:
    """The API server's rule: the sum of every key's and value's bytes is at most 1048576."""
    project = _project(tmp_path)
    (project / "templates" / "instrument" / "raw.ipynb").write_text(_notebook("x" * 600_000))
    (project / "templates" / "big.ipynb").write_text(_notebook("é" * 300_000))  # 2 bytes each in UTF-8
    with pytest.raises(ConfigError) as caught:
        _run(run_component, project, _config())
    message = str(caught.value)
    assert "\n" not in message
    sizes = {name: len((project / "templates" / name).read_bytes()) for name in ("instrument/raw.ipynb", "big.ipynb")}
    for name, size in sizes.items():
        assert f"{name} ({size} bytes)" in message
    assert "1048576" in message


def test_templates_just_under_the_limit_with_their_keys_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "a.ipynb").write_text("x")
    key_bytes = len(read_templates(tmp_path)[0].config_map_key)
    (tmp_path / "a.ipynb").write_text("x" * (1024 * 1024 - key_bytes))
    assert len(read_templates(tmp_path)) == 1
    (tmp_path / "a.ipynb").write_text("x" * (1024 * 1024 - key_bytes + 1))
    with pytest.raises(ValueError, match="1048576"):
        read_templates(tmp_path)


def _image_context(tmp_path: Path) -> Path:
    """A copy of what the image build sees: the Dockerfile, the packaging files and the labhub tree."""
    import shutil

    for name in ("pyproject.toml", "constraints.txt", "README.md", ".dockerignore"):
        shutil.copy(PROJECT_DIR / name, tmp_path / name)
    (tmp_path / "docker" / "templates").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "docker" / "templates" / "Dockerfile", tmp_path / "docker" / "templates" / "Dockerfile")
    shutil.copytree(PROJECT_DIR / "labhub", tmp_path / "labhub", ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


IMAGE_EDITS = [
    pytest.param("README.md", False, id="readme"),
    pytest.param("labhub/render.py", False, id="render-code"),
    pytest.param("labhub/engine.py", False, id="engine-code"),
    pytest.param("labhub/templates/__pycache__/app.cpython-311.pyc", False, id="bytecode-cache"),
    pytest.param("labhub/templates/app.py", True, id="server-code"),
    pytest.param("labhub/cli.py", True, id="cli-entry-point"),
    pytest.param("constraints.txt", True, id="pins"),
    pytest.param("pyproject.toml", True, id="packaging"),
    pytest.param("docker/templates/Dockerfile", True, id="dockerfile"),
]


@pytest.mark.parametrize(("edited", "rebuilds"), IMAGE_EDITS)
def test_the_image_tag_changes_exactly_when_a_file_the_image_copies_changes(tmp_path: Path, edited: str, rebuilds: bool) -> None:
    context = _image_context(tmp_path)
    before = source_digest(context)
    path = context / edited
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        handle.write("\n# edited\n")
    assert (source_digest(context) != before) is rebuilds


def test_each_stack_exports_the_exact_sampledb_settings(each_stack: StackRun) -> None:
    hub_url = each_stack.outputs["spyglassHubUrl"]
    assert each_stack.outputs["SAMPLEDB_JUPYTERHUB_URL"] == hub_url
    assert each_stack.outputs["SAMPLEDB_JUPYTERHUB_TEMPLATES_URL"] == f"{hub_url}/services/templates"
    assert not rpc.is_rpc_secret(each_stack.outputs["SAMPLEDB_JUPYTERHUB_TEMPLATES_URL"])


def test_a_missing_templates_folder_stops_the_program_with_one_config_line(run_component, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^labhub:notebookTemplates.templatesDir: templates folder .*/nowhere does not exist$"):
        _run(run_component, tmp_path, _config(templatesDir="nowhere"))


def test_filesystem_mode_mounts_the_homes_and_writes_as_their_owner(run_component, project: Path) -> None:
    result, _ = _run(run_component, project, _config(storage="filesystem:/home/{username}", homesClaim="lab-homes", filesUid=1000))
    pod = the_one(result, DEPLOYMENT, "templates-deployment").inputs["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert {"name": "homes", "mountPath": "/home"} in container["volumeMounts"]
    assert {"name": "homes", "persistentVolumeClaim": {"claimName": "lab-homes"}} in pod["volumes"]
    assert (pod["securityContext"]["runAsUser"], pod["securityContext"]["runAsGroup"]) == (1000, 1000)
    assert container["args"][container["args"].index("--storage") + 1] == "filesystem:/home/{username}"


@pytest.mark.parametrize(
    ("storage", "claim", "message"),
    [
        pytest.param(
            "filesystem:/home/{username}", None,
            "labhub:notebookTemplates: storage filesystem:... needs homesClaim, the PVC of the users' homes", id="no-claim",
        ),
        pytest.param(
            "filesystem:/{username}", "homes",
            "labhub:notebookTemplates: storage: put {username} below a folder (e.g. filesystem:/home/{username}), not at /", id="homes-at-root",
        ),
        pytest.param(
            "filesystem:/home/shared", "homes",
            "labhub:notebookTemplates.storage: 'filesystem:/home/shared' is not allowed: "
            "String should match pattern '^(contents|download|filesystem:/.*\\{username\\}.*)$'", id="no-username",
        ),
        pytest.param(
            "ftp", None,
            "labhub:notebookTemplates.storage: 'ftp' is not allowed: String should match pattern '^(contents|download|filesystem:/.*\\{username\\}.*)$'",
            id="unknown-mode",
        ),  # fmt: skip
    ],
)
def test_a_storage_mode_that_cannot_work_is_refused_at_config_time(storage: str, claim: str | None, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config({"labhub:notebookTemplates": json.dumps({"storage": storage, "homesClaim": claim})})
    assert str(error.value) == message
