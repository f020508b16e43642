"""The HTML pages, as tornado templates compiled once and autoescaped.

Why in a module and not in .html files: the project is installed with plain
setuptools and no package-data rules, so templates shipped as Python strings
cannot go missing from the image. Every value is escaped by tornado's
autoescape (`xhtml_escape`); pages are small, with no external assets, so a
strict Content-Security-Policy can forbid everything else.
"""

from __future__ import annotations

from typing import Any

from tornado.template import DictLoader

_BASE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}Notebook templates{% end %}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{background:#f4f4f4;padding:.1rem .3rem;border-radius:3px}
pre{padding:.6rem;overflow-x:auto}
button{font-size:1rem;padding:.4rem 1rem}
.error{border-left:4px solid #b00;padding-left:1rem}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:left}
</style></head>
<body>{% block body %}{% end %}</body></html>
"""

_LIST = """{% extends "base.html" %}
{% block body %}
<h1>Notebook templates</h1>
<p>Signed in as <strong>{{ user }}</strong>. SampleDB's "Create Notebook" button opens these with an object's metadata.</p>
{% if templates %}
<table><tr><th>Template</th><th>Parameters in the file name</th><th>Language</th></tr>
{% for t in templates %}<tr><td><a href="{{ prefix }}t/{{ url_escape(t.path, plus=False).replace('%2F', '/') }}">{{ t.path }}</a></td>
<td>{{ ", ".join(t.pattern.fields) or "-" }}</td><td>{{ t.language.name }}</td></tr>
{% end %}</table>
{% else %}<p>No templates are installed.</p>{% end %}
{% end %}
"""

_CONFIRM = """{% extends "base.html" %}
{% block title %}Create notebook?{% end %}
{% block body %}
<h1>Create a new notebook?</h1>
<p>Do you want to create a new Jupyter notebook at <code id="destination">{{ destination }}</code>
in your folder, {{ user }}, using the template <code>{{ template }}</code>?</p>
<p>An existing file is never replaced: if the name is taken, a free name such as
<code>{{ example_alternative }}</code> is used.</p>
{% if cell %}<p>This cell is added after the first cell:</p><pre id="cell">{{ cell }}</pre>
{% else %}<p>No parameters were given, so the template is copied unchanged.</p>{% end %}
<form method="post" action="{{ prefix }}create">
{% raw xsrf_html %}
<input type="hidden" name="token" value="{{ token }}">
<button type="submit" id="confirm">Create notebook</button>
</form>
{% end %}
"""

_WAITING = """{% extends "base.html" %}
{% block title %}Starting your server{% end %}
{% block body %}
<h1>Please wait</h1>
<p>{{ message }}</p>
<form method="post" action="{{ prefix }}create" id="retry">
{% raw xsrf_html %}
<input type="hidden" name="token" value="{{ token }}">
<noscript><button type="submit">Try again</button></noscript>
</form>
<script nonce="{{ nonce }}">setTimeout(function(){document.getElementById("retry").submit()}, {{ delay_ms }});</script>
{% end %}
"""

_CREATED = """{% extends "base.html" %}
{% block title %}Notebook created{% end %}
{% block body %}
<h1>Notebook created</h1>
<p>The notebook was created at <code id="created">{{ path }}</code> in your folder.</p>
{% end %}
"""

_ERROR = """{% extends "base.html" %}
{% block title %}Error {{ status }}{% end %}
{% block body %}
<div class="error"><h1>{{ title }}</h1>
<p id="message">{{ message }}</p></div>
<p><small>HTTP {{ status }}</small></p>
{% end %}
"""

_LOADER = DictLoader(
    {
        "base.html": _BASE,
        "list.html": _LIST,
        "confirm.html": _CONFIRM,
        "waiting.html": _WAITING,
        "created.html": _CREATED,
        "error.html": _ERROR,
    }
)

TITLES = {
    400: "This request cannot be used",
    403: "Not allowed",
    404: "No such template",
    405: "Method not allowed",
    409: "The notebook cannot be written there",
    413: "Too much data",
    502: "A server behind this one failed",
    503: "Not available yet",
}


def render(name: str, **namespace: Any) -> bytes:
    """A page as UTF-8 bytes; `namespace` must supply what the page uses."""
    return _LOADER.load(name).generate(**namespace)
