"""Find credentials written on a command line.

A password in `command`/`args` is in the manifest (readable by anyone who can
`kubectl get` the object, and stored in the Pulumi state) and, at run time, in
the process table of the node. The checks work on the words of the command line;
a word holding a shell script (`sh -c "mysqldump -p... | gzip"`) is split with
shlex so the same checks see the script's words.

Caught: `--password=x`, `--password x`, `--db-token=x` (any option whose name is
credential-like), `-px` after a MySQL-family tool, `PGPASSWORD=x` / `MYSQL_PWD=x`
inline assignments, `IDENTIFIED BY 'x'` in SQL, URLs with `user:password@` before the host.
Allowed: `--password` with no value (the tool prompts or reads an option file),
`-p` alone, `--defaults-extra-file=...`, and references that the kubelet or the
shell expands (`$(VAR)`, `${VAR}`, `$VAR`), which keep the value out of the
manifest.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Sequence

from policies.matching import NameMatcher, Path, is_literal

DEFAULT_MYSQL_TOOLS: list[str] = [
    "mysql", "mysqldump", "mysqladmin", "mysqlcheck", "mysqlimport", "mysqlshow", "mysqlpump", "mysqlsh",
    "mariadb", "mariadb-dump", "mariadb-admin", "mariadb-check", "mariadb-import", "mariadb-show", "mydumper",
    "myloader",
]

_ASSIGNMENT_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.DOTALL)
_IDENTIFIED_BY_RE = re.compile(r"IDENTIFIED\s+(?:WITH\s+\S+\s+)?BY\s+(?P<q>['\"])(?P<value>.*?)(?P=q)", re.IGNORECASE)
# A URL with user:password@ before the host, the password non-empty (user@host alone is fine).
URL_CREDENTIAL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/?#@'\"]*:(?P<password>[^\s/?#@'\"]+)@")
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<"})


def url_credentials(text: str) -> list[str]:
    """The literal passwords embedded in URLs in `text` (references like `$(DB_PASSWORD)` excluded)."""
    return [m["password"] for m in URL_CREDENTIAL_RE.finditer(text) if is_literal(m["password"])]


def _split(word: str) -> list[str]:
    if not any(c.isspace() for c in word):
        return [word]
    try:
        return shlex.split(word, comments=False, posix=True)
    except ValueError:  # unbalanced quotes: fall back to whitespace
        return word.split()


def _tool(token: str) -> str:
    return token.rsplit("/", 1)[-1]


def find(words: Sequence[tuple[Path, str]], names: NameMatcher, mysql_tools: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """(path of the word, what was found) for every credential on this command line; never the value itself."""
    tokens = [(path, token) for path, word in words for token in _split(word)]
    tools = frozenset(mysql_tools)
    mysql_seen = False
    for index, (path, token) in enumerate(tokens):
        if _tool(token) in tools:
            mysql_seen = True
        elif token in _SHELL_OPERATORS:
            mysql_seen = False
        if token.startswith("--"):
            option, sep, value = token[2:].partition("=")
            if not names.is_credential(option.rsplit(".", 1)[-1]):
                continue
            if sep and is_literal(value):
                yield path, f"option --{option}=<value>"
            elif not sep and index + 1 < len(tokens):
                following = tokens[index + 1][1]
                if not following.startswith("-") and following not in _SHELL_OPERATORS and is_literal(following):
                    yield path, f"option --{option} <value>"
        elif mysql_seen and token.startswith("-p") and len(token) > 2 and is_literal(token[2:]):
            yield path, "MySQL option -p<password> (password glued to -p)"
        elif (match := _ASSIGNMENT_RE.match(token)) and names.is_credential(match["name"]):
            if is_literal(match["value"]):
                yield path, f"inline assignment {match['name']}=<value>"
    for path, word in words:
        for match in _IDENTIFIED_BY_RE.finditer(word):
            if is_literal(match["value"]):
                yield path, "SQL IDENTIFIED BY '<password>'"
        if url_credentials(word):
            yield path, "URL with user:password@"
