"""Validate z2jh chart values against the chart's own JSON schema (z2jh 4.4.0), offline.

Helm checks values.schema.json against the chart defaults merged with the
user's values, so the top-level `required` list only holds after that merge;
like upstream's verify/validate_values.py without --chart-values we drop it
and check only the keys given. Everything else applies: misspelled keys fail
(`additionalProperties: false` almost everywhere), as do wrong types.

The schema is the chart's own file, kept in this package (labhub/schemas/, with
its licence in NOTICE.md), so a clone or an installed package needs nothing else.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from labhub.json_schema import jsonschema
from labhub.wire import plain

CHART_VERSION = "4.4.0"  # the z2jh version whose schema is vendored; config accepts only this one
SCHEMA_FILE = f"z2jh-{CHART_VERSION}-values.schema.yaml"
UNKNOWN_PLACEHOLDER = "<unknown>"


def schema_path() -> Path:
    return Path(__file__).resolve().parent / "schemas" / SCHEMA_FILE


@functools.lru_cache(maxsize=4)
def _load(path: Path) -> dict[str, Any]:
    # libyaml's parser: the pure-Python one spends about 0.5 s on this 130 KB file, a third of a render.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 (a safe loader)
    schema.pop("required", None)  # met only after Helm merges the chart's defaults (see module docstring)
    return schema  # a valid Draft 7 schema: a test checks the vendored file, so a render need not


def _json_path(parts: Any) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)


def validate_z2jh_values(values: Mapping[str, Any]) -> list[str]:
    """Schema errors of `values`, each as '<JSON path>: <message>' (sorted); [] when valid."""
    validator = jsonschema.Draft7Validator(_load(schema_path()))
    errors = validator.iter_errors(plain(values, other=lambda _: UNKNOWN_PLACEHOLDER))
    return sorted(f"{_json_path(e.absolute_path)}: {e.message}" for e in errors)
