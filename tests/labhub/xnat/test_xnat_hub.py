"""XnatAuthenticator and the spawn hook inside a real JupyterHub 5.5.0, loaded as hub.extraFiles ships them.

The module file is written beside the hub's jupyterhub_config.py (z2jh mounts
hub.extraFiles at /usr/local/etc/jupyterhub/ and its config puts that folder on
sys.path), the authenticator is named as `hub.config.JupyterHub.authenticator_class`
names it and the hook is set by the same `hub.extraConfig` snippet the XnatHub
values carry; settings come from the JH_XNAT_* environment as hub.extraEnv sets it.

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
from hub_harness import HubError, HubSettings, RunningHub, missing_executables, start_hub

from labhub.xnat import AUTHENTICATOR_CLASS, HUB_EXTRA_CONFIG, HUB_MODULE, MODULE_NAME

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
c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "workspaces"}}]
c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/workspace/{unescaped_username}", "subPath": "users/{unescaped_username}"}]
"""
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
    settings = HubSettings(
        authenticator_class=AUTHENTICATOR_CLASS,
        extra_files={f"{MODULE_NAME}.py": HUB_MODULE.read_text()},
        extra_config=HUB_EXTRA_CONFIG + RECORDING_SPAWNER,
        env={"JH_XNAT_URL": xnat.url, "JH_XNAT_USERNAME": xnat.hub_account[0], "JH_XNAT_PASSWORD": xnat.hub_account[1],
             "JH_XNAT_ARCHIVE_PVC": "archive", "JH_XNAT_UID": "54", "JH_XNAT_GID": "54", "JH_XNAT_TIMEOUT": "20",
             "KUBECONFIG": str(work / "kubeconfig"), "PODS_DIR": str(work / "pods")},
        spawn=False,
    )  # fmt: skip
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
    assert (env["XNAT_HOST"], env["NB_UID"], env["NB_USER"]) == ("https://xnat.example.org", "54", "alice")
    assert pod["spec"]["volumes"][-1] == {"name": "xnat-archive", "persistentVolumeClaim": {"claimName": "archive", "readOnly": True}}
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
