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
