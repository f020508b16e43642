"""Parameter cells are valid source in the notebook's language and mean exactly the JSON values sent.

Python cells are executed and compared with the input (the original server's
`json.dumps` gave `true`/`null`, a NameError); Julia, R and C cells are
compared with the exact text expected, including C's bool-before-int fix.
Names that are not identifiers of the language are refused, so a name can
never smuggle code into the cell.
"""

from __future__ import annotations

import pytest

from labhub.templates.literals import LANGUAGES, ParameterError, render_cell

PYTHON_VALUES = [
    pytest.param(None, id="null"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(0, id="zero"),
    pytest.param(-(2**70), id="big-int"),
    pytest.param(2.5e-300, id="tiny-float"),
    pytest.param("it's \"quoted\" \\ and\nmultiline", id="quotes-backslash-newline"),
    pytest.param("Grüße 漢字 🙂 \u2028", id="unicode-and-line-separator"),
    pytest.param([1, "a", None, [True, {"k": False}]], id="nested-list"),
    pytest.param({"a": None, "b": [1.5, "x"], "c": {"d": True}}, id="object-with-null"),
    pytest.param({}, id="empty-object"),
]


@pytest.mark.parametrize("value", PYTHON_VALUES)
def test_python_cells_evaluate_back_to_the_json_value(value):
    namespace: dict = {}
    exec(render_cell(LANGUAGES["python"], {"x": value}), {}, namespace)  # noqa: S102 - the point of the test
    assert namespace == {"x": value}


EXACT = [
    pytest.param("julia", {"n": None, "ok": True, "s": 'a"$b\\'}, 'n = nothing # not set\nok = true\ns = "a\\"\\$b\\\\"', id="julia-nothing-bool-string"),
    pytest.param("julia", {"v": [1, {"k": 2.5}]}, 'v = Any[1, Dict{String,Any}("k" => 2.5)]', id="julia-containers"),
    pytest.param("r", {"n": None, "ok": False, "i": 3, "s": "x\ny"}, 'n <- NULL\nok <- FALSE\ni <- 3L\ns <- "x\\ny"', id="r-scalars"),
    pytest.param("r", {"v": [1, "a"], "d": {"k": True}}, 'v <- list(1L, "a")\nd <- list("k" = TRUE)', id="r-containers"),
    pytest.param("c", {"flag": True, "n": 7}, "#include <stdbool.h>\nbool flag = true;\nint n = 7;", id="c-bool-is-bool-not-int"),
    pytest.param("c", {"big": 2**40, "x": 0.5, "none": None}, "long long big = 1099511627776LL;\ndouble x = 0.5;\nint none = 0; /* not set */", id="c-numbers-and-null"),
    pytest.param("c", {"s": 'ä"?\\'}, 'const char* s = "\\303\\244\\"\\077\\\\";', id="c-string-utf8-octal-no-trigraph"),
]


@pytest.mark.parametrize(("language", "params", "expected"), EXACT)
def test_other_languages_get_their_own_literals(language, params, expected):
    assert render_cell(LANGUAGES[language], params) == expected


REFUSED_NAMES = [
    pytest.param("python", "x; import os", id="python-statement"),
    pytest.param("python", "lambda", id="python-keyword"),
    pytest.param("python", "1x", id="python-leading-digit"),
    pytest.param("python", "x" * 65, id="python-65-chars"),
    pytest.param("julia", "function", id="julia-keyword"),
    pytest.param("julia", "a-b", id="julia-dash"),
    pytest.param("r", "TRUE", id="r-reserved"),
    pytest.param("r", ".2x", id="r-dot-digit"),
    pytest.param("c", "int", id="c-keyword"),
    pytest.param("c", "__x", id="c-reserved-prefix"),
    pytest.param("c", "naïve", id="c-non-ascii"),
]


@pytest.mark.parametrize(("language", "name"), REFUSED_NAMES)
def test_names_that_are_not_identifiers_of_the_language_are_refused(language, name):
    with pytest.raises(ParameterError, match="not a valid"):
        render_cell(LANGUAGES[language], {name: 1})


def test_a_64_character_python_name_is_accepted():
    assert render_cell(LANGUAGES["python"], {"x" * 64: 1}) == "x" * 64 + " = 1"


@pytest.mark.parametrize("value", [pytest.param(float("nan"), id="nan"), pytest.param(float("inf"), id="inf")])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ParameterError, match="finite"):
        render_cell(LANGUAGES["python"], {"x": value})


def test_c_refuses_containers_with_a_message_naming_the_parameter():
    with pytest.raises(ParameterError, match='"values" is a list'):
        render_cell(LANGUAGES["c"], {"values": [1]})
