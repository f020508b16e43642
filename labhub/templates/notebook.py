"""Templates: parsed and validated once, pre-serialised, then built by concatenation.

Why: a create request must be cheap (the benchmark target is ~1 ms of server
CPU per flow on a 200 KB template). Each template is read with nbformat,
normalised to nbformat 4.5 and validated when it is first seen and whenever
its file (inode, mtime or size) changes. Its serialisation (exactly what `nbformat.writes`
produces) is split around the insertion point after the first cell, so a
create only serialises the small parameters cell and joins three strings.
That cell's shape is fixed here (only its source text varies), so it is not
validated per request: a test builds the same notebook the plain nbformat
way, validates it and compares the bytes.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import nbformat

from labhub.templates.literals import Language, language_for, render_cell
from labhub.templates.mount import open_inside, walk_templates
from labhub.templates.naming import NameError_, NamePattern, PatternError, check_relative_path

log = logging.getLogger("labhub.templates")

_SENTINEL = "labhub-insertion-point-" + secrets.token_hex(8)


class TemplateError(ValueError):
    """A template file that cannot be served (unreadable, invalid, unsupported language)."""


def _dumps(obj: Any) -> str:
    # nbformat.v4.nbjson's writer: indent=1, sorted keys, UTF-8 kept as is.
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False)


def _parameters_cell(source: str, cell_id: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": {"tags": ["injected-parameters"]},
        "outputs": [],
        "source": source.splitlines(keepends=True),
    }


@dataclass
class Template:
    """One notebook template, ready to build notebooks from."""

    path: str  # relative to the templates folder, "/"-separated
    pattern: NamePattern
    language: Language
    identity: tuple[int, int, int, int]  # device, inode, mtime, size of the file read: a change means reload
    notebook: nbformat.NotebookNode = field(repr=False)
    _prefix: bytes = field(repr=False, default=b"")
    _suffix: bytes = field(repr=False, default=b"")
    _ids: frozenset[str] = field(repr=False, default=frozenset())

    @classmethod
    def load(cls, root: str, path: str) -> Template:
        """Read, normalise, validate and pre-serialise `root/path` (which must resolve inside `root`)."""
        try:
            fd, stat = open_inside(root, path)
            with open(fd, encoding="utf-8", closefd=True) as handle:
                notebook = nbformat.read(handle, as_version=4)
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise TemplateError(f"{path}: cannot read notebook: {error}") from error
        try:
            pattern = NamePattern.parse(path)
        except PatternError as error:
            raise TemplateError(f"{path}: {error}") from error
        if notebook.nbformat_minor < 5:  # cell ids arrived in 4.5; the inserted cell carries one
            notebook.nbformat_minor = 5
            for cell in notebook.cells:
                cell.setdefault("id", secrets.token_hex(4))
        try:
            nbformat.validate(notebook)
        except nbformat.ValidationError as error:
            raise TemplateError(f"{path}: not a valid notebook: {str(error).splitlines()[0]}") from error
        spec = notebook.metadata.get("kernelspec", {}).get("language") or notebook.metadata.get("language_info", {}).get("name") or "python"
        language = language_for(str(spec))
        if language is None:
            raise TemplateError(f"{path}: kernel language {spec!r} is not supported (python, julia, r, c)")
        template = cls(path, pattern, language, (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size), notebook)
        template._split()
        return template

    def _split(self) -> None:
        marker = nbformat.from_dict(_parameters_cell(_SENTINEL, "sentinel"))
        copy = nbformat.from_dict(dict(self.notebook, cells=list(self.notebook.cells)))
        copy.cells.insert(min(1, len(copy.cells)), marker)
        text = nbformat.writes(copy)
        cell_text = self._serialise_cell(marker)
        start = text.index(cell_text)
        self._prefix = text[:start].encode("utf-8")
        self._suffix = text[start + len(cell_text) :].encode("utf-8")
        self._ids = frozenset(c.get("id", "") for c in self.notebook.cells)

    @staticmethod
    def _serialise_cell(cell: dict[str, Any]) -> str:
        # A cell sits two levels deep in the notebook object: indent its lines by two.
        return _dumps(cell).replace("\n", "\n  ")

    def parameters_source(self, params: dict[str, Any]) -> str:
        """The parameters cell's source, or raise ParameterError for a name or value the language refuses."""
        return render_cell(self.language, params)

    def destination(self, params: dict[str, Any]) -> str:
        """The notebook's path in the user's folder, `{name}` fields filled and checked."""
        return self.pattern.fill(params)

    def build(self, params: dict[str, Any]) -> bytes:
        """The new notebook as UTF-8 bytes: the template, plus a parameters cell unless params is empty."""
        if not params:
            return self._plain()
        cell = _parameters_cell(self.parameters_source(params), self._new_id())
        return b"".join((self._prefix, self._serialise_cell(cell).encode("utf-8"), self._suffix))

    def _plain(self) -> bytes:
        # Without params the original notebook is returned unchanged (no empty cell).
        if not hasattr(self, "_plain_bytes"):
            self._plain_bytes = nbformat.writes(self.notebook).encode("utf-8")
        return self._plain_bytes

    def _new_id(self) -> str:
        while True:
            cell_id = secrets.token_hex(4)
            if cell_id not in self._ids:
                return cell_id


