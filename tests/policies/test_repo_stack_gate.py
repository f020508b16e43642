"""The repository's own program: a credential typed in clear into a stack file is flagged, deployed as the CLI would, and never rendered.

The prod stack gets its one external credential (the OAuth client secret) as
plaintext instead of `secure:`. The offline engine must read it as the CLI
would (no placeholder), `labhub policy-check` must fail naming the key, and
`labhub render` must write no copy of it, warning about the key instead. A
value typed into the program at a chart credential path must be redacted by
render even though it is not a secret.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from labhub import render
from labhub.cli import main
from labhub.engine import RecordedResource, StackRun, run_stack

REPO_ROOT = Path(__file__).resolve().parents[2]
CLIENT_SECRET = secrets.token_hex(20)  # 40 hex characters, as GitHub issues them


@pytest.fixture(scope="module")
def leaky_prod(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repo's tracked files, with Pulumi.prod.yaml holding the client secret in plaintext."""
    program = tmp_path_factory.mktemp("program")
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO_ROOT / name).is_file():
            (program / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO_ROOT / name, program / name)
    stack_file = program / "Pulumi.prod.yaml"
    stack_file.write_text(stack_file.read_text().replace(
        "config:\n", f"config:\n  labhub:spyglassOAuthClientSecret: {CLIENT_SECRET}\n", 1))
    return program


def test_the_engine_reads_a_plaintext_secret_as_the_cli_would_and_warns(leaky_prod):
    run = run_stack("prod", leaky_prod)
    assert CLIENT_SECRET in run.secret_values  # used as the value, and treated as the secret it is
    [warning] = [w for w in run.warnings if "spyglassOAuthClientSecret" in w]
    assert "is plaintext in Pulumi.prod.yaml: the CLI would deploy it as written" in warning
    assert not any("placeholder" in w for w in run.warnings)
    assert CLIENT_SECRET not in warning


def test_policy_check_fails_naming_the_key(leaky_prod, capsys):
    assert main(["policy-check", "--stack", "prod", "--program", str(leaky_prod)]) == 1
    out = capsys.readouterr().out
    assert "- [mandatory]  stack-file-ciphertext-only  (pulumi:pulumi:Stack: labhub-prod)" in out
    assert 'config["labhub:spyglassOAuthClientSecret"]: Pulumi.prod.yaml holds a credential in plaintext' in out
    assert "1 violation(s) (1 mandatory, 0 advisory)" in out
    assert CLIENT_SECRET not in out


def test_render_writes_no_copy_of_it(leaky_prod, tmp_path, capsys):
    out = tmp_path / "render"
    assert main(["render", "--stack", "prod", "--program", str(leaky_prod), "--out", str(out)]) == 0
    written = [p for p in out.rglob("*") if p.is_file() and CLIENT_SECRET in p.read_text()]
    assert written == []
    assert "labhub:spyglassOAuthClientSecret is plaintext" in capsys.readouterr().err


def test_render_redacts_credential_paths_that_are_not_secrets_and_says_so(tmp_path):
    literal = secrets.token_hex(20)
    chart = RecordedResource(type="kubernetes:helm.sh/v4:Chart", name="hub", urn="urn:pulumi:t::p::chart::hub",
                             parent_urn=None, custom=False, inputs={"name": "hub", "values": {"hub": {"config": {
                                 "JupyterHub": {"cookie_secret": literal}, "CryptKeeper": {"keys": [literal]}}}}})
    run = StackRun(stack="t", project="p", resources=[chart], outputs={})
    stack_file = tmp_path / "Pulumi.t.yaml"
    stack_file.write_text("config: {}\n")
    run, warnings = render.redact_unmarked_credentials(run, stack_file)
    files = render.render_files(run)
    assert all(literal not in text for text in files.values())
    assert "cookie_secret: '[secret]'" in files["charts/hub/values.yaml"]
    assert warnings == [
        "chart hub: values.hub.config.JupyterHub.cookie_secret is not a Pulumi secret; redacted in the render",
        "chart hub: values.hub.config.CryptKeeper.keys[0] is not a Pulumi secret; redacted in the render",
    ]
