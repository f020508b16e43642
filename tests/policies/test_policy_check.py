"""`labhub policy-check` gives the verdict `pulumi preview --policy-pack policies` would.

Replay is tested on hand-built RecordedResources (clean -> exit 0, planted
mandatory violation -> exit 1 with the preview-style lines), then end to end
through the mock engine on a small program that plants violations.
"""

from __future__ import annotations

import argparse
import json
import secrets
from pathlib import Path

import pytest
from pulumi.runtime import rpc

from labhub import policy_check
from labhub.engine import RecordedResource, StackRun
from labhub.errors import UserError

FIXTURES = Path(__file__).parent / "fixtures"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
GENERATED = secrets.token_hex(16)  # what the mock engine's RandomPassword handed out, as a secret


def recorded(type_: str, name: str, inputs: dict, parent: str | None = None, deps: tuple = ()) -> RecordedResource:
    return RecordedResource(type=type_, name=name, urn=f"urn:pulumi:dev::labhub::{type_}::{name}", parent_urn=parent,
                            custom=True, inputs=inputs, dependencies=deps)


def mysql_deployment(env: list[dict]) -> RecordedResource:
    spec = {"template": {"spec": {"containers": [{"name": "mysql", "image": "mysql:8.0", "env": env}]}}}
    return recorded(DEPLOYMENT, "mysql", {"spec": spec})


