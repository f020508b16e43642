"""The floor under the create-flow benchmark: tornado plus the file write, and nothing else.

A bare tornado app answers the same two requests as one create flow (a form
POST answered with a 3 KB page; a form POST that creates a 200 KB file with
O_EXCL and answers 303), driven like bench/templates/run.py: 4 client
threads, persistent loopback connections, bounded count. The server CPU per
flow it reports is what any tornado server writing that file must spend on
this machine, so it shows how much of run.py's figure is labhub's own code.
Usage: .venv/bin/python bench/templates/floor.py [--flows-per-thread N]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

SERVER = r"""
import itertools, os, sys
import tornado.ioloop, tornado.web
data = (os.urandom(100_000).hex().encode())[:200_000]
folder, counter, page = sys.argv[2], itertools.count(), b"x" * 3000
class Confirm(tornado.web.RequestHandler):
    def post(self, path): self.finish(page)
class Create(tornado.web.RequestHandler):
    def post(self):
        fd = os.open(os.path.join(folder, f"n{next(counter)}.ipynb"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try: os.write(fd, data)
        finally: os.close(fd)
        self.redirect("http://127.0.0.1:9/notebook", status=303)
tornado.web.Application([(r"/t/(.*)", Confirm), (r"/create", Create)]).listen(int(sys.argv[1]), "127.0.0.1")
print("ready", flush=True)
tornado.ioloop.IOLoop.current().start()
"""


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK"), int(fields[12]) / os.sysconf("SC_CLK_TCK")


DROP_CACHES = Path("/proc/sys/vm/drop_caches")


def settle_page_cache() -> bool:
    """Put the kernel in the same state before every measured phase; True if the page cache was dropped.

    A phase writes about 1.2 GB. Measured on this VM (2026-12-03): with the
    previous phases' pages still cached, the floor's system time was
    0.77-0.86 ms per flow; after `sync` and dropping the page cache, 0.17-0.21.
    So every phase, the floor's included, starts after `sync` and, where this
    process may (root), with the page cache dropped. Without root, only
    `sync`: the results say which (`page_cache_dropped`).
    """
    os.sync()
    try:
        DROP_CACHES.write_text("3\n")
    except OSError:
        return False
    return True


def measure_floor(flows_per_thread: int = 1500, threads: int = 4, folder: Path | None = None) -> dict[str, float]:
    """Run the bare server under load; its server CPU per flow and throughput.

    The files are written into `folder` and left there for the caller to
    delete at the end of its whole run, as run.py does with the server
    modes' files: deleting thousands of files between two measured phases
    would make ext4's inode allocation slower for the next one (see run.py).
    Without `folder`, a temporary one is used and deleted on return.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with ExitStack() as stack:
        if folder is None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        folder.mkdir(parents=True, exist_ok=True)
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(port), str(folder)], stdout=subprocess.PIPE, text=True)
        try:
            assert server.stdout is not None and server.stdout.readline().strip() == "ready"

            def client(flows: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                form = {"Content-Type": "application/x-www-form-urlencoded"}
                for _ in range(flows):
                    conn.request("POST", "/t/Data.ipynb", body="params=%7B%22n%22%3A1%7D", headers=form)
                    conn.getresponse().read()
                    conn.request("POST", "/create", body="token=t&_xsrf=x", headers=form)
                    conn.getresponse().read()

            client(200)  # warm-up
            dropped = settle_page_cache()
            before, start = _cpu_seconds(server.pid), time.perf_counter()
            pool = [threading.Thread(target=client, args=(flows_per_thread,)) for _ in range(threads)]
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            flows = threads * flows_per_thread
            (user, system), (user_before, system_before) = _cpu_seconds(server.pid), before
            return {
                "server_cpu_ms_per_flow": round((user - user_before + system - system_before) * 1000 / flows, 3),
                "server_user_ms_per_flow": round((user - user_before) * 1000 / flows, 3),
                "server_system_ms_per_flow": round((system - system_before) * 1000 / flows, 3),
                "flows_per_second": round(flows / (time.perf_counter() - start), 1),
                "flows": flows,
                "page_cache_dropped": dropped,
            }
        finally:
            server.terminate()
            server.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows-per-thread", type=int, default=1500)
    args = parser.parse_args()
    result = measure_floor(args.flows_per_thread)
    print(f"floor: {result['server_cpu_ms_per_flow']:.3f} ms server CPU per flow, {result['flows_per_second']:.0f} flows/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
