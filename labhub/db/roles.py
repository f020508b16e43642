"""The DataJoint roles of Spyglass as SQL: one pure function from typed inputs to statements.

Spyglass (`src/spyglass/utils/database_settings.py`, PR #832; docs
`docs/src/ForDevelopers/Management.md`) grants privileges by schema-name
prefix through four MySQL roles:

    dj_guest   SELECT on every schema
    dj_collab  SELECT on every schema; ALL on the user's own prefix
    dj_user    SELECT on every schema; on each shared module's prefix every
               privilege except CREATE (Spyglass #1065: an admin declares
               shared tables); ALL on the user's own prefix
    dj_admin   ALL on every schema

`role_statements` turns a `RolesSpec` into the statements that make a
server match it, and nothing else: no password ever appears in them, so
`labhub db roles-sql` can print them for review and the apply Job (which
creates the accounts from mounted Secret files first) runs exactly them.

Idempotent by construction: each grantee's privileges are revoked and
granted again inside the script, so applying it twice changes nothing and
applying a changed spec converges (a module removed from the list, CREATE
taken back from dj_user, a user moved from dj_user to dj_guest). The price
is a window of a few milliseconds per grantee in which a statement of that
account can be refused; the Job runs only when the spec changes. Accounts
in `retired_users` are locked (`ACCOUNT LOCK`), not dropped: what they made
stays, and listing them again unlocks them.

Every name is checked before any SQL is produced: lab user and module names
are `[a-z][a-z0-9_]*` (so nothing can leave a quoted string or identifier),
and `_` inside a name is escaped in the schema pattern, so user `a_b` owns
`a\\_b\\_%`, not `aXb_...`. A user whose prefix would cover another user's or
a shared module's schemas (`alice` and `alice_lab`, or a user `common`) is
refused: the privilege would silently leak.

Dialects. The SQL targets MySQL 8.0 (`mysql8`, what the lab runs). MariaDB
(`mariadb`, used by the tests as a stand-in) differs in two statements, so
the dialect is explicit: MySQL 8 writes `SET DEFAULT ROLE r TO u` and keeps a
user's role grants on `REVOKE ALL PRIVILEGES` (roles are revoked with
`REVOKE IF EXISTS`, MySQL >= 8.0.30); MariaDB writes `SET DEFAULT ROLE r FOR
u` and drops role grants with `REVOKE ALL PRIVILEGES` (so the role is granted
again right after). Both need a default role: neither activates granted
roles at login unless told (MySQL 8 also has `activate_all_roles_on_login`;
DataJoint never runs `SET ROLE`). On MySQL 8 keep `partial_revokes` OFF (the
default): with it ON, `%` and `_` in a GRANT's schema name are literal.

Known exposure inherited from Spyglass: `SELECT ON `%`.*` also matches the
`mysql` system schema, so every role can read account rows (password hashes
included). Spyglass grants it the same way; a lab that cares should list the
readable prefixes instead.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from labhub.backup.mysql_accounts import BACKUP_PRIVILEGES

Dialect = Literal["mysql8", "mariadb"]
DIALECTS: tuple[Dialect, ...] = ("mysql8", "mariadb")
RoleName = Literal["guest", "collab", "user", "admin"]

ROLES: dict[RoleName, str] = {"guest": "dj_guest", "collab": "dj_collab", "user": "dj_user", "admin": "dj_admin"}
# Roles whose members own their `<name>_` prefix (Spyglass: collab, user, admin; not guest).
OWNS_PREFIX: frozenset[RoleName] = frozenset({"collab", "user", "admin"})

# Spyglass's SHARED_MODULES as of PR #832 (anchors §4.3).
DEFAULT_SHARED_MODULES: tuple[str, ...] = (
    "behavior", "common", "decoding", "figurl", "lfp", "linearization",
    "mua", "position", "ripple", "sharing", "spikesorting",
)  # fmt: skip
# Spyglass #1065: dj_user gets every privilege on shared prefixes except CREATE.
SHARED_PRIVILEGES_WITHOUT_CREATE = "SELECT, INSERT, UPDATE, DELETE, ALTER, DROP, INDEX, REFERENCES, LOCK TABLES"
# The backup account gets exactly what the backup tool's dump needs (labhub.backup.mysql_accounts
# says why each one): no PROCESS or RELOAD (the tool dumps with --single-transaction and
# --no-tablespaces, so it takes no global lock and reads no tablespace metadata), no write privilege.

MAX_USER_NAME = 32  # MySQL 8's limit on account names (MariaDB allows 128; the lab runs MySQL).
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_ACCOUNT = re.compile(r"[a-z][a-z0-9_-]*")  # the backup account may be spelled like Spyglass's `mysql-backup`
RESERVED_ACCOUNTS = frozenset(
    {"root", "mysql", "mariadb", "public", "none", *ROLES.values(), "mysql.sys", "mysql.session", "mysql.infoschema", "mariadb.sys"}
)


def _check(value: str, pattern: re.Pattern[str], what: str, limit: int) -> str:
    if not pattern.fullmatch(value) or len(value) > limit:
        allowed = "lower-case letters, digits and '_'" + (" or '-'" if pattern is _ACCOUNT else "")
        raise ValueError(f"{what} {value!r} is not allowed: use {allowed}, starting with a letter, at most {limit} characters")
    if value in RESERVED_ACCOUNTS:
        raise ValueError(f"{what} {value!r} is reserved (a system account or a DataJoint role)")
    return value


def check_user_name(value: str) -> str:
    """A lab user's name: an account name and a schema prefix, so nothing SQL could read as syntax."""
    return _check(value, _NAME, "user name", MAX_USER_NAME)