def clean_resources() -> list[RecordedResource]:
    password = recorded("random:index/randomPassword:RandomPassword", "mysql-root", {"length": 32})
    secret = recorded("kubernetes:core/v1:Secret", "mysql", {
        "stringData": rpc.wrap_rpc_secret({"password": GENERATED})}, deps=(password.urn,))
    ref = {"name": "MYSQL_ROOT_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "mysql", "key": "password"}}}
    return [password, secret, mysql_deployment([ref])]


def args(tmp_path: Path | None = None, config: dict | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    policy_check.add_arguments(parser)
    argv = ["--stack", "dev"]
    if config is not None:
        path = tmp_path / "policy-config.json"
        path.write_text(json.dumps(config))
        argv += ["--policy-config", str(path)]
    return parser.parse_args(argv)


@pytest.fixture
def fake_engine(monkeypatch):
    """Make `run_stack` return the given resources instead of running the program."""

    def install(resources: list[RecordedResource]) -> None:
        run = StackRun(stack="dev", project="labhub", resources=resources, outputs={}, secret_values=frozenset({GENERATED}))
        monkeypatch.setattr("labhub.engine.run_stack", lambda stack, program_dir=None: run)

    return install


def test_replay_of_clean_resources_has_no_violations():
    assert policy_check.replay(clean_resources(), {}, "dev", "labhub") == []


def test_replay_unwraps_secrets_before_analysis():
    weak = recorded("kubernetes:core/v1:Secret", "s", {"stringData": rpc.wrap_rpc_secret({"password": "tutorial"})})
    [violation] = policy_check.replay([weak], {}, "dev", "labhub")
    assert (violation.policy, violation.level, violation.resource_name) == ("no-weak-credentials", "mandatory", "s")


def test_run_exits_0_and_says_so_on_a_clean_stack(fake_engine, capsys):
    fake_engine(clean_resources())
    assert policy_check.run(args()) == 0
    out = capsys.readouterr().out
    assert "✅ policies@v0.1.0 (local: policies)" in out
    assert out.rstrip().endswith("policy-check: stack dev: 0 violation(s) (0 mandatory, 0 advisory) in 3 resources, 10 policies and 5 offline checks")


def test_run_exits_1_and_prints_each_mandatory_violation(fake_engine, capsys):
    fake_engine(clean_resources() + [mysql_deployment([{"name": "MYSQL_ROOT_PASSWORD", "value": "tutorial"}])])
    assert policy_check.run(args()) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == [
        "Policies:",
        "    ❌ policies@v0.1.0 (local: policies)",
        "        - [mandatory]  no-plaintext-credential-env  (kubernetes:apps/v1:Deployment: mysql)",
    ]
    assert lines[3] == "          Containers must not set credential-like env vars to literal values."
    assert lines[4].startswith("          spec.template.spec.containers[0].env[0].value: env var MYSQL_ROOT_PASSWORD")
    assert lines[5] == "          urn: urn:pulumi:dev::labhub::kubernetes:apps/v1:Deployment::mysql"
    assert "        - [mandatory]  no-weak-credentials  (kubernetes:apps/v1:Deployment: mysql)" in lines
    assert lines[-1].startswith("policy-check: stack dev: 2 violation(s) (2 mandatory, 0 advisory)")


def test_policy_config_can_downgrade_to_advisory(fake_engine, capsys, tmp_path):
    fake_engine([mysql_deployment([{"name": "MYSQL_ROOT_PASSWORD", "value": "tutorial"}])])
    assert policy_check.run(args(tmp_path, {"all": "advisory"})) == 0
    assert "(0 mandatory, 2 advisory)" in capsys.readouterr().out


def test_policy_config_passes_properties_to_the_policy(fake_engine, capsys, tmp_path):
    fake_engine([recorded("random:index/randomPassword:RandomPassword", "pw", {"length": 32})])
    config = {"generated-passwords-long-enough": {"enforcementLevel": "mandatory", "minLength": 40}}
    assert policy_check.run(args(tmp_path, config)) == 1
    assert "below the minimum of 40 (minLength)" in capsys.readouterr().out


@pytest.mark.parametrize("config, error", [
    pytest.param({"no-such-policy": "advisory"}, "unknown policies ['no-such-policy']", id="unknown-policy"),
    pytest.param({"all": "loud"}, "enforcement level 'loud' is not one of", id="bad-level"),
    pytest.param({"no-weak-credentials": {"minLength": "twelve"}}, "minLength: 'twelve' is not of type 'integer'",
                 id="schema-type"),
    pytest.param({"no-weak-credentials": {"minLenght": 3}}, "Additional properties are not allowed", id="typo-key"),
])
def test_bad_policy_config_is_one_user_error(fake_engine, tmp_path, config, error):
    fake_engine([])
    with pytest.raises(UserError, match=error.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")):
        policy_check.run(args(tmp_path, config))


def test_cli_dispatches_policy_check(fake_engine, capsys):
    from labhub.cli import main

    fake_engine(clean_resources())
    assert main(["policy-check", "--stack", "dev"]) == 0


def test_end_to_end_planted_program_fails_with_its_violations(capsys):
    """The real mock engine runs tests/policies/fixtures/bad_program, then the pack judges it."""
    parser = argparse.ArgumentParser()
    policy_check.add_arguments(parser)
    code = policy_check.run(parser.parse_args(["--stack", "test", "--program", str(FIXTURES / "bad_program")]))
    out = capsys.readouterr().out
    found = sorted(line.strip() for line in out.splitlines() if line.startswith("        - ["))
    assert found == [
        "- [mandatory]  generated-passwords-long-enough  (random:index/randomPassword:RandomPassword: weak)",
        "- [mandatory]  no-plaintext-credential-env  (kubernetes:apps/v1:Deployment: mysql)",
        "- [mandatory]  no-weak-credentials  (kubernetes:apps/v1:Deployment: mysql)",
    ]
    assert code == 1


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_end_to_end_the_real_stacks_pass_the_pack(stack, capsys):
    """The repo's program, run for each stack file under the mock engine, has no violation."""
    parser = argparse.ArgumentParser()
    policy_check.add_arguments(parser)
    code = policy_check.run(parser.parse_args(["--stack", stack]))
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"policy-check: stack {stack}: 0 violation(s)" in out


def test_a_program_that_cannot_run_still_reports_the_stack_file(tmp_path, capsys):
    """The stack file is judged before the program runs: its findings are printed even when the run fails."""
    (tmp_path / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (tmp_path / "Pulumi.test.yaml").write_text(f"config:\n  broken:dbPassword: {secrets.token_hex(16)}\n")
    (tmp_path / "__main__.py").write_text("import pulumi\npulumi.Config().require('missing')\n")
    parser = argparse.ArgumentParser()
    policy_check.add_arguments(parser)
    with pytest.raises(UserError, match="missing"):
        policy_check.run(parser.parse_args(["--stack", "test", "--program", str(tmp_path)]))
    err = capsys.readouterr().err
    assert 'labhub: error: [stack-file-ciphertext-only] config["broken:dbPassword"]: Pulumi.test.yaml holds' in err
