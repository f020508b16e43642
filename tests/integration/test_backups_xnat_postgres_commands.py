"""prod's XNAT Postgres backups, run from the render: the ensure-role Job, then the dump and verify CronJobs.

Invariant: the role the rendered ensure-role Job makes (not a superuser) is
enough for the rendered dump CronJob to back up every database, the backup
restores and verifies, the role can write nothing, and running the Job again
after a password rotation leaves the role logging in with the new password only.

Everything comes from the whole program's render of Pulumi.prod.yaml (no
`databases` listed, so the XNAT Postgres is a default entry): the Job's and
CronJobs' commands, the generated Secrets (the Postgres superuser's password,
the backup role's password and pg_service.conf) laid out as the kubelet lays
out Secret volumes (tests/integration/backup_testlib.py), and the verify pod's
scratch-client ConfigMap. The server is set up as the official image's
entrypoint leaves it: POSTGRES_USER `jupyterhub` a superuser with the Secret's
password, owning database `jupyterhub`. Substituted: the Service's host and
port (a throwaway server's), the --s3-* flags dropped (prod copies to AWS;
tests/integration/test_backup_offsite.py runs that part), and the scratch
sidecar's port in its client file.

Where this machine differs from prod: the throwaway servers are PostgreSQL 15
(Debian's), prod runs postgres:17.6 and the image's clients are 17's. What the
role relies on is the same on both: `pg_read_all_data` (PG 14+) and
`pg_dumpall --no-role-passwords` reading pg_roles instead of pg_authid. PG 16
changed role grants (per-grant INHERIT/SET options, `GRANTED BY` in dumps);
ensure-role grants with the defaults and the role is INHERIT, so the
membership is effective on both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from backup_testlib import labhub, pointed_at, run_cron_job, without_offsite
from pulumi.runtime import rpc
from rendered import namespaced_objects

pytestmark = pytest.mark.integration

DB = "xnat-jupyterhub-postgres"
DUMP, VERIFY, PRUNE = f"labhub-backups-{DB}", f"labhub-backups-{DB}-verify", "labhub-backups-prune"
ADMIN_SECRET, BACKUP_SECRET = "xnat-jupyterhub-postgres", "xnat-jupyterhub-postgres-backup"  # pragma: allowlist secret (Secret names)
OFFSITE = {"backup-offsite-s3": {"credentials": "[default]\n"}}  # mounted by the dump pod; the --s3-* flags are dropped


def _in_xnat(run: Any, type_: str) -> dict[str, dict[str, Any]]:
    return namespaced_objects(run, type_, "xnat")


@pytest.fixture(scope="module")
def prod(stack_runs: dict[str, Any]) -> dict[str, Any]:
    run = stack_runs["prod"]
    (job,) = _in_xnat(run, "kubernetes:batch/v1:Job").values()
    secrets = {name: rpc.unwrap_rpc_secret(s["stringData"]) for name, s in _in_xnat(run, "kubernetes:core/v1:Secret").items()}
    (scratch,) = _in_xnat(run, "kubernetes:core/v1:ConfigMap").values()
    return {"job": job, "cron": _in_xnat(run, "kubernetes:batch/v1:CronJob"), "secrets": secrets, "scratch": scratch}


def _pointed(obj: dict[str, Any], port: int) -> dict[str, Any]:
    """The object with its container's command aimed at the throwaway server and without the off-site copy."""
    out = json.loads(json.dumps(obj))
    spec = out["spec"]["jobTemplate"]["spec"]["template"]["spec"] if "jobTemplate" in out["spec"] else out["spec"]["template"]["spec"]
    container = spec["containers"][0]
    command = without_offsite(container["command"])
    container["command"] = pointed_at(command, port) if "--host" in command else command
    return out


