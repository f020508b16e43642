"""The XNAT pre-spawn hook on a real KubeSpawner, fed by a fake XNAT over real HTTP.

Invariants: what XNAT chose (image, command, env, CPU/memory limits and
reservations, placement, GPUs, data mounts) ends up in the pod manifest
KubeSpawner would send to Kubernetes, on top of the hub's own settings (the
z2jh static workspace storage is kept); every XNAT data path is mounted
read-only as a subPath of the archive PVC, and a path outside the archive is
refused, never mounted elsewhere; any XNAT failure or unusable option fails
the spawn with a message for the user and leaves the spawner as it was.
"""

from __future__ import annotations

import copy
import types
from pathlib import Path
from typing import Any

import kubernetes_asyncio.config.kube_config
import pytest
from fake_xnat import FakeXnat, run_async
from jupyterhub.utils import maybe_future
from kubespawner import KubeSpawner
from traitlets.config import Config

from labhub.xnat.xnat_jupyterhub import XnatSpawnError, pre_spawn_hook

KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: never-called, cluster: {server: "http://127.0.0.1:9"}}]
contexts: [{name: never-called, context: {cluster: never-called, user: none}}]
current-context: never-called
users: [{name: none, user: {}}]
"""

# What XNAT's plugin sends (anchors §2.4): a docker-swarm-shaped task template.
TEMPLATE = {
    "task_template": {
        "container_spec": {
            "image": "xnat/datascience-notebook:1.1.0",
            "command": "start-notebook.sh --ServerApp.root_dir='/workspace/alice smith'",
            "env": {"XNAT_HOST": "https://xnat.example.org", "XNAT_DATA": "/data", "XNAT_ITEM_ID": "XNAT_E00001"},
            "mounts": [
                {"source": "/data/xnat/workspaces/alice", "target": "/workspace/alice", "read_only": False},
                {"source": "/data/xnat/archive/ProjA/arc001/SESS1", "target": "/data/projects/ProjA/experiments/SESS1", "read_only": True},
                {"source": "/data/xnat/archive/ProjA/resources/stats/", "target": "/data/projects/ProjA/resources/stats", "read_only": False},
            ],
            "labels": {"xnat": "true"},
        },
        "placement": {"constraints": ["node.labels.gpu==true", "topology.kubernetes.io/zone == b"]},
        "resources": {"cpu_limit": 4.0, "cpu_reservation": 0.5, "mem_limit": "8g", "mem_reservation": "512M", "generic_resources": {"gpu": 2}},
    }
}
# The hub's own settings, as z2jh's jupyterhub_config.py sets them from singleuser.* values.
HUB_CONFIG = {
    "KubeSpawner": {
        "namespace": "xnat",
        "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": "workspaces"}}],
        "volume_mounts": [{"name": "home", "mountPath": "/workspace/{unescaped_username}", "subPath": "users/{unescaped_username}"}],
        "environment": {"TZ": "UTC"},
        "node_selector": {"hub.jupyter.org/node-purpose": "user"},
    }
}


@pytest.fixture(autouse=True)
def hub_env(fake_xnat: FakeXnat, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hub pod's environment as the XnatHub values set it (hub.extraEnv), and a kubeconfig never called."""
    (tmp_path / "kubeconfig").write_text(KUBECONFIG)  # $KUBECONFIG, read when kubernetes_asyncio was imported
    monkeypatch.setattr(kubernetes_asyncio.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "kubeconfig"))
    user, password = fake_xnat.hub_account
    for name, value in {"JH_XNAT_URL": fake_xnat.url, "JH_XNAT_USERNAME": user, "JH_XNAT_PASSWORD": password,
                        "JH_XNAT_ARCHIVE_PVC": "xnat-archive-claim", "JH_XNAT_UID": "54", "JH_XNAT_GID": "55"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    for name in ("JH_XNAT_ARCHIVE_PATH", "JH_XNAT_WORKSPACE_PATH", "JH_XNAT_TIMEOUT", "JH_XNAT_VERIFY_TLS"):
        monkeypatch.delenv(name, raising=False)


def spawn(user: str = "alice", server: str = "", **config: Any) -> tuple[KubeSpawner, dict[str, Any] | XnatSpawnError]:
    """Run the hook as JupyterHub does before start; the pod manifest KubeSpawner would then create, or the error."""

    async def run() -> tuple[KubeSpawner, dict[str, Any] | XnatSpawnError]:
        merged = Config(copy.deepcopy(HUB_CONFIG))
        merged.merge(Config(config))
        user_row = types.SimpleNamespace(name=user, id=7, url=f"/user/{user}/")
        spawner_row = types.SimpleNamespace(name=server, server=None)  # the hub's database rows, as far as the hook reads them
        spawner = KubeSpawner(_mock=True, user=user_row, orm_spawner=spawner_row, config=merged)
        spawner.pre_spawn_hook = pre_spawn_hook
        try:
            await maybe_future(spawner.run_pre_spawn_hook())
        except XnatSpawnError as e:
            return spawner, e
        pod = await spawner.get_pod_manifest()
        return spawner, spawner.api.api_client.sanitize_for_serialization(pod)

    return run_async(run())


def test_xnat_options_become_the_pod_kubernetes_would_receive(fake_xnat: FakeXnat) -> None:
    fake_xnat.user_options[("alice", "")] = TEMPLATE
    _, pod = spawn()
    assert isinstance(pod, dict), pod
    container = pod["spec"]["containers"][0]
    assert container["image"] == "xnat/datascience-notebook:1.1.0"
    assert container["args"][:2] == ["start-notebook.sh", "--ServerApp.root_dir=/workspace/alice smith"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert {k: env[k] for k in ("XNAT_HOST", "XNAT_DATA", "XNAT_ITEM_ID", "TZ", "NB_USER", "NB_UID", "NB_GID")} == {
        "XNAT_HOST": "https://xnat.example.org", "XNAT_DATA": "/data", "XNAT_ITEM_ID": "XNAT_E00001", "TZ": "UTC",
        "NB_USER": "alice", "NB_UID": "54", "NB_GID": "55",
    }  # fmt: skip
    assert container["resources"] == {
        "limits": {"cpu": 4.0, "memory": 8 * 1024**3, "nvidia.com/gpu": "2"},
        "requests": {"cpu": 0.5, "memory": 512 * 1024**2, "nvidia.com/gpu": "2"},
    }
    assert pod["spec"]["nodeSelector"] == {"hub.jupyter.org/node-purpose": "user", "gpu": "true", "topology.kubernetes.io/zone": "b"}
    assert pod["spec"]["volumes"] == [
        {"name": "home", "persistentVolumeClaim": {"claimName": "workspaces"}},
        {"name": "xnat-archive", "persistentVolumeClaim": {"claimName": "xnat-archive-claim", "readOnly": True}},
    ]
    assert container["volumeMounts"] == [
        {"name": "home", "mountPath": "/workspace/alice", "subPath": "users/alice"},
        {"name": "xnat-archive", "mountPath": "/data/projects/ProjA/experiments/SESS1", "subPath": "ProjA/arc001/SESS1", "readOnly": True},
        {"name": "xnat-archive", "mountPath": "/data/projects/ProjA/resources/stats", "subPath": "ProjA/resources/stats", "readOnly": True},
    ]


@pytest.mark.parametrize(
    ("user", "server", "path"),
    [
        pytest.param("alice", "", "/xapi/jupyterhub/users/alice/server/user-options", id="default-server"),
        pytest.param("alice", "gpu-run", "/xapi/jupyterhub/users/alice/server/gpu-run/user-options", id="named-server"),
        pytest.param("o'brien@uni/x", "a b", "/xapi/jupyterhub/users/o'brien@uni/x/server/a b/user-options", id="special-characters"),
    ],
)
def test_the_hook_asks_xnat_for_that_user_and_server_with_the_hubs_account(fake_xnat: FakeXnat, user: str, server: str, path: str) -> None:
    fake_xnat.user_options[(user, server)] = TEMPLATE
    _, pod = spawn(user, server)
    assert fake_xnat.requests == [(path, "jupyterhub")]
    assert isinstance(pod, dict), pod


def test_archive_root_and_pvc_are_configurable_and_volumes_given_as_a_dict_are_kept(fake_xnat: FakeXnat) -> None:
    template = copy.deepcopy(TEMPLATE)
    template["task_template"]["container_spec"]["mounts"] = [{"source": "/srv/archive/P/S", "target": "/data/projects/P/experiments/S"}]
    fake_xnat.user_options[("alice", "")] = template
    spawner, pod = spawn(XnatSpawnHook={"archive_root": "/srv/archive", "archive_pvc": "other"},
                         KubeSpawner={"volumes": {"home": {"name": "home", "emptyDir": {}}}, "volume_mounts": {}})  # fmt: skip
    assert isinstance(pod, dict), pod
    assert pod["spec"]["volumes"] == [{"name": "home", "emptyDir": {}}, {"name": "xnat-archive", "persistentVolumeClaim": {"claimName": "other", "readOnly": True}}]
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": "xnat-archive", "mountPath": "/data/projects/P/experiments/S", "subPath": "P/S", "readOnly": True}
    ]


def _with(section: str, key: str, value: Any) -> dict[str, Any]:
    template = copy.deepcopy(TEMPLATE)
    template["task_template"][section][key] = value
    return template


def _mount(source: Any) -> dict[str, Any]:
    return _with("container_spec", "mounts", [{"source": source, "target": "/data/x", "read_only": True}])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(_mount("/etc/kubernetes"), "XNAT asked to mount /etc/kubernetes at /data/x, which is not inside the XNAT archive", id="outside-archive"),
        pytest.param(_mount("/data/xnat/archive/../secrets"), "mount /data/xnat/secrets", id="dotdot-escape"),
        pytest.param(_mount("/data/xnat/archive2/P"), "not inside the XNAT archive", id="sibling-with-same-prefix"),
        pytest.param(_mount("/data/xnat/archive"), "not inside the XNAT archive", id="the-whole-archive"),
        pytest.param(_mount("ProjA/arc001"), "not an absolute path", id="relative-source"),
        pytest.param(_with("container_spec", "mounts", [{"source": "/data/xnat/archive/A", "target": "/d"}, {"source": "/data/xnat/archive/B", "target": "/d/"}]),
                     "two folders at /d", id="same-target-twice"),
        pytest.param(_with("resources", "mem_limit", "lots"), "do not fit this hub", id="memory-not-a-size"),
        pytest.param(_with("resources", "generic_resources", {"gpu": "two"}), "count 'two' is not a whole number", id="gpu-not-a-number"),
        pytest.param(_with("placement", "constraints", ["node.role!=manager"]), "'node.role!=manager' is not of the form label==value", id="not-equal-constraint"),
        pytest.param(_with("container_spec", "env", ["JUST_A_NAME"]), "env is not a map", id="env-not-a-map"),
        pytest.param(_with("container_spec", "command", "run 'unclosed"), "cannot be split", id="unbalanced-quote"),
        pytest.param({"something": "else"}, "no task_template", id="no-task-template"),
    ],
)  # fmt: skip
def test_unusable_options_fail_the_spawn_with_a_message_and_change_nothing(fake_xnat: FakeXnat, options: Any, message: str) -> None:
    fake_xnat.user_options[("alice", "")] = options
    spawner, error = spawn()
    assert isinstance(error, XnatSpawnError) and message in error.jupyterhub_message
    assert spawner.image == KubeSpawner.image.default_value and spawner.volumes == HUB_CONFIG["KubeSpawner"]["volumes"]
    assert spawner.environment == {"TZ": "UTC"} and spawner.mem_limit is None


