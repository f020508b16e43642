"""docs/templates.md says only what is true: its commands run as written, its hub values are what renders.

Invariants:
- every command in a `sh` block runs from the repository root exactly as
  written and succeeds. The server command is started, must answer on the
  port it names with the listing of the repository's templates, and is
  stopped. Commands that run for minutes (the test suite, the benchmark)
  are run with `--collect-only` / `--help` appended, which still fails on
  a wrong path, option or interpreter;
- the page's z2jh `hub:` example equals the rendered dev stack's
  `hub.services.templates` (token aside) and `hub.loadRoles`.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from hub_harness import render_stack

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "templates.md"
_BLOCK = re.compile(r"^(?P<indent>[ ]*)```(?P<lang>\w*)\n(?P<body>.*?)^(?P=indent)```", re.M | re.S)


def _blocks(lang: str) -> list[str]:
    return [textwrap.dedent(m["body"]) for m in _BLOCK.finditer(DOC.read_text()) if m["lang"] == lang]


def _commands() -> list[str]:
    commands = []
    for block in _blocks("sh"):
        joined = re.sub(r"\\\n\s*", " ", block)
        commands += [line.split("  #", 1)[0].strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")]
    return commands


def test_the_page_has_commands_to_check():
    commands = _commands()
    assert any("labhub templates serve" in c for c in commands)
    assert len(commands) >= 4


def _private_network() -> bool:
    """Whether commands can run in their own network namespace (root here), where the port they name is free."""
    return subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0


def _fetch(pid: int | None, url: str) -> tuple[int, str]:
    """GET `url` from inside the network namespace of `pid` (or this one): (status, body); (0, "") if unreachable."""
    probe = "import sys, urllib.request\ntry:\n r = urllib.request.urlopen(sys.argv[1], timeout=2)\n print(r.status)\n print(r.read().decode())\nexcept OSError:\n print(0)"
    enter = ["nsenter", "--target", str(pid), "--net"] if pid else []
    out = subprocess.run([*enter, sys.executable, "-c", probe, url], capture_output=True, text=True, timeout=30).stdout
    status, _, body = out.partition("\n")
    return int(status or 0), body


def _serve_as_written(command: str) -> None:
    """Start the documented server command, check it serves the repository's templates, stop it.

    It runs in a network namespace of its own when possible, so the port it
    names as written (8080) is free whatever else runs on this machine.
    """
    port = int(re.search(r"--port (\d+)", command)[1]) if "--port" in command else 8080
    private = _private_network()
    argv = ["unshare", "--net", "bash", "-c", f"ip link set lo up && exec {command}"] if private else ["bash", "-c", f"exec {command}"]
    process = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    pid = process.pid if private else None
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and _fetch(pid, f"http://127.0.0.1:{port}/healthz")[0] != 200:
            time.sleep(0.2)
        assert process.poll() is None, f"`{command}` exited: {process.stdout.read() if process.stdout else ''}"
        status, listing = _fetch(pid, f"http://127.0.0.1:{port}/")
        assert status == 200, f"`{command}` did not answer on port {port}"
        shipped = sorted(p.relative_to(REPO / "notebook-templates").as_posix() for p in (REPO / "notebook-templates").rglob("*.ipynb"))
        for name in shipped:
            assert name in listing
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
@pytest.mark.parametrize("command", _commands())
def test_each_documented_command_runs_as_written(command: str):
    if "labhub templates serve" in command:
        _serve_as_written(command)
        return
    if command.startswith(".venv/bin/pytest"):
        command += " --collect-only"
    elif "bench/" in command:
        command += " --help"
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"`{command}`: {result.stderr[-1500:] or result.stdout[-1500:]}"


def test_the_documented_hub_values_are_what_the_component_renders(tmp_path: Path):
    documented = yaml.safe_load(next(b for b in _blocks("yaml") if b.startswith("hub:")))["hub"]
    rendered = render_stack("dev", tmp_path / "out").values["spyglass"]["hub"]
    service = {k: v for k, v in rendered["services"]["templates"].items() if k not in ("api_token", "name")}
    assert {k: v for k, v in documented["services"]["templates"].items() if k != "api_token"} == service
    assert documented["loadRoles"] == rendered["loadRoles"]