def check_module_name(value: str) -> str:
    """A shared module's schema prefix (`common` grants `common\\_%`)."""
    return _check(value, _NAME, "module name", 64)


def check_account_name(value: str) -> str:
    """An account that owns no schema prefix (the backup user): '-' is allowed as well."""
    return _check(value, _ACCOUNT, "account name", MAX_USER_NAME)


UserName = Annotated[str, AfterValidator(check_user_name)]
ModuleName = Annotated[str, AfterValidator(check_module_name)]
AccountName = Annotated[str, AfterValidator(check_account_name)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, frozen=True)


class LabUser(_Model):
    """One lab member's database account."""

    name: UserName = Field(description="Account name, also the prefix of the user's own schemas (`<name>_...`).")
    role: RoleName = Field(description="guest (read only), collab (own prefix), user (own prefix + shared modules), admin (everything).")


class RolesSpec(_Model):
    """What the lab database's roles and accounts should be; the input of `role_statements`."""

    shared_modules: tuple[ModuleName, ...] = Field(
        DEFAULT_SHARED_MODULES, description="Schema prefixes shared by the lab (Spyglass's modules); dj_user may write to them."
    )
    dj_user_can_create: bool = Field(
        False, description="Let dj_user CREATE tables in shared modules. Off, as Spyglass runs it since #1065: an admin declares shared tables."
    )
    users: tuple[LabUser, ...] = Field((), description="Lab members: name and role. Each gets a generated password in its own Secret.")
    backup_user: AccountName | None = Field(
        "labhub_backup", description="Account the backup CronJob dumps with: read-only, the least a consistent dump needs. null: none."
    )
    cleanup_user: AccountName | None = Field(
        None,
        description="Account the lab's file cleanup (Backups cleanup CronJob) connects as: dj_user, without a prefix of its own. "
        "Set to labhub_cleanup when backups.cleanup is on and names no database of its own (docs/backups.md).",
    )
    retired_users: tuple[UserName, ...] = Field(
        (),
        description="Former lab members: their accounts are locked (no login), their schemas and data kept. Listing a name in users again unlocks it.",
    )

    @model_validator(mode="after")
    def _names_do_not_collide(self) -> RolesSpec:
        names = [u.name for u in self.users]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"user {duplicates[0]!r} is listed more than once")
        if self.backup_user is not None and self.backup_user in names:
            raise ValueError(f"backup user {self.backup_user!r} is also a lab user; give the backup account its own name")
        if self.cleanup_user is not None and self.cleanup_user in [*names, self.backup_user]:
            raise ValueError(f"cleanup user {self.cleanup_user!r} is also a lab user or the backup user; give the cleanup account its own name")
        both = sorted(set(names) & set(self.retired_users))
        if both:
            raise ValueError(f"user {both[0]!r} is listed in both users and retiredUsers")
        # (prefix, how to name it, owned by one user?)
        prefixes = [(u.name, f"user {u.name!r}", True) for u in self.users if u.role in OWNS_PREFIX]
        prefixes += [(m, f"shared module {m!r}", False) for m in self.shared_modules]
        for a, a_label, a_user in prefixes:
            for b, b_label, b_user in prefixes:
                if not (a_user or b_user) or a_label == b_label:
                    continue  # shared modules may nest (position, position_linearization): all are shared anyway
                if a == b:
                    raise ValueError(f"{a_label} and {b_label} have the same schema prefix; rename the user")
                if b.startswith(a + "_"):
                    raise ValueError(f"{a_label}'s prefix {a}_ covers every schema of {b_label}; rename one of them")
        return self


def schema_pattern(prefix: str) -> str:
    """The GRANT schema pattern for `<prefix>_...`: backticked, with `_` and `%` escaped inside the prefix."""
    escaped = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%")
    return f"`{escaped}\\_%`"


