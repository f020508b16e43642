"""End to end behind a real JupyterHub 5.5.0, configured and deployed exactly as the dev stack renders it.

Setup, all read from `labhub render --stack dev` (nothing retyped):
- the hub (tests/hub_harness.py, with configurable-http-proxy) gets the
  `templates` service and the roles from the rendered `hub.services` and
  `hub.loadRoles`, mapped as z2jh's jupyterhub_config.py maps them;
- the templating server runs as `labhub templates serve` with exactly the
  rendered Deployment's arguments and environment. Only two kinds of value
  are replaced: the secrets render redacts (generated per run; the
  service's token is the same value on both sides, as StackSecrets makes
  it) and the in-cluster addresses the render names (hub, proxy-public, the
  public hub URL, the service's own address, its port and mount path), each
  mapped to its local counterpart by `_LocalCluster`;
- the templates folder is the rendered ConfigMap laid out as kubelet lays
  out the rendered volume (with its `items`).

Invariants:
- a browser logged in at the hub clicks SampleDB's "Create Notebook" (a
  cross-site form POST from another origin), goes through the hub's OAuth,
  sees the confirmation, confirms, and lands on the new notebook in
  JupyterLab in its own single-user server (spawned by the hub for it,
  `contents` mode), where the notebook exists with the parameters cell; a
  second click (the service's cookie now set) makes a `-1` copy;
- the confirm step still needs the xsrf token (a logged-in session without
  it is refused, nothing written);
- a user token without the access scope, another service's token and a
  forged service cookie are refused.
"""

from __future__ import annotations

import html
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import requests
import tornado.web
from hub_harness import RunningHub, free_port, missing_executables, render_stack, start_hub, z2jh_hub_settings
from kubelet_volume import configmap_volume_from_manifests
from templates_testlib import form_fields, run_tornado

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEMPLATE = "Sample_{name}.ipynb"  # the dev stack's template (notebook-templates/)
PARAMS = {"name": "S-12345", "object_id": 12345}
CREATED = "Sample_S-12345.ipynb"


@dataclass
class _LocalCluster:
    """Every in-cluster address the render names, and what stands for it on this machine."""

    replacements: dict[str, str]

    def localise(self, value: str) -> str:
        for cluster, local in self.replacements.items():
            if value == cluster or value.startswith(cluster + "/"):
                return local + value[len(cluster):]
        return value


@dataclass
class Deployed:
    hub: RunningHub
    server_url: str
    env: dict[str, str]
    rendered_env: list[dict]
    cluster: _LocalCluster
    home: Path
    service_token: str


