"""tests/ci_skips.py: under CI a skipped integration test is a failure, elsewhere a listed skip.

Why: a machine without MariaDB used to skip the database tests and report green.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PLANTED = '''
import pytest

@pytest.mark.integration
def test_needs_a_server():
    pytest.skip("no server here")

def test_unit():
    pytest.skip("not an integration test")
'''


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str | None) -> pytest.RunResult:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    pytester.makeconftest("from ci_skips import pytest_runtest_makereport  # noqa: F401\n")
    pytester.makepyfile(test_planted=PLANTED)
    pytester.makeini("[pytest]\nmarkers =\n    integration: starts a real server\n")
    return pytester.runpytest_subprocess("-p", "no:cacheprovider")


def test_under_ci_a_skipped_integration_test_fails(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(pytester, monkeypatch, "true")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*integration test skipped under CI (CI is set): Skipped: no server here*"])


def test_outside_ci_it_stays_a_skip(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(pytester, monkeypatch, None).assert_outcomes(skipped=2)
