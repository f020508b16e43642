"""Reading a credential from a mounted Secret file: the one way labhub's in-cluster tools take a password.

Shared by `labhub db apply-roles` and `labhub backup postgres ensure-role`, so
both treat the file alike (one trailing newline is not part of the value, an
empty file is an error) and neither ever echoes what it read.
"""

from __future__ import annotations

from pathlib import Path

from labhub.errors import UserError


def read_secret(path: Path, what: str) -> str:
    """A password from a mounted Secret file: one trailing newline (as `echo` leaves) is not part of it."""
    try:
        value = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {what} from {path}: {type(error).__name__}") from None
    value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise UserError(f"{what} in {path} is empty")
    return value
