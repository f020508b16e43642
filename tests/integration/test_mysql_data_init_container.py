"""The persistent database's init container, run exactly as rendered, with exactly its capabilities, twice.

Invariant: on storage without fsGroup support (NFS homes: the home folder
belongs to the notebook user, uid 1000), the init container's command, run as
uid 0 with only the capabilities its securityContext adds, hands the data
directory to mysqld's uid 999 on the first start *and* on every later start,
when the directory holds schema folders mysqld made unreadable to others.

How the container is reproduced:

* the command, mount path, user and capabilities come from the prod stack's
  rendered values (`singleuser.initContainers[0]`), not a retyped copy;
* the home volume is a folder owned by 1000:100, mode 0755, bind-mounted at the
  container's mountPath in a private mount namespace (`unshare`);
* the process runs with `setpriv`: uid/gid 0, no supplementary groups, no new
  privileges, and bounding and inheritable sets of exactly the added
  capabilities, which for uid 0 is also its permitted and effective set, as
  the container runtime gives it (drop ALL, add ...);
* Debian's dash and coreutils stand in for the image's busybox `sh`,
  `mkdir` and `chown`: the permission checks are the kernel's either way;
* between the two starts, MariaDB 10.11 (for MySQL 8) running as uid 999
  initialises the data directory and creates a schema. MariaDB makes schema
  folders 0700 and MySQL 8 0750: both deny uid 0 without DAC capabilities.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymysql
import pytest
from rendered import singleuser
from servers_mariadb import INSTALL_DB, MARIADBD

pytestmark = pytest.mark.integration

MYSQL_UID = 999
HOME_OWNER = (1000, 100)  # jovyan:users, as z2jh's notebook images leave their home


def init_container() -> dict[str, Any]:
    (container,) = singleuser("prod")["initContainers"]
    return container


def setpriv_args(security: dict[str, Any]) -> list[str]:
    """setpriv options reproducing a container's user and capability sets (`drop: [ALL]` plus `add`)."""
    capabilities = security["capabilities"]
    assert capabilities["drop"] == ["ALL"], "the emulation below assumes every default capability is dropped"
    caps = ",".join(["-all", *(f"+{c.lower()}" for c in capabilities.get("add", []))])
    args = [f"--reuid={security['runAsUser']}", f"--regid={security['runAsGroup']}", "--clear-groups"]
    if security.get("allowPrivilegeEscalation") is False:
        args.append("--no-new-privs")
    return ["setpriv", *args, f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]


def run_init_container(container: dict[str, Any], home: Path) -> subprocess.CompletedProcess[str]:
    """The container's command with its capabilities, its volume bind-mounted at its mountPath."""
    (mount,) = container["volumeMounts"]
    mount_path = Path(mount["mountPath"])
    assert mount_path.parent.is_dir(), f"{mount_path.parent} must exist on this machine to hold the mount point"
    # A tmpfs over the mount point's parent (only in this namespace) so the mount point can be made there.
    script = (
        f'mount -t tmpfs tmpfs "{mount_path.parent}" && mkdir "{mount_path}" && mount --bind "{home}" "{mount_path}" && exec "$@"'
    )
    command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh",
               *setpriv_args(container["securityContext"]), *container["command"]]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def as_mysql(*argv: str) -> list[str]:
    return ["setpriv", f"--reuid={MYSQL_UID}", f"--regid={MYSQL_UID}", "--clear-groups", "--", *argv]


def start_mariadb(datadir: Path, run_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """mariadbd as uid 999 on `datadir`, socket only; returns the process and its socket."""
    sock = run_dir / "mysqld.sock"
    log = run_dir / "mysqld.log"
    process = subprocess.Popen(
        as_mysql(str(MARIADBD), "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", "--skip-networking",
                 f"--log-error={log}", f"--pid-file={run_dir / 'mysqld.pid'}"),  # fmt: skip
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mariadbd exited with {process.returncode}:\n{log.read_text() if log.exists() else ''}")
        try:
            pymysql.connect(unix_socket=str(sock), user="root", password="", connect_timeout=1).close()
            return process, sock
        except pymysql.err.OperationalError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"mariadbd did not start:\n{log.read_text() if log.exists() else ''}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture
def nfs_like_home() -> Iterator[tuple[Path, Path]]:
    """A home folder owned by the notebook user (no fsGroup), and a run folder for mysqld's socket."""
    if os.geteuid() != 0:
        pytest.skip("needs root: setpriv to other users and capability sets, unshare for the mount")
    if not (MARIADBD and INSTALL_DB):
        pytest.skip("MariaDB server binaries are not installed: run scripts/install-system-deps")
    base = Path(tempfile.mkdtemp(prefix="labhub-home-"))  # under /tmp, reachable by uids 999 and 1000
    base.chmod(0o755)
    home, run_dir = base / "home", base / "run"
    home.mkdir(mode=0o755)
    os.chown(home, *HOME_OWNER)
    run_dir.mkdir()
    os.chown(run_dir, MYSQL_UID, MYSQL_UID)
    try:
        yield home, run_dir
    finally:
        shutil.rmtree(base, ignore_errors=True)


def first_start_with_a_schema(container: dict[str, Any], home: Path, run_dir: Path) -> Path:
    """First start: the init container, then mysqld initialises the directory and a lab member makes a schema."""
    first = run_init_container(container, home)
    assert first.returncode == 0, first.stderr
    datadir = home / ".labhub" / "mysql"
    assert (datadir.stat().st_uid, datadir.stat().st_gid) == (MYSQL_UID, MYSQL_UID)
    subprocess.run(
        as_mysql(str(INSTALL_DB), "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=normal", "--skip-test-db"),
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    server, sock = start_mariadb(datadir, run_dir)
    try:
        with pymysql.connect(unix_socket=str(sock), user="root", password="", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute("CREATE DATABASE common_session")
            cur.execute("CREATE TABLE common_session.session (id INT PRIMARY KEY)")
            cur.execute("INSERT INTO common_session.session VALUES (1)")
    finally:
        stop(server)
    schema_dir = datadir / "common_session"
    assert schema_dir.stat().st_mode & 0o007 == 0, "the schema folder denies others, as MySQL 8's 0750 does"
    return datadir


def test_the_second_start_succeeds_and_the_database_is_intact(nfs_like_home: tuple[Path, Path]) -> None:
    home, run_dir = nfs_like_home
    container = init_container()
    datadir = first_start_with_a_schema(container, home, run_dir)

    second = run_init_container(container, home)
    assert (second.returncode, second.stderr) == (0, "")
    server, sock = start_mariadb(datadir, run_dir)
    try:
        with pymysql.connect(unix_socket=str(sock), user="root", password="") as conn, conn.cursor() as cur:
            cur.execute("SELECT id FROM common_session.session")
            assert cur.fetchall() == ((1,),)
    finally:
        stop(server)


def test_with_chown_alone_the_second_start_fails_as_it_did(nfs_like_home: tuple[Path, Path]) -> None:
    """The harness tells the capability sets apart: the container as it was (CHOWN only) stays in Init:Error."""
    home, run_dir = nfs_like_home
    container = init_container()
    first_start_with_a_schema(container, home, run_dir)
    as_before = {**container, "securityContext": {**container["securityContext"], "capabilities": {"drop": ["ALL"], "add": ["CHOWN"]}}}
    second = run_init_container(as_before, home)
    assert second.returncode != 0
    assert "Permission denied" in second.stderr
