"""The sidecar's start script, run as rendered: the init file is added only for an existing data directory.

Invariant: the container's command (a POSIX sh script) execs the official
mysql entrypoint with the container's args, plus `--init-file` (the Secret's
init.sql, which re-sets root's password after a rotation) only when the data
directory was initialised before; on the very first start the entrypoint
initialises with an empty password that an init file would break.

The script runs unchanged with /bin/sh in a private mount namespace where
tmpfs stands in for the image's /usr/local/bin (holding a stand-in entrypoint
that prints its arguments) and for the data volume at /var/lib/mysql.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from rendered import singleuser

from components import mysql_sidecar as sc

pytestmark = pytest.mark.integration


def run_sidecar_command(container: dict[str, Any], *, initialised: bool) -> list[str]:
    """The arguments the entrypoint receives when the container starts (one per line)."""
    entrypoint_dir = os.path.dirname(sc.ENTRYPOINT)
    setup = [
        f'mount -t tmpfs tmpfs "{entrypoint_dir}"',
        f"printf '#!/bin/sh\\nprintf \"%%s\\\\n\" \"$@\"\\n' > \"{sc.ENTRYPOINT}\"",
        f'chmod +x "{sc.ENTRYPOINT}"',
        f'mount -t tmpfs tmpfs "{sc.DATADIR}"',
        *([f'mkdir "{sc.DATADIR}/mysql"'] if initialised else []),
        'exec "$@"',
    ]
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", " && ".join(setup), "sh",
               *container["command"], *container["args"]]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=True)
    return done.stdout.splitlines()


@pytest.fixture
def container() -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("needs root for a private mount namespace (unshare)")
    (sidecar,) = singleuser("dev")["extraContainers"]
    return sidecar


def test_the_first_start_passes_the_args_unchanged(container: dict[str, Any]) -> None:
    assert run_sidecar_command(container, initialised=False) == ["mysqld", f"--defaults-extra-file={sc.SERVER_CNF_PATH}"]


def test_a_later_start_adds_the_secrets_init_file(container: dict[str, Any]) -> None:
    assert run_sidecar_command(container, initialised=True) == [
        "mysqld", f"--defaults-extra-file={sc.SERVER_CNF_PATH}", f"--init-file={sc.INIT_SQL_PATH}",
    ]  # fmt: skip
