"""`labhub:backups`: what the backup CronJobs rely on is checked at parse time, one line naming the key.

Invariant: a schedule cron would reject, a database listed twice, a backup
image that cannot be built or pulled, a cleanup job without its database
connection, or an enabled component with nothing to do stops `labhub render`
with one line; a plain, complete section is accepted with the documented defaults.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, parse_stack_config

DB = {"name": "lab-mysql", "kind": "mysql", "host": "lab-mysql.spyglass.svc", "credentialsFrom": "lab-mysql-backup"}


def _error(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({"labhub:backups": json.dumps(section)})
    return str(caught.value)


@pytest.mark.parametrize(
    ("section", "line"),
    [
        pytest.param(
            {"enabled": True, "registry": "r.example"},
            "labhub:backups: enabled but there is nothing to do: list databases, enable labDatabase or xnatHub (backed up by default) or enable cleanup",
            id="nothing-to-do",
        ),
        pytest.param(
            {"enabled": True, "databases": [DB]}, "labhub:backups: needs either image (prebuilt) or registry (to push the built image)", id="no-image"
        ),
        pytest.param(
            {"schedule": "daily"}, "labhub:backups: schedule 'daily' must be a five-field cron schedule, e.g. '30 2 * * *'", id="bad-schedule"
        ),
        pytest.param({"databases": [DB, DB]}, "labhub:backups: databases: name 'lab-mysql' is used twice", id="duplicate-database"),
        pytest.param(
            {"databases": [{**DB, "kind": "oracle"}]},
            "labhub:backups.databases.0.kind: 'oracle' is not allowed: Input should be 'mysql' or 'postgres'",
            id="unknown-kind",
        ),
        pytest.param(
            {"databases": [{**DB, "name": "a" * 31}]},
            "labhub:backups.databases.0: name '" + "a" * 31 + "' is longer than 30 characters (CronJob names are at most 52)",
            id="name-too-long",
        ),
        pytest.param(
            {"cleanup": {"enabled": True, "image": "spyglass:1.0"}},
            "labhub:backups.cleanup: cleanup is enabled but cleanup.databaseHost, cleanup.credentialsFrom is not set",
            id="cleanup-without-connection",
        ),
        pytest.param(
            {"databases": [{**DB, "namespace": "Lab_DB"}]},
            "labhub:backups.databases.0.namespace: 'Lab_DB' is not allowed: must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters",
            id="bad-namespace",
        ),
        pytest.param(
            {"databases": [{**DB, "scratchImage": "mysql"}]},
            "labhub:backups.databases.0.scratchImage: 'mysql' is not allowed: must pin a tag or digest",
            id="unpinned-scratch-image",
        ),
    ],
)
def test_a_bad_section_is_one_line_naming_the_key(section: dict[str, Any], line: str) -> None:
    assert line in _error(section)


def test_a_complete_section_gets_the_documented_defaults() -> None:
    config = parse_stack_config({"labhub:backups": json.dumps({"enabled": True, "registry": "r.example", "databases": [DB]})}).backups
    (db,) = config.databases
    assert (db.server_port, db.credentials_key, db.scratch) == (3306, "my.cnf", "mysql:8.0.40")
    assert (config.schedule, config.verify_schedule, config.cleanup.schedule) == ("30 2 * * *", "30 5 * * 0", "0 4 * * 1")
    assert (config.retention.daily, config.retention.weekly, config.retention.monthly) == (7, 4, 6)


LAB_DATABASE = {"enabled": True, "registry": "r.example"}
BACKUPS = {"enabled": True, "registry": "r.example"}


def _stack(backups: dict[str, Any], lab_database: dict[str, Any]) -> Any:
    return parse_stack_config({"labhub:backups": json.dumps(backups), "labhub:labDatabase": json.dumps(lab_database)})


def test_unlisted_databases_default_to_the_lab_mysql_backed_up_in_its_own_namespace() -> None:
    config = _stack(BACKUPS, {**LAB_DATABASE, "namespace": "labdb", "name": "mysql", "image": "mysql:8.0.44"}).backups
    (db,) = config.databases
    assert (db.name, db.kind, db.host, db.server_port) == ("mysql", "mysql", "mysql.labdb.svc.cluster.local", 3306)
    assert (db.namespace, db.credentials_from, db.pod_labels, db.scratch) == (
        "labdb",
        "mysql-backup",
        {"labhub.io/lab-db-client": "true"},
        "mysql:8.0.44",
    )
    assert config.namespaces == ["labdb"]


@pytest.mark.parametrize(
    ("backups", "lab_database", "names"),
    [
        pytest.param({**BACKUPS, "databases": [DB]}, LAB_DATABASE, ["lab-mysql"], id="listed-databases-are-kept-as-listed"),
        pytest.param(
            {**BACKUPS, "databases": [], "cleanup": {"enabled": True, "image": "s:1", "databaseHost": "h:3306", "credentialsFrom": "dj"}},
            LAB_DATABASE,
            [],
            id="an-empty-list-means-none",
        ),
        pytest.param(
            {**BACKUPS, "cleanup": {"enabled": True, "image": "s:1", "databaseHost": "h:3306", "credentialsFrom": "dj"}},
            {"enabled": False},
            [],
            id="lab-database-off",
        ),
    ],
)
def test_only_an_unlisted_databases_key_takes_the_defaults(backups: dict[str, Any], lab_database: dict[str, Any], names: list[str]) -> None:
    assert [db.name for db in _stack(backups, lab_database).backups.databases] == names


@pytest.mark.parametrize(
    ("lab_database", "line"),
    [
        pytest.param(
            {**LAB_DATABASE, "roles": {"backupUser": None}},
            "labhub:backups: enabled but there is nothing to do: list databases, enable labDatabase or xnatHub (backed up by default) or enable cleanup",
            id="no-backup-account",
        ),
        pytest.param(
            {"enabled": True},
            "labhub:labDatabase: needs either toolsImage (prebuilt) or registry (to push the built roles-tool image)",
            id="lab-database-invalid-reported-once-by-its-own-section",
        ),
    ],
)
def test_without_a_lab_mysql_to_default_to_the_error_is_one_line(lab_database: dict[str, Any], line: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _stack(BACKUPS, lab_database)
    assert line in str(caught.value).splitlines()
