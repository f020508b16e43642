"""What the program renders for a stack, for tests that drive a real system with exactly those settings.

A production-path test (a real MariaDB started with the sidecar's options, the
init container's command run with its capabilities) takes its container specs
from here, not from a retyped copy: the whole program runs for the stack under
the offline engine, as `labhub render` runs it, once per test session.
"""

from __future__ import annotations

import functools
from typing import Any

from pulumi.runtime import rpc

from labhub.engine import PROJECT_DIR, run_stack


@functools.cache
def chart_values(stack: str, release: str) -> dict[str, Any]:
    """The values of the chart `release` as the engine receives them (generated secrets unwrapped)."""
    run = run_stack(stack, PROJECT_DIR)
    (chart,) = [r for r in run.by_type("kubernetes:helm.sh/v4:Chart") if r.inputs.get("name") == release]
    values = chart.inputs["values"]
    return _integers(rpc.unwrap_rpc_secret(values) if rpc.is_rpc_secret(values) else values)


def _integers(value: Any) -> Any:
    """The wire format carries every number as a double; 999 was an integer in the program (as render writes it)."""
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def singleuser(stack: str, release: str = "spyglass") -> dict[str, Any]:
    return chart_values(stack, release)["singleuser"]
