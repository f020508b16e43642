"""Find credentials written on a command line.

A password in `command`/`args` is in the manifest (readable by anyone who can
`kubectl get` the object, and stored in the Pulumi state) and, at run time, in
the process table of the node. The checks work on the words of the command line;
a word holding a shell script (`sh -c "mysqldump -p... | gzip"`) is split with
shlex so the same checks see the script's words.

Caught: any option whose name is credential-like with a value (`--password=x`,
`--password x`, `--db-token=x`, `-Ddb.password=x`); the short password options
of the tools that have one (`mysql -px`, `sshpass -p x`, `redis-cli -a x`,
`ldapsearch -w x`, `mongosh -p x`, `docker login -p x`); a user:password pair
given to `curl -u`, `smbclient -U` or `lftp -u`; inline assignments
(`PGPASSWORD=x`, `MYSQL_PWD=x`); SQL password literals (`IDENTIFIED BY 'x'`, `PASSWORD 'x'`). Headers
(`-H "Authorization: Bearer x"`) and URLs are found by `policies.free_text`,
which scans every word as text.
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
# tool -> short option that takes a password, separate or glued (`-p x`, `-px`).
PASSWORD_OPTIONS: dict[str, str] = {
    "sshpass": "-p", "redis-cli": "-a", "keydb-cli": "-a", "valkey-cli": "-a", "mongo": "-p", "mongosh": "-p",
    "mongodump": "-p", "mongorestore": "-p", "mongoexport": "-p", "mongoimport": "-p", "ldapsearch": "-w",
    "ldapmodify": "-w", "ldapadd": "-w", "ldapdelete": "-w", "ldapwhoami": "-w", "ldappasswd": "-w", "login": "-p",
}
# tool -> option whose value is `user<sep>password`, and the separator.
USER_PASSWORD_OPTIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "curl": (("-u", "--user", "--proxy-user", "-U"), ":"),
    "smbclient": (("-U", "--user"), "%"),
    "lftp": (("-u",), ","),
}
LOGIN_TOOLS = frozenset({"docker", "podman", "nerdctl", "buildah", "skopeo", "helm", "oras", "crane", "registry"})

_ASSIGNMENT_RE = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_]*)=(?P<value>.*)$", re.DOTALL)
# SQL: MySQL `IDENTIFIED [WITH plugin] BY 'x'`, `SET PASSWORD = 'x'`; PostgreSQL `[WITH] PASSWORD 'x'`.
_IDENTIFIED_BY_RE = re.compile(
    r"(?:IDENTIFIED\s+(?:WITH\s+\S+\s+)?BY|\bPASSWORD)\s*(?:=\s*)?(?:PASSWORD\s*\(\s*)?(?P<q>['\"])(?P<value>.*?)(?P=q)",
    re.IGNORECASE)
_SHELL_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<"})


def split(text: str) -> list[str]:
    """Words of a shell-like line (shlex; whitespace when the quotes do not balance)."""
    if not any(c.isspace() for c in text):
        return [text]
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError:
        return text.split()


def _tool(token: str) -> str:
    return token.rsplit("/", 1)[-1]


def _option_name(token: str) -> str:
    """`--db-password` -> `db-password`; `-Ddb.password` -> `password` (a Java system property)."""
    name = token[2:] if token.startswith("-D") and not token.startswith("--") else token.lstrip("-")
    return name.rsplit(".", 1)[-1]


def token_findings(tokens: Sequence[str], names: NameMatcher, mysql_tools: Sequence[str]) -> Iterator[tuple[int, str]]:
    """(index of the token, what was found) for every credential among one command line's tokens; never the value."""
    tools = frozenset(mysql_tools)
    tool = ""
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        takes_value = bool(following) and not following.startswith("-") and following not in _SHELL_OPERATORS
        if token in _SHELL_OPERATORS:
            tool = ""
            continue
        base = _tool(token)
        if base in tools or base in PASSWORD_OPTIONS or base in USER_PASSWORD_OPTIONS:
            tool = base
        elif base == "login" and tool in LOGIN_TOOLS:
            tool = "login"
        elif base in LOGIN_TOOLS and not tool:
            tool = base
        if token.startswith("-") and "=" in token or token.startswith("--"):
            option, sep, value = token.partition("=")
            if names.is_credential(_option_name(option)):
                if sep and is_literal(value):
                    yield index, f"option {option}=<value>"
                elif not sep and takes_value and is_literal(following):
                    yield index, f"option {option} <value>"
                continue
        if tool in tools and token.startswith("-p") and len(token) > 2 and is_literal(token[2:]):
            yield index, f"{tool} -p<password> (password glued to -p)"
        elif tool in PASSWORD_OPTIONS and token.startswith(PASSWORD_OPTIONS[tool]):
            option = PASSWORD_OPTIONS[tool]
            if token == option and takes_value and is_literal(following):
                yield index, f"{tool} {option} <password>"
            elif len(token) > len(option) and not token.startswith("--") and is_literal(token[len(option):]):
                yield index, f"{tool} {option}<password>"
        elif tool in USER_PASSWORD_OPTIONS:
            options, separator = USER_PASSWORD_OPTIONS[tool]
            value = following if token in options else next(
                (token[len(o):].lstrip("=") for o in options if o.startswith("--") and token.startswith(o + "=")), "")
            _, sep, password = value.partition(separator)
            if sep and is_literal(password):
                yield index, f"{tool} {token.split('=')[0]} user{separator}<password>"
        if (match := _ASSIGNMENT_RE.match(token)) and names.is_credential(match["name"]) and is_literal(match["value"]):
            yield index, f"inline assignment {match['name']}=<value>"
    for index, token in enumerate(tokens):
        if any(is_literal(m["value"]) for m in _IDENTIFIED_BY_RE.finditer(token)):
            yield index, "SQL password literal (IDENTIFIED BY / PASSWORD '<password>')"


def text_findings(text: str, names: NameMatcher, mysql_tools: Sequence[str]) -> list[str]:
    """Command-line findings in free text, line by line (a script in a ConfigMap, a build step)."""
    found = [finding for line in text.splitlines() for _, finding in token_findings(split(line), names, mysql_tools)]
    found += [f for f in ("SQL password literal (IDENTIFIED BY / PASSWORD '<password>')",) if f not in found and any(
        is_literal(m["value"]) for m in _IDENTIFIED_BY_RE.finditer(text))]
    return list(dict.fromkeys(found))


def find(words: Sequence[tuple[Path, str]], names: NameMatcher, mysql_tools: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """(path of the word, what was found) for a command line given as its (path, word) list."""
    tokens = [(path, token) for path, word in words for token in split(word)]
    for index, finding in token_findings([t for _, t in tokens], names, mysql_tools):
        yield tokens[index][0], finding
