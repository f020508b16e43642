"""Stack files keep every credential as ciphertext (`secure:`), including the repo's real ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from labhub.stackfile_check import find_plaintext_credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
CIPHERTEXT = {"secure": "v1:AAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBB"}  # shape only, not a real ciphertext


def check(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "Pulumi.test.yaml"
    path.write_text(text)
    return [line.split(": ", 1)[1].split(" looks like")[0] for line in find_plaintext_credentials(path)]


@pytest.mark.parametrize("text, expected", [
    pytest.param("config:\n  labhub:xnatPassword: tutorial\n", ['config["labhub:xnatPassword"]'], id="top-level-key"),
    pytest.param("config:\n  labhub:xnat:\n    apiToken: tutorial\n", ['config["labhub:xnat"].apiToken'], id="nested"),
    pytest.param("config:\n  labhub:oauth:\n    clientSecret: tutorial\n    clientId: abc\n",
                 ['config["labhub:oauth"].clientSecret'], id="only-the-secret-half"),
    pytest.param("config:\n  labhub:cryptKeeper:\n    keys: [tutorial]\n", ['config["labhub:cryptKeeper"].keys[0]'],
                 id="list-of-keys"),
    pytest.param("config:\n  labhub:dbPassword: 1234\n", ['config["labhub:dbPassword"]'], id="number"),
])
def test_plaintext_credentials_are_found(tmp_path, text, expected):
    assert check(tmp_path, text) == expected


@pytest.mark.parametrize("text", [
    pytest.param("config:\n  labhub:xnatPassword:\n    secure: v1:AAAA\n", id="secure-value"),
    pytest.param("config:\n  labhub:secrets:\n    rotation:\n      cookieSecret: '2026-11-01'\n", id="rotation-keeper"),
    pytest.param("config:\n  labhub:tls:\n    secretName: spyglass-tls\n", id="secret-name-reference"),
    pytest.param("config:\n  labhub:secrets:\n    passwordLength: 32\n    enabled: true\n", id="settings"),
    pytest.param("config:\n  labhub:auth:\n    clientId: Iv1.abc\n", id="not-credential"),
    pytest.param("secretsprovider: passphrase\nencryptionsalt: v1:abc\nconfig: {}\n", id="provider-settings"),
])
def test_clean_stack_files_pass(tmp_path, text):
    assert check(tmp_path, text) == []


def test_message_says_what_and_how_to_fix(tmp_path):
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text("config:\n  labhub:dbPassword: tutorial\n")
    assert find_plaintext_credentials(path) == [
        'Pulumi.dev.yaml: config["labhub:dbPassword"] looks like a credential but is plaintext; set it with '
        "`pulumi config set --secret` so the file stores only ciphertext (`secure:`)"]


def test_the_repos_stack_files_hold_no_plaintext_credential():
    stack_files = sorted(REPO_ROOT.glob("Pulumi.*.yaml"))
    assert stack_files, f"no Pulumi.<stack>.yaml at {REPO_ROOT}: the check would prove nothing"
    findings = [line for path in stack_files for line in find_plaintext_credentials(path)]
    assert findings == []
