"""Users, roles and grants as SQL that recreates them on another server.

Why not `mysqldump --all-databases`: on both MySQL 8 and MariaDB it would copy
the `mysql` system schema's tables, whose layout differs between versions and
flavours (MariaDB keeps accounts in `mysql.global_priv` behind a `mysql.user`
view; MySQL 8 in `mysql.user` plus `role_edges`, `default_roles`), so loading
them into another server is unsafe. MariaDB has `mariadb-dump --system=users`;
MySQL 8's mysqldump has no equivalent (MySQL 8 dropped `mysqlpump --users` in
8.4). We ask the server instead, the same way on both:

- `SHOW CREATE USER` (MySQL 8 and MariaDB 10.2+) gives the account with its
  password hash. On MySQL 8 we first set `print_identified_with_as_hex` so
  caching_sha2 hashes (binary) come out as hex literals.
- `SHOW GRANTS FOR` gives privileges, granted roles and, on MariaDB,
  `SET DEFAULT ROLE`; MySQL 8 puts `DEFAULT ROLE` in `SHOW CREATE USER`.
- Roles: MariaDB marks them (`is_role`) and they have no `SHOW CREATE USER`:
  we write `CREATE ROLE IF NOT EXISTS`. MySQL 8 roles are locked accounts;
  those granted to someone (`mysql.role_edges`) are created first, so a
  `DEFAULT ROLE` clause finds them.

Every `CREATE USER` becomes `CREATE USER IF NOT EXISTS`, so restoring onto a
server that already has an account (its admin, say) keeps it and only adds
grants. Built-in accounts (root, mysql.*, mariadb.sys, PUBLIC, anonymous)
are left out: the target server has its own.

The backup user needs SELECT on the `mysql` schema for this (see docs/backups.md).
"""

from __future__ import annotations

import re

from labhub.backup.mysql_client import ClientTools, quote_string

SKIPPED_USERS = frozenset({"root", "mariadb.sys", "mysql.sys", "mysql.session", "mysql.infoschema", "PUBLIC", ""})
_MARK = "-- labhub account "


def _account(user: str, host: str) -> str:
    return f"{quote_string(user)}@{quote_string(host)}"


def export_accounts(tools: ClientTools) -> bytes:
    """The SQL that recreates every non-built-in account, its roles and grants; UTF-8 bytes."""
    mariadb = tools.server_is_mariadb()
    if mariadb:
        rows = tools.query("SELECT user, host, is_role FROM mysql.user ORDER BY is_role DESC, user, host;")
        accounts = [(user, host, is_role == "Y") for user, host, is_role in rows]
    else:
        rows = tools.query(
            "SELECT u.user, u.host, EXISTS(SELECT 1 FROM mysql.role_edges r WHERE r.from_user = u.user AND r.from_host = u.host) "
            "FROM mysql.user u ORDER BY 3 DESC, u.user, u.host;"
        )
        accounts = [(user, host, is_role == "1") for user, host, is_role in rows]
    accounts = [(user, host, is_role) for user, host, is_role in accounts if user not in SKIPPED_USERS]
    if not accounts:
        return b"-- no accounts besides the built-in ones\n"
    script = [] if mariadb else ["SET SESSION print_identified_with_as_hex = ON;"]
    for index, (user, host, is_role) in enumerate(accounts):
        script.append(f"SELECT '{_MARK}{index}';")
        if not (mariadb and is_role):
            script.append(f"SHOW CREATE USER {_account(user, host)};")
        script.append(f"SHOW GRANTS FOR {quote_string(user) if mariadb and is_role else _account(user, host)};")
    rows = tools.query("\n".join(script))
    creates: list[str] = []
    grants: list[str] = []
    index = -1
    expect_create = False
    for (value, *_rest) in rows:
        if value.startswith(_MARK):
            index = int(value[len(_MARK) :])
            user, host, is_role = accounts[index]
            if mariadb and is_role:
                creates.append(f"CREATE ROLE IF NOT EXISTS {quote_string(user)};")
                expect_create = False
            else:
                expect_create = True
            continue
        if expect_create:
            creates.append(re.sub(r"^CREATE USER ", "CREATE USER IF NOT EXISTS ", value) + ";")
            expect_create = False
        else:
            grants.append(value + ";")
    lines = ["-- Accounts, roles and grants (labhub backup); restore with the mysql client.", *creates, *grants, ""]
    return "\n".join(lines).encode("utf-8")


# What the dedicated backup account needs, on MySQL 8 and MariaDB alike: global SELECT covers the
# data, the `mysql` schema (accounts above) and routine bodies (MySQL 8.0.20+ would otherwise want
# SHOW_ROUTINE); SHOW VIEW, TRIGGER and EVENT let mysqldump read those definitions; LOCK TABLES is
# used only for non-transactional (MyISAM) tables. No RELOAD, PROCESS or SUPER: --single-transaction
# takes no global lock and --no-tablespaces skips what needs PROCESS.
BACKUP_PRIVILEGES = "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES"
