"""Parameter names and values written as source code of the notebook's kernel language.

Why this module exists: the original server wrote every value with
`json.dumps`, so a Python notebook got `flag = true` (a NameError) and a dict
holding `null` was not Python at all; its C branch tested `int` before `bool`,
so booleans never became `bool`. Here each language renders every JSON value
(null, booleans, numbers, strings, lists, objects) as a literal its parser
reads back to the same value, or refuses it with `ParameterError` (a 400).

A name must be an identifier of that language and not a keyword, so the cell
can only ever assign variables: a name can never inject code.
"""

from __future__ import annotations

import keyword
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

MAX_NAME_LENGTH = 64


class ParameterError(ValueError):
    """A parameter name or value the notebook's language cannot take (the user's input, a 400)."""


@dataclass(frozen=True)
class Language:
    """How one kernel language names variables and spells values."""

    name: str
    is_identifier: Callable[[str], bool]
    render_cell: Callable[[dict[str, Any]], str]


# -- the languages whose values nest (Python, Julia, R) ------------------------


@dataclass(frozen=True)
class Spelling:
    """How a language spells each JSON value: its words for null and the booleans, its integers and strings,
    the brackets of lists and objects, and how a cell line assigns a value."""

    null: str
    true: str
    false: str
    integer: Callable[[int], str]
    string: Callable[[str], str]
    list_brackets: tuple[str, str]
    dict_brackets: tuple[str, str]
    pair: str  # "{key}" and "{value}" are filled in
    assignment: str  # "{name}" and "{value}" are filled in
    unset_comment: str = ""  # appended to a line whose value is null


def _literal(spelling: Spelling, value: Any) -> str:
    if value is None:
        return spelling.null
    if isinstance(value, bool):  # before int: True is an int
        return spelling.true if value else spelling.false
    if isinstance(value, int):
        return spelling.integer(value)
    if isinstance(value, float):
        return repr(value)  # finite (check_value), and every language here reads Python's shortest repr back exactly
    if isinstance(value, str):
        return spelling.string(value)
    if isinstance(value, list):
        opening, closing = spelling.list_brackets
        return opening + ", ".join(_literal(spelling, v) for v in value) + closing
    if isinstance(value, dict):
        opening, closing = spelling.dict_brackets
        pairs = (spelling.pair.format(key=spelling.string(k), value=_literal(spelling, v)) for k, v in value.items())
        return opening + ", ".join(pairs) + closing
    raise ParameterError(f"unsupported value type {type(value).__name__}")


def _cell_renderer(spelling: Spelling) -> Callable[[dict[str, Any]], str]:
    def render(params: dict[str, Any]) -> str:
        lines = []
        for name, value in params.items():
            comment = spelling.unset_comment if value is None else ""
            lines.append(spelling.assignment.format(name=name, value=_literal(spelling, value)) + comment)
        return "\n".join(lines)

    return render


def _quoted(text: str, escaped: str, control: Callable[[str], str]) -> str:
    """A double-quoted string: `escaped` characters get a backslash, newline and tab their usual escapes,
    and other control, format, surrogate and line/paragraph-separator characters `control(char)`."""
    out = ['"']
    for char in text:
        if char in escaped:
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(control(char))
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


# -- Python -------------------------------------------------------------------


def _python_identifier(name: str) -> bool:
    # Python folds identifiers with NFKC, so "ﬁle" would silently assign "file";
    # only names that are already in NFKC form are accepted.
    return name.isidentifier() and not keyword.iskeyword(name) and unicodedata.normalize("NFKC", name) == name


PYTHON = Spelling(
    null="None", true="True", false="False", integer=repr, string=repr,
    list_brackets=("[", "]"), dict_brackets=("{", "}"), pair="{key}: {value}", assignment="{name} = {value}",
)  # fmt: skip


# -- Julia --------------------------------------------------------------------

_JULIA_KEYWORDS = frozenset(
    ["baremodule", "begin", "break", "catch", "const", "continue", "do", "else", "elseif", "end", "export", "false", "finally", "for", "function", "global", "if", "import", "let", "local", "macro", "module", "quote", "return", "struct", "true", "try", "using", "while", "abstract", "mutable", "primitive", "type", "where", "outer", "public", "nothing", "missing"]
)


def _julia_identifier(name: str) -> bool:
    if name in _JULIA_KEYWORDS or unicodedata.normalize("NFC", name) != name:
        return False
    first, rest = name[:1], name[1:]
    if not (first == "_" or unicodedata.category(first).startswith("L")):
        return False
    return all(c in "_!" or unicodedata.category(c)[0] in "LN" for c in rest)


def _julia_string(text: str) -> str:
    return _quoted(text, '"\\$', lambda char: f"\\U{ord(char):08x}")


def _julia_integer(value: int) -> str:
    return str(value) if -(2**63) <= value < 2**63 else f'parse(BigInt, "{value}")'


