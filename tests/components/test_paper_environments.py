"""PaperEnvironments: two images per paper from its prepared context, offered as a Spyglass hub profile.

Invariants: each paper's notebook and database images are built from the
context `labhub export prepare` wrote (its two Dockerfiles, no build args:
nothing secret in an image) and deployed by digest; the hub's profileList
keeps the lab's own environment as the default and adds one profile per
paper, whose notebook image is the paper's and whose MySQL sidecar runs the
paper's database image with the hub's own root-password Secret, in a data
folder of its own (so the export loads once, never over the user's own
database); a context that is not one is a one-line config error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime import rpc
from rendered import of_type, the_one

from components.config import ConfigError, parse_stack_config
from components.models.paper_environments import PaperEnvironmentsConfig
from components.paper_environments import PaperEnvironments, PaperEnvironmentsArgs, context_tag
from labhub.engine import PROJECT_DIR, StackRun

IMAGE = "docker:index/image:Image"
CHART = "kubernetes:helm.sh/v4:Chart"
EXAMPLE = PROJECT_DIR / "papers" / "example" / "context"


def test_each_paper_gets_a_notebook_and_a_database_image_built_from_its_context(stack_runs: dict[str, StackRun]) -> None:
    images = {r.name: r.inputs for r in of_type(stack_runs["prod"], IMAGE) if r.name.startswith("papers-")}
    assert sorted(images) == ["papers-example-paper-database", "papers-example-paper-notebook"]
    tag = context_tag(EXAMPLE)
    for kind in ("notebook", "database"):
        image = images[f"papers-example-paper-{kind}"]
        assert image["build"]["context"] == str(EXAMPLE)
        assert image["build"]["dockerfile"] == str(EXAMPLE / f"{kind}.Dockerfile")
        assert "args" not in image["build"], "no build args: nothing secret may go into a paper image"
        assert image["imageName"] == f"ghcr.io/example-lab/spyglass-paper-example-paper-{kind}:{tag}"


def _profiles(run: StackRun) -> list[dict[str, Any]]:
    chart = the_one(run, CHART, "spyglass-chart")
    return rpc.unwrap_rpc_secret(chart.inputs["values"])["singleuser"].get("profileList", [])


def test_the_hub_offers_the_paper_beside_the_labs_own_default_environment(stack_runs: dict[str, StackRun]) -> None:
    default, paper = _profiles(stack_runs["prod"])
    assert default == {"display_name": "Spyglass", "slug": "spyglass", "description": "The lab's Spyglass environment with your own database.", "default": True}
    assert (paper["display_name"], paper["slug"]) == ("Example paper (Spyglass export)", "paper-example-paper")
    override = paper["kubespawner_override"]
    assert override["image"].startswith("ghcr.io/example-lab/spyglass-paper-example-paper-notebook@sha256:")
    (sidecar,) = override["extra_containers"]
    assert sidecar["image"].startswith("ghcr.io/example-lab/spyglass-paper-example-paper-database@sha256:")
    assert _profiles(stack_runs["dev"]) == []


def test_the_papers_database_runs_as_the_hubs_sidecar_in_a_data_folder_of_its_own(stack_runs: dict[str, StackRun]) -> None:
    chart = the_one(stack_runs["prod"], CHART, "spyglass-chart")
    singleuser = rpc.unwrap_rpc_secret(chart.inputs["values"])["singleuser"]
    (own,) = singleuser["extraContainers"]
    (paper,) = _profiles(stack_runs["prod"])[1]["kubespawner_override"]["extra_containers"]
    data = lambda c: next(m for m in c["volumeMounts"] if m["mountPath"] == "/var/lib/mysql")  # noqa: E731
    assert data(own)["subPath"] == ".labhub/mysql"
    assert data(paper)["subPath"] == ".labhub/mysql-paper-example-paper"
    # Everything but the image and the data folder is the hub's own sidecar: same Secret, same probes, same user.
    strip = lambda c: {**c, "image": None, "volumeMounts": [m for m in c["volumeMounts"] if m["mountPath"] != "/var/lib/mysql"]}  # noqa: E731
    assert strip(paper) == strip(own)


def test_a_context_that_export_prepare_did_not_write_is_a_one_line_config_error(run_component, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "notebook.Dockerfile").write_text("FROM x:1\n")
    config = PaperEnvironmentsConfig.model_validate(
        {"enabled": True, "registry": "r.example/lab", "papers": [{"name": "p1", "displayName": "P1", "context": "ctx"}]}
    )
    with pytest.raises(ConfigError) as error:
        run_component(lambda built: PaperEnvironments("papers", PaperEnvironmentsArgs(config=config, project_dir=tmp_path)))
    assert str(error.value) == (
        f"labhub:paperEnvironments.papers[p1].context: {tmp_path / 'ctx'} has no database.Dockerfile; "
        "make it with `labhub export prepare --export-dir EXPORT --out` that folder"
    )


@pytest.mark.parametrize(
    ("raw", "expected_line"),
    [
        pytest.param(
            {"labhub:paperEnvironments": {"enabled": True, "papers": [{"name": "p1", "displayName": "P1", "context": "c"}]}},
            "labhub:paperEnvironments: needs registry, where the paper images are pushed",
            id="no-registry",
        ),
        pytest.param(
            {"labhub:paperEnvironments": {"enabled": True, "registry": "r", "papers": []}},
            "labhub:paperEnvironments: enabled with no papers: list at least one, or turn it off",
            id="no-papers",
        ),
        pytest.param(
            {"labhub:paperEnvironments": {"papers": [{"name": "p1", "displayName": "A", "context": "a"}, {"name": "p1", "displayName": "B", "context": "b"}]}},
            "labhub:paperEnvironments: papers: 'p1' is listed more than once",
            id="duplicate-paper",
        ),
        pytest.param(
            {"labhub:paperEnvironments": {"papers": [{"name": "Paper_1", "displayName": "A", "context": "a"}]}},
            "labhub:paperEnvironments.papers.0.name: 'Paper_1' is not allowed: must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters",
            id="name-not-a-dns-label",
        ),
        pytest.param(
            {
                "labhub:spyglassHub": {"enabled": False},
                "labhub:paperEnvironments": {"enabled": True, "registry": "r", "papers": [{"name": "p1", "displayName": "P1", "context": "c"}]},
            },
            "labhub config: paperEnvironments are profiles of the Spyglass hub: enable spyglassHub too",
            id="without-the-hub",
        ),
    ],
)
def test_a_bad_paper_environments_section_is_one_line_naming_the_key(raw: dict[str, Any], expected_line: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_stack_config({k: json.dumps(v) for k, v in raw.items()})
    assert str(error.value) == expected_line
