"""The exact command each backup CronJob runs, taken from the rendered manifest, run against real servers.

Invariant: what Kubernetes would execute works. For each CronJob the test
takes the container's `command` and literal `env` from the manifest the
Backups component renders (under mocks, with the databases' host and port
pointing at throwaway servers), lays out every volume as the kubelet does:

* Secret and ConfigMap volumes: `<mount>/..<timestamp>/<key>` files with the
  volume's defaultMode (0400 for credentials), a `..data` symlink to that
  folder, and `<key> -> ..data/<key>` symlinks;
* the backups PVC and emptyDirs: plain folders (one PVC folder shared by all jobs);

and runs the command with each mount path replaced by its folder, and
`labhub` by `python -m labhub.cli` (the image's entry point script). The one
other substitution: the verify pod's scratch server listens on the pod's
loopback at the image's default port (3306, 5432); here the scratch server is
a throwaway server on a free port, so `port=` in the rendered scratch client
file is set to it.

Order, as the schedules run them: dump, verify (restore into the scratch
server, compare with the manifest), prune.

The prod stack's default lab MySQL entry (no `databases` listed) is run the
same way from the whole program's render: its dump CronJob, the generated
`lab-db-backup` Secret's my.cnf as the kubelet lays it out, and the account
made with the password from that Secret and exactly the rendered roles SQL's
GRANT line. Substituted there: the Service's host and port (the throwaway
server's), and the --s3-* flags dropped (prod copies to AWS). The cleanup CronJob needs Spyglass
and is checked under mocks only (tests/components/test_backups.py).
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from backup_testlib import pointed_at, run_cron_job, without_offsite
from rendered import integers, of_type, the_one

from components.backups import Backups, BackupsArgs
from components.config import parse_stack_config
from labhub.backup.mysql_accounts import BACKUP_PRIVILEGES
from labhub.engine import PROJECT_DIR

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def servers(mariadb_factory, postgres_factory, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A lab MySQL (with data and a least-privilege backup account), an XNAT-like Postgres, and one scratch server of each."""
    out: dict[str, Any] = {}
    for role in ("mysql", "mysql-scratch"):
        datadir = mariadb_factory.new_datadir(f"cron-{role}")
        sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
        args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve"]
        out[role] = mariadb_factory.start(datadir, args, socket_path=sock, port=port)
    password = secrets.token_urlsafe(24)
    with out["mysql"].root() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE common_session")
        cur.execute("CREATE TABLE common_session.session (id INT PRIMARY KEY, data BLOB, note TEXT)")
        cur.executemany("INSERT INTO common_session.session VALUES (%s, %s, %s)", [(i, os.urandom(100), f"ü {i} ),(") for i in range(500)])
        cur.execute("CREATE VIEW common_session.v AS SELECT id FROM common_session.session")
        cur.execute("CREATE USER 'labhub_backup'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT {BACKUP_PRIVILEGES} ON *.* TO 'labhub_backup'@'127.0.0.1'")
    out["mysql-password"] = password
    out["postgres"] = postgres_factory.start("cron-postgres")
    with out["postgres"].connect() as conn:
        conn.execute("CREATE DATABASE xnat")
    with out["postgres"].connect("xnat") as conn:
        conn.execute("CREATE TABLE subjects (id int PRIMARY KEY, label text, raw bytea)")
        conn.execute("INSERT INTO subjects SELECT g, 'sub-' || g, decode(md5(g::text), 'hex') FROM generate_series(1, 300) g")
    # The sidecar's image trusts connections on the pod's loopback (POSTGRES_HOST_AUTH_METHOD=trust).
    hba = postgres_factory.base / "trust_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    os.chmod(hba, 0o644)
    postgres_factory._chown(hba)
    out["postgres-scratch"] = postgres_factory.start("cron-postgres-scratch", {"hba_file": str(hba)})
    return out


@pytest.fixture(scope="module")
def rendered(servers: dict[str, Any]) -> dict[str, Any]:
    from labhub.engine import run_under_mocks

    section = {
        "enabled": True, "registry": "registry.example/lab", "namespace": "spyglass",
        "databases": [
            {"name": "lab-mysql", "kind": "mysql", "host": "127.0.0.1", "port": servers["mysql"].port, "credentialsFrom": "lab-mysql-backup"},
            {"name": "xnat-db", "kind": "postgres", "host": "127.0.0.1", "port": servers["postgres"].port, "credentialsFrom": "xnat-db-backup"},
        ],
    }  # fmt: skip
    config = parse_stack_config({"labhub:backups": json.dumps(section)}).backups
    result = run_under_mocks(lambda: Backups("backups", BackupsArgs(config=config, project_dir=PROJECT_DIR)))
    jobs = {r.inputs["metadata"]["name"]: integers(r.inputs) for r in of_type(result, "kubernetes:batch/v1:CronJob")}
    config_map = the_one(result, "kubernetes:core/v1:ConfigMap", "backups-scratch-clients").inputs
    return {"jobs": jobs, "scratch": config_map["data"], "scratch_name": config_map["metadata"]["name"], "pvc": config.pvc_name}