@pytest.fixture(scope="module")
def server(postgres_factory: Any, prod: dict[str, Any]) -> Any:
    """A Postgres as the official image's entrypoint leaves it, with the hub's kind of data."""
    server = postgres_factory.start("xnat-hub-postgres")
    admin_password = prod["secrets"][ADMIN_SECRET]["password"]
    with server.connect() as conn:
        conn.execute(psycopg.sql.SQL("CREATE ROLE jupyterhub SUPERUSER LOGIN PASSWORD {}").format(psycopg.sql.Literal(admin_password)))
        conn.execute("CREATE DATABASE jupyterhub OWNER jupyterhub")
    with server.connect("jupyterhub") as conn:
        conn.execute("SET ROLE jupyterhub")
        conn.execute("CREATE TABLE users (id serial PRIMARY KEY, name text UNIQUE, admin boolean, created timestamptz DEFAULT now())")
        conn.execute("INSERT INTO users (name, admin) SELECT 'user' || g, g % 10 = 0 FROM generate_series(1, 250) g")
        conn.execute("CREATE TABLE api_tokens (id serial PRIMARY KEY, user_id int REFERENCES users, hashed text)")
        conn.execute("INSERT INTO api_tokens (user_id, hashed) SELECT g, md5(g::text) FROM generate_series(1, 250) g")
        conn.execute("CREATE VIEW admins AS SELECT name FROM users WHERE admin")
    return server


def _login(server: Any, user: str, password: str, dbname: str = "jupyterhub") -> psycopg.Connection:
    return psycopg.connect(host=server.host, port=server.port, user=user, password=password, dbname=dbname, autocommit=True, connect_timeout=5)


def test_the_rendered_role_job_dump_and_verify_back_up_the_xnat_postgres_as_a_read_only_role(
    prod: dict[str, Any], server: Any, postgres_factory: Any, tmp_path: Path
) -> None:
    contents = {ADMIN_SECRET: prod["secrets"][ADMIN_SECRET], BACKUP_SECRET: prod["secrets"][BACKUP_SECRET], **OFFSITE}
    role_password = prod["secrets"][BACKUP_SECRET]["password"]
    role = run_cron_job(_pointed(prod["job"], server.port), contents, {}, tmp_path / "role")
    assert role.returncode == 0, role.stderr
    assert "labhub_backup" in role.stdout and role_password not in role.stdout + role.stderr

    with server.connect() as conn:
        attributes = conn.execute(
            "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = 'labhub_backup'"
        ).fetchone()
        member_of = conn.execute(
            "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'labhub_backup'"
        ).fetchall()
    assert attributes == (True, False, False, False, False, False)
    assert member_of == [("pg_read_all_data",)]

    # No write privilege: not on the hub's tables, not in the schema, not on the server.
    with _login(server, "labhub_backup", role_password) as conn:
        for statement in (
            "INSERT INTO users (name) VALUES ('intruder')", "UPDATE users SET admin = true", "DELETE FROM api_tokens",
            "CREATE TABLE public.x (id int)", "CREATE DATABASE x", "CREATE ROLE x", "TRUNCATE users",
        ):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)

    pvc = tmp_path / "pvc"
    pvc.mkdir()
    dump = run_cron_job(_pointed(prod["cron"][DUMP], server.port), contents, {"labhub-backups-data": pvc}, tmp_path / "dump")
    assert dump.returncode == 0, dump.stderr
    assert role_password not in dump.stdout + dump.stderr
    (backup,) = [p for p in (pvc / DB).iterdir() if not p.name.startswith(".")]
    manifest = json.loads((backup / "manifest.json").read_text())
    (hub_db,) = [d for d in manifest["databases"] if d["name"] == "jupyterhub"]
    assert hub_db["tables"]["public.users"]["rows"] == 250 and hub_db["tables"]["public.api_tokens"]["rows"] == 250
    assert hub_db["views"] == ["public.admins"]

    # The verify pod's scratch server (the sidecar trusts loopback, as the image is told to).
    hba = postgres_factory.base / "xnat_trust_hba.conf"
    hba.write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
    hba.chmod(0o644)
    postgres_factory._chown(hba)
    scratch = postgres_factory.start("xnat-scratch", {"hba_file": str(hba)})
    scratch_files = {key: text.replace("port=5432\n", f"port={scratch.port}\n") for key, text in prod["scratch"]["data"].items()}
    assert scratch_files != prod["scratch"]["data"], "the scratch client file must name the sidecar's port"
    contents[prod["scratch"]["metadata"]["name"]] = scratch_files
    verify = run_cron_job(prod["cron"][VERIFY], contents, {"labhub-backups-data": pvc}, tmp_path / "verify")
    assert verify.returncode == 0, verify.stderr
    assert (backup / "verified.json").is_file()
    prune = run_cron_job(prod["cron"][PRUNE], contents, {"labhub-backups-data": pvc}, tmp_path / "prune")
    assert prune.returncode == 0, prune.stderr

    # The globals hold no password (the role cannot read them), and a full restore with them works.
    service = tmp_path / "restore.conf"
    target = postgres_factory.start("xnat-restore-target")
    service.write_text(f"[target]\nhost=127.0.0.1\nport={target.port}\nuser=postgres\npassword={target.password}\n")
    restore = labhub("backup", "postgres", "restore", "--service", "target", "--service-file", str(service), "--from", str(backup))
    assert restore.returncode == 0, restore.stderr
    with target.connect("jupyterhub") as conn:
        assert conn.execute("SELECT count(*) FROM users").fetchone() == (250,)
        assert conn.execute("SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'labhub_backup'").fetchone() == (True,)


