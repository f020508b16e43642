"""The setup steps: the tests' servers are installed when missing (waiting for apt's lock), and rendering needs none of it.

Invariants: `make render` installs no system package (a user who is not root
can render); `scripts/install-system-deps` asks apt for exactly what is
missing among the servers and browser the tests drive, and waits for another
apt run's lock instead of failing at once.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from labhub.engine import PROJECT_DIR


def test_make_render_runs_no_system_install() -> None:
    plan = subprocess.run(["make", "-n", "-B", "render"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True, timeout=60).stdout
    assert "labhub render --stack dev --out out/dev" in plan
    assert "install-system-deps" not in plan and "apt-get" not in plan and "install-test-hub" not in plan


@pytest.mark.integration
def test_missing_servers_are_installed_with_apt_waiting_for_its_lock(tmp_path: Path) -> None:
    """The script runs with the servers and browser hidden (bind-mounted /dev/null, in a private mount namespace)
    and a stand-in apt-get that records its arguments."""
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace (unshare)")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    calls = tmp_path / "apt-calls"
    (fake_bin / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    (fake_bin / "apt-get").chmod(0o755)
    hidden = [p for p in ("/usr/bin/chromium", "/usr/sbin/mariadbd", "/usr/bin/mariadb-install-db", "/usr/bin/mariadb-dump",
                          *map(str, Path("/usr/lib/postgresql").glob("*/bin/initdb"))) if os.path.exists(p)]  # fmt: skip
    hide = " && ".join(f'mount --bind /dev/null "{path}"' for path in hidden)
    script = f'{hide} && exec "$@"' if hide else 'exec "$@"'
    env = {**os.environ, "PATH": f"{fake_bin}:{os.environ['PATH']}"}
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(PROJECT_DIR / "scripts" / "install-system-deps")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == [
        "-o DPkg::Lock::Timeout=600 update",
        "-o DPkg::Lock::Timeout=600 install -y --no-install-recommends chromium mariadb-server mariadb-client postgresql",
    ]