@pytest.fixture(scope="module")
def pvc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pvc")


@pytest.mark.parametrize(
    ("database", "secret", "kind"),
    [pytest.param("lab-mysql", "lab-mysql-backup", "mysql", id="mysql"), pytest.param("xnat-db", "xnat-db-backup", "postgres", id="postgres")],
)
def test_the_rendered_dump_verify_and_prune_commands_work_against_real_servers(
    database: str, secret: str, kind: str, servers: dict[str, Any], rendered: dict[str, Any], pvc: Path, tmp_path: Path
) -> None:
    if kind == "mysql":
        credentials = {"my.cnf": f"[client]\nuser=labhub_backup\npassword={servers['mysql-password']}\n"}
        scratch_port, default_port = servers["mysql-scratch"].port, 3306
    else:
        pg = servers["postgres"]
        credentials = {"pg_service.conf": f"[labhub]\nuser={pg.superuser}\npassword={pg.password}\nsslmode=disable\n"}
        scratch_port, default_port = servers["postgres-scratch"].port, 5432
    scratch = {key: text.replace(f"port={default_port}\n", f"port={scratch_port}\n") for key, text in rendered["scratch"].items()}
    assert scratch != rendered["scratch"], "the scratch client file must name the sidecar's port"
    contents = {secret: credentials, rendered["scratch_name"]: scratch}
    shared = {rendered["pvc"]: pvc}

    dump = run_cron_job(rendered["jobs"][f"labhub-backups-{database}"], contents, shared, tmp_path / "dump")
    assert dump.returncode == 0, dump.stderr
    (backup,) = [p for p in (pvc / database).iterdir() if not p.name.startswith(".")]
    assert backup.name.startswith(f"{database}-") and (backup / "manifest.json").is_file()
    assert servers["mysql-password"] not in dump.stdout + dump.stderr

    verify = run_cron_job(rendered["jobs"][f"labhub-backups-{database}-verify"], contents, shared, tmp_path / "verify")
    assert verify.returncode == 0, verify.stderr
    assert (backup / "verified.json").is_file()

    prune = run_cron_job(rendered["jobs"]["labhub-backups-prune"], contents, shared, tmp_path / "prune")
    assert prune.returncode == 0, prune.stderr
    assert backup.is_dir(), "the newest verified backup survives prune"


def test_the_prod_default_lab_mysql_dump_works_with_the_generated_secret_as_the_backup_account(
    stack_runs: dict[str, Any], mariadb_factory: Any, tmp_path: Path
) -> None:
    """prod lists no databases: its lab MySQL dump CronJob, its Secret's my.cnf and the roles SQL's grants, on a real server."""
    from pulumi.runtime import rpc

    run = stack_runs["prod"]
    (job,) = [integers(r.inputs) for r in of_type(run, "kubernetes:batch/v1:CronJob") if r.inputs["metadata"]["name"] == "labhub-backups-lab-db"]
    (secret,) = [r.inputs for r in of_type(run, "kubernetes:core/v1:Secret") if r.inputs["metadata"]["name"] == "lab-db-backup"]
    (roles,) = [r.inputs for r in of_type(run, "kubernetes:core/v1:ConfigMap") if r.inputs["metadata"]["name"] == "lab-db-roles"]
    secret_data = rpc.unwrap_rpc_secret(secret["stringData"])
    (grant,) = [line for line in roles["data"]["roles.sql"].splitlines() if line.startswith("GRANT") and "'labhub_backup'@'%'" in line]

    datadir = mariadb_factory.new_datadir("cron-prod-lab-db")
    sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
    args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve"]
    server = mariadb_factory.start(datadir, args, socket_path=sock, port=port)
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE common_lab")
        cur.execute("CREATE TABLE common_lab.t (id INT PRIMARY KEY, note TEXT)")
        cur.execute("INSERT INTO common_lab.t VALUES (1, 'a'), (2, 'b')")
        # The account as the roles Job makes it: the Secret's password, exactly the rendered grant.
        cur.execute("CREATE USER 'labhub_backup'@'%%' IDENTIFIED BY %s", (secret_data["password"],))
        cur.execute(grant.rstrip(";"))

    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    container["command"] = pointed_at(without_offsite(container["command"]), port)
    contents = {"lab-db-backup": secret_data, "backup-offsite-s3": {"credentials": "[default]\n"}}
    pvc = tmp_path / "pvc"
    pvc.mkdir()
    dump = run_cron_job(job, contents, {"labhub-backups-data": pvc}, tmp_path / "dump")
    assert dump.returncode == 0, dump.stderr
    (backup,) = [p for p in (pvc / "lab-db").iterdir() if not p.name.startswith(".")]
    manifest = json.loads((backup / "manifest.json").read_text())
    (schema,) = [s for s in manifest["schemas"] if s["name"] == "common_lab"]
    assert schema["tables"]["t"]["rows"] == 2
    assert secret_data["password"] not in dump.stdout + dump.stderr
