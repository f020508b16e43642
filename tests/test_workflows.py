"""The CI workflows are valid GitHub Actions and encode the deploy rules.

Validated offline against the GitHub workflow JSON schema vendored in
check-jsonschema, then checked for what matters: every pull request previews
both stacks with the policy pack and comments on the PR; only a push to main
runs `up`, only for prod, behind the approved `production` environment, one at
a time; no secret value is written into a workflow.
"""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name: str) -> dict:
    # YAML 1.1 reads the key `on` as True; GitHub reads it as the string "on".
    doc = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in doc:
        doc["on"] = doc.pop(True)
    return doc


def pulumi_steps(job: dict) -> list[dict]:
    return [s for s in job["steps"] if str(s.get("uses", "")).startswith("pulumi/actions@")]


@pytest.mark.parametrize("name", ["pull_request.yml", "push.yml"])
def test_workflow_matches_the_github_schema(name):
    jsonschema.validate(load(name), get_builtin_schema("vendor.github-workflows"))


@pytest.mark.parametrize("name", ["pull_request.yml", "push.yml"])
def test_actions_are_pinned_to_a_major_version_at_least(name):
    for job in load(name)["jobs"].values():
        for step in job["steps"]:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@(v\d+(\.\d+)*|[0-9a-f]{40})", step["uses"]), step["uses"]


def credential_settings(doc: dict):
    """(key, value) of every env var and action input whose name says it carries a credential."""
    maps = [doc.get("env", {})]
    for job in doc["jobs"].values():
        maps.append(job.get("env", {}))
        for step in job["steps"]:
            maps += [step.get("env", {}), step.get("with", {})]
    for mapping in maps:
        for key, value in mapping.items():
            if re.search(r"(?i)token|passphrase|password|secret", key):
                yield key, value


@pytest.mark.parametrize("name", ["pull_request.yml", "push.yml"])
def test_no_secret_is_written_inline(name):
    found = list(credential_settings(load(name)))
    assert found, "expected the backend credentials to be wired in"
    for key, value in found:
        assert re.fullmatch(r"\$\{\{ secrets\.\w+ \}\}", str(value)), f"{key} must come from secrets, not be inline"


def test_pull_requests_preview_both_stacks_with_the_policy_pack_and_comment():
    doc = load("pull_request.yml")
    assert "pull_request" in doc["on"]
    assert doc["permissions"]["pull-requests"] == "write"
    [job] = doc["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    [preview] = pulumi_steps(job)
    assert preview["uses"] == "pulumi/actions@v7"
    assert preview["with"]["command"] == "preview"
    assert preview["with"]["stack-name"] == "${{ matrix.stack }}"
    assert preview["with"]["policyPacks"] == "policies"
    assert preview["with"]["comment-on-pr"] is True
    assert preview["with"]["github-token"] == "${{ secrets.GITHUB_TOKEN }}"
    assert preview["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    runs = [s.get("run", "") for s in job["steps"]]
    assert any('pip install -c constraints.txt -e ".[deploy]"' in r for r in runs), "install the pinned deploy dependencies"
    assert any("labhub policy-check --stack ${{ matrix.stack }}" in r for r in runs)
    assert any(s.get("uses", "").startswith("actions/setup-python@") for s in job["steps"])


def test_up_runs_only_on_main_only_for_prod_behind_the_environment():
    doc = load("push.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
    assert doc["concurrency"] == {"group": "pulumi-up-prod", "cancel-in-progress": False}
    [job] = doc["jobs"].values()
    assert job["if"] == "github.ref == 'refs/heads/main'"
    assert job["environment"] == "production"
    [up] = pulumi_steps(job)
    assert up["with"]["command"] == "up"
    assert up["with"]["stack-name"] == "prod"
    assert up["with"]["policyPacks"] == "policies"
    assert up["with"]["cloud-url"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert set(job["env"]) == {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN"}


def test_only_push_yml_runs_up():
    commands = {name: [s["with"]["command"] for job in load(name)["jobs"].values() for s in pulumi_steps(job)]
                for name in ("pull_request.yml", "push.yml")}
    assert commands == {"pull_request.yml": ["preview"], "push.yml": ["up"]}


def _step_index(steps: list[dict], predicate) -> int:
    return next(i for i, step in enumerate(steps) if predicate(step))


@pytest.mark.parametrize("name", ["pull_request.yml", "push.yml"])
def test_policy_check_gates_every_stack_before_pulumi_runs(name):
    """`labhub policy-check` (stack file, pack, secretness) runs for each deployed stack before preview/up."""
    [job] = load(name)["jobs"].values()
    stacks = job.get("strategy", {}).get("matrix", {}).get("stack") or [pulumi_steps(job)[0]["with"]["stack-name"]]
    check = _step_index(job["steps"], lambda s: "labhub policy-check --stack" in s.get("run", ""))
    pulumi = _step_index(job["steps"], lambda s: str(s.get("uses", "")).startswith("pulumi/actions@"))
    assert check < pulumi
    command = job["steps"][check]["run"]
    assert command.strip() in {f".venv/bin/labhub policy-check --stack {s}" for s in ["${{ matrix.stack }}", *stacks]}
    repo_stacks = sorted(p.name[len("Pulumi."):-len(".yaml")] for p in WORKFLOWS.parents[1].glob("Pulumi.*.yaml"))
    if name == "pull_request.yml":
        assert sorted(stacks) == repo_stacks, "every stack file is gated on every pull request"