def account(name: str) -> str:
    """A lab account as MySQL spells it: any host (pods reach the database from changing addresses)."""
    return f"'{name}'@'%'"


def role(name: str) -> str:
    return f"'{name}'"


def role_statements(spec: RolesSpec, dialect: Dialect = "mysql8") -> list[str]:
    """The statements (without trailing ';') that make the server's roles and grants match `spec`.

    The accounts in `spec` must exist already (`labhub db apply-roles` creates them first);
    no statement here creates an account or carries a password.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    out = [f"CREATE ROLE IF NOT EXISTS {role(r)}" for r in ROLES.values()]
    shared = "ALL PRIVILEGES" if spec.dj_user_can_create else SHARED_PRIVILEGES_WITHOUT_CREATE
    grants: dict[str, list[str]] = {
        "dj_guest": ["SELECT ON `%`.*"],
        "dj_collab": ["SELECT ON `%`.*"],
        "dj_user": ["SELECT ON `%`.*", *(f"{shared} ON {schema_pattern(m)}.*" for m in spec.shared_modules)],
        "dj_admin": ["ALL PRIVILEGES ON `%`.*"],
    }
    for name, privileges in grants.items():
        out.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {role(name)}")
        out.extend(f"GRANT {p} TO {role(name)}" for p in privileges)
    for user in spec.users:
        out.extend(_user_statements(user, dialect))
    if spec.cleanup_user is not None:
        # Spyglass's cleanup deletes orphaned rows (and files) in shared-module schemas: dj_user's DELETE there,
        # nothing more (no prefix of its own, no CREATE, no admin).
        out.extend(_user_statements(LabUser.model_construct(name=spec.cleanup_user, role="user"), dialect, owns_prefix=False))
    if spec.backup_user is not None:
        out.append(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account(spec.backup_user)}")
        out.append(f"GRANT {BACKUP_PRIVILEGES} ON *.* TO {account(spec.backup_user)}")
        out.append(f"ALTER USER {account(spec.backup_user)} ACCOUNT UNLOCK")
    # A former member cannot log in any more; what they made stays (definers, schemas, data).
    out.extend(f"ALTER USER IF EXISTS {account(name)} ACCOUNT LOCK" for name in spec.retired_users)
    return out


def _user_statements(user: LabUser, dialect: Dialect, owns_prefix: bool = True) -> list[str]:
    who, granted = account(user.name), ROLES[user.role]
    out = [f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {who}"]  # MariaDB: roles go too
    if dialect == "mysql8":
        others = ", ".join(role(r) for r in ROLES.values() if r != granted)
        out.append(f"REVOKE IF EXISTS {others} FROM {who}")
    out.append(f"GRANT {role(granted)} TO {who}")
    keyword = "TO" if dialect == "mysql8" else "FOR"
    out.append(f"SET DEFAULT ROLE {role(granted)} {keyword} {who}")
    if owns_prefix and user.role in OWNS_PREFIX:
        out.append(f"GRANT ALL PRIVILEGES ON {schema_pattern(user.name)}.* TO {who}")
    out.append(f"ALTER USER {who} ACCOUNT UNLOCK")  # listed again after being retired
    return out


def accounts(spec: RolesSpec) -> list[str]:
    """Every account the statements grant to, in order: the lab users, the cleanup user, then the backup user."""
    service = [name for name in (spec.cleanup_user, spec.backup_user) if name is not None]
    return [u.name for u in spec.users] + service


HEADER = "-- labhub DataJoint roles, dialect {dialect}: review, then apply with `labhub db apply-roles` (or by hand)."
HEADER_2 = "-- The accounts granted to below must exist first; apply-roles creates them with passwords from their Secret files."


def render_sql(spec: RolesSpec, dialect: Dialect = "mysql8") -> str:
    """The printable script: a header naming the dialect, then one statement per line ending in ';'."""
    lines = [HEADER.format(dialect=dialect), HEADER_2]
    lines += [statement + ";" for statement in role_statements(spec, dialect)]
    return "\n".join(lines) + "\n"


def parse_sql(text: str) -> tuple[Dialect, list[str]]:
    """Read a script `render_sql` wrote back into its dialect and statements (what apply-roles runs).

    Only that format is accepted: comment lines, and one statement per line ending in ';'.
    """
    match = re.match(r"-- labhub DataJoint roles, dialect (\w+):", text)
    if not match or match.group(1) not in DIALECTS:
        raise ValueError("not a `labhub db roles-sql` script: its first line must name the dialect")
    statements = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("--"):
            continue
        if not line.endswith(";") or ";" in line[:-1]:
            raise ValueError(f"line {number}: expected one statement ending in ';'")
        statements.append(line[:-1])
    return match.group(1), statements  # type: ignore[return-value]
