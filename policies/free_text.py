"""Credentials in free text: config files, code, annotations, command lines, stack outputs.

A credential hides in text in two ways, and each gets the tool that fits it:

* by its *shape* (a private key, an AWS key, a JWT, a vendor token): found by
  detect-secrets' plugins (`policies.detectors`), whatever surrounds it;
* by its *name*: `password: x`, `{"db_pw": "x"}`, `c.Authenticator.password =
  'x'`, `<password>x</password>`, `Password=x;`, `?password=x`,
  `Authorization: Bearer x`. The text is parsed with the parser of its format
  (YAML, which reads JSON too; Python's `ast`; XML; key=value lines as in .env,
  INI, properties and TOML; `;`/`&`/space separated pairs as in connection
  strings, DSNs and query strings; shell words for command lines), and every
  (name, value) pair is judged by the pack's one name classifier
  (`policies.matching.NameMatcher`): a literal under a credential name is a
  finding, and so is a random-looking value under a name that merely mentions
  one (`PASSWORD_SALT`). `{name: X, value: Y}` objects (Kubernetes env,
  XML properties) pair X with Y.

Plus URLs with a password in their user info, of any scheme, including
passwords with `#` or `/` and an empty user (`redis://:pw@host`); strings
nested in parsed documents and whole-value base64 are scanned again, a few
levels deep. Findings say what and where in the text, never the value.
"""

from __future__ import annotations

import ast
import base64
import binascii
import contextlib
import re
from collections.abc import Iterator, Sequence
from typing import Any
from xml.etree import ElementTree

import yaml

from policies import command_line
from policies.detectors import credential_shapes, is_high_entropy
from policies.matching import NameMatcher, is_literal

MAX_DEPTH = 3
MAX_TEXT = 200_000  # larger values are data, not configuration: shapes only
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_URL_END_RE = re.compile(r"[\s'\"<>`]")
_LINE_ASSIGNMENT_RE = re.compile(
    r"""^[ \t]*(?:export[ \t]+|set[ \t]+)?["']?(?P<name>[A-Za-z_][\w.\-]*)["']?[ \t]*(?::=|=|:)[ \t]*(?P<value>.*?)[ \t]*;?$""",
    re.MULTILINE)
_PAIR_SEPARATORS_RE = re.compile(r"[\s;&?,]+")
_CODE_RE = re.compile(r"[()\[\]{}]|^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_BASE64_RE = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")
_BASE64_TOKEN_RE = re.compile(r"(?<![\w+/=])[A-Za-z0-9+/]{12,}={0,2}(?![\w+/=])")
_USER_PASSWORD_RE = re.compile(r"[^:\s]{1,64}:[^\s]{4,}")
_WORD_PAIR_RE = re.compile(r"^[ \t]*(?P<name>[A-Za-z_][\w.\-]*)[ \t]+(?P<value>[^\s=:]\S*)[ \t]*$", re.MULTILINE)
_NETRC_RE = re.compile(r"\b(?:login|account)\s+\S+\s+password\s+(?P<value>\S+)")


def url_passwords(text: str) -> list[str]:
    """Literal passwords in URL user info (`scheme://user:password@host`); references excluded."""  # pragma: allowlist secret
    found = []
    for match in _SCHEME_RE.finditer(text):
        rest = text[match.end():]
        end = _URL_END_RE.search(rest)
        chunk = rest[: end.start()] if end else rest
        nested = _SCHEME_RE.search(chunk)
        chunk = chunk[: nested.start()] if nested else chunk
        userinfo, at, _ = chunk.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if not (at and colon and password) or any(c in user for c in "/?#"):
            continue
        if re.match(r"\d+(/|$)", password) and "/" in password:  # host:port/path@... is not user info
            continue
        if is_literal(password):
            found.append(password)
    return found


def _unquote(raw: str) -> str | None:
    """The value of an unparsed `name = value`: the quoted string, or the first word if it is not code."""
    if raw[:1] in ("'", '"'):
        return raw[1:].split(raw[0], 1)[0]
    if not raw or _CODE_RE.search(raw):
        return None
    return re.split(r"[\s#;,]", raw, maxsplit=1)[0]


def _document_pairs(node: Any) -> Iterator[tuple[str, str]]:
    """(key, scalar) pairs of a parsed YAML/JSON document, and `{name|key: X, value: Y}` as (X, Y)."""
    if isinstance(node, dict):
        label = node.get("name", node.get("key"))
        if isinstance(label, str) and isinstance(node.get("value"), (str, int, float)):
            yield label, str(node["value"])
        for key, value in node.items():
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                yield str(key), str(value)
            else:
                yield from _document_pairs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _document_pairs(item)


def _python_name(target: ast.expr) -> str | None:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
        return str(target.slice.value)
    return None


def _python_pairs(tree: ast.AST) -> Iterator[tuple[str, str]]:
    """Assignments, keyword arguments, dict entries and `environ.setdefault(k, v)` with string constants."""
    def text(node: ast.AST | None) -> str | None:
        return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None

    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and text(node.value) is not None:
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if (name := _python_name(target)) is not None:
                    yield name, text(node.value) or ""
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg and text(keyword.value) is not None:
                    yield keyword.arg, text(keyword.value) or ""
            if len(node.args) == 2 and text(node.args[0]) is not None and text(node.args[1]) is not None:
                yield text(node.args[0]) or "", text(node.args[1]) or ""
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if text(key) is not None and text(value) is not None:
                    yield text(key) or "", text(value) or ""


