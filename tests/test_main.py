"""The whole program, per stack: the components a stack enables, wired together, secrets kept secret.

Invariants checked on the real stack files: every resource belongs to a labhub
component or is a namespace; every Kubernetes object carries the standard
labels; every generated credential, every Kubernetes Secret, every chart values
object holding a credential and every credential stack output is a Pulumi secret
(the policy SDK cannot see secretness, so this is where it is proven).
"""

from __future__ import annotations

from typing import Any

from pulumi.runtime import rpc
from rendered import of_type

from labhub.engine import StackRun

COMPONENT_PREFIX = "labhub:components:"
CHART = "kubernetes:helm.sh/v4:Chart"


def _contains(value: Any, needles: frozenset[str]) -> bool:
    if isinstance(value, dict):
        return any(_contains(v, needles) for v in value.values())
    if isinstance(value, list):
        return any(_contains(v, needles) for v in value)
    return isinstance(value, str) and any(n in value for n in needles)


def test_every_resource_is_a_component_child_or_a_namespace(each_stack: StackRun) -> None:
    for resource in each_stack.resources:
        top_level = resource.parent_urn is None
        if top_level:
            assert resource.type.startswith(COMPONENT_PREFIX) or resource.type == "kubernetes:core/v1:Namespace", resource.urn


def test_every_kubernetes_object_carries_the_standard_labels(each_stack: StackRun) -> None:
    for resource in each_stack.resources:
        if resource.type.startswith("kubernetes:") and "helm.sh" not in resource.type:
            labels = resource.inputs["metadata"].get("labels", {})
            assert labels.get("app.kubernetes.io/part-of") == "labhub", f"{resource.urn}: missing app.kubernetes.io labels"
            assert "app.kubernetes.io/name" in labels and "app.kubernetes.io/component" in labels, resource.urn


def test_every_generated_credential_is_a_secret_wherever_it_is_used(each_stack: StackRun) -> None:
    generated = each_stack.secret_values
    assert generated
    for resource in each_stack.resources:
        for key, value in resource.inputs.items():
            if _contains(value, generated):
                assert rpc.is_rpc_secret(value), f"{resource.urn}: input {key!r} holds a credential but is not a Pulumi secret"


def test_every_kubernetes_secret_has_secret_data(each_stack: StackRun) -> None:
    secrets = of_type(each_stack, "kubernetes:core/v1:Secret")
    assert secrets
    for secret in secrets:
        payload = [secret.inputs[k] for k in ("stringData", "data") if k in secret.inputs]
        assert payload and all(rpc.is_rpc_secret(p) for p in payload), f"{secret.urn}: data must be a Pulumi secret"


def test_chart_values_holding_credentials_are_secret(each_stack: StackRun) -> None:
    charts = of_type(each_stack, CHART)
    assert charts
    for chart in charts:
        assert rpc.is_rpc_secret(chart.inputs["values"]), f"{chart.urn}: values hold hub tokens and must be secret"


def test_stack_outputs_with_credentials_are_secret(each_stack: StackRun) -> None:
    assert each_stack.outputs, "the stack exports nothing"
    for key, value in each_stack.outputs.items():
        if _contains(value, each_stack.secret_values):
            assert rpc.is_rpc_secret(value), f"stack output {key!r} holds a credential in plaintext"



def test_what_holds_the_labs_data_cannot_be_deleted_by_an_up_or_destroy(each_stack: StackRun) -> None:
    """Every Namespace labhub creates (its claims go with it) and every claim it creates itself is protected;
    nothing else is (a protected object cannot be replaced either, so protection is kept to data)."""
    holds_data = {"kubernetes:core/v1:Namespace", "kubernetes:core/v1:PersistentVolumeClaim"}
    assert {r.type for r in each_stack.resources} >= {"kubernetes:core/v1:Namespace"}
    for resource in each_stack.resources:
        assert resource.protect == (resource.type in holds_data), f"{resource.urn}: protect={resource.protect}"
