"""jsonschema, imported without its optional RFC 3987 grammar: labhub checks no string formats.

jsonschema's format checkers import `rfc3987_syntax` when it is installed (the
test and templating environments have it: jupyter-events asks for
`jsonschema[format-nongpl]`), and that package compiles 39 lark grammars on
import: about 4 s of every `labhub render` and `labhub policy-check`, for
`iri` format checks neither ever makes (the z2jh schema and the policy
config schemas use no such format). A package already imported is kept.
"""

from __future__ import annotations

import sys

sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]  # None: "not installed" to the import system

import jsonschema  # noqa: E402  (after the line above, on purpose)

__all__ = ["jsonschema"]
