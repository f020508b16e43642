"""Helpers shared by the backup integration tests: run the real CLI, watch its processes' command lines.

The CLI runs as `python -m labhub.cli ...`, i.e. `labhub ...` without relying
on the virtualenv's bin folder being on PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LABHUB = [sys.executable, "-m", "labhub.cli"]
REPO = Path(__file__).resolve().parents[2]


def labhub(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LABHUB, *args], capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO, check=False)


def start_labhub(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*LABHUB, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (children, grandchildren...), from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as handle:
                    stat = handle.read()
            except OSError:
                continue
            parents[int(entry)] = int(stat[stat.rindex(b")") + 2 :].split()[1])
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found += children
        frontier += children
    return found


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [part.decode(errors="replace") for part in handle.read().split(b"\0") if part]
    except OSError:
        return []


def watch_cmdlines(process: subprocess.Popen[str], timeout: float = 300) -> list[list[str]]:
    """Every distinct command line of `process` and its descendants, sampled until it exits."""
    seen: list[list[str]] = []
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        for pid in [process.pid, *descendants(process.pid)]:
            line = cmdline(pid)
            if line and line not in seen:
                seen.append(line)
        time.sleep(0.005)
    return seen


def wait_for_child(process: subprocess.Popen[str], program: str, timeout: float = 60) -> int:
    """The pid of the first descendant whose argv[0] ends with `program`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        for pid in descendants(process.pid):
            line = cmdline(pid)
            if line and Path(line[0]).name in (program if isinstance(program, tuple) else (program,)):
                return pid
        time.sleep(0.005)
    raise AssertionError(f"no {program} child appeared")


def finished_or_partial(dest: Path) -> list[str]:
    return sorted(child.name for child in dest.iterdir())


# --- running a rendered (Cron)Job's command as its pod would -------------------------------------------

KUBELET_STAMP = "..2026_12_03_02_30_00.123456789"


def lay_out_kubelet_volume(root: Path, files: dict[str, str], mode: int, items: list[dict[str, str]] | None = None) -> None:
    """A Secret/ConfigMap volume exactly as the kubelet's atomic writer leaves it (only `items`, at their paths, when listed)."""
    if items is not None:
        files = {item["path"]: files[item["key"]] for item in items}
    stamped = root / KUBELET_STAMP
    stamped.mkdir(parents=True)
    for key, content in files.items():
        (stamped / key).write_text(content)
        (stamped / key).chmod(mode)
    (root / "..data").symlink_to(KUBELET_STAMP)
    for key in files:
        (root / key).symlink_to(f"..data/{key}")



def run_cron_job(job: dict[str, Any], contents: dict[str, dict[str, str]], shared: dict[str, Path], tmp: Path) -> subprocess.CompletedProcess[str]:
    """Run a CronJob's (or a Job's) main container command as the pod would: volumes laid out, mount paths mapped."""
    template = job["spec"]["jobTemplate"]["spec"]["template"] if "jobTemplate" in job["spec"] else job["spec"]["template"]
    spec = template["spec"]
    (container,) = spec["containers"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    mapping: dict[str, str] = {}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "persistentVolumeClaim" in volume:
            folder = shared[volume["persistentVolumeClaim"]["claimName"]]
        else:
            folder = tmp / f"volume-{mount['name']}"
            if "secret" in volume:
                secret = volume["secret"]
                lay_out_kubelet_volume(folder, contents[secret["secretName"]], secret["defaultMode"], secret.get("items"))
            elif "configMap" in volume:
                lay_out_kubelet_volume(folder, contents[volume["configMap"]["name"]], volume["configMap"]["defaultMode"])
            else:
                folder.mkdir(parents=True)
        mapping[mount["mountPath"]] = str(folder)

    def mapped(text: str) -> str:
        for mount_path, folder in mapping.items():
            if text == mount_path or text.startswith(mount_path + "/"):
                return folder + text[len(mount_path) :]
        return text

    command = [mapped(arg) for arg in container["command"]]
    assert command[0] == "labhub"
    env = {**os.environ, **{e["name"]: mapped(e["value"]) for e in container.get("env", []) if "value" in e}}
    return subprocess.run(
        [sys.executable, "-m", "labhub.cli", *command[1:]], capture_output=True, text=True, env=env, cwd=REPO, timeout=300, check=False
    )


def without_offsite(command: list[str]) -> list[str]:
    """Drop the --s3-* flags: prod copies to AWS; the off-site copy runs against a real S3 server in test_backup_offsite.py."""
    out: list[str] = []
    args = iter(command)
    for arg in args:
        if arg.startswith("--s3-"):
            next(args)
        else:
            out.append(arg)
    return out


def pointed_at(command: list[str], port: int) -> list[str]:
    """The one other substitution: the Service's host and port become the throwaway server's."""
    out = list(command)
    out[out.index("--host") + 1], out[out.index("--port") + 1] = "127.0.0.1", str(port)
    return out
