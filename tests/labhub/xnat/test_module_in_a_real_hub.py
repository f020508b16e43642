"""XnatAuthenticator and the spawn hook inside a real JupyterHub 5.5.0, configured from the rendered dev stack.

The hub is set up from the XNAT hub's chart values as `labhub render` makes them
for the dev stack, the way z2jh 4.4.0 applies them: `hub.extraFiles` written
beside the hub's jupyterhub_config.py (z2jh mounts them at /usr/local/etc/jupyterhub/
and its config puts that folder on sys.path), `hub.config` (authenticator class,
KubeSpawner settings), `hub.extraConfig` (the spawn hook), `hub.extraEnv` (the
JH_XNAT_* settings; Secret references filled with this run's values, and the
XNAT URL pointed at the fake XNAT), and z2jh's static-storage volume and mount.

Invariants: users log in through the hub's own login form only when XNAT says
yes; a login held up at XNAT does not hold up another user's; a spawn gets the
pod XNAT chose (KubeSpawner 7.0.0's manifest, recorded at the point it would be
sent to Kubernetes), and a failed XNAT call shows the user a readable spawn error;
no password reaches the hub's log.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from fake_xnat import FakeXnat
from hub_harness import HubError, HubSettings, RunningHub, missing_executables, start_hub, z2jh_hub_settings
from rendered import chart_values

pytestmark = pytest.mark.integration

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: never-called, cluster: {server: "http://127.0.0.1:9"}}]
contexts: [{name: never-called, context: {cluster: never-called, user: none}}]
current-context: never-called
users: [{name: none, user: {}}]
"""
# A KubeSpawner that, where it would create the pod, writes the manifest KubeSpawner built and stops there.
RECORDING_SPAWNER = """
import json, os
from kubespawner import KubeSpawner

class PodRecorded(Exception):
    jupyterhub_message = "pod manifest recorded (no Kubernetes in this test)"

class RecordingKubeSpawner(KubeSpawner):
    async def start(self):
        pod = self.api.api_client.sanitize_for_serialization(await self.get_pod_manifest())
        with open(os.path.join(os.environ["PODS_DIR"], self.user.name + ".json"), "w") as f:
            json.dump(pod, f)
        raise PodRecorded()

    async def stop(self, now=False):
        pass

    async def poll(self):
        return 0

c.JupyterHub.spawner_class = RecordingKubeSpawner
c.KubeSpawner.namespace = "xnat"
"""
Z2JH_CONFIG_DIR = "/usr/local/etc/jupyterhub"
RELEASE = "xnat-jupyterhub"  # the dev stack's XNAT hub release
OPTIONS = {
    "task_template": {
        "container_spec": {
            "image": "xnat/datascience-notebook:1.1.0",
            "env": {"XNAT_HOST": "https://xnat.example.org"},
            "mounts": [{"source": "/data/xnat/archive/ProjA/arc001/SESS1", "target": "/data/projects/ProjA/experiments/SESS1", "read_only": True}],
        },
        "resources": {"cpu_limit": 2, "mem_limit": "4G"},
    }
}


@dataclass
class XnatHub:
    hub: RunningHub
    xnat: FakeXnat
    pods: Path


@pytest.fixture(scope="module")
def xnat_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XnatHub]:
    if missing_executables():
        pytest.skip(f"real hub not installed ({', '.join(missing_executables())}): run make test-deps")
    work = tmp_path_factory.mktemp("xnat-hub")
    (work / "kubeconfig").write_text(KUBECONFIG)
    (work / "pods").mkdir()
    password = lambda: secrets.token_urlsafe(12)  # noqa: E731
    xnat = FakeXnat(
        accounts={"alice": (password(), ["jupyter"]), "dave": (password(), ["Jupyter"]), "bob": (password(), []), "slowpoke": (password(), ["jupyter"])},
        hub_account=("jupyterhub", password()),
        user_options={("alice", ""): OPTIONS},
        faults={"/xapi/users/slowpoke/roles": "slow", "/xapi/jupyterhub/users/dave/server/user-options": "500"},
    ).start()
    settings = _rendered_hub_settings(xnat, work)
    try:
        with start_hub(settings, work / "hub") as hub:
            yield XnatHub(hub, xnat, work / "pods")
    finally:
        xnat.stop()


def test_a_user_with_the_jupyter_role_logs_in_through_the_hubs_login_form(xnat_hub: XnatHub) -> None:
    session = xnat_hub.hub.login(requests.Session(), "alice", xnat_hub.xnat.accounts["alice"][0])
    assert session.get(f"{xnat_hub.hub.url}/hub/home", allow_redirects=False, timeout=30).status_code == 200
    assert xnat_hub.hub.api("GET", "users/alice").status_code == 200


@pytest.mark.parametrize(
    ("user", "password"),
    [pytest.param("alice", "not-her-password", id="wrong-password"), pytest.param("bob", None, id="no-role-and-site-preference-off")],
)
def test_users_xnat_does_not_let_in_are_refused_at_the_login_form(xnat_hub: XnatHub, user: str, password: str | None) -> None:
    with pytest.raises(HubError, match="answered 403"):
        xnat_hub.hub.login(requests.Session(), user, password or xnat_hub.xnat.accounts[user][0])
    if user == "bob":
        assert xnat_hub.hub.api("GET", "users/bob").status_code == 404  # never created


