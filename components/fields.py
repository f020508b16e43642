"""Constrained field types of the config models.

One definition each, so "4GB", an untagged image or `:latest` is refused the
same way (and with the same words) wherever a model takes such a value.
Quantities accept what YAML gives: `4Gi` is a string, `2147483648` an integer;
both are kept as the string Kubernetes receives.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

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


def split_image(ref: str) -> tuple[str, str]:
    """(name, tag) as z2jh's `image.name`/`image.tag` take them: z2jh joins them as `name:tag` when tag is set.

    `repo:1.2@sha256:...` -> (`repo`, `1.2@sha256:...`); a digest-only `repo@sha256:...`
    -> (`repo@sha256:...`, ``): an empty tag makes z2jh use the name as it is.
    """
    name, at, digest = ref.partition("@")
    repository, colon, tag = name.rpartition(":")
    if not colon or "/" in tag:  # no tag: the last ':' (if any) belonged to a registry port
        return ref, ""
    return repository, tag + at + digest


def _dns_label(value: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", value) or len(value) > 63:
        raise ValueError("must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 characters")
    return value


def _quantity_text(value: object) -> object:
    """YAML gives 2147483648 and 0.5 as numbers; a quantity is kept as the text Kubernetes takes."""
    if isinstance(value, bool):
        return value  # refused by the str type: `true` is no quantity
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format(value, "f").rstrip("0").rstrip(".") if value == value else str(value)
    return value


def _memory(value: str) -> str:
    parse_memory_quantity(value)
    return value


def _cpu(value: str) -> str:
    parse_cpu_quantity(value)
    return value


DnsLabel = Annotated[str, AfterValidator(_dns_label)]
MemoryQuantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_memory)]
CpuQuantity = Annotated[str, BeforeValidator(_quantity_text), AfterValidator(_cpu)]
PinnedImage = Annotated[str, AfterValidator(require_pinned_image)]
