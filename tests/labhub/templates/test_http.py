"""The templating server over real HTTP: the SampleDB flow works, and bad input never hurts.

Invariants, each checked against a server listening on 127.0.0.1:
- SampleDB's form POST -> confirmation page -> confirm -> a notebook with the
  right parameters cell in alice's folder and a 303 to it in JupyterHub;
- every malformed or hostile request gets a 4xx page with a clear message,
  never a 5xx, never a file outside the user's folder, never an overwrite;
- the confirm step needs both the xsrf token and a genuine, fresh token
  issued to the same user.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import nbformat
import pytest
import requests
from templates_testlib import confirm, confirm_page, form_fields


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_sampledb_form_post_creates_the_notebook_and_redirects_to_it(server, homes):
    session = requests.Session()
    page = confirm_page(session, server.url, "Data_%7Bmeasurement_name%7D.ipynb",
                        {"measurement_name": "Experiment-12345", "flag": True, "n": None, "temps": [1, 2.5]})
    assert page.status_code == 200
    assert "Data_Experiment-12345.ipynb" in page.text
    created = confirm(session, server.url, page)
    assert created.status_code == 303
    assert created.headers["Location"] == "http://notebooks.invalid/user/alice/lab/tree/Data_Experiment-12345.ipynb"
    notebook = nbformat.read(homes / "alice" / "Data_Experiment-12345.ipynb", as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[1].source == "measurement_name = 'Experiment-12345'\nflag = True\nn = None\ntemps = [1, 2.5]"
    assert notebook.cells[0].cell_type == "markdown" and len(notebook.cells) == 4


def test_params_in_the_query_string_work_like_the_form_body(server, homes):
    session = requests.Session()
    page = session.get(f"{server.url}/t/some_instrument/data_analysis.ipynb", params={"params": '{"x": 1}'}, timeout=10)
    assert page.status_code == 200
    assert confirm(session, server.url, page).status_code == 303
    cells = nbformat.read(homes / "alice" / "some_instrument" / "data_analysis.ipynb", as_version=4).cells
    assert cells[1].source == "x = 1"


def test_empty_params_add_no_cell(server, homes):
    session = requests.Session()
    confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {}))
    assert len(nbformat.read(homes / "alice" / "Untitled.ipynb", as_version=4).cells) == 3


def test_creating_twice_takes_the_next_free_name_and_never_overwrites(server, homes):
    session = requests.Session()
    (homes / "alice" / "Untitled.ipynb").write_text("mine, do not touch")
    locations = [confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {"i": i})).headers["Location"]
                 for i in range(3)]
    assert [loc.rsplit("/", 1)[1] for loc in locations] == ["Untitled-1.ipynb", "Untitled-2.ipynb", "Untitled-3.ipynb"]
    assert (homes / "alice" / "Untitled.ipynb").read_text() == "mine, do not touch"


def test_unicode_values_reach_the_file_name_and_the_cell(server, homes):
    session = requests.Session()
    page = confirm_page(session, server.url, "Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "Messung-ä漢🙂", "größe": "µm"})
    created = confirm(session, server.url, page)
    assert created.status_code == 303
    assert "Data_Messung-%C3%A4" in created.headers["Location"]
    cell = nbformat.read(homes / "alice" / "Data_Messung-ä漢🙂.ipynb", as_version=4).cells[1]
    assert cell.source == "measurement_name = 'Messung-ä漢🙂'\ngröße = 'µm'"


BAD_REQUESTS = [
    pytest.param("t/..%2F..%2Fetc%2Fpasswd", {}, 400, "starts with a dot", id="traversal-in-template-path"),
    pytest.param("t/some_instrument/%2E%2E/Untitled.ipynb", {}, 400, "starts with a dot", id="dotdot-segment"),
    pytest.param("t/%00.ipynb", {}, 400, "NUL", id="nul-in-template-path"),
    pytest.param("t/nope.ipynb", {}, 404, "no template", id="unknown-template"),
    pytest.param("t/Untitled.ipynb", "{not json", 400, "not valid JSON", id="bad-json"),
    pytest.param("t/Untitled.ipynb", "[1, 2]", 400, "must be a JSON object", id="params-is-a-list"),
    pytest.param("t/Untitled.ipynb", '"text"', 400, "must be a JSON object", id="params-is-a-string"),
    pytest.param("t/Untitled.ipynb", '{"x": NaN}', 400, "not a JSON number", id="nan-value"),
    pytest.param("t/Untitled.ipynb", "[" * 5000 + "]" * 5000, 400, "JSON", id="deeply-nested-json"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {}, 400, 'parameter "measurement_name" is missing', id="missing-parameter"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "../../escaped"}, 400, "path separator", id="traversal-in-value"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "a/b"}, 400, "path separator", id="slash-in-value"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "x\u0000y"}, 400, "NUL", id="nul-in-value"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "x\ny"}, 400, "cannot hold", id="newline-in-value"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "x" * 300}, 400, "longer than", id="too-long-value"),
    pytest.param("t/Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": [1]}, 400, "cannot be used in a file name", id="list-in-file-name"),
    pytest.param("t/Untitled.ipynb", {"not-an-identifier": 1}, 400, "not a valid python variable name", id="dash-in-name"),
    pytest.param("t/Untitled.ipynb", {"import os; x": 1}, 400, "not a valid python variable name", id="code-in-name"),
    pytest.param("t/Untitled.ipynb", {"class": 1}, 400, "not a valid python variable name", id="keyword-name"),
    pytest.param("t/Untitled.ipynb", {"": 1}, 400, "not a valid python variable name", id="empty-name"),
    pytest.param("t/Untitled.ipynb", {"ﬁle": 1}, 400, "not a valid python variable name", id="non-nfkc-unicode-name"),
    pytest.param("t/c/analysis.ipynb", {"values": [1, 2]}, 400, "C notebooks take strings", id="list-in-c-notebook"),
    pytest.param("t/r/analysis.ipynb", {"_x": 1}, 400, "not a valid r variable name", id="r-name-starting-with-underscore"),
    pytest.param("t/julia/analysis.ipynb", {"end": 1}, 400, "not a valid julia variable name", id="julia-keyword-name"),
    pytest.param("t/Untitled.ipynb", '{"x": "\\ud800"}', 400, "lone surrogate", id="lone-surrogate-in-value"),
    pytest.param("t/Untitled.ipynb", '{"\\udfff": 1}', 400, "lone surrogate", id="lone-surrogate-in-name"),
    pytest.param("t/Untitled.ipynb", '{"x": {"y": ["\\ud83d"]}}', 400, "lone surrogate", id="lone-surrogate-nested"),
]


@pytest.mark.parametrize(("path", "params", "status", "message"), BAD_REQUESTS)
def test_bad_requests_get_a_clear_4xx_page_and_write_nothing(server, homes, path, params, status, message):
    before = _files(homes)
    body = {"params": params if isinstance(params, str) else json.dumps(params)}
    response = requests.post(f"{server.url}/{path}", data=body, allow_redirects=False, timeout=10)
    assert response.status_code == status, response.text
    assert message in response.text.replace("&quot;", '"')
    assert response.headers["Content-Type"].startswith("text/html")
    assert _files(homes) == before


def test_a_body_over_the_limit_is_refused_with_413(make_server):
    server = make_server(max_body_bytes=64 * 1024)
    response = requests.post(f"{server.url}/t/Untitled.ipynb", data={"params": json.dumps({"x": "a" * 200_000})}, timeout=10)
    assert response.status_code == 413
    assert "larger than 65536 bytes" in response.text


def test_the_confirm_step_without_the_xsrf_token_is_refused(server, homes):
    session = requests.Session()
    page = confirm_page(session, server.url, "Untitled.ipynb", {"x": 1})
    fields = form_fields(page.text)
    response = session.post(f"{server.url}/create", data={"token": fields["token"]}, allow_redirects=False, timeout=10)
    assert response.status_code == 403
    assert _files(homes) == set()


def test_the_confirm_step_from_another_browser_is_refused(server, homes):
    """A token copied to a browser without the matching xsrf cookie is useless (cross-site forgery)."""
    page = confirm_page(requests.Session(), server.url, "Untitled.ipynb", {"x": 1})
    response = requests.post(f"{server.url}/create", data=form_fields(page.text), allow_redirects=False, timeout=10)
    assert response.status_code == 403
    assert _files(homes) == set()


TOKEN_TAMPERING = [
    pytest.param(lambda token: token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"), "not valid", id="forged-signature"),
    pytest.param(lambda token: "", "token is missing", id="missing-token"),
    pytest.param(lambda token: "x" * 50, "not valid", id="garbage-token"),
]


@pytest.mark.parametrize(("tamper", "message"), TOKEN_TAMPERING)
def test_forged_or_missing_tokens_are_refused(server, homes, tamper, message):
    session = requests.Session()
    page = confirm_page(session, server.url, "Untitled.ipynb", {"x": 1})
    fields = form_fields(page.text)
    fields["token"] = tamper(fields["token"])
    response = session.post(f"{server.url}/create", data=fields, allow_redirects=False, timeout=10)
    assert response.status_code == 400
    assert message in response.text
    assert _files(homes) == set()


def test_a_token_signed_with_another_key_is_refused(server, make_server, homes):
    other = make_server()
    session = requests.Session()
    page = confirm_page(session, other.url, "Untitled.ipynb", {"x": 1})
    fields = form_fields(page.text)
    session.get(f"{server.url}/t/Untitled.ipynb", timeout=10)  # the xsrf cookie of the real server
    page2 = session.get(f"{server.url}/t/Untitled.ipynb", timeout=10)
    fields["_xsrf"] = form_fields(page2.text)["_xsrf"]
    response = session.post(f"{server.url}/create", data=fields, allow_redirects=False, timeout=10)
    assert response.status_code == 400 and "not valid" in response.text


def test_an_expired_token_is_refused(make_server, homes):
    server = make_server(token_max_age=1)
    session = requests.Session()
    page = confirm_page(session, server.url, "Untitled.ipynb", {"x": 1})
    time.sleep(2.1)
    response = confirm(session, server.url, page)
    assert response.status_code == 400
    assert "older than" in response.text
    assert _files(homes) == set()


def test_a_token_issued_to_another_user_is_refused(make_server, homes, templates_dir):
    secret = b"k" * 32
    as_bob = make_server(dev_user="bob", secret_key=secret)
    as_alice = make_server(dev_user="alice", secret_key=secret)
    bob_session, alice_session = requests.Session(), requests.Session()
    token = form_fields(confirm_page(bob_session, as_bob.url, "Untitled.ipynb", {"x": 1}).text)["token"]
    xsrf = form_fields(confirm_page(alice_session, as_alice.url, "Untitled.ipynb", {}).text)["_xsrf"]
    response = alice_session.post(f"{as_alice.url}/create", data={"_xsrf": xsrf, "token": token}, allow_redirects=False, timeout=10)
    assert response.status_code == 403
    assert "another user" in response.text
    assert _files(homes) == set()


def test_a_symlink_in_the_users_folder_cannot_redirect_the_write(server, homes, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (homes / "alice" / "some_instrument").symlink_to(outside)
    session = requests.Session()
    response = confirm(session, server.url, confirm_page(session, server.url, "some_instrument/data_analysis.ipynb", {"x": 1}))
    assert response.status_code == 409
    assert "symlink" in response.text
    assert list(outside.iterdir()) == []


def test_download_mode_returns_the_notebook_as_an_attachment(make_server, homes):
    server = make_server(storage="download")
    session = requests.Session()
    page = confirm_page(session, server.url, "Data_%7Bmeasurement_name%7D.ipynb", {"measurement_name": "Exp 1; ä"})
    response = confirm(session, server.url, page)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/x-ipynb+json"
    assert response.headers["Content-Disposition"] == (
        "attachment; filename=\"Data_Exp_1___.ipynb\"; filename*=UTF-8''Data_Exp%201%3B%20%C3%A4.ipynb"
    )
    assert nbformat.reads(response.text, as_version=4).cells[1].source == "measurement_name = 'Exp 1; ä'"
    assert _files(homes) == set()


def test_the_listing_and_the_health_endpoint_answer(server):
    listing = requests.get(f"{server.url}/", timeout=10)
    assert listing.status_code == 200
    assert "some_instrument/data_analysis.ipynb" in listing.text and "measurement_name" in listing.text
    health = requests.get(f"{server.url}/healthz", timeout=10)
    assert (health.status_code, health.text) == (200, "ok")


def test_pages_carry_a_strict_content_security_policy(server):
    response = requests.get(f"{server.url}/t/Untitled.ipynb", timeout=10)
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("pattern", "made"),
    [
        pytest.param("{username}", ["carol"], id="home-per-user"),
        pytest.param("u-{username}/notebooks", ["u-carol", "u-carol/notebooks"], id="name-inside-a-segment-and-a-subfolder"),
    ],
)
def test_a_user_without_a_home_folder_gets_it_made_as_their_server_would_and_the_notebook_in_it(make_server, homes, pattern, made):
    """Owner: this process (the uid single-user servers run as, `filesUid`); mode 0755, as a server's mkdir under umask 022."""
    server = make_server(dev_user="carol", storage=f"filesystem:{homes}/{pattern}")
    session = requests.Session()
    old_umask = os.umask(0o077)  # the server's mode must not depend on the umask it happens to run with
    try:
        response = confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {"x": 1}))
    finally:
        os.umask(old_umask)
    assert response.status_code == 303, response.text
    assert _files(homes / made[-1]) == {"Untitled.ipynb"}
    for folder in made:
        info = (homes / folder).stat()
        assert (info.st_uid, info.st_gid) == (os.geteuid(), os.getegid())
        assert stat.S_IMODE(info.st_mode) == 0o755, folder


def test_missing_shared_homes_are_a_clear_503_naming_the_folder(make_server, homes, tmp_path):
    server = make_server(storage=f"filesystem:{tmp_path}/not-mounted/{{username}}")
    session = requests.Session()
    response = confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {"x": 1}))
    assert response.status_code == 503
    assert f"{tmp_path}/not-mounted" in response.text
    assert not (tmp_path / "not-mounted").exists()


def test_a_home_that_is_not_a_folder_is_a_clear_503_and_stays_as_it_was(server, homes):
    (homes / "alice").rmdir()
    (homes / "alice").write_text("not a folder")
    session = requests.Session()
    response = confirm(session, server.url, confirm_page(session, server.url, "Untitled.ipynb", {"x": 1}))
    assert response.status_code == 503
    assert "cannot open the folder of user alice: Not a directory" in response.text
    assert (homes / "alice").read_text() == "not a folder"
