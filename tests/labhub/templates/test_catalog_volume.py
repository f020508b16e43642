"""The catalog serves templates from a ConfigMap volume as kubelet lays it out, and nothing outside it.

Invariants:
- every item of a ConfigMap volume (symlinks into `..data/`, nested paths
  behind a top-level directory link) is served under its `path`, and the
  hidden `..data`/`..<timestamp>` entries are never listed twice;
- kubelet's atomic update (a new timestamped folder, `..data` swapped) is
  picked up: changed templates change, removed ones disappear;
- a template or folder that resolves outside the mount is refused, at
  scan time and at serve time (a file swapped for a symlink after the last
  scan is never read).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest
from kubelet_volume import write_configmap_volume
from templates_testlib import write_template

from labhub.templates.notebook import Catalog


def _notebook_text(tmp_path: Path, marker: str) -> str:
    path = write_template(tmp_path / "src" / f"{marker}.ipynb")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells[0].source = f"# {marker}"
    return nbformat.writes(notebook)


@pytest.fixture
def volume(tmp_path: Path) -> tuple[Path, dict[str, str], list[dict[str, str]]]:
    mount = tmp_path / "srv" / "templates"
    data = {"tpl-a.ipynb": _notebook_text(tmp_path, "a"), "tpl-b.ipynb": _notebook_text(tmp_path, "b")}
    items = [{"key": "tpl-a.ipynb", "path": "Sample_{name}.ipynb"}, {"key": "tpl-b.ipynb", "path": "instrument/analysis.ipynb"}]
    write_configmap_volume(mount, data, items)
    return mount, data, items


def _first_cell(catalog: Catalog, path: str) -> str:
    template = catalog.get(path)
    assert template is not None, f"{path} not served"
    return "".join(json.loads(template.build({}))["cells"][0]["source"])


def test_every_item_of_a_configmap_volume_is_served_under_its_path(volume):
    mount, _, _ = volume
    catalog = Catalog(str(mount))
    assert [t.path for t in catalog.all()] == ["Sample_{name}.ipynb", "instrument/analysis.ipynb"]
    assert _first_cell(catalog, "Sample_{name}.ipynb") == "# a"
    assert _first_cell(catalog, "instrument/analysis.ipynb") == "# b"


def test_an_atomic_configmap_update_is_picked_up(volume, tmp_path):
    mount, data, items = volume
    catalog = Catalog(str(mount), rescan_seconds=0)
    data = {"tpl-a.ipynb": _notebook_text(tmp_path, "a2"), "tpl-c.ipynb": _notebook_text(tmp_path, "c")}
    write_configmap_volume(mount, data, [items[0], {"key": "tpl-c.ipynb", "path": "new.ipynb"}])
    assert _first_cell(catalog, "Sample_{name}.ipynb") == "# a2"
    assert [t.path for t in catalog.all()] == ["Sample_{name}.ipynb", "new.ipynb"]
    assert catalog.get("instrument/analysis.ipynb") is None


def _outside(tmp_path: Path) -> Path:
    return write_template(tmp_path / "elsewhere" / "secret.ipynb")


ESCAPES = [
    pytest.param(lambda mount, outside: os.symlink(outside, mount / "evil.ipynb"), "evil.ipynb", id="file-link-out"),
    pytest.param(lambda mount, outside: os.symlink(outside.parent, mount / "evil"), "evil/secret.ipynb", id="folder-link-out"),
    pytest.param(lambda mount, outside: os.symlink(outside, mount / "..data" / "evil.ipynb"), "evil.ipynb", id="link-out-inside-data"),
]


@pytest.mark.parametrize(("plant", "served_as"), ESCAPES)
def test_a_link_out_of_the_mount_is_never_served(volume, tmp_path, plant, served_as):
    mount, _, _ = volume
    plant(mount, _outside(tmp_path))
    if served_as == "evil.ipynb" and not (mount / "evil.ipynb").exists():
        os.symlink("..data/evil.ipynb", mount / "evil.ipynb")
    catalog = Catalog(str(mount))
    assert served_as not in [t.path for t in catalog.all()]
    assert catalog.get(served_as) is None


def test_a_template_swapped_for_a_link_out_after_the_scan_is_refused_at_serve_time(tmp_path):
    """A plain folder: the served file is replaced by a symlink to an outside file of the same size and mtime."""
    root = tmp_path / "templates"
    served = write_template(root / "Untitled.ipynb")
    catalog = Catalog(str(root), rescan_seconds=3600)
    assert catalog.get("Untitled.ipynb") is not None
    outside = _outside(tmp_path)
    outside.write_bytes(served.read_bytes().replace(b"# Analysis", b"# Stolen!!"))
    assert outside.stat().st_size == served.stat().st_size
    stat = served.stat()
    os.utime(outside, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    served.unlink()
    os.symlink(outside, served)
    assert catalog.get("Untitled.ipynb") is None
    assert "Untitled.ipynb" not in [t.path for t in catalog.all()]
