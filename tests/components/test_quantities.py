"""Kubernetes quantities: parsed as the API server does, and a bad one refused naming the value.

Invariant: every size in a stack file is either the number of bytes (or cores)
Kubernetes would read, or a ValueError that quotes the bad text.
"""

from __future__ import annotations

import re

import pytest

from components.quantities import parse_cpu_quantity, parse_memory_quantity

MiB, GiB = 2**20, 2**30


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("4Gi", 4 * GiB, id="Gi"),
        pytest.param("64Mi", 64 * MiB, id="Mi"),
        pytest.param("512Ki", 512 * 1024, id="Ki"),
        pytest.param("1G", 10**9, id="G"),
        pytest.param("3.4G", 3_400_000_000, id="decimal-G"),
        pytest.param("100M", 10**8, id="M"),
        pytest.param("1k", 1000, id="k"),
        pytest.param("1048576", MiB, id="plain-bytes"),
        pytest.param(268435456, 256 * MiB, id="int-bytes"),
        pytest.param("1.5Gi", 3 * GiB // 2, id="fractional-Gi"),
    ],
)
def test_memory_quantities_parse_to_bytes(text: str | int, expected: int) -> None:
    assert parse_memory_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("4GB", id="GB-is-not-kubernetes"),
        pytest.param("1K", id="upper-K-is-not-kubernetes"),
        pytest.param("4 Gi", id="inner-space"),
        pytest.param("", id="empty"),
        pytest.param("-1Gi", id="negative"),
        pytest.param("0", id="zero"),
        pytest.param("500m", id="milli-bytes"),
        pytest.param("lots", id="word"),
    ],
)
def test_bad_memory_quantities_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_memory_quantity(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("0.01", 0.01, id="decimal"),
        pytest.param("10m", 0.01, id="millicores"),
        pytest.param(1, 1, id="int"),
        pytest.param(1.0, 1, id="float"),
        pytest.param("1.5", 1.5, id="cores"),
        pytest.param("1m", 0.001, id="smallest"),
    ],
)
def test_cpu_quantities_parse_to_cores(text: str | int | float, expected: float) -> None:
    assert float(parse_cpu_quantity(text)) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("1Gi", id="memory-suffix"),
        pytest.param("0.0001", id="below-1m"),
        pytest.param("m", id="no-number"),
        pytest.param("-1", id="negative"),
        pytest.param("one", id="word"),
    ],
)
def test_bad_cpu_quantities_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        parse_cpu_quantity(text)


