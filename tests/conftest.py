"""The shared test harness: the offline engine, stack runs cached per session, throwaway servers.

Every component and program test goes through `labhub.engine`, the same mock
engine `labhub render` and `labhub policy-check` use: recording mocks that
echo inputs, compute provider outputs and mark `additionalSecretOutputs`
secret as the engine does, with config read from the real stack files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from ci_skips import pytest_runtest_makereport  # noqa: F401  (under CI a skipped integration test fails)
from servers_mariadb import mariadb, mariadb_factory  # noqa: F401  (fixtures for every test folder)
from servers_postgres import postgres, postgres_factory  # noqa: F401

from labhub.engine import PROJECT_DIR, StackRun, run_stack, run_under_mocks

STACKS = ("dev", "prod")


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, StackRun]:
    """The whole program run once per stack file (dev, prod), as `labhub render` runs it."""
    return {stack: run_stack(stack, PROJECT_DIR) for stack in STACKS}


@pytest.fixture(params=STACKS)
def each_stack(request: pytest.FixtureRequest, stack_runs: dict[str, StackRun]) -> StackRun:
    """Parametrises a test over every stack file."""
    return stack_runs[request.param]


@pytest.fixture
def run_component() -> Callable[..., StackRun]:
    """Run a callable that builds components under fresh mocks; returns what it registered.

    The callable may stash the objects it built in a dict passed as `built` so the
    test can inspect their outputs (e.g. `is_secret()`) after the run.
    """

    def run(build: Callable[[dict[str, Any]], Any], config: dict[str, str] | None = None) -> tuple[StackRun, dict[str, Any]]:
        built: dict[str, Any] = {}
        result = run_under_mocks(lambda: build(built), config=config)
        return result, built

    return run
