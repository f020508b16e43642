"""Benchmark: the full SampleDB create flow against `labhub templates serve` (filesystem mode).

One flow = what a user's click costs the server:
  1. POST /t/<template> with a urlencoded `params` JSON object (SampleDB's form)
  2. read the confirmation page (token + xsrf field)
  3. POST /create (the confirm click) -> 303, notebook written to disk

The server runs as its own process (`labhub templates serve`, started here);
this process is the load generator: `--threads` client threads (default 4)
with persistent HTTP/1.1 connections to 127.0.0.1 only, bounded by
`--flows` and `--max-seconds`. Server CPU comes from /proc/<pid>/stat
(utime + stime, summed over the server and its forked children) taken
around the measured phase; latency is per flow (steps 1-3), p50/p99.

The file system matters: ext4 does not hand out inodes freed in the last
60-300 s (RECENTCY_MIN / RECENTCY_DIRTY in fs/ext4/ialloc.c), and allocating
past thousands of them is kernel time charged to the server. A run started
soon after mass deletions (the previous run's cleanup, a test suite)
measures that, not labhub; this script says so when its own previous
cleanup was less than QUIET_SECONDS ago (`fs_quiet` in the results).
So does the page cache: a phase writes about 1.2 GB of notebooks, and the
next phase's writes cost several times the system time while those pages
are cached. Every measured phase, the floor's included, therefore starts
after `floor.settle_page_cache()` (sync, and the page cache dropped where
this process may), and every phase's files are kept until the run ends.

Modes (`--modes`, default all three, in one run so they share the machine's state):
  floor  bench/templates/floor.py: bare tornado + the same file write (what any server pays here);
         measured first and again after each round, a round's floor is the mean of the two around it
  dev    the server with --dev-user (no authentication)
  hub    the server behind a real JupyterHub 5.5.0 (bench/templates/hub_mode.py): clients logged in
         through the hub's OAuth, each request authenticated by its cookie; hub API calls counted

`--rounds N` repeats the server modes N times with the floor between them, and
checks the hub target in each round.

Usage:  .venv/bin/python bench/templates/run.py [--flows 6000] [--threads 4] [--processes 1] [--modes floor,dev,hub] [--rounds 1]
Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import quote, urlencode

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # floor.py, hub_mode.py
from floor import measure_floor, settle_page_cache  # noqa: E402

TEMPLATE = "instrument/Data_{measurement_name}.ipynb"
_FIELD = re.compile(rb'name="(_xsrf|token)" value="([^"]*)"')
TICKS = os.sysconf("SC_CLK_TCK")


def make_template(folder: Path, target_bytes: int = 200_000) -> int:
    """A realistic ~200 KB Python template: markdown, code and text outputs."""
    notebook = new_notebook(cells=[new_markdown_cell("# Measurement analysis\nParameters are injected below.")])
    notebook.metadata.kernelspec = {"name": "python3", "language": "python", "display_name": "Python 3"}
    i = 0
    while len(nbformat.writes(notebook)) < target_bytes:
        cell = new_code_cell(f"data_{i} = load(measurement_name, channel={i})\nplot(data_{i}, title='Channel {i}')\n", execution_count=i + 1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"channel {i}: " + "0.123456 " * 60 + "\n")]
        notebook.cells.append(cell)
        notebook.cells.append(new_markdown_cell(f"## Channel {i}\nNotes about channel {i} of the instrument; units are µV."))
        i += 1
    path = folder / TEMPLATE
    path.parent.mkdir(parents=True)
    path.write_text(nbformat.writes(notebook), encoding="utf-8")
    return path.stat().st_size


def cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """(user, system) CPU seconds of `pids`, from /proc/<pid>/stat fields 14 and 15."""
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        user, system = user + int(fields[11]), system + int(fields[12])
    return user / TICKS, system / TICKS


def server_pids(root_pid: int) -> list[int]:
    children = Path(f"/proc/{root_pid}/task/{root_pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [root_pid, *kids]


class Client:
    """One load-generator thread: a persistent connection and its cookies (the xsrf cookie; in hub mode the login)."""

    def __init__(self, port: int, thread_id: int, prefix: str = "/", cookie: str = "") -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        self.cookies = dict(part.split("=", 1) for part in cookie.split("; ") if part)
        self.prefix = prefix
        self.thread_id = thread_id

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return headers

    def flow(self, number: int) -> float:
        started = time.perf_counter()
        params = json.dumps({"measurement_name": f"M{self.thread_id}-{number}", "operator": "bench", "temperature_k": 4.2, "calibrated": True})
        self.connection.request("POST", self.prefix + "t/" + quote(TEMPLATE), urlencode({"params": params}), self._headers())
        response = self.connection.getresponse()
        page = response.read()
        if response.status != 200:
            raise RuntimeError(f"confirmation page: HTTP {response.status}: {page[:200]!r}")
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, value = cookie.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        fields = {k.decode(): v.decode() for k, v in _FIELD.findall(page)}
        self.connection.request("POST", self.prefix + "create", urlencode(fields), self._headers())
        response = self.connection.getresponse()
        body = response.read()
        if response.status != 303:
            raise RuntimeError(f"confirm: HTTP {response.status}: {body[:300]!r}")
        return time.perf_counter() - started


def run_phase(port: int, threads: int, flows: int, max_seconds: float, offset: int, prefix: str = "/",
              cookies: list[str] | None = None) -> tuple[list[float], float]:
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + max_seconds
    per_thread = flows // threads
    errors: list[BaseException] = []

    def worker(thread_id: int) -> None:
        client = Client(port, thread_id, prefix, (cookies or [""] * threads)[thread_id])
        mine = []
        try:
            for n in range(per_thread):
                if time.monotonic() > deadline:
                    break
                mine.append(client.flow(offset + n))
        except BaseException as error:  # reported after the phase
            errors.append(error)
        with lock:
            latencies.extend(mine)

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise errors[0]
    return latencies, time.perf_counter() - started


QUIET_SECONDS = 300
CLEANUP_MARKER = Path(tempfile.gettempdir()) / "labhub-bench-templates.cleanup"


def seconds_since_last_cleanup() -> float | None:
    try:
        return time.time() - CLEANUP_MARKER.stat().st_mtime
    except FileNotFoundError:
        return None


def measure_server(mode: str, args: argparse.Namespace, work: Path) -> dict:
    """Start `labhub templates serve` in `mode` ("dev": --dev-user; "hub": behind a real hub) and measure it."""
    templates, homes = work / mode / "templates", work / mode / "home"
    for t in range(args.threads):
        (homes / f"bench{t}").mkdir(parents=True)
    (homes / "bench").mkdir()
    size = make_template(templates)
    with ExitStack() as stack:
        env = dict(os.environ, LABHUB_TEMPLATES_SECRET_KEY=secrets.token_hex(32))
        for name in [k for k in env if k.startswith("JUPYTERHUB_")]:
            env.pop(name)
        if mode == "hub":
            from hub_mode import hub_setup

            setup = stack.enter_context(hub_setup(work / mode))
            port, prefix = setup.port, setup.prefix
            env.update(setup.env)
            auth = ["--hub-url", setup.hub_url]
        else:
            with socket_port() as port:
                pass
            prefix, auth = "/", ["--dev-user", "bench", "--open-url", "http://127.0.0.1:9/{path}"]
        server = subprocess.Popen(
            [sys.executable, *(os.environ.get("BENCH_SERVER_PREFIX", "-m labhub.cli").split()), "templates", "serve", "--templates", str(templates),
             "--storage", f"filesystem:{homes}/{{username}}", *auth, "--port", str(port),
             "--processes", str(args.processes), "--log-level", "WARNING"],
            env=env, cwd=ROOT,
        )
        try:
            wait_ready(port)
            cookies = [setup.login(f"bench{t}") for t in range(args.threads)] if mode == "hub" else None
            run_phase(port, args.threads, args.warmup, 30, offset=10_000_000, prefix=prefix, cookies=cookies)
            checks_before = setup.user_checks() if mode == "hub" else 0
            pids = server_pids(server.pid)
            dropped = settle_page_cache()
            cpu_before = cpu_seconds(pids)
            latencies, wall = run_phase(port, args.threads, args.flows, args.max_seconds, offset=0, prefix=prefix, cookies=cookies)
            cpu_after = cpu_seconds(pids)
            hub_checks = (setup.user_checks() - checks_before) if mode == "hub" else None
            user, system = cpu_after[0] - cpu_before[0], cpu_after[1] - cpu_before[1]
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    written = sum(1 for folder in homes.iterdir() if (folder / "instrument").is_dir() for _ in (folder / "instrument").iterdir())
    latencies.sort()
    flows = len(latencies)
    result = {
        "mode": mode,
        "template_bytes": size,
        "threads": args.threads,
        "server_processes": args.processes,
        "flows": flows,
        "seconds": round(wall, 3),
        "flows_per_second": round(flows / wall, 1),
        "server_cpu_ms_per_flow": round((user + system) * 1000 / flows, 3),
        "server_user_ms_per_flow": round(user * 1000 / flows, 3),
        "server_system_ms_per_flow": round(system * 1000 / flows, 3),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[int(flows * 0.99) - 1] * 1000, 2),
        "notebooks_written": written,
        "page_cache_dropped": dropped,
    }
    if hub_checks is not None:
        result["hub_token_checks"] = hub_checks
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=6000, help="measured flows in total per mode (default 6000)")
    parser.add_argument("--warmup", type=int, default=400)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--processes", type=int, default=1, help="server processes (labhub --processes)")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="hard bound on each measured phase")
    parser.add_argument("--modes", default="floor,dev,hub", help="comma-separated, in order: floor, dev, hub (default all three)")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the modes this many times, the floor between rounds (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= {"floor", "dev", "hub"} or args.rounds < 1:
        parser.error("--modes takes floor, dev and hub; --rounds at least 1")

    since = seconds_since_last_cleanup()
    fs_quiet = since is None or since >= QUIET_SECONDS
    if not fs_quiet:
        print(f"warning: the previous run deleted its notebooks {since:.0f} s ago; ext4 is still skipping those inodes, "
              f"so server system time will be inflated (wait {QUIET_SECONDS - since:.0f} s for a representative run)",
              file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="labhub-bench-"))
    try:
        rounds = run_rounds(modes, args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # every phase's files are deleted only now (see measure_floor)
        CLEANUP_MARKER.touch()
    summary: dict = {"fs_quiet": fs_quiet, "cpus": os.cpu_count(), **rounds[0]}
    if len(rounds) > 1:
        summary["rounds"] = rounds
    targets = []
    if "dev" in rounds[0]:
        dev = rounds[0]["dev"]
        targets += [("dev: server CPU/flow <= 1.2 ms", dev["server_cpu_ms_per_flow"] <= 1.2),
                    ("dev: throughput >= 300 flows/s", dev["flows_per_second"] >= 300),
                    ("dev: p99 < 25 ms", dev["p99_ms"] < 25)]
    for number, result in enumerate(rounds, 1):
        if "hub" not in result:
            continue
        hub, label = result["hub"], f"hub (round {number} of {len(rounds)})"
        targets.append((f"{label}: token checks cached ({hub['hub_token_checks']} hub API calls for {hub['flows']} flows)",
                        hub["hub_token_checks"] <= args.threads * (1 + int(hub["seconds"]) // 60)))  # one per client per cache minute
        if "hub_over_floor" in result:
            targets.append((f"{label}: server CPU/flow <= 2x the floor's in this round ({result['hub_over_floor']:.2f}x)",
                            result["hub_over_floor"] <= 2))
    print(json.dumps(summary, indent=2))
    for label, ok in targets:
        print(f"{'PASS' if ok else 'MISS'}  {label}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if all(ok for _, ok in targets) else 1


def run_rounds(modes: list[str], args: argparse.Namespace, work: Path) -> list[dict]:
    """Each round's results. The floor runs before each round and once more after the last, and a
    round's floor is the mean of the one before and the one after it: the machine's load drifts."""
    def floor(number: int) -> dict:
        return measure_floor(max(1, args.flows // args.threads), args.threads, folder=work / f"floor-{number}")

    floors = [floor(0)] if "floor" in modes else []
    rounds = []
    for number in range(1, args.rounds + 1):
        result: dict = {mode: measure_server(mode, args, work / f"round-{number}") for mode in modes if mode != "floor"}
        if floors:
            if result or number > 1:
                floors.append(floor(number))
            pair = floors[-2:] if result else floors[-1:]  # floor alone: one measurement per round
            result["floor"] = {"server_cpu_ms_per_flow": round(statistics.mean(f["server_cpu_ms_per_flow"] for f in pair), 3), "runs": pair}
            if "hub" in result:
                result["hub_over_floor"] = round(result["hub"]["server_cpu_ms_per_flow"] / result["floor"]["server_cpu_ms_per_flow"], 2)
        rounds.append(result)
    return rounds


class socket_port:
    """A free loopback port (closed again before the server binds it)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def wait_ready(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become ready")


if __name__ == "__main__":
    sys.exit(main())
