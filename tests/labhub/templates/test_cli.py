"""`labhub templates serve` refuses unsafe or incomplete setups with one line (exit 2), never a trace.

Above all: `--dev-user` can never run next to a hub (`--hub-url`, or a
JupyterHub OAuth client in the environment), and a production start needs
JupyterHub's service variables and a signing key from the environment.
"""

from __future__ import annotations

import secrets
import subprocess
import sys

import pytest

from labhub.cli import main

HUB_ENV = ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_API_URL", "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_OAUTH_CALLBACK_URL",
           "JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_OAUTH_ACCESS_SCOPES", "JUPYTERHUB_OAUTH_SCOPES", "JUPYTERHUB_SERVICE_NAME",
           "LABHUB_TEMPLATES_SECRET_KEY", "LABHUB_TEMPLATES_SECRET_KEY_FILE")
# A complete hub service environment, except what a case removes or changes.
_SERVICE = {"JUPYTERHUB_API_TOKEN": "t" * 32, "JUPYTERHUB_API_URL": "http://127.0.0.1:1/hub/api",  # pragma: allowlist secret
            "JUPYTERHUB_CLIENT_ID": "service-templates", "LABHUB_TEMPLATES_SECRET_KEY": "k" * 32}  # pragma: allowlist secret


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No hub or key variables leak in from the machine running the tests."""
    for name in HUB_ENV:
        monkeypatch.delenv(name, raising=False)


REFUSED = [
    pytest.param(["--dev-user", "alice", "--hub-url", "https://hub.example.org"], {}, "cannot be combined with a hub (--hub-url", id="dev-user-with-hub-url"),
    pytest.param(["--dev-user", "alice"], {"JUPYTERHUB_CLIENT_ID": "service-templates"}, "JUPYTERHUB_CLIENT_ID is set", id="dev-user-inside-a-hub"),
    pytest.param(["--dev-user", "../root"], {}, "starts with a dot", id="dev-user-not-a-folder-name"),
    pytest.param(["--hub-url", "https://hub.example.org"], {}, "needs JUPYTERHUB_API_TOKEN", id="service-without-hub-env"),
    pytest.param(["--storage", "contents", "--dev-user", "alice"], {}, "needs JUPYTERHUB_API_URL", id="contents-without-hub-api"),
    pytest.param(["--storage", "ftp", "--dev-user", "alice"], {}, "unknown storage", id="unknown-storage"),
    pytest.param(["--storage", "filesystem:/home/fixed", "--dev-user", "alice"], {}, "contain {username}", id="filesystem-without-username"),
    pytest.param(["--templates", "/nonexistent", "--dev-user", "alice"], {}, "not a folder", id="missing-templates"),
    pytest.param(["--dev-user", "alice", "--token-max-age", "5"], {}, "at least 60", id="token-lifetime-too-short"),
    pytest.param(["--dev-user", "alice"], {"LABHUB_TEMPLATES_SECRET_KEY": "short"}, "at least 32", id="short-secret-key"),  # pragma: allowlist secret
    pytest.param(["--hub-url", "https://hub.example.org"], _SERVICE, "JUPYTERHUB_OAUTH_ACCESS_SCOPES", id="service-without-access-scopes"),
    pytest.param(["--hub-url", "https://hub.example.org"], {**_SERVICE, "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "[]"}, "JUPYTERHUB_OAUTH_ACCESS_SCOPES",
                 id="service-with-empty-access-scopes"),
    pytest.param(["--hub-url", "https://hub.example.org"], {**_SERVICE, "JUPYTERHUB_OAUTH_ACCESS_SCOPES": "access:services"}, "JSON list",
                 id="service-with-access-scopes-not-json"),
]


@pytest.mark.parametrize(("extra", "env", "message"), REFUSED)
def test_bad_setups_exit_2_with_one_clear_line(tmp_path, monkeypatch, capsys, extra, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = ["templates", "serve", "--templates", str(tmp_path), "--storage", "download", "--port", "1", *extra]
    if args.count("--templates") == 2:
        del args[2:4]
    if args.count("--storage") == 2:
        del args[args.index("--storage"):args.index("--storage") + 2]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_production_start_without_a_signing_key_is_refused(tmp_path, monkeypatch, capsys):
    for name in ("JUPYTERHUB_API_TOKEN", "JUPYTERHUB_CLIENT_ID"):
        monkeypatch.setenv(name, secrets.token_hex(16))
    monkeypatch.setenv("JUPYTERHUB_API_URL", "http://127.0.0.1:1/hub/api")
    monkeypatch.setenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", '["access:services!service=templates"]')
    args = ["templates", "serve", "--templates", str(tmp_path), "--storage", "download", "--hub-url", "http://127.0.0.1:1"]
    assert main(args) == 2
    assert "set LABHUB_TEMPLATES_SECRET_KEY" in capsys.readouterr().err


def test_the_secret_never_appears_in_the_process_arguments_or_output(tmp_path):
    """The key comes from a file named in the environment; the server's output does not contain it."""
    key = secrets.token_hex(32)
    (tmp_path / "key").write_text(key)
    (tmp_path / "t").mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "labhub.cli", "templates", "serve", "--templates", str(tmp_path / "t"), "--storage",
         "download", "--dev-user", "alice", "--port", "8080", "--max-body-bytes", "10"],
        env={"LABHUB_TEMPLATES_SECRET_KEY_FILE": str(tmp_path / "key"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2 and "--max-body-bytes must be at least 1024" in result.stderr
    assert key not in result.stdout + result.stderr
