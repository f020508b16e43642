"""A pytest hook: under CI (the CI variable set) a skipped integration test is a failure.

A machine without MariaDB or PostgreSQL used to skip the database tests and
report green. Outside CI (a developer without a server, say) it stays a skip,
listed by `-ra`. Registered by tests/conftest.py.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Under CI a skipped integration test fails: a missing server must not turn the suite green.

    Outside CI (a developer without MariaDB, say) it stays a skip, listed by `-ra`.
    """
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") and report.skipped and item.get_closest_marker("integration") is not None:
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"integration test skipped under CI (CI is set): {reason}"
