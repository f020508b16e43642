"""Stack files keep every credential as ciphertext (`secure:`), at any depth, including the repo's real ones.

The check judges every plaintext value the way the pack judges free text: a
literal under a credential name, a random value under a name that mentions
one, a URL with a password. Keys holding references, settings or rotation
keepers pass. Messages name the config path and never the value.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from labhub.errors import UserError
from labhub.stackfile_check import credential_keys, plaintext_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
PW = secrets.token_hex(20)


def check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(text)
    return [finding.key for finding in plaintext_credentials(path)]


@pytest.mark.parametrize("text, expected", [
    pytest.param(f"config:\n  labhub:xnatPassword: {PW}\n", ['config["labhub:xnatPassword"]'], id="top-level-key"),
    pytest.param(f"config:\n  labhub:spyglassOAuthClientSecret: {PW}\n",
                 ['config["labhub:spyglassOAuthClientSecret"]'], id="the-repo-s-external-secret-in-clear"),
    pytest.param(f"config:\n  labhub:xnat:\n    apiToken: {PW}\n", ['config["labhub:xnat"].apiToken'], id="nested"),
    pytest.param(f"config:\n  labhub:a:\n    b:\n      c:\n        db_pw: {PW}\n", ['config["labhub:a"].b.c.db_pw'],
                 id="deeply-nested-short-name"),
    pytest.param(f"config:\n  labhub:oauth:\n    clientSecret: {PW}\n    clientId: abc\n",
                 ['config["labhub:oauth"].clientSecret'], id="only-the-secret-half"),
    pytest.param(f"config:\n  labhub:cryptKeeper:\n    apiKeys: [{PW}]\n", ['config["labhub:cryptKeeper"].apiKeys[0]'],
                 id="list-of-keys"),
    pytest.param("config:\n  labhub:dbPassword: 1234\n", ['config["labhub:dbPassword"]'], id="number"),
    pytest.param(f"config:\n  labhub:dbUrl: mysql://root:{PW}@db:3306/\n", ['config["labhub:dbUrl"]'], id="url"),
    pytest.param(f"config:\n  labhub:signing:\n    salt: {secrets.token_urlsafe(24)}\n", ['config["labhub:signing"].salt'],
                 id="random-value-under-a-credential-word"),
])
def test_plaintext_credentials_are_found(tmp_path, text, expected):
    assert check(tmp_path, text) == expected


@pytest.mark.parametrize("text", [
    pytest.param("config:\n  labhub:xnatPassword:\n    secure: v1:AAAA\n", id="secure-value"),
    pytest.param("config:\n  labhub:secrets:\n    rotation:\n      cookieSecret: '2026-11-01'\n", id="rotation-keeper"),
    pytest.param("config:\n  labhub:secrets:\n    rotation:\n      cookieSecret: 2026-11-01\n", id="unquoted-date"),
    pytest.param("config:\n  labhub:tls:\n    secretName: spyglass-tls\n", id="secret-name-reference"),
    pytest.param("config:\n  labhub:db:\n    existingSecret: db-credentials\n", id="existing-secret"),
    pytest.param("config:\n  labhub:secrets:\n    passwordLength: 32\n    enabled: true\n", id="settings"),
    pytest.param("config:\n  labhub:auth:\n    clientId: Iv1.abc\n    tokenAudience: https://hub.example.org\n",
                 id="not-credential"),
    pytest.param("secretsprovider: passphrase\nencryptionsalt: v1:abc\nconfig: {}\n", id="provider-settings"),
])
def test_clean_stack_files_pass(tmp_path, text):
    assert check(tmp_path, text) == []


def test_message_says_where_what_and_how_to_fix_without_the_value(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(f"config:\n  labhub:dbPassword: {PW}\n")
    [finding] = plaintext_credentials(path)
    assert finding.message() == (
        'config["labhub:dbPassword"]: Pulumi.dev.yaml holds a credential in plaintext (dbPassword is set to a literal). '
        "The file is committed and the CLI deploys the value as written. Fix: set it with `pulumi config set --secret` "
        "so the file stores only ciphertext (`secure:`).")
    assert PW not in finding.message()


def test_render_redacts_credential_names_only(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(f"config:\n  labhub:dbPassword: {PW}\n  labhub:host: hub.example.org\n")
    assert credential_keys(path) == [('config["labhub:dbPassword"]', PW)]


def test_unreadable_stack_file_is_one_user_error(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config: [unbalanced\n")
    with pytest.raises(UserError, match="Pulumi.dev.yaml: cannot read the stack file"):
        plaintext_credentials(path)


@pytest.mark.parametrize("stack_file", sorted(REPO_ROOT.glob("Pulumi.*.yaml")), ids=lambda p: p.name)
def test_the_repos_stack_files_hold_no_plaintext_credential(stack_file):
    assert plaintext_credentials(stack_file) == []


def test_the_repo_has_stack_files_to_check():
    assert {p.name for p in REPO_ROOT.glob("Pulumi.*.yaml")} >= {"Pulumi.dev.yaml", "Pulumi.prod.yaml"}
