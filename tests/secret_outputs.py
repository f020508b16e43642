"""Whether an Output built during a finished mock run is a Pulumi secret (what the engine would encrypt)."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await


def is_secret_output(output: pulumi.Output[Any]) -> bool:
    return bool(_sync_await(output.is_secret()))
