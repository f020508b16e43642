"""Reading a credential from a mounted Secret file: the one way labhub's in-cluster tools take a password.

Shared by `labhub db apply-roles` and `labhub backup postgres ensure-role`, so
both treat the file alike (one trailing newline is not part of the value, an
empty file is an error) and neither ever echoes what it read; and the check
the backup tool makes of a credentials file it hands to a client program
(a MySQL option file, a libpq service file) without reading it itself.
"""

from __future__ import annotations

import os
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


def check_readable_file(path: Path, flag: str) -> Path:
    """A credentials file named by `flag` must exist and be readable by us; its content is never read or echoed here."""
    if not path.is_file():
        raise UserError(f"{flag} {path} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise UserError(f"{flag} {path} is not readable by this user")
    return path