def test_a_login_held_up_at_xnat_does_not_hold_up_another_users_login(xnat_hub: XnatHub) -> None:
    slow_result: list[object] = []
    slow = threading.Thread(target=lambda: slow_result.append(_login(xnat_hub, "slowpoke")), daemon=True)
    slow.start()
    deadline = time.monotonic() + 10
    while not xnat_hub.xnat.requested("/xapi/users/slowpoke/roles") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert xnat_hub.xnat.requested("/xapi/users/slowpoke/roles")
    started = time.monotonic()
    assert _login(xnat_hub, "dave") == 302
    assert time.monotonic() - started < 5 and slow.is_alive() and slow_result == []
    xnat_hub.xnat.release.set()
    slow.join(timeout=30)
    assert slow_result == [302]


def test_a_spawn_gets_the_pod_xnat_chose(xnat_hub: XnatHub) -> None:
    xnat_hub.hub.login(requests.Session(), "alice", xnat_hub.xnat.accounts["alice"][0])
    assert _spawn_message(xnat_hub, "alice") == "Spawn failed: pod manifest recorded (no Kubernetes in this test)"
    pod = json.loads((xnat_hub.pods / "alice.json").read_text())
    container = pod["spec"]["containers"][0]
    assert container["image"] == "xnat/datascience-notebook:1.1.0"
    assert container["resources"]["limits"] == {"cpu": 2.0, "memory": 4 * 1024**3}
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert (env["XNAT_HOST"], env["NB_UID"], env["NB_USER"]) == ("https://xnat.example.org", "1000", "alice")
    assert pod["spec"]["volumes"] == [
        {"name": "home", "persistentVolumeClaim": {"claimName": "workspaces"}},
        {"name": "xnat-archive", "persistentVolumeClaim": {"claimName": "archive", "readOnly": True}},
    ]
    assert container["workingDir"] == "/workspace/alice"  # hub.config.KubeSpawner.working_dir, expanded
    assert container["volumeMounts"] == [
        {"name": "home", "mountPath": "/workspace/alice", "subPath": "users/alice"},
        {"name": "xnat-archive", "mountPath": "/data/projects/ProjA/experiments/SESS1", "subPath": "ProjA/arc001/SESS1", "readOnly": True},
    ]


def test_a_failed_xnat_call_shows_the_user_a_readable_spawn_error(xnat_hub: XnatHub) -> None:
    xnat_hub.hub.login(requests.Session(), "dave", xnat_hub.xnat.accounts["dave"][0])
    assert _spawn_message(xnat_hub, "dave") == (
        "Spawn failed: XNAT answered HTTP 500 when asked for your server options; start the server from XNAT again."
    )
    assert not (xnat_hub.pods / "dave.json").exists()


def test_no_password_reaches_the_hub_log(xnat_hub: XnatHub) -> None:
    log = xnat_hub.hub.log_text()
    assert "xnat_jupyterhub" in log or "XnatAuthenticator" in log  # the log is the hub's, with our module in it
    for secret in [xnat_hub.xnat.hub_account[1], *(password for password, _ in xnat_hub.xnat.accounts.values())]:
        assert secret not in log


def _rendered_hub_settings(xnat: FakeXnat, work: Path) -> HubSettings:
    """The dev stack's XNAT hub values applied as z2jh applies them (see the module docstring)."""
    values = chart_values("dev", RELEASE)
    hub = values["hub"]
    settings = z2jh_hub_settings(values, secret=lambda path: pytest.fail(f"rendered values lack {path}"))
    for file in hub["extraFiles"].values():
        folder, _, name = file["mountPath"].rpartition("/")
        assert folder == Z2JH_CONFIG_DIR, "only files beside z2jh's jupyterhub_config.py are importable"
        settings.extra_files[name] = file["stringData"]
    storage = values["singleuser"]["storage"]  # z2jh's jupyterhub_config.py, storage type static
    static_storage = (
        f"c.KubeSpawner.volumes = [{{'name': 'home', 'persistentVolumeClaim': {{'claimName': {storage['static']['pvcName']!r}}}}}]\n"
        f"c.KubeSpawner.volume_mounts = [{{'mountPath': {storage['homeMountPath']!r}, 'name': 'home', 'subPath': {storage['static']['subPath']!r}}}]\n"
    )
    settings.extra_config = static_storage + "".join(hub["extraConfig"][k] for k in sorted(hub["extraConfig"])) + RECORDING_SPAWNER
    secrets = {"xnat-jupyterhub-xnat-account": xnat.hub_account[1], "xnat-jupyterhub-postgres": "unused-here"}
    env = {}
    for name, value in hub["extraEnv"].items():
        ref = value["valueFrom"]["secretKeyRef"] if isinstance(value, dict) else None
        env[name] = secrets[ref["name"]] if ref else value
    env["JH_XNAT_URL"] = xnat.url  # the one change: the fake XNAT instead of the in-cluster one
    settings.env = {**env, "KUBECONFIG": str(work / "kubeconfig"), "PODS_DIR": str(work / "pods")}
    settings.spawn = False
    return settings


def _login(xnat_hub: XnatHub, user: str) -> int:
    """The login form's answer for `user` with their XNAT password (302 = logged in)."""
    try:
        xnat_hub.hub.login(requests.Session(), user, xnat_hub.xnat.accounts[user][0])
    except HubError as e:
        return int(str(e).rsplit(" ", 1)[-1])
    return 302


def _spawn_message(xnat_hub: XnatHub, user: str) -> str:
    """Start the user's server through the API and read the hub's final progress event for it."""
    xnat_hub.hub.api("POST", f"users/{user}/server")
    deadline = time.monotonic() + 30
    while xnat_hub.hub.api("GET", f"users/{user}").json().get("pending") and time.monotonic() < deadline:
        time.sleep(0.1)
    with xnat_hub.hub.api("GET", f"users/{user}/server/progress", stream=True) as response:
        events = [json.loads(line[5:]) for line in response.iter_lines(decode_unicode=True) if line.startswith("data:")]
    return events[-1]["message"]
