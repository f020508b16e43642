"""File names: strict `{name}` patterns, safe path segments, and the next free name.

Why not `str.format`: the original filled template file names with
`path.format(**params)`, which hands format-spec semantics (`{x.__class__}`,
`{x:>999999}`) to whoever wrote the file name and lets a value such as
`../escaped` walk out of the user's folder. Here a pattern is parsed once into
literal text and `{identifier}` fields (`{{`/`}}` are literal braces, anything
else is refused when the template is loaded), and every filled-in value and
every resulting path segment is checked before any storage sees it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

MAX_SEGMENT_BYTES = 255
MAX_PATH_BYTES = 1024
MAX_SEGMENTS = 16
NOTEBOOK_SUFFIX = ".ipynb"

# Names Windows (and so a downloaded file, or an SMB-exported NFS home) cannot hold.
_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)
_FORBIDDEN_CHARS = frozenset('/\\<>:"|?*')
_ASCII_BAD = re.compile(r'[/\\<>:"|?*\x00-\x1f\x7f]')
_FIELD = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}|[{}]")


class NameError_(ValueError):
    """A file or folder name that would be unsafe or invalid (the user's input, a 400)."""


class PatternError(ValueError):
    """A template file name that is not a valid pattern (the template author's mistake)."""


def check_segment(segment: str, what: str = "file name") -> str:
    """Return `segment` if it is one safe path component, else raise NameError_ saying why."""
    if not segment:
        raise NameError_(f"the {what} is empty")
    if segment in (".", "..") or segment.startswith("."):
        raise NameError_(f'the {what} "{_shown(segment)}" starts with a dot')
    if segment.isascii():  # fast path: one regex instead of a per-character category lookup
        bad = sorted(set(_ASCII_BAD.findall(segment)))
    else:
        bad = sorted({c for c in segment if c in _FORBIDDEN_CHARS or unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")})
    if bad:
        listed = " ".join(repr(c) for c in bad[:5])
        raise NameError_(f'the {what} "{_shown(segment)}" contains characters a file name cannot hold: {listed}')
    if segment[-1] in " ." or segment[0] == " ":
        raise NameError_(f'the {what} "{_shown(segment)}" starts or ends with a space or ends with a dot')
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise NameError_(f"the {what} is longer than {MAX_SEGMENT_BYTES} bytes")
    if segment.split(".", 1)[0].strip().lower() in _RESERVED:
        raise NameError_(f'the {what} "{_shown(segment)}" is a reserved device name')
    return segment


def check_relative_path(path: str, what: str = "path") -> list[str]:
    """Split a `/`-separated relative path into checked segments (no absolute paths, no `..`)."""
    if "\x00" in path:
        raise NameError_(f"the {what} contains a NUL character")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise NameError_(f"the {what} is longer than {MAX_PATH_BYTES} bytes")
    segments = path.split("/")
    if len(segments) > MAX_SEGMENTS:
        raise NameError_(f"the {what} has more than {MAX_SEGMENTS} folders")
    for segment in segments:
        check_segment(segment, what=f"{what} segment")
    return segments


def _shown(text: str, limit: int = 60) -> str:
    printable = "".join(c if c.isprintable() else "?" for c in text)
    return printable if len(printable) <= limit else printable[:limit] + "..."


def value_as_text(name: str, value: Any) -> str:
    """The text a parameter value contributes to a file name (scalars only)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value
    kind = "null" if value is None else type(value).__name__
    raise NameError_(f'the parameter "{name}" is a {kind} and cannot be used in a file name')


@dataclass(frozen=True)
class NamePattern:
    """A template's relative path with `{name}` fields, parsed once at load time."""

    parts: tuple[str | tuple[str], ...]  # literal text, or (field name,)

    @classmethod
    def parse(cls, pattern: str) -> NamePattern:
        """Parse `pattern`; raise PatternError for stray braces or a name not ending in .ipynb."""
        parts: list[str | tuple[str]] = []
        literal: list[str] = []
        position = 0
        for match in _FIELD.finditer(pattern):
            literal.append(pattern[position : match.start()])
            position = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
            elif match.group(1):
                if "".join(literal):
                    parts.append("".join(literal))
                literal = []
                parts.append((match.group(1),))
            else:
                raise PatternError(f"stray {token!r} in {pattern!r}: use {{name}} fields and {{{{ }}}} for braces")
        literal.append(pattern[position:])
        if "".join(literal):
            parts.append("".join(literal))
        result = cls(tuple(parts))
        if not isinstance(result.parts[-1], str) or not result.parts[-1].endswith(NOTEBOOK_SUFFIX):
            raise PatternError(f"{pattern!r} must end in {NOTEBOOK_SUFFIX} outside any field")
        return result

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p[0] for p in self.parts if isinstance(p, tuple)))

    def fill(self, params: dict[str, Any]) -> str:
        """The destination path for these params: every value and segment checked."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name = part[0]
            if name not in params:
                raise NameError_(f'the parameter "{name}" is missing (the template\'s file name uses it)')
            text = value_as_text(name, params[name])
            if "/" in text or "\\" in text or "\x00" in text:
                raise NameError_(f'the value of "{name}" contains a path separator or NUL')
            out.append(text)
        path = "".join(out)
        check_relative_path(path, what="notebook path")
        return path


def candidates(filename: str, limit: int = 10000, start: int = 0) -> Iterator[str]:
    """`name.ipynb`, then `name-1.ipynb`, `name-2.ipynb`, ... (from `start`), never more than `limit`."""
    stem, dot, suffix = filename.rpartition(".")
    if not dot:
        stem, suffix = filename, ""
    ext = f".{suffix}" if dot else ""
    for number in range(start, limit):
        yield filename if number == 0 else f"{stem}-{number}{ext}"


def content_disposition(filename: str) -> str:
    """An attachment header safe for any name: ASCII fallback plus RFC 6266/5987 UTF-8 form."""
    fallback = "".join(c if 0x20 < ord(c) < 0x7F and c not in '"\\;%' else "_" for c in filename) or "notebook.ipynb"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
