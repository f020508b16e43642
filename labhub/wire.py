"""Engine-side values as plain JSON data: the one converter for everything that leaves the mock engine.

Recorded inputs carry the SDK's secret wrappers and, in builders' output, may
hold objects JSON has no word for (a pulumi Output before resolution). The
analyzer (`labhub policy-check`) and the chart schema check
(`labhub.z2jh_schema`) both need the data as the receiving end would see it:
secrets unwrapped, mappings and lists rebuilt, anything else turned into a
string by `other`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pulumi.runtime import rpc


def plain(value: Any, other: Callable[[Any], Any] = str) -> Any:
    """`value` with secrets unwrapped and only JSON-shaped data; `other` converts anything else."""
    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value), other)
    if isinstance(value, Mapping):
        return {str(k): plain(v, other) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, other) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return other(value)
