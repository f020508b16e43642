"""The templating server starts without compiling jsonschema's RFC 3987 grammars.

`rfc3987_syntax` (installed beside nbformat through jupyter-events) compiles 39
lark grammars on import, about 3 s of every server start, for an `iri` format
no notebook schema uses. labhub.templates blocks it before nbformat loads.
"""

from __future__ import annotations

import subprocess
import sys

from labhub.engine import PROJECT_DIR


def test_the_server_modules_load_without_the_rfc3987_grammars_and_still_validate_notebooks() -> None:
    probe = (
        "import sys\n"
        "import labhub.templates.app\n"  # what `labhub templates serve` loads, before anything else
        "import nbformat\n"
        "print(sys.modules.get('rfc3987_syntax', 'absent'), 'lark' in sys.modules)\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('x = 1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['outputs'] = 'not a list'\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('refused')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["None False", "refused"]