def test_running_the_rendered_role_job_again_after_a_rotation_sets_the_new_password_and_strips_extra_grants(
    prod: dict[str, Any], server: Any, tmp_path: Path
) -> None:
    """A rotation writes a new password into the Secret and names a new Job (tests/components): that Job, run, converges the role."""
    old = prod["secrets"][BACKUP_SECRET]
    contents = {ADMIN_SECRET: prod["secrets"][ADMIN_SECRET], BACKUP_SECRET: old, **OFFSITE}
    assert run_cron_job(_pointed(prod["job"], server.port), contents, {}, tmp_path / "first").returncode == 0
    with server.connect() as conn:  # someone widened the role by hand meanwhile
        conn.execute("GRANT pg_write_all_data TO labhub_backup")
        conn.execute("ALTER ROLE labhub_backup CREATEDB")

    new_password = old["password"][::-1] + "x"
    rotated = {"password": new_password, "pg_service.conf": old["pg_service.conf"].replace(old["password"], new_password)}
    contents[BACKUP_SECRET] = rotated
    again = run_cron_job(_pointed(prod["job"], server.port), contents, {}, tmp_path / "again")
    assert again.returncode == 0, again.stderr
    assert "updated" in again.stdout and "pg_write_all_data" in again.stdout
    assert new_password not in again.stdout + again.stderr

    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _login(server, "labhub_backup", old["password"])
    with _login(server, "labhub_backup", new_password) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO users (name) VALUES ('intruder')")
        assert conn.execute("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
    pvc = tmp_path / "pvc"
    pvc.mkdir()
    dump = run_cron_job(_pointed(prod["cron"][DUMP], server.port), contents, {"labhub-backups-data": pvc}, tmp_path / "dump")
    assert dump.returncode == 0, dump.stderr


def test_ensure_role_refuses_a_wrong_superuser_password_in_one_line_without_echoing_it(prod: dict[str, Any], server: Any, tmp_path: Path) -> None:
    wrong = {"password": "not-the-superuser-password"}  # pragma: allowlist secret (a test value)
    contents = {ADMIN_SECRET: wrong, BACKUP_SECRET: prod["secrets"][BACKUP_SECRET]}
    result = run_cron_job(_pointed(prod["job"], server.port), contents, {}, tmp_path / "wrong")
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("labhub: error: cannot connect to PostgreSQL") and "password authentication failed" in line
    assert wrong["password"] not in result.stderr and "Traceback" not in result.stderr
