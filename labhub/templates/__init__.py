"""The SampleDB notebook templating server (issue 4, DESIGN.md component 4).

SampleDB's "Create Notebook" button posts a template name and a JSON object of
metadata here; the server asks the user to confirm, writes a copy of the
template with a parameters cell into that user's storage and redirects to it
in JupyterHub. The protocol is sciapp/notebook_templates' (anchors.md §3); the
original's bugs (500s for bad input, `json.dumps` literals in Python cells,
unchecked `str.format` file names, overwrites) are fixed here.

Modules, one concern each:

- `literals`: parameter names and values as source code of a kernel language
- `naming`: strict `{name}` file-name patterns, safe path segments, free names
- `notebook`: templates parsed once, pre-serialised, and the fast build
- `tokens`: the signed, expiring confirmation token
- `storage` / `contents`: where a notebook goes (filesystem, download,
  the user's Jupyter Contents API)
- `auth`: JupyterHub OAuth, or a fixed development user
- `pages`, `handlers`, `app`, `cli`: the web layer and the command line

This package imports no Pulumi: it runs in the cluster as its own image.
"""

# Before any submodule imports nbformat (and so jsonschema): jsonschema without its RFC 3987
# grammars, which nbformat's schemas never use (no `iri` format). The server then starts in
# under 2 s instead of about 5, which its readiness probe and every restart feel.
import labhub.json_schema  # noqa: E402, F401
