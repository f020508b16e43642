"""Kubernetes resource quantities (memory and CPU), parsed the way the API server does.

Stack config carries sizes such as ``4Gi`` and ``0.01``; the sidecar's InnoDB
buffer pool is computed from the memory limit, so we need the byte value, and
a typo like ``4GB`` must fail at config time instead of at `kubectl apply`.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|)$")

MEMORY_EXAMPLES = "e.g. 512Mi, 4Gi, 1G or a plain number of bytes"
CPU_EXAMPLES = "e.g. 1, 0.5, 250m"


def _parse(value: str | int | float) -> tuple[Decimal, str]:
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    try:
        return Decimal(match["number"]), match["suffix"]
    except InvalidOperation as error:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from error


def parse_memory_quantity(value: str | int | float) -> int:
    """Bytes in a memory quantity (``4Gi`` -> 4294967296); ValueError names the bad value."""
    try:
        number, suffix = _parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a memory quantity ({MEMORY_EXAMPLES})") from None
    if suffix == "m":
        raise ValueError(f"{value!r} is not a memory quantity: 'm' means milli-bytes ({MEMORY_EXAMPLES})")
    multiplier = _BINARY.get(suffix) or _DECIMAL[suffix]
    result = int(number * multiplier)
    if result <= 0:
        raise ValueError(f"{value!r} is not a positive memory quantity ({MEMORY_EXAMPLES})")
    return result


def parse_cpu_quantity(value: str | int | float) -> Decimal:
    """Cores in a CPU quantity (``250m`` -> 0.25); ValueError names the bad value."""
    try:
        number, suffix = _parse(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a CPU quantity ({CPU_EXAMPLES})") from None
    if suffix not in ("", "m"):
        raise ValueError(f"{value!r} is not a CPU quantity: use cores or millicores ({CPU_EXAMPLES})")
    cores = number / 1000 if suffix == "m" else number
    if cores <= 0 or cores < Decimal("0.001"):
        raise ValueError(f"{value!r} is below the smallest CPU quantity, 1m ({CPU_EXAMPLES})")
    return cores
