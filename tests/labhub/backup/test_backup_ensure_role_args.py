"""`labhub backup postgres ensure-role` refuses bad input in one line, before it reads a password or connects.

Invariant: a role name that could leave an identifier or name a system role,
or a password file that is missing or empty, stops the command with exit
status 2 and one `labhub: error:` line naming the problem, no traceback,
and nothing of a password file's content.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def _run(tmp_path: Path, role: str, role_file: str = "role", admin_file: str = "admin") -> subprocess.CompletedProcess[str]:
    args = ["backup", "postgres", "ensure-role", "--host", "127.0.0.1", "--port", "1", "--admin-user", "postgres",
            "--admin-password-file", str(tmp_path / admin_file), "--role", role, "--role-password-file", str(tmp_path / role_file)]  # fmt: skip
    return subprocess.run([sys.executable, "-m", "labhub.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=60, check=False)


@pytest.mark.parametrize(
    ("role", "role_file", "message"),
    [
        pytest.param("backup'; DROP", "role", '--role "backup\'; DROP" is not allowed: a plain SQL name', id="quote-in-role"),
        pytest.param("pg_monitor", "role", "--role 'pg_monitor' is not allowed", id="system-role"),
        pytest.param("labhub_backup", "missing", "cannot read the password of role 'labhub_backup' from", id="missing-file"),
        pytest.param("labhub_backup", "empty", "the password of role 'labhub_backup' in", id="empty-file"),
    ],
)
def test_bad_input_is_one_line_before_any_connection(tmp_path: Path, role: str, role_file: str, message: str) -> None:
    (tmp_path / "role").write_text("a-generated-value\n")  # pragma: allowlist secret (a test value)
    (tmp_path / "empty").write_text("")
    (tmp_path / "admin").write_text("another-value\n")  # pragma: allowlist secret (a test value)
    result = _run(tmp_path, role, role_file)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("labhub: error: ") and message in line
    assert "a-generated-value" not in result.stderr and "another-value" not in result.stderr