@pytest.mark.parametrize(
    ("break_xnat", "message"),
    [
        pytest.param(lambda x: x.faults.__setitem__("/xapi/jupyterhub/users/alice/server/user-options", "500"), "XNAT answered HTTP 500", id="500"),
        pytest.param(lambda x: setattr(x, "hub_account", ("jupyterhub", "changed")), "XNAT answered HTTP 401", id="401-hub-password-wrong"),
        pytest.param(lambda x: x.user_options.clear(), "XNAT answered HTTP 404", id="404-no-options"),
        pytest.param(lambda x: x.faults.__setitem__("/xapi/jupyterhub/users/alice/server/user-options", "badjson"), "not JSON", id="invalid-json"),
        pytest.param(lambda x: x.faults.__setitem__("/xapi/jupyterhub/users/alice/server/user-options", "slow"), "did not answer", id="slow"),
        pytest.param(lambda x: x.stop(), "could not be reached", id="xnat-down"),
    ],
)  # fmt: skip
def test_a_failed_xnat_call_fails_the_spawn_with_a_readable_message(fake_xnat: FakeXnat, monkeypatch: pytest.MonkeyPatch, break_xnat: Any, message: str) -> None:
    monkeypatch.setenv("JH_XNAT_TIMEOUT", "0.3")
    fake_xnat.user_options[("alice", "")] = TEMPLATE
    break_xnat(fake_xnat)
    spawner, error = spawn()
    assert isinstance(error, XnatSpawnError) and message in error.jupyterhub_message
    assert fake_xnat.hub_account[1] not in error.jupyterhub_message
    assert spawner.image == KubeSpawner.image.default_value


def test_without_the_hubs_xnat_account_the_spawn_fails_before_asking(fake_xnat: FakeXnat, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JH_XNAT_PASSWORD")
    _, error = spawn()
    assert isinstance(error, XnatSpawnError) and "no XNAT account configured" in error.jupyterhub_message
    assert fake_xnat.requests == []