def _xml_pairs(text: str) -> Iterator[tuple[str, str]]:
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if element.text and element.text.strip() and not len(element):
            yield tag, element.text.strip()
        yield from element.attrib.items()
        label = element.attrib.get("name", element.attrib.get("key"))
        if label is not None and "value" in element.attrib:
            yield label, element.attrib["value"]


def pairs(text: str, *, python: bool = False) -> Iterator[tuple[str, str]]:
    """Every (name, value) pair the text's formats reveal; `python` says the text is code (z2jh extraConfig)."""
    stripped = text.strip()
    if not python and (":" in text or stripped[:1] in "[{"):
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError:
            document = None
        if isinstance(document, (dict, list)):
            yield from _document_pairs(document)
    with contextlib.suppress(SyntaxError, ValueError):  # not Python: the other formats still apply
        yield from _python_pairs(ast.parse(text))
    if stripped.startswith("<"):
        yield from _xml_pairs(stripped)
    if python:
        return  # the AST saw every literal; an unquoted right-hand side is code
    for match in _LINE_ASSIGNMENT_RE.finditer(text):
        if (value := _unquote(match["value"])) is not None:
            yield match["name"], value
    for match in _WORD_PAIR_RE.finditer("" if stripped.startswith("#!") else text):  # not commands in a script
        yield match["name"], match["value"].strip("'\"")  # `requirepass x` (redis.conf), `password x` directives
    for match in _NETRC_RE.finditer(text):
        yield "password", match["value"]
    for token in _PAIR_SEPARATORS_RE.split(text):
        name, sep, value = token.strip("'\"").partition("=")
        if sep and name and value and not _CODE_RE.search(value):
            yield name.lstrip("-").rsplit(".", 1)[-1], value.strip("'\"")


def _is_code(text: str) -> bool:
    """Python with calls, imports or definitions: its unquoted right-hand sides are expressions, not values."""
    if "\n" not in text and "(" not in text:
        return False
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return any(isinstance(n, (ast.Call, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for n in ast.walk(tree))


def _is_user_password(text: str) -> bool:
    """`user:password` as HTTP Basic auth and docker's `auths.*.auth` encode it (the password not a reference)."""
    return bool(_USER_PASSWORD_RE.fullmatch(text)) and is_literal(text.partition(":")[2])


def judge(name: str, value: str, names: NameMatcher) -> str | None:
    """The finding for one value under one name, or None."""
    short = re.split(r"[\s.'\"/]", name.strip(" '\""))[-1] or name
    if names.is_credential(name) and is_literal(value):
        return f"{short} is set to a literal"
    if names.mentions_credential(name) and is_literal(value) and is_high_entropy(value):
        return f"{short} holds a random-looking value"
    return None


def _decoded(text: str) -> str | None:
    stripped = text.strip()
    if not _BASE64_RE.fullmatch(stripped):
        return None
    try:
        decoded = base64.b64decode(stripped, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded if decoded.isprintable() or "\n" in decoded else None


def scan(text: str, names: NameMatcher, mysql_tools: Sequence[str] = command_line.DEFAULT_MYSQL_TOOLS, *,
         python: bool = False, depth: int = 0) -> list[str]:
    """What credentials `text` holds, one description each (names and kinds, never values), in a stable order."""
    found: dict[str, None] = {}
    for kind in credential_shapes(text):
        found[kind] = None
    if url_passwords(text):
        found["URL with user:password@"] = None
    if len(text) > MAX_TEXT:
        return list(found)
    python = python or _is_code(text)
    nested: list[str] = []
    for name, value in pairs(text, python=python):
        if (finding := judge(name, value, names)) is not None:
            found[finding] = None
        elif value != text and len(value) > 8 and any(c in value for c in "{:=<"):
            nested.append(value)
    if not python:
        for finding in command_line.text_findings(text, names, mysql_tools):
            if not (finding.startswith("inline assignment ") or "=<value>" in finding):  # the pairs judged those
                found[finding] = None
    if any(_is_user_password(decoded) for token in _BASE64_TOKEN_RE.findall(text) if (decoded := _decoded(token))):
        found["base64 user:password (HTTP Basic or registry auth)"] = None
    if depth < MAX_DEPTH:
        for value in dict.fromkeys(nested):
            for finding in scan(value, names, mysql_tools, depth=depth + 1):
                found[finding] = None
        if (decoded := _decoded(text)) is not None:
            for finding in scan(decoded, names, mysql_tools, depth=depth + 1):
                found[f"base64 text with {finding}"] = None
    return list(found)


def value_findings(name: str | None, value: str, names: NameMatcher, *, python: bool = False) -> list[str]:
    """Findings for a value stored under a name (an env var, a chart key, a label): the name, then the text."""
    first = judge(name, value, names) if name else None
    return ([first] if first else []) + [f for f in scan(value, names, python=python) if f != first]
