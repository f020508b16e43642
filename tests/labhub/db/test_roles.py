"""The roles SQL generator refuses unsafe names before producing SQL, and its script round-trips through the apply step's parser.

Invariant: no name that could leave a quoted string or identifier, shadow a
system account or DataJoint role, or make one prefix cover another user's
schemas ever reaches a statement; `_` inside a name is escaped in schema
patterns; the printed script carries no password and parses back into the
same statements; the two dialects differ only where MySQL 8 and MariaDB do.
"""

from __future__ import annotations

import pydantic
import pytest

from labhub.db.roles import LabUser, RolesSpec, parse_sql, render_sql, role_statements, schema_pattern


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("x'; DROP USER root; --", id="quote-breaks-string"),
        pytest.param("a`b", id="backtick-breaks-identifier"),
        pytest.param("a\\", id="backslash-escapes-closing-quote"),
        pytest.param("al%ce", id="wildcard-percent"),
        pytest.param("Alice", id="upper-case"),
        pytest.param("1lab", id="leading-digit"),
        pytest.param("a-b", id="dash-not-allowed-in-a-schema-prefix"),
        pytest.param("a" * 33, id="33-characters-over-mysql-limit"),
        pytest.param("", id="empty"),
        pytest.param("root", id="system-account"),
        pytest.param("dj_admin", id="a-datajoint-role"),
        pytest.param("mysql.sys", id="mysql-system-account"),
    ],
)
def test_a_user_name_that_is_not_a_plain_word_is_refused(name: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        RolesSpec(users=[LabUser(name=name, role="user")])
    assert caught.value.errors()[0]["loc"] == ("name",)


def test_a_32_character_user_name_is_accepted() -> None:
    assert RolesSpec(users=[LabUser(name="a" * 32, role="user")]).users[0].name == "a" * 32


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param(
            {"users": [{"name": "alice", "role": "user"}, {"name": "alice_lab", "role": "collab"}]}, "prefix alice_ covers", id="user-covers-user"
        ),
        pytest.param(
            {"users": [{"name": "common_x", "role": "collab"}]}, "prefix common_ covers every schema of user 'common_x'", id="module-covers-user"
        ),
        pytest.param({"users": [{"name": "lfp", "role": "user"}]}, "same schema prefix", id="user-equals-module"),
        pytest.param({"users": [{"name": "bob", "role": "user"}, {"name": "bob", "role": "guest"}]}, "more than once", id="duplicate-user"),
        pytest.param({"users": [{"name": "bob", "role": "user"}], "backupUser": "bob"}, "also a lab user", id="backup-user-is-a-lab-user"),
        pytest.param({"users": [{"name": "bob", "role": "user"}], "retiredUsers": ["bob"]}, "both users and retiredUsers", id="active-and-retired"),
        pytest.param({"retiredUsers": ["x' OR '1"]}, "user name", id="retired-name-with-quote"),
        pytest.param({"sharedModules": ["common", "it's"]}, "module name", id="module-name-with-quote"),
        pytest.param({"backupUser": "back'up"}, "account name", id="backup-name-with-quote"),
        pytest.param(
            {"cleanupUser": "labhub_backup"}, "cleanup user 'labhub_backup' is also a lab user or the backup user", id="cleanup-user-is-backup-user"
        ),
        pytest.param({"cleanupUser": "clean'up"}, "account name", id="cleanup-name-with-quote"),
        pytest.param({"users": [{"name": "bob", "role": "superuser"}]}, "'guest', 'collab', 'user' or 'admin'", id="unknown-role"),
    ],
)
def test_a_spec_whose_names_collide_or_break_out_is_refused(spec: dict, message: str) -> None:
    with pytest.raises(pydantic.ValidationError, match=message):
        RolesSpec.model_validate(spec)


def test_nested_shared_modules_and_a_guest_on_a_module_prefix_are_allowed() -> None:
    """Shared modules may nest (Spyglass has position and position_linearization); a guest owns no prefix."""
    spec = RolesSpec(shared_modules=("position", "position_linearization"), users=[LabUser(name="position_fan", role="guest")])
    assert [u.name for u in spec.users] == ["position_fan"]


@pytest.mark.parametrize(
    ("prefix", "pattern"),
    [
        pytest.param("alice", "`alice\\_%`", id="plain"),
        pytest.param("a_b", "`a\\_b\\_%`", id="underscore-in-name-is-literal"),
        pytest.param("position_linearization", "`position\\_linearization\\_%`", id="module-with-underscore"),
    ],
)
def test_schema_patterns_match_only_the_prefix_and_an_underscore(prefix: str, pattern: str) -> None:
    assert schema_pattern(prefix) == pattern


def test_dj_user_gets_every_privilege_but_create_on_shared_modules_unless_asked() -> None:
    without = role_statements(RolesSpec(shared_modules=("common",)))
    with_create = role_statements(RolesSpec(shared_modules=("common",), dj_user_can_create=True))
    assert "GRANT SELECT, INSERT, UPDATE, DELETE, ALTER, DROP, INDEX, REFERENCES, LOCK TABLES ON `common\\_%`.* TO 'dj_user'" in without
    assert "GRANT ALL PRIVILEGES ON `common\\_%`.* TO 'dj_user'" in with_create


def test_the_dialects_differ_only_in_default_role_and_role_revocation() -> None:
    spec = RolesSpec(users=[LabUser(name="alice", role="collab")])
    mysql8, mariadb = role_statements(spec, "mysql8"), role_statements(spec, "mariadb")
    assert sorted(set(mysql8) - set(mariadb)) == [
        "REVOKE IF EXISTS 'dj_guest', 'dj_user', 'dj_admin' FROM 'alice'@'%'",
        "SET DEFAULT ROLE 'dj_collab' TO 'alice'@'%'",
    ]
    assert sorted(set(mariadb) - set(mysql8)) == ["SET DEFAULT ROLE 'dj_collab' FOR 'alice'@'%'"]


def test_a_guest_owns_no_prefix_and_the_others_do() -> None:
    spec = RolesSpec(users=[LabUser(name=n, role=r) for n, r in [("gina", "guest"), ("carl", "collab"), ("ursula", "user"), ("ada", "admin")]])
    owned = [s for s in role_statements(spec) if s.startswith("GRANT ALL PRIVILEGES ON `") and s.endswith("'@'%'")]
    assert owned == [f"GRANT ALL PRIVILEGES ON `{n}\\_%`.* TO '{n}'@'%'" for n in ("carl", "ursula", "ada")]


@pytest.mark.parametrize("dialect", ["mysql8", "mariadb"])
def test_the_printed_script_parses_back_into_the_same_statements(dialect: str) -> None:
    spec = RolesSpec(users=[LabUser(name="alice", role="user"), LabUser(name="bob", role="guest")])
    assert parse_sql(render_sql(spec, dialect)) == (dialect, role_statements(spec, dialect))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("GRANT SELECT ON `%`.* TO 'x';\n", id="no-header"),
        pytest.param("-- labhub DataJoint roles, dialect oracle: x\n", id="unknown-dialect"),
        pytest.param("-- labhub DataJoint roles, dialect mysql8: x\nGRANT SELECT ON `%`.* TO 'x'\n", id="missing-semicolon"),
        pytest.param("-- labhub DataJoint roles, dialect mysql8: x\nDROP USER 'a'; DROP USER 'b';\n", id="two-statements-on-a-line"),
    ],
)
def test_a_script_not_in_the_printed_format_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_sql(text)
