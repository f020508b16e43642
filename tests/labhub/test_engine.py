"""The offline engine reads stack files as the Pulumi CLI does, and mocks what providers compute faithfully.

Invariants: a YAML mistake names its line and column; a duplicate key is
refused, not last-wins; an unquoted date reaches the program as the text
written; a config key in a namespace nothing reads is a warning; and a
registry with a port survives the mock image digest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rendered import of_type

from components.config import parse_stack_config
from labhub.engine import PROJECT_DIR, _computed_outputs, read_stack_files, run_stack
from labhub.errors import UserError


def _project(tmp_path: Path, stack_text: str, stack: str = "t") -> Path:
    for name in ("Pulumi.yaml", "__main__.py"):
        (tmp_path / name).write_text((PROJECT_DIR / name).read_text())
    (tmp_path / f"Pulumi.{stack}.yaml").write_text(stack_text)
    return tmp_path


def test_a_yaml_mistake_names_line_and_column(tmp_path: Path) -> None:
    project = _project(tmp_path, "config:\n  labhub:spyglassHub:\n    host: [spyglass.localhost\n")
    with pytest.raises(UserError) as error:
        read_stack_files(project, "t")
    assert str(error.value) == f"{project}/Pulumi.t.yaml: line 4, column 1: expected ',' or ']', but got '<stream end>' (not valid YAML)"


def test_a_duplicate_key_is_refused_naming_both_places(tmp_path: Path) -> None:
    project = _project(tmp_path, "config:\n  labhub:spyglassHub:\n    enabled: true\n    namespace: a\n    enabled: false\n")
    with pytest.raises(UserError) as error:
        read_stack_files(project, "t")
    assert str(error.value) == (
        f"{project}/Pulumi.t.yaml: line 5, column 5: duplicate key 'enabled' (first at line 3, column 5) (not valid YAML)"
    )


@pytest.mark.parametrize(
    "stack_text",
    [
        pytest.param("config:\n  labhub:secrets:\n    rotation:\n      cookieSecret: 2026-12-03\n", id="nested-unquoted-date"),
        pytest.param("config:\n  labhub:secrets.rotation.cookieSecret: 2026-12-03\n", id="flat-key-without-path"),
    ],
)
def test_both_ways_to_write_a_rotation_keeper_reach_the_program_as_the_text_written(tmp_path: Path, stack_text: str) -> None:
    files = read_stack_files(_project(tmp_path, stack_text), "t")
    assert parse_stack_config(files.config).secrets.rotation == {"cookieSecret": "2026-12-03"}
    run = run_stack("t", tmp_path)
    (bytes_,) = [r for r in run.resources if r.name == "secrets-cookieSecret"]
    assert bytes_.inputs["keepers"] == {"rotation": "2026-12-03"}


def test_a_key_in_a_namespace_nothing_reads_is_a_warning(tmp_path: Path) -> None:
    project = _project(tmp_path, "config:\n  labhb:notebookTemplates:\n    enabled: true\n  kubernetes:context: kind-labhub\n")
    run = run_stack("t", project)
    assert "config key 'labhb:notebookTemplates' is in namespace 'labhb', which nothing in this program reads; did you mean labhub:?" in run.warnings
    assert not any("kubernetes:context" in w for w in run.warnings)


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        pytest.param("localhost:5001/labhub-templates:0123", "localhost:5001/labhub-templates", id="registry-port"),
        pytest.param("ghcr.io/lab/labhub-templates:0123", "ghcr.io/lab/labhub-templates", id="registry"),
        pytest.param("labhub-templates", "labhub-templates", id="untagged"),
    ],
)
def test_the_mock_image_digest_keeps_the_repository_whole(image: str, repository: str) -> None:
    outputs = _computed_outputs("docker:index/image:Image", "img", {"imageName": image})
    assert outputs["repoDigest"] == f"{repository}@sha256:{'0' * 64}"


def test_the_dev_stack_renders_its_registry_with_the_port(stack_runs) -> None:
    (deployment,) = of_type(stack_runs["dev"], "kubernetes:apps/v1:Deployment")
    image = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image.startswith("localhost:5001/labhub-templates@sha256:"), image
    assert json.dumps(image)


def test_the_readmes_rotation_example_rotates_the_secret_it_names(tmp_path: Path) -> None:
    """README's how-to, as a user would copy it into a stack file, reaches the keeper of that secret."""
    readme = (PROJECT_DIR / "README.md").read_text()
    block = readme.split("<!-- rotation-example:start -->\n```yaml\n", 1)[1].split("```\n<!-- rotation-example:end -->", 1)[0]
    run = run_stack("t", _project(tmp_path, block))
    (bytes_,) = [r for r in run.resources if r.name == "secrets-cookieSecret"]
    assert bytes_.inputs["keepers"] == {"rotation": "2026-12-03"}