class Catalog:
    """All templates under a folder, reloaded when a file's inode, mtime or size changes.

    The folder may be a ConfigMap volume (symlinks into `..data/`): files are
    followed wherever they resolve inside the folder, and nowhere else: each
    request checks that the file is still the one loaded, and anything else
    is read again through `mount.open_inside` (see `_fresh`).

    Scanning is throttled (`rescan_seconds`) so a flood of requests for
    unknown names cannot turn into a flood of directory walks.
    """

    def __init__(self, root: str, rescan_seconds: float = 5.0) -> None:
        self.root = os.path.realpath(root)
        if not os.path.isdir(self.root):
            raise TemplateError(f"templates folder {root} does not exist or is not a folder")
        self.rescan_seconds = rescan_seconds
        self._templates: dict[str, Template] = {}
        self._errors: dict[str, str] = {}
        self._scanned_at = float("-inf")
        self._lock = threading.Lock()
        self.rescan()

    def rescan(self) -> None:
        """Walk the folder: load new or changed templates, forget removed ones."""
        seen: dict[str, Template] = {}
        errors: dict[str, str] = {}
        for rel in walk_templates(self.root):
            try:
                check_relative_path(rel, what="template path")
                seen[rel] = self._fresh(rel)
            except (TemplateError, NameError_) as error:
                errors[rel] = str(error)
        for rel, message in errors.items():
            if self._errors.get(rel) != message:
                log.warning("template skipped: %s", message)
        with self._lock:
            self._templates, self._errors, self._scanned_at = seen, errors, time.monotonic()

    def _fresh(self, rel: str) -> Template:
        """The cached template if its file is unchanged, else a reload; TemplateError if it now resolves outside.

        Checked on every request, so one `stat` (following links), not a
        realpath walk: a file that is no longer the one loaded (a swap, even
        for a link out of the folder to a file of the same size and mtime)
        has another device or inode, and its reload goes through
        `open_inside`, which refuses anything outside the folder. A link to
        the very inode loaded serves the cached content, never the link's.
        """
        current = self._templates.get(rel)
        if current is not None:
            try:
                stat = os.stat(os.path.join(self.root, *rel.split("/")))
            except OSError as error:
                raise TemplateError(f"{rel}: {error}") from error
            if (stat.st_dev, stat.st_ino, stat.st_mtime_ns, stat.st_size) == current.identity:
                return current
        return Template.load(self.root, rel)

    def get(self, rel: str) -> Template | None:
        """The template at `rel`, reloaded if it changed on disk; None if there is none."""
        template = self._templates.get(rel)
        if template is None:
            if time.monotonic() - self._scanned_at >= self.rescan_seconds:
                self.rescan()
            return self._templates.get(rel)
        try:
            fresh = self._fresh(rel)
        except TemplateError as error:
            log.warning("template unavailable: %s", error)
            with self._lock:
                self._templates.pop(rel, None)
            return None
        if fresh is not template:
            with self._lock:
                self._templates[rel] = fresh
        return fresh

    def all(self) -> list[Template]:
        """Every usable template, sorted by path (rescanned if the last scan is old)."""
        if time.monotonic() - self._scanned_at >= self.rescan_seconds:
            self.rescan()
        return sorted(self._templates.values(), key=lambda t: t.path)
