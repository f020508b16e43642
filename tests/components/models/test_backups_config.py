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
        pytest.param({"enabled": True, "registry": "r.example"}, "labhub:backups: enabled but there is nothing to do: list databases or enable cleanup", id="nothing-to-do"),
        pytest.param({"enabled": True, "databases": [DB]}, "labhub:backups: needs either image (prebuilt) or registry (to push the built image)", id="no-image"),
        pytest.param({"schedule": "daily"}, "labhub:backups: schedule 'daily' must be a five-field cron schedule, e.g. '30 2 * * *'", id="bad-schedule"),
        pytest.param({"databases": [DB, DB]}, "labhub:backups: databases: name 'lab-mysql' is used twice", id="duplicate-database"),
        pytest.param({"databases": [{**DB, "kind": "oracle"}]}, "labhub:backups.databases.0.kind: 'oracle' is not allowed: Input should be 'mysql' or 'postgres'", id="unknown-kind"),
        pytest.param({"databases": [{**DB, "name": "a" * 31}]}, "labhub:backups.databases.0: name '" + "a" * 31 + "' is longer than 30 characters (CronJob names are at most 52)", id="name-too-long"),
        pytest.param({"cleanup": {"enabled": True, "image": "spyglass:1.0"}}, "labhub:backups.cleanup: cleanup is enabled but cleanup.databaseHost, cleanup.credentialsFrom is not set", id="cleanup-without-connection"),
        pytest.param({"databases": [{**DB, "scratchImage": "mysql"}]}, "labhub:backups.databases.0.scratchImage: 'mysql' is not allowed: must pin a tag or digest", id="unpinned-scratch-image"),
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
