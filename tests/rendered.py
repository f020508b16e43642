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

from labhub.engine import PROJECT_DIR, RecordedResource, StackRun, run_stack


def of_type(run: StackRun, type_: str) -> list[RecordedResource]:
    """Every resource of `type_` the run registered."""
    return [r for r in run.resources if r.type == type_]


def the_one(run: StackRun, type_: str, name: str) -> RecordedResource:
    """The one resource of `type_` named `name` (LookupError if there is not exactly one)."""
    found = [r for r in run.resources if r.type == type_ and r.name == name]
    if len(found) != 1:
        raise LookupError(f"expected one {type_} named {name!r}, found {len(found)}")
    return found[0]


@functools.cache
def stack_run(stack: str) -> StackRun:
    """The whole program's run for `stack`, once per session."""
    return run_stack(stack, PROJECT_DIR)


def resource_inputs(stack: str, type_: str, name: str) -> dict[str, Any]:
    """One resource's inputs as the engine receives them (e.g. a StatefulSet's spec)."""
    return the_one(stack_run(stack), type_, name).inputs


@functools.cache
def chart_values(stack: str, release: str) -> dict[str, Any]:
    """The values of the chart `release` as the engine receives them (generated secrets unwrapped)."""
    run = stack_run(stack)
    (chart,) = [r for r in of_type(run, "kubernetes:helm.sh/v4:Chart") if r.inputs.get("name") == release]
    values = chart.inputs["values"]
    return integers(rpc.unwrap_rpc_secret(values) if rpc.is_rpc_secret(values) else values)


def integers(value: Any) -> Any:
    """The wire format carries every number as a double; 999 was an integer in the program (as render writes it)."""
    if isinstance(value, dict):
        return {k: integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integers(v) for v in value]
    return int(value) if isinstance(value, float) and value.is_integer() else value


def singleuser(stack: str, release: str = "spyglass") -> dict[str, Any]:
    return chart_values(stack, release)["singleuser"]


@functools.cache
def manifest(stack: str, type_: str, namespace: str) -> dict[str, Any]:
    """The one Kubernetes object of `type_` in `namespace`, its inputs as the engine receives them for `stack` (secrets still wrapped)."""
    run = run_stack(stack, PROJECT_DIR)
    (resource,) = [r for r in of_type(run, type_) if r.inputs["metadata"].get("namespace") == namespace]
    return resource.inputs


def namespaced_objects(run: StackRun, type_: str, namespace: str) -> dict[str, dict[str, Any]]:
    """The inputs of every `type_` object in `namespace`, by name, with the integers the program wrote."""
    return {r.inputs["metadata"]["name"]: integers(r.inputs) for r in of_type(run, type_) if r.inputs["metadata"].get("namespace") == namespace}
