"""End to end in headless Chromium: SampleDB's button -> confirm -> notebook on disk -> opened in the hub.

A stand-in SampleDB page (served from 127.0.0.1) carries the exact form
SampleDB renders: `<form method=post action=.../t/<template>>` with a hidden
`params` JSON field and no CSRF token. The browser submits it, sees the
confirmation page, clicks "Create notebook", and must land on the
stand-in hub's `/user/alice/lab/tree/<path>` page while the notebook with
the right parameters cell exists in alice's folder.
"""

from __future__ import annotations

import html
import json
import os

import nbformat
import pytest
import tornado.web
from templates_testlib import run_tornado, write_template

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class SampleDBObjectPage(tornado.web.RequestHandler):
    """What SampleDB renders for an object with a notebook template (the "Create Notebook" entry)."""

    def get(self) -> None:
        action, params = self.settings["action"], self.settings["params"]
        self.finish(
            f"""<!doctype html><html><body><h1>Object #12345</h1>
<form method="post" action="{html.escape(action)}">
<input type="hidden" name="params" value="{html.escape(json.dumps(params))}">
<button type="submit" id="create-notebook">Create Notebook</button></form></body></html>"""
        )


class HubTreePage(tornado.web.RequestHandler):
    """Stands in for JupyterLab's tree URL, so the final redirect lands somewhere checkable."""

    def get(self, user: str, path: str) -> None:
        self.finish(f'<h1 id="opened">{html.escape(user)} opened {html.escape(path)}</h1>')


@pytest.fixture(scope="module")
def chromium_path() -> str:
    """Debian's Chromium; the test fails (never skips) without it."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-system-deps (installs Debian's chromium)")
    return CHROMIUM


def test_a_sampledb_click_confirmed_in_the_browser_creates_and_opens_the_notebook(chromium_path, make_server, homes, templates_dir):
    from playwright.sync_api import sync_playwright

    write_template(templates_dir / "some_instrument" / "Data_{measurement_name}.ipynb")
    hub = run_tornado(tornado.web.Application([(r"/user/([^/]+)/lab/tree/(.*)", HubTreePage)]))
    server = make_server(open_url=hub.url + "/user/{username}/lab/tree/{path}")
    params = {"measurement_name": "Experiment-12345", "created": "2026-11-22T10:00:00Z", "calibrated": True, "gain": None}
    sampledb = run_tornado(tornado.web.Application(
        [(r"/objects/12345", SampleDBObjectPage)],
        action=f"{server.url}/t/some_instrument/Data_%7Bmeasurement_name%7D.ipynb", params=params,
    ))
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(f"{sampledb.url}/objects/12345")
                page.click("#create-notebook")
                page.wait_for_selector("#confirm", timeout=10_000)
                assert page.inner_text("#destination") == "some_instrument/Data_Experiment-12345.ipynb"
                assert "calibrated = True" in page.inner_text("#cell")
                page.click("#confirm")
                page.wait_for_selector("#opened", timeout=10_000)
                assert page.url == f"{hub.url}/user/alice/lab/tree/some_instrument/Data_Experiment-12345.ipynb"
                assert page.inner_text("#opened") == "alice opened some_instrument/Data_Experiment-12345.ipynb"
            finally:
                browser.close()
    finally:
        sampledb.stop()
        hub.stop()
    notebook = nbformat.read(homes / "alice" / "some_instrument" / "Data_Experiment-12345.ipynb", as_version=4)
    assert notebook.cells[1].source == (
        "measurement_name = 'Experiment-12345'\ncreated = '2026-11-22T10:00:00Z'\ncalibrated = True\ngain = None"
    )
