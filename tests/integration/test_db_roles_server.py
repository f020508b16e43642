"""The DataJoint roles, applied by `labhub db apply-roles` to a real server, grant exactly what Spyglass's docs say.

Invariant: after the Job's command runs (passwords from files laid out as a
Kubernetes Secret volume, the script exactly as printed), a user of each
role, logged in with the password from their file, is allowed and denied
each operation on shared-module, own-prefix and other-prefix schemas as the
table in Spyglass's docs says; applying again changes no account's grants;
applying a changed spec converges (CREATE taken back from dj_user, a user
demoted); the prod Job's rendered command line, run as the pod runs it (the image's entrypoint, then the Job's args),
gives each prod user their role; the backup account can dump everything consistently and write
nothing; a bad input stops the command before any SQL runs.

MariaDB 10.11 stands in for MySQL 8.0 with the `mariadb` dialect (see
labhub/db/roles.py for the two statements that differ).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pytest
from kubelet_volume import write_configmap_volume

from labhub.db.roles import LabUser, RolesSpec, render_sql

pytestmark = pytest.mark.integration

LABHUB = [sys.executable, "-m", "labhub.cli"]
SHARED = ("common", "lfp")
USERS = {"dj_guest": "gina", "dj_collab": "carl", "dj_user": "ursula", "dj_admin": "ada"}
OTHER = "olga"  # owns the "other prefix" schema every test user is checked against
SPEC = RolesSpec(
    shared_modules=SHARED,
    users=[*(LabUser(name=n, role=r.removeprefix("dj_")) for r, n in USERS.items()), LabUser(name=OTHER, role="collab")],  # type: ignore[arg-type]
    backup_user="labhub_backup",
    cleanup_user="labhub_cleanup",
)

# Spyglass's docs, docs/src/ForDevelopers/Management.md ("Users roles" and "Declaring
# tables in shared schemas", after Spyglass #1065), as privileges per schema kind:
#   dj_guest:  SELECT on all schemas.
#   dj_collab: ALL on user schema, SELECT on all other schemas.
#   dj_user:   ALL on user schema, all privileges except CREATE on shared schemas
#              (SELECT, INSERT, UPDATE, DELETE, ALTER, DROP, INDEX, REFERENCES, LOCK TABLES),
#              SELECT on all other schemas.
#   dj_admin:  ALL on all schemas.
SELECT_ONLY = {"SELECT"}
ALL_BUT_CREATE = {"SELECT", "INSERT", "UPDATE", "DELETE", "ALTER", "DROP", "INDEX", "REFERENCES", "LOCK TABLES"}
ALL = ALL_BUT_CREATE | {"CREATE"}
SPYGLASS_DOCS_TABLE = {
    #            shared module   own prefix   other prefix
    "dj_guest": (SELECT_ONLY, SELECT_ONLY, SELECT_ONLY),
    "dj_collab": (SELECT_ONLY, ALL, SELECT_ONLY),
    "dj_user": (ALL_BUT_CREATE, ALL, SELECT_ONLY),
    "dj_admin": (ALL, ALL, ALL),
}
KINDS = ("shared", "own", "other")

# operation -> (privilege it needs, SQL run as the user; {db} a schema holding table t, {new} a fresh name)
OPERATIONS = {
    "select": ("SELECT", "SELECT * FROM `{db}`.t"),
    "insert": ("INSERT", "INSERT INTO `{db}`.t VALUES ({n})"),
    "update": ("UPDATE", "UPDATE `{db}`.t SET a = a"),
    "delete": ("DELETE", "DELETE FROM `{db}`.t WHERE a = {n}"),
    "alter": ("ALTER", "ALTER TABLE `{db}`.t COMMENT = 'x{n}'"),
    "create-table": ("CREATE", "CREATE TABLE `{db}`.`new_{n}` (a INT)"),
    "drop-table": ("DROP", "DROP TABLE `{db}`.`victim_{n}`"),
    "create-schema": ("CREATE", "CREATE DATABASE `{prefix}_new_{n}`"),
}
DENIED = {1044, 1142, 1143, 1227}  # access denied to database / table / column / needs a privilege


@dataclass
class LabServer:
    port: int
    root: pymysql.connections.Connection
    admin_password_file: Path
    passwords_dir: Path
    passwords: dict[str, str]
    tmp: Path

    def apply(self, spec: RolesSpec) -> subprocess.CompletedProcess[str]:
        """Run the Job's command: the script as `render_sql` prints it, passwords from the Secret volume."""
        sql = self.tmp / "roles.sql"
        sql.write_text(render_sql(spec, "mariadb"))
        return run_apply(self, sql, self.passwords_dir)

    def login(self, name: str) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=name, password=self.passwords[name], autocommit=True)