JULIA = Spelling(
    null="nothing", true="true", false="false", integer=_julia_integer, string=_julia_string,
    list_brackets=("Any[", "]"), dict_brackets=("Dict{String,Any}(", ")"), pair="{key} => {value}",
    assignment="{name} = {value}", unset_comment=" # not set",
)  # fmt: skip


# -- R ------------------------------------------------------------------------

_R_KEYWORDS = frozenset(
    ["if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE", "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_", "NA_complex_", "in"]
)
_R_NAME = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*\Z")


def _r_identifier(name: str) -> bool:
    return bool(_R_NAME.match(name)) and name not in _R_KEYWORDS and not re.fullmatch(r"\.\.(\.|[0-9]+)", name)


def _r_control(char: str) -> str:
    if ord(char) == 0:
        raise ParameterError("R strings cannot hold the NUL character")
    return f"\\U{{{ord(char):x}}}"


def _r_string(text: str) -> str:
    return _quoted(text, '"\\', _r_control)


def _r_integer(value: int) -> str:
    return f"{value}L" if -(2**31) < value < 2**31 else repr(float(value))


R = Spelling(
    null="NULL", true="TRUE", false="FALSE", integer=_r_integer, string=_r_string,
    list_brackets=("list(", ")"), dict_brackets=("list(", ")"), pair="{key} = {value}", assignment="{name} <- {value}",
)  # fmt: skip


# -- C ------------------------------------------------------------------------

_C_KEYWORDS = frozenset(
    ["auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "bool", "true", "false", "alignas", "alignof", "atomic_bool", "NULL", "main"]
)
_C_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _c_identifier(name: str) -> bool:
    # Names starting with "__" or "_X" are reserved for the implementation.
    return bool(_C_NAME.match(name)) and name not in _C_KEYWORDS and not re.match(r"_[A-Z_]", name)


def _c_string(text: str) -> str:
    out = ['"']
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F and char != "?":  # "?" avoids trigraphs
            out.append(char)
        elif byte == 0:
            raise ParameterError("C strings cannot hold the NUL character")
        else:
            out.append(f"\\{byte:03o}")  # three octal digits: never swallows the next character
    out.append('"')
    return "".join(out)


def _c_declaration(name: str, value: Any) -> str:
    # bool is tested before int: in Python, True is an int (the original's bug).
    if value is None:
        return f"int {name} = 0; /* not set */"
    if isinstance(value, bool):
        return f"bool {name} = {'true' if value else 'false'};"
    if isinstance(value, int):
        if -(2**31) <= value < 2**31:
            return f"int {name} = {value};"
        if -(2**63) <= value < 2**63:
            return f"long long {name} = {value}LL;" if value != -(2**63) else f"long long {name} = ({value + 1}LL - 1);"
        raise ParameterError(f'the value of "{name}" does not fit in a C long long')
    if isinstance(value, float):
        return f"double {name} = {repr(value)};"
    if isinstance(value, str):
        return f"const char* {name} = {_c_string(value)};"
    raise ParameterError(f'C notebooks take strings, numbers, booleans and null; "{name}" is a {_json_kind(value)}')


def _c_cell(params: dict[str, Any]) -> str:
    lines = [_c_declaration(name, value) for name, value in params.items()]
    if any(isinstance(v, bool) for v in params.values()):
        lines.insert(0, "#include <stdbool.h>")
    return "\n".join(lines)


def _json_kind(value: Any) -> str:
    names: dict[type, str] = {list: "list", dict: "object"}
    return names.get(type(value), type(value).__name__)


# -- registry -----------------------------------------------------------------

LANGUAGES: dict[str, Language] = {
    "python": Language("python", _python_identifier, _cell_renderer(PYTHON)),
    "julia": Language("julia", _julia_identifier, _cell_renderer(JULIA)),
    "r": Language("r", _r_identifier, _cell_renderer(R)),
    "c": Language("c", _c_identifier, _c_cell),
}


def language_for(name: str) -> Language | None:
    """The language registered under a kernelspec language name (case-insensitive), or None."""
    return LANGUAGES.get(name.strip().lower())


def check_value(value: Any, depth: int = 0) -> None:
    """Refuse values no language can spell: NaN/infinity, non-string keys, absurd nesting."""
    if depth > 32:
        raise ParameterError("parameter values are nested too deeply")
    if isinstance(value, float) and not math.isfinite(value):
        raise ParameterError("parameter values must be finite numbers")
    if isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ParameterError("object keys must be strings")
            check_value(item, depth + 1)
    elif not (value is None or isinstance(value, (bool, int, float, str))):
        raise ParameterError(f"unsupported value type {type(value).__name__}")


def render_cell(language: Language, params: dict[str, Any]) -> str:
    """The parameters cell's source: one assignment per parameter, names checked first."""
    for name in params:
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH or not language.is_identifier(name):
            shown = name if isinstance(name, str) and len(name) <= MAX_NAME_LENGTH else f"{str(name)[:MAX_NAME_LENGTH]}..."
            raise ParameterError(f'"{shown}" is not a valid {language.name} variable name')
        check_value(params[name])
    return language.render_cell(params)
