"""Templates build the same bytes nbformat would, and file-name patterns are strict.

- the fast build (pre-serialised prefix + cell + suffix) is byte-identical to
  inserting the cell with nbformat and writing the notebook, and validates;
- templates are reloaded when they change, and unusable ones are skipped;
- `{name}` patterns accept only identifiers, refuse format specs and stray
  braces, and filled-in values can never leave the folder;
- next-free names and Content-Disposition headers are safe for any name.
"""

from __future__ import annotations

import json
import os
import time

import nbformat
import pytest
from templates_testlib import write_template

from labhub.templates.naming import NameError_, NamePattern, PatternError, candidates, check_segment
from labhub.templates.notebook import Catalog, Template


@pytest.mark.parametrize("minor", [pytest.param(4, id="nbformat-4.4-without-ids"), pytest.param(5, id="nbformat-4.5")])
@pytest.mark.parametrize("cells", [pytest.param(1, id="one-cell"), pytest.param(4, id="four-cells")])
def test_the_fast_build_is_byte_identical_to_nbformat(tmp_path, minor, cells):
    write_template(tmp_path / "t.ipynb", cells=cells, minor=minor)
    template = Template.load(str(tmp_path), "t.ipynb")
    params = {"name": "Grüße", "flag": True, "data": {"a": [1, None]}}
    built = template.build(params)
    cell_id = json.loads(built)["cells"][1]["id"]
    assert built == _built_with_nbformat(template, params, cell_id)
    notebook = nbformat.reads(built.decode(), as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[1].metadata.tags == ["injected-parameters"]
    assert len({c.id for c in notebook.cells}) == len(notebook.cells)


def _built_with_nbformat(template: Template, params: dict, cell_id: str) -> bytes:
    """The plain nbformat way: copy the notebook, insert the tagged cell after the first, validate, write."""
    notebook = nbformat.from_dict(json.loads(json.dumps(template.notebook)))
    cell = nbformat.v4.new_code_cell(template.parameters_source(params), id=cell_id)
    cell.metadata["tags"] = ["injected-parameters"]
    notebook.cells.insert(min(1, len(notebook.cells)), cell)
    nbformat.validate(notebook)
    return nbformat.writes(notebook).encode("utf-8")


def test_a_template_with_no_cells_gets_the_parameters_cell_first(tmp_path):
    notebook = nbformat.v4.new_notebook()
    (tmp_path / "empty.ipynb").write_text(nbformat.writes(notebook))
    built = Template.load(str(tmp_path), "empty.ipynb").build({"x": 1})
    assert [c.source for c in nbformat.reads(built.decode(), as_version=4).cells] == ["x = 1"]


def test_a_changed_template_is_reloaded(tmp_path):
    write_template(tmp_path / "t.ipynb", cells=2)
    catalog = Catalog(str(tmp_path))
    first = catalog.get("t.ipynb")
    write_template(tmp_path / "t.ipynb", cells=5)
    os.utime(tmp_path / "t.ipynb", ns=(time.time_ns() + 10**9, time.time_ns() + 10**9))
    second = catalog.get("t.ipynb")
    assert second is not first and len(second.notebook.cells) == 5


def test_unusable_templates_are_skipped_not_served(tmp_path, caplog):
    write_template(tmp_path / "good.ipynb")
    (tmp_path / "broken.ipynb").write_text("{not json")
    write_template(tmp_path / "bad_{x.attr}.ipynb")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "k", "language": "cobol", "display_name": "K"}})
    (tmp_path / "cobol.ipynb").write_text(nbformat.writes(nb))
    outside = tmp_path.parent / "outside.ipynb"
    write_template(outside)
    (tmp_path / "link.ipynb").symlink_to(outside)
    write_template(tmp_path / ".hidden" / "h.ipynb")
    catalog = Catalog(str(tmp_path))
    assert [t.path for t in catalog.all()] == ["good.ipynb"]
    assert "cobol" in caplog.text and "broken.ipynb" in caplog.text


PATTERNS = [
    pytest.param("Data_{x}.ipynb", {"x": "A-1"}, "Data_A-1.ipynb", id="one-field"),
    pytest.param("{a}/{b}_{a}.ipynb", {"a": "p", "b": 3}, "p/3_p.ipynb", id="folders-and-repeats"),
    pytest.param("lit_{{braces}}.ipynb", {}, "lit_{braces}.ipynb", id="escaped-braces"),
    pytest.param("flag_{f}.ipynb", {"f": True}, "flag_true.ipynb", id="bool-value"),
]


@pytest.mark.parametrize(("pattern", "params", "expected"), PATTERNS)
def test_patterns_fill_identifier_fields_only(pattern, params, expected):
    assert NamePattern.parse(pattern).fill(params) == expected


@pytest.mark.parametrize("pattern", [
    pytest.param("a_{x.__class__}.ipynb", id="attribute-access"),
    pytest.param("a_{x:>99999}.ipynb", id="format-spec"),
    pytest.param("a_{0}.ipynb", id="positional"),
    pytest.param("a_{x.ipynb", id="stray-brace"),
    pytest.param("a_{x}", id="field-at-the-end"),
])
def test_patterns_that_str_format_would_accept_are_refused(pattern):
    with pytest.raises(PatternError):
        NamePattern.parse(pattern)


@pytest.mark.parametrize("value", [
    pytest.param("..", id="dotdot"), pytest.param(".bashrc", id="leading-dot"), pytest.param("a/b", id="slash"),
    pytest.param("a\\b", id="backslash"), pytest.param("a\x00b", id="nul"), pytest.param("a\x1bb", id="escape-char"),
    pytest.param("a\u202eb", id="bidi-override"), pytest.param("CON", id="reserved-device"),
    pytest.param("x" * 250, id="too-long"), pytest.param("", id="empty"), pytest.param(None, id="null"),
])
def test_values_that_would_make_a_bad_file_name_are_refused(value):
    with pytest.raises(NameError_):
        NamePattern.parse("{v}.ipynb").fill({"v": value})


def test_a_255_byte_name_is_the_limit():
    check_segment("x" * 255)
    with pytest.raises(NameError_, match="longer than 255"):
        check_segment("x" * 256)


def test_next_free_names_count_up_before_the_extension():
    assert list(candidates("Data.ipynb", limit=4)) == ["Data.ipynb", "Data-1.ipynb", "Data-2.ipynb", "Data-3.ipynb"]
