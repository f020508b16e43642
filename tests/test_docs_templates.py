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
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import requests
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


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _serve_as_written(command: str) -> None:
    port = int(re.search(r"--port (\d+)", command)[1]) if "--port" in command else 8080
    if not _port_free(port):
        pytest.fail(f"port {port} is in use here, and the documented command binds it")
    process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        assert process.poll() is None, f"`{command}` exited: {process.stdout.read() if process.stdout else ''}"
        listing = requests.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert listing.status_code == 200
        shipped = sorted(p.relative_to(REPO / "notebook-templates").as_posix() for p in (REPO / "notebook-templates").rglob("*.ipynb"))
        for name in shipped:
            assert name in listing.text
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