def run_apply(server: LabServer, sql: Path, passwords_dir: Path) -> subprocess.CompletedProcess[str]:
    command = [*LABHUB, "db", "apply-roles", "--sql", str(sql), "--passwords-dir", str(passwords_dir),
               "--host", "127.0.0.1", "--port", str(server.port), "--admin-password-file", str(server.admin_password_file)]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})


def secret_volume(directory: Path, data: dict[str, str]) -> Path:
    """A Secret volume as the kubelet lays it out (same AtomicWriter as ConfigMaps: `..data` links), files 0400."""
    write_configmap_volume(directory, dict(data), mode=0o400)
    return directory


@pytest.fixture(scope="module")
def lab(mariadb_factory, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:  # type: ignore[no-untyped-def]
    """A private server whose root logs in over TCP with a password (as the Job does), roles applied once."""
    datadir = mariadb_factory.new_datadir("labdb-roles")
    sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
    args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve"]
    server = mariadb_factory.start(datadir, args, socket_path=sock, port=port)
    tmp = tmp_path_factory.mktemp("labdb-roles")
    root_password = secrets.token_urlsafe(24)
    root = server.root()
    with root.cursor() as cur:
        cur.execute("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (root_password,))
    admin_file = tmp / "root-password"
    admin_file.write_text(root_password + "\n")  # a trailing newline, as `echo` leaves, is not part of it
    # Awkward but valid passwords: quotes and backslashes must reach the server intact.
    passwords = {name: secrets.token_urlsafe(18) + "'\\\"%" for name in [*USERS.values(), OTHER, "labhub_backup", "labhub_cleanup"]}
    lab = LabServer(port, root, admin_file, secret_volume(tmp / "passwords", passwords), passwords, tmp)
    result = lab.apply(SPEC)
    assert result.returncode == 0, result.stderr
    with root.cursor() as cur:
        for db in [f"{m}_session" for m in SHARED] + [f"{n}_scratch" for n in [*USERS.values(), OTHER]]:
            cur.execute(f"CREATE DATABASE `{db}`")
            cur.execute(f"CREATE TABLE `{db}`.t (a INT)")
            cur.execute(f"INSERT INTO `{db}`.t VALUES (1)")
    yield lab
    root.close()


def schema_for(kind: str, user: str) -> tuple[str, str]:
    """(schema holding table t, prefix for a new schema) of that kind, seen from `user`."""
    return {"shared": ("common_session", "common"), "own": (f"{user}_scratch", user), "other": (f"{OTHER}_scratch", OTHER)}[kind]


CASES = [
    pytest.param(role, kind, op, OPERATIONS[op][0] in SPYGLASS_DOCS_TABLE[role][k], id=f"{role}-{kind}-{op}")
    for role in SPYGLASS_DOCS_TABLE
    for k, kind in enumerate(KINDS)
    for op in OPERATIONS
]


@pytest.mark.parametrize(("role", "kind", "operation", "allowed"), CASES)
def test_each_role_may_do_on_each_schema_kind_what_spyglass_docs_grant(lab: LabServer, role: str, kind: str, operation: str, allowed: bool) -> None:
    user = USERS[role]
    db, prefix = schema_for(kind, user)
    n = secrets.randbelow(10**9)
    with lab.root.cursor() as cur:
        cur.execute(f"CREATE TABLE `{db}`.`victim_{n}` (a INT)")
    sql = OPERATIONS[operation][1].format(db=db, prefix=prefix, n=n)
    with lab.login(user) as conn, conn.cursor() as cur:
        outcome = _runs(cur, sql)
    assert outcome == allowed, f"{user} ({role}) {'could not' if allowed else 'could'} run: {sql}"


def _runs(cur: pymysql.cursors.Cursor, sql: str) -> bool:
    """Whether the server ran `sql`; a refusal must be a privilege error, not any other failure."""
    try:
        cur.execute(sql)
    except pymysql.err.OperationalError as error:
        assert error.args[0] in DENIED, error
        return False
    return True


CLEANUP_CASES = [
    # Spyglass's cleanup deletes orphaned file rows in shared-module schemas: dj_user there, and nothing of its own.
    pytest.param("shared", "delete", True, id="shared-delete"), pytest.param("shared", "select", True, id="shared-select"),
    pytest.param("shared", "create-table", False, id="shared-create-table"), pytest.param("other", "delete", False, id="other-delete"),
    pytest.param("other", "insert", False, id="other-insert"), pytest.param("own", "create-schema", False, id="no-prefix-of-its-own"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "operation", "allowed"), CLEANUP_CASES)
def test_the_cleanup_account_may_delete_in_shared_schemas_and_no_more(lab: LabServer, kind: str, operation: str, allowed: bool) -> None:
    db, prefix = {"shared": ("common_session", "common"), "other": (f"{OTHER}_scratch", OTHER), "own": ("", "labhub_cleanup")}[kind]
    n = secrets.randbelow(10**9)
    sql = OPERATIONS[operation][1].format(db=db, prefix=prefix, n=n)
    with lab.login("labhub_cleanup") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_ROLE()")
        assert cur.fetchone() == ("dj_user",)
        outcome = _runs(cur, sql)
    assert outcome == allowed, f"labhub_cleanup {'could not' if allowed else 'could'} run: {sql}"


def grants_snapshot(root: pymysql.connections.Connection) -> dict[str, list[str]]:
    """SHOW GRANTS for every account and role on the server (role grants and default roles included)."""
    with root.cursor() as cur:
        cur.execute("SELECT User, Host, is_role FROM mysql.user ORDER BY User, Host")
        accounts = cur.fetchall()
        snapshot = {}
        for user, host, is_role in accounts:
            try:
                cur.execute("SHOW GRANTS FOR %s" if is_role == "Y" else "SHOW GRANTS FOR %s@%s", (user,) if is_role == "Y" else (user, host))
                snapshot[f"{user}@{host}"] = sorted(row[0] for row in cur.fetchall())
            except pymysql.err.OperationalError as error:  # 1141: an install-db account with no grant at all
                assert error.args[0] == 1141, error
                snapshot[f"{user}@{host}"] = []
    return snapshot


def test_applying_the_same_roles_again_changes_no_accounts_grants(lab: LabServer) -> None:
    before = grants_snapshot(lab.root)
    assert "GRANT `dj_user` TO `ursula`@`%`" in before["ursula@%"]  # the snapshot sees what was applied
    result = lab.apply(SPEC)
    assert result.returncode == 0, result.stderr
    assert grants_snapshot(lab.root) == before


def test_a_changed_spec_converges_create_is_taken_back_and_a_demoted_user_loses_their_prefix(lab: LabServer) -> None:
    """Spyglass #1065's change (revoke CREATE from dj_user) and a demotion take effect on a server that had the old grants."""
    create = RolesSpec.model_validate({**SPEC.model_dump(), "dj_user_can_create": True})
    assert lab.apply(create).returncode == 0
    with lab.login("ursula") as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE common_session.declared_by_user (a INT)")
    demoted = [LabUser(name="carl", role="guest") if u.name == "carl" else u for u in SPEC.users]
    try:
        assert lab.apply(SPEC.model_copy(update={"users": tuple(demoted)})).returncode == 0
        with lab.login("ursula") as conn, conn.cursor() as cur, pytest.raises(pymysql.err.OperationalError) as denied:
            cur.execute("CREATE TABLE common_session.declared_again (a INT)")
        assert denied.value.args[0] == 1142
        with lab.login("carl") as conn, conn.cursor() as cur:
            cur.execute("SELECT CURRENT_ROLE()")
            assert cur.fetchone() == ("dj_guest",)
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute("INSERT INTO carl_scratch.t VALUES (2)")
    finally:
        assert lab.apply(SPEC).returncode == 0


def test_the_backup_account_dumps_everything_with_the_backup_tool_and_writes_nothing(lab: LabServer, tmp_path: Path) -> None:
    """The roles SQL's backup grants (no PROCESS, no RELOAD) are enough for `labhub backup mysql dump`, accounts included."""
    option_file = tmp_path / "backup.cnf"
    password = lab.passwords["labhub_backup"].replace("\\", "\\\\").replace('"', '\\"')
    option_file.write_text(f'[client]\nuser=labhub_backup\npassword="{password}"\n')
    option_file.chmod(0o400)
    with lab.root.cursor() as cur:
        cur.execute("CREATE VIEW common_session.v AS SELECT a FROM common_session.t")
        cur.execute("CREATE TRIGGER common_session.tr BEFORE INSERT ON common_session.t FOR EACH ROW SET NEW.a = NEW.a")
        cur.execute("CREATE PROCEDURE common_session.p() SELECT 1")
        cur.execute("CREATE EVENT common_session.e ON SCHEDULE EVERY 1 DAY DO SELECT 1")
    command = [
        "backup",
        "mysql",
        "dump",
        "--defaults-file",
        str(option_file),
        "--host",
        "127.0.0.1",
        "--port",
        str(lab.port),
        "--dest",
        str(tmp_path / "out"),
        "--name",
        "lab",
    ]
    result = subprocess.run([sys.executable, "-m", "labhub.cli", *command], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    (backup,) = (tmp_path / "out").glob("lab-*")
    manifest = json.loads((backup / "manifest.json").read_text())
    common = next(schema for schema in manifest["schemas"] if schema["name"] == "common_session")
    assert (common["views"], common["routines"], common["events"], common["triggers"]) == (["v"], ["procedure p"], ["e"], 1)
    assert common["tables"]["t"]["rows"] >= 1
    # The accounts come along, read from the mysql schema with global SELECT.
    accounts = subprocess.run(["zstd", "-dc", str(backup / manifest["accounts"])], capture_output=True, text=True, check=True).stdout
    assert "TO `ursula`@`%`" in accounts and "TO `labhub_backup`@`%`" in accounts
    with lab.login("labhub_backup") as conn, conn.cursor() as cur:
        for write in ("INSERT INTO common_session.t VALUES (9)", "CREATE DATABASE backup_scratch", "DROP TABLE gina_scratch.t"):
            with pytest.raises(pymysql.err.OperationalError):
                cur.execute(write)


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        pytest.param({"gina": "pw"}, "no password file for account 'ada'", id="missing-password-file"),
        pytest.param({"bad'name": "pw"}, "password file", id="file-named-with-a-quote"),
        pytest.param({**{n: "pw" for n in ["gina", "carl", "ursula", "ada", OTHER, "labhub_backup"]}, "gina": ""}, "is empty", id="empty-password"),
    ],
)
def test_a_bad_password_volume_stops_the_job_before_any_sql_runs(lab: LabServer, tmp_path: Path, layout: dict, message: str) -> None:
    before = grants_snapshot(lab.root)
    sql = tmp_path / "roles.sql"
    sql.write_text(render_sql(SPEC, "mariadb"))
    result = run_apply(lab, sql, secret_volume(tmp_path / "pw", layout))
    assert (result.returncode, result.stderr.count("\n")) == (2, 1), result.stderr
    assert message in result.stderr
    assert grants_snapshot(lab.root) == before


def test_a_script_for_the_other_dialect_is_refused_before_it_runs(lab: LabServer, tmp_path: Path) -> None:
    before = grants_snapshot(lab.root)
    sql = tmp_path / "roles.sql"
    sql.write_text(render_sql(SPEC, "mysql8"))
    result = run_apply(lab, sql, lab.passwords_dir)
    assert result.returncode == 2 and "the script is for mysql8 but the server is mariadb" in result.stderr, result.stderr
    assert grants_snapshot(lab.root) == before


def test_no_password_reaches_the_jobs_output(lab: LabServer) -> None:
    result = lab.apply(SPEC)
    assert result.returncode == 0
    output = result.stdout + result.stderr
    assert "accounts:" in output
    assert not [name for name, pw in lab.passwords.items() if pw in output]


def test_the_prod_jobs_exact_command_line_applies_the_prod_roles(mariadb_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Job's args as rendered for prod, run against a fresh server with its volumes laid out as the kubelet does.

    Substitutions, each one the test must make: the mount paths -> tmp dirs holding
    the same files; --host lab-db / --port 3306 -> this server; the ConfigMap's SQL
    -> the same prod RolesSpec printed in the mariadb dialect (the rendered text is
    MySQL 8's, which MariaDB refuses); the entrypoint `labhub db` -> this checkout's CLI.
    """
    from rendered import manifest

    from components.config import parse_stack_config
    from labhub.engine import PROJECT_DIR, read_stack_files

    prod = parse_stack_config(read_stack_files(PROJECT_DIR, "prod").config).lab_database
    job = manifest("prod", "kubernetes:batch/v1:Job", prod.namespace)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}

    datadir = mariadb_factory.new_datadir("labdb-prod-job")
    sock, port = datadir.parent / "mysqld.sock", mariadb_factory.free_port()
    args = ["--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={port}", "--bind-address=127.0.0.1", "--skip-name-resolve"]
    server = mariadb_factory.start(datadir, args, socket_path=sock, port=port)
    root_password = secrets.token_urlsafe(24)
    with server.root() as conn, conn.cursor() as cur:
        cur.execute("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY %s", (root_password,))

    accounts = {
        item["path"]: secrets.token_urlsafe(24) for source in volumes["passwords"]["projected"]["sources"] for item in source["secret"]["items"]
    }
    assert "items" not in volumes["root"]["secret"]  # so its files are named by the Secret's keys: `password`
    layout = {
        mounts["roles"]: secret_volume(tmp_path / "roles", {"roles.sql": render_sql(prod.roles, "mariadb")}),
        mounts["passwords"]: secret_volume(tmp_path / "passwords", accounts),
        mounts["root"]: secret_volume(tmp_path / "root", {"password": root_password}),
    }
    command = list(container["args"])
    for mount, local in layout.items():
        command = [a.replace(mount, str(local)) for a in command]
    command[command.index("--host") + 1], command[command.index("--port") + 1] = "127.0.0.1", str(port)
    # The image's ENTRYPOINT, with `labhub` being this checkout's CLI.
    entrypoint = json.loads(
        next(line for line in (PROJECT_DIR / "docker/db/Dockerfile").read_text().splitlines() if line.startswith("ENTRYPOINT ")).split(" ", 1)[1]
    )
    assert entrypoint[0] == "labhub"
    result = subprocess.run(
        [*LABHUB, *entrypoint[1:], *command], capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()}
    )
    assert result.returncode == 0, result.stderr
    for user in prod.roles.users:
        with pymysql.connect(host="127.0.0.1", port=port, user=user.name, password=accounts[user.name]) as conn, conn.cursor() as cur:
            cur.execute("SELECT CURRENT_ROLE()")
            assert cur.fetchone() == (f"dj_{user.role}",), user


def test_a_retired_user_can_no_longer_log_in_and_listing_them_again_lets_them_back(lab: LabServer) -> None:
    retired = SPEC.model_copy(update={"users": tuple(u for u in SPEC.users if u.name != "carl"), "retired_users": ("carl", "never_existed")})
    try:
        assert lab.apply(retired).returncode == 0
        with pytest.raises(pymysql.err.OperationalError) as locked:
            lab.login("carl").close()
        assert locked.value.args[0] == 4151  # MariaDB's "this account is locked" (MySQL 8: 3118)
        with lab.root.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM carl_scratch.t")  # their data stays
            assert cur.fetchone()[0] >= 1
    finally:
        assert lab.apply(SPEC).returncode == 0
    with lab.login("carl") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_ROLE()")
        assert cur.fetchone() == ("dj_collab",)


def test_a_wrong_admin_password_is_one_line_naming_the_server_and_no_password(lab: LabServer, tmp_path: Path) -> None:
    wrong = secrets.token_urlsafe(24)
    (tmp_path / "root").write_text(wrong)
    sql = tmp_path / "roles.sql"
    sql.write_text(render_sql(SPEC, "mariadb"))
    command = [*LABHUB, "db", "apply-roles", "--sql", str(sql), "--passwords-dir", str(lab.passwords_dir),
               "--host", "127.0.0.1", "--port", str(lab.port), "--admin-password-file", str(tmp_path / "root")]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"labhub: error: cannot connect to 127.0.0.1:{lab.port} as 'root': Access denied")
    assert wrong not in result.stderr + result.stdout
