"""Constrained field types shared by the stack config and the value builders' settings.

One definition each, so "4GB", an untagged image or `:latest` is refused the
same way (and with the same words) wherever a model takes such a value.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from components.quantities import parse_cpu_quantity, parse_memory_quantity


def require_pinned_image(ref: str) -> str:
    """Refuse an image that is not pinned: no tag (which means latest) or the `latest` tag."""
    name, _, digest = ref.partition("@")
    tag = name.rsplit("/", 1)[-1].partition(":")[2]
    if not digest and not tag:
        raise ValueError("must pin a tag or digest (e.g. 'repo/image:1.2.3'); an untagged image means 'latest'")
    if tag.lower() == "latest":
        raise ValueError("must not use the 'latest' tag: pin a version so a deploy is repeatable")
    return ref


def _dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value) or len(value) > 63:
        raise ValueError("must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters")
    return value


def _memory(value: str) -> str:
    parse_memory_quantity(value)
    return value


def _cpu(value: str | int | float) -> str | int | float:
    parse_cpu_quantity(value)
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
MemoryQuantity = Annotated[str, AfterValidator(_memory)]
CpuQuantity = Annotated[str | int | float, AfterValidator(_cpu)]
PinnedImage = Annotated[str, AfterValidator(require_pinned_image)]
