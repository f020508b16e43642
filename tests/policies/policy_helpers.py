"""Helpers for the policy tests (imported by name: a unique module, not conftest): run one policy on hand-built inputs, the way the analyzer would.

`run_policy` wraps the props in the SDK's unknown-checking proxy exactly as
`_PolicyAnalyzerServicer.Analyze` does, so a test that plants an unknown value
sees what a preview would.
"""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy import PolicyCustomTimeouts, PolicyResourceOptions, ResourceValidationArgs
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from policies.secret_rules import POLICIES

UNKNOWN = UNKNOWN_STRING_VALUE


def policy_named(name: str):
    """The policy object from the pack's POLICIES list, by its kebab-case name."""
    return next(p for p in POLICIES if p.name == name)


def resource_args(resource_type: str, props: dict[str, Any], name: str = "res",
                  config: dict[str, Any] | None = None) -> ResourceValidationArgs:
    """ResourceValidationArgs as the analyzer builds them (props behind the unknown-checking proxy)."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
    urn = f"urn:pulumi:test::labhub::{resource_type}::{name}"
    return ResourceValidationArgs(resource_type, unknown_checking_proxy(props), urn, name, opts, None, config)


def run_policy(policy, resource_type: str, props: dict[str, Any], config: dict[str, Any] | None = None,
               name: str = "res") -> list[str]:
    """Run one resource policy (object or name) and return the violation messages it reported, in order."""
    if isinstance(policy, str):
        policy = policy_named(policy)
    messages: list[str] = []
    policy.validate(resource_args(resource_type, props, name, config), lambda message, urn=None: messages.append(message))
    return messages


@pytest.fixture
def run():
    """The `run_policy` helper as a fixture."""
    return run_policy