def _container(stack) -> dict:
    return stack.manifest("Deployment", "notebook-templates")["spec"]["template"]["spec"]["containers"][0]


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"templating server exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"templating server not healthy: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    missing = missing_executables() + ([] if os.access(CHROMIUM, os.X_OK) else [CHROMIUM])
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run make test-deps")
    work = tmp_path_factory.mktemp("real-hub")
    stack = render_stack("dev", work / "render")
    values = stack.values["spyglass"]
    pod = stack.manifest("Deployment", "notebook-templates")["spec"]["template"]["spec"]
    container = _container(stack)
    secret = stack.manifest("Secret", "notebook-templates")
    generated = {key: secrets.token_hex(32) for key in secret["stringData"]}  # what the cluster's Secret would hold
    service = values["hub"]["services"]["templates"]

    # The service token is one StackSecrets value, in the chart's hub.services and in the server's Secret.
    token_key = next(e["valueFrom"]["secretKeyRef"]["key"] for e in container["env"] if e["name"] == "JUPYTERHUB_API_TOKEN")
    settings = z2jh_hub_settings(values, lambda path: generated[token_key] if path == "hub.services.templates.apiToken" else secrets.token_hex(32))

    # The templates volume, laid out from the rendered ConfigMap and the rendered volume.
    mount = container["volumeMounts"][0]
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    config_map = stack.manifest("ConfigMap", volume["configMap"]["name"])
    local_mount = work / "volumes" / mount["name"]
    configmap_volume_from_manifests(local_mount, config_map, volume)

    args = container["args"]
    port = free_port()
    service_url = f"http://127.0.0.1:{port}"
    settings.services = [dict(s, url=service_url) if s["name"] == "templates" else s for s in settings.services]
    assert service["url"] != service_url  # the rendered in-cluster address is replaced, not kept
    with start_hub(settings, work / "hub") as hub:
        api = urlsplit(next(e["value"] for e in container["env"] if e["name"] == "JUPYTERHUB_API_URL"))
        cluster = _LocalCluster({
            f"{api.scheme}://{api.netloc}": f"http://127.0.0.1:{hub.hub_port}",  # the hub Service (API port)
            args[args.index("--proxy-url") + 1]: hub.url,  # proxy-public
            args[args.index("--hub-url") + 1]: hub.url,  # the public hub URL
            service["url"]: service_url,  # this server's own Service
            mount["mountPath"]: str(local_mount),
            args[args.index("--port") + 1]: str(port),
        })
        env = {"PATH": os.environ["PATH"]}
        for entry in container["env"]:
            if "valueFrom" in entry:
                ref = entry["valueFrom"]["secretKeyRef"]
                assert ref["name"] == secret["metadata"]["name"]
                env[entry["name"]] = generated[ref["key"]]
            else:
                env[entry["name"]] = cluster.localise(entry["value"])
        log = work / "templates.log"
        labhub = Path(sys.executable).parent / "labhub"
        with open(log, "wb") as out:
            process = subprocess.Popen([str(labhub), *container.get("command", ["templates", "serve"]), *map(cluster.localise, args)],
                                       env=env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
        try:
            _wait_healthy(service_url, process, log)
            yield Deployed(hub, service_url, env, container["env"], cluster, hub.workdir / "home" / "alice", generated[token_key])
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_the_server_runs_with_the_rendered_environment_changing_only_secrets_and_cluster_addresses(deployed: Deployed):
    for entry in deployed.rendered_env:
        given = deployed.env[entry["name"]]
        if "value" in entry:
            assert given == deployed.cluster.localise(entry["value"]), entry["name"]
        else:
            assert entry["valueFrom"]["secretKeyRef"] and len(given) == 64, entry["name"]
    assert deployed.env["JUPYTERHUB_OAUTH_CALLBACK_URL"] == "/services/templates/oauth_callback"


class SampleDBObjectPage(tornado.web.RequestHandler):
    """What SampleDB renders for an object with a notebook template: a plain form, no CSRF token."""

    def get(self) -> None:
        action, params = self.settings["action"], self.settings["params"]
        self.finish(f"""<!doctype html><html><body><h1>Object #12345</h1>
<form method="post" action="{html.escape(action)}">
<input type="hidden" name="params" value="{html.escape(json.dumps(params))}">
<button type="submit" id="create-notebook">Create Notebook</button></form></body></html>""")


def test_a_sampledb_click_logs_in_through_the_hub_and_creates_the_notebook_in_the_users_server(deployed: Deployed):
    from playwright.sync_api import sync_playwright

    hub = deployed.hub
    action = f"{hub.url}/services/templates/t/{quote(TEMPLATE)}"
    sampledb = run_tornado(tornado.web.Application([(r"/objects/12345", SampleDBObjectPage)], action=action, params=PARAMS))
    sampledb_url = sampledb.url.replace("127.0.0.1", "localhost")  # another site than the hub's 127.0.0.1
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page()
                page.goto(f"{hub.url}/hub/login?next=%2Fhub%2Fhome")
                page.fill("#username_input", "alice")
                page.click("#login_submit")
                page.wait_for_url(f"{hub.url}/hub/home", timeout=15_000)
                assert hub.api("GET", "users/alice").json()["servers"] == {}, "alice has never started a server"

                page.goto(f"{sampledb_url}/objects/12345")
                page.click("#create-notebook")
                page.wait_for_selector("#confirm", timeout=20_000)
                assert page.url.startswith(f"{hub.url}/services/templates/t/")
                assert page.inner_text("#destination") == CREATED
                assert "name = 'S-12345'" in page.inner_text("#cell")
                landing = f"{hub.url}/user/alice/lab/tree/{CREATED}"
                answers = {}
                page.on("response", lambda response: answers.__setitem__(response.url, response.status))  # the last answer per URL
                page.click("#confirm")
                page.wait_for_url(landing, timeout=60_000)
                assert answers.get(landing) == 200, "after its own OAuth, JupyterLab in alice's server answers the notebook's URL"

                # A second click, now with the service's cookie in the browser: confirmed again, never overwritten.
                page.goto(f"{sampledb_url}/objects/12345")
                page.click("#create-notebook")
                page.wait_for_selector("#confirm", timeout=20_000)
                page.click("#confirm")
                page.wait_for_url(f"{hub.url}/user/alice/lab/tree/{CREATED.replace('.ipynb', '-1.ipynb')}", timeout=30_000)
            finally:
                browser.close()
    finally:
        sampledb.stop()
    notebook = hub.api("GET", "/users/alice").json()
    assert notebook["servers"][""]["ready"], "the hub spawned alice's server for the notebook"
    contents = requests.get(f"{hub.url}/user/alice/api/contents/{CREATED}", headers={"Authorization": f"token {hub.admin_token}"}, timeout=10)
    assert contents.status_code == 200, contents.text
    cells = contents.json()["content"]["cells"]
    assert "".join(cells[1]["source"]) == "name = 'S-12345'\nobject_id = 12345"
    assert sorted(p.name for p in deployed.home.glob("Sample_*.ipynb")) == [CREATED.replace(".ipynb", "-1.ipynb"), CREATED], \
        "both written into alice's real server folder"


def _logged_in_session(hub: RunningHub, name: str) -> requests.Session:
    """A session that has logged in at the hub and completed the service's OAuth (cookies as a browser keeps them)."""
    session = hub.login(requests.Session(), name)
    response = session.get(f"{hub.url}/services/templates/", timeout=20)
    assert response.status_code == 200 and name in response.text, response.text[:500]
    return session


def test_the_confirm_step_without_the_xsrf_token_is_refused_behind_the_hub(deployed: Deployed):
    hub = deployed.hub
    session = _logged_in_session(hub, "carol")
    page = session.get(f"{hub.url}/services/templates/t/{quote(TEMPLATE)}", params={"params": json.dumps(PARAMS)}, timeout=20)
    assert page.status_code == 200, page.text[:500]
    token = html.unescape(form_fields(page.text)["token"])
    refused = session.post(f"{hub.url}/services/templates/create", data={"token": token}, allow_redirects=False, timeout=20)
    assert refused.status_code == 403
    assert hub.api("GET", "users/carol").json()["servers"] == {}, "nothing was started or written"
    # The same session with the form's xsrf field is accepted: the 403 above was the CSRF check.
    fields = {k: html.unescape(v) for k, v in form_fields(page.text).items()}
    accepted = session.post(f"{hub.url}/services/templates/create", data=fields, allow_redirects=False, timeout=20)
    assert accepted.status_code in (202, 303), accepted.text[:500]  # 202: carol's server is being started for it


def test_a_forged_service_cookie_is_not_a_login(deployed: Deployed):
    hub = deployed.hub
    genuine = _logged_in_session(hub, "dave")
    names = [c.name for c in genuine.cookies if c.path.startswith("/services/templates")]
    assert names, "the OAuth round trip set the service's cookie"
    forged = requests.Session()
    for name in names:
        value = genuine.cookies.get(name, path="/services/templates/")
        forged.cookies.set(name, value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"), path="/services/templates/")
    response = forged.get(f"{hub.url}/services/templates/", allow_redirects=False, timeout=20)
    assert response.status_code == 302 and "/hub/api/oauth2/authorize" in response.headers["Location"]


def test_tokens_without_the_access_scope_are_refused(deployed: Deployed):
    hub = deployed.hub
    hub.api("POST", "users/erin")
    narrow = hub.api("POST", "users/erin/tokens", json={"scopes": ["read:users:name!user=erin"], "note": "no access scope"})
    assert narrow.status_code == 201, narrow.text
    tokens = {
        "user token without the access scope": narrow.json()["token"],
        "another service's token": hub.admin_token,  # the harness's own service, admin scopes but not this one
    }
    for what, token in tokens.items():
        for method, path in (("GET", ""), ("POST", f"t/{quote(TEMPLATE)}")):
            response = requests.request(method, f"{hub.url}/services/templates/{path}", headers={"Authorization": f"token {token}"},
                                        data={"params": json.dumps(PARAMS)} if method == "POST" else None, allow_redirects=False, timeout=20)
            assert response.status_code == 403, f"{what}: {method} {path} answered {response.status_code}"
    assert not (hub.workdir / "home" / "erin").exists()


def _token_checks(hub: RunningHub) -> int:
    return hub.log_text().count("GET /hub/api/user ")  # the hub's access-log line for one token check


def test_token_checks_are_cached_not_one_hub_api_call_per_request(deployed: Deployed):
    hub = deployed.hub
    hub.api("POST", "users/frank")
    token = hub.api("POST", "users/frank/tokens", json={"note": "cache check"}).json()["token"]
    before = _token_checks(hub)
    for _ in range(20):
        response = requests.get(f"{deployed.server_url}/services/templates/", headers={"Authorization": f"token {token}"}, timeout=20)
        assert response.status_code == 200 and "frank" in response.text
    time.sleep(0.5)  # the hub's log line is written after its response
    assert _token_checks(hub) - before == 1
