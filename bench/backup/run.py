"""Benchmark: `labhub backup mysql dump` against a bare `mysqldump --all-databases --single-transaction > /dev/null`.

Both read the same ~1 GiB database on a private MariaDB server started here
(its own data dir, socket and port; the machine's server is not touched),
in one run, alternating (ours, bare, ours, bare, ...) so drifts in machine
load hit both alike. Reported: each round's wall time, the medians, and the
ratio of medians (target: at most 1.15; the lab's recipe, a dump per schema
plus `--all-databases`, reads everything twice: about 2x). A third timing,
mysqldump with exactly our flags (--hex-blob, --routines, ..., our schema
list) to /dev/null, isolates what our pipeline (split, count, hash, compress,
write) adds on top of the dump itself.

The data set is DataJoint-like, generated once on the server (MariaDB's
SEQUENCE engine) and kept in --data-dir for later runs:
  bench_common.session   3,000,000 rows: ints, a varchar, a datetime, doubles, a decimal
  bench_ephys.waveforms    620,000 rows of a 1 KiB binary blob (random bytes, as raw data are)
  bench_notes.notes      1,000,000 rows of ~150 characters of text with quotes and unicode

Usage:  .venv/bin/python bench/backup/run.py [--rounds 3] [--data-dir /var/tmp/labhub-bench-backup]
Not a test: pytest does not collect it. Results go to stdout and --json.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MARIADBD = shutil.which("mariadbd", path="/usr/sbin:/usr/bin")
FILL_SQL = """
CREATE DATABASE bench_common; CREATE DATABASE bench_ephys; CREATE DATABASE bench_notes;
USE bench_common;  -- the SEQUENCE engine's seq_1_to_N tables need a current database
CREATE TABLE bench_common.session (id INT PRIMARY KEY, subject VARCHAR(40), started DATETIME(6), weight DOUBLE,
  gain DOUBLE, price DECIMAL(12,4), flags INT) ENGINE=InnoDB;
INSERT INTO bench_common.session SELECT seq, CONCAT('subject_', seq MOD 997), '2024-01-01' + INTERVAL seq SECOND,
  RAND(seq) * 100, RAND(seq + 1), seq / 7, seq MOD 13 FROM seq_1_to_3000000;
CREATE TABLE bench_ephys.waveforms (id INT PRIMARY KEY, session_id INT, channel SMALLINT, data LONGBLOB) ENGINE=InnoDB;
INSERT INTO bench_ephys.waveforms SELECT seq, seq MOD 3000000, seq MOD 384, RANDOM_BYTES(1024) FROM seq_1_to_620000;
CREATE TABLE bench_notes.notes (id INT PRIMARY KEY, author VARCHAR(32), body TEXT) ENGINE=InnoDB CHARACTER SET utf8mb4;
INSERT INTO bench_notes.notes SELECT seq, CONCAT('user', seq MOD 50),
  CONCAT('Session ', seq, ': it''s a "note" with ünïcödé, a back\\\\slash and ),( inside. ', REPEAT(MD5(seq), 2)) FROM seq_1_to_1000000;
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    datadir, sock = data_dir / "data", data_dir / "mysqld.sock"
    user = [f"--user={getpass.getuser()}"] if os.geteuid() == 0 else []
    fresh = not (data_dir / "filled").exists()
    if fresh:
        shutil.rmtree(datadir, ignore_errors=True)
        subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={datadir}", "--auth-root-authentication-method=normal",
                        "--skip-test-db", *user], check=True, capture_output=True)  # fmt: skip
    args = [MARIADBD, "--no-defaults", f"--datadir={datadir}", f"--socket={sock}", f"--port={free_port()}", "--bind-address=127.0.0.1",
            "--innodb-buffer-pool-size=2G", "--max-allowed-packet=512M", f"--log-error={data_dir / 'mariadbd.log'}", *user]  # fmt: skip
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return server, _prepare(data_dir, sock, fresh)
    except BaseException:
        server.terminate()
        server.wait(timeout=120)
        raise


def _prepare(data_dir: Path, sock: Path, fresh: bool) -> Path:
    cnf = data_dir / "client.cnf"
    cnf.write_text(f"[client]\nuser=root\nsocket={sock}\n")
    for _ in range(300):
        if subprocess.run(["mariadb", f"--defaults-file={cnf}", "-e", "SELECT 1"], capture_output=True).returncode == 0:
            break
        time.sleep(0.2)
    else:
        raise SystemExit(f"mariadbd did not start: see {data_dir / 'mariadbd.log'}")
    if fresh:
        print("generating the data set (once)...", file=sys.stderr)
        subprocess.run(["mariadb", f"--defaults-file={cnf}"], input=FILL_SQL.encode(), check=True)
        (data_dir / "filled").touch()
    return cnf


def database_bytes(cnf: Path) -> int:
    out = subprocess.run(["mariadb", f"--defaults-file={cnf}", "-N", "-e",
                          "SELECT SUM(data_length + index_length) FROM information_schema.TABLES WHERE table_schema LIKE 'bench%'"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return int(out.strip())


def time_bare(cnf: Path) -> float:
    with open(os.devnull, "wb") as null:
        start = time.monotonic()
        subprocess.run(["mariadb-dump", f"--defaults-file={cnf}", "--all-databases", "--single-transaction"], stdout=null, check=True)
        return time.monotonic() - start


def time_bare_same_flags(cnf: Path) -> float:
    """mysqldump with exactly the flags our dump passes (labhub.backup.mysql_client), to /dev/null: our pipeline's own cost."""
    sys.path.insert(0, str(ROOT))
    from labhub.backup.mysql_client import ClientTools
    from labhub.backup.mysql_dump import user_schemas

    tools = ClientTools.find(cnf)
    with open(os.devnull, "wb") as null:
        start = time.monotonic()
        subprocess.run(tools.dump_args(user_schemas(tools)), stdout=null, check=True)
        return time.monotonic() - start


def time_ours(cnf: Path, dest: Path) -> tuple[float, int]:
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "labhub.cli", "backup", "mysql", "dump", "--defaults-file", str(cnf), "--dest", str(dest)],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout  # fmt: skip
    elapsed = time.monotonic() - start
    backup = Path(out.strip())
    size = sum(p.stat().st_size for p in backup.rglob("*") if p.is_file())
    shutil.rmtree(backup)
    return elapsed, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, default=Path("/var/tmp/labhub-bench-backup"))
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--prepare-only", action="store_true", help="generate the data set and stop")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` stops the server
    args.data_dir.mkdir(parents=True, exist_ok=True)
    server, cnf = start_server(args.data_dir)
    try:
        size = database_bytes(cnf)
        if args.prepare_only:
            print(f"data set ready: {size} bytes in {args.data_dir}")
            return 0
        dest = Path(tempfile.mkdtemp(prefix="labhub-bench-dest-", dir=args.data_dir))
        time_bare(cnf)  # warm the buffer pool: both then read from memory
        ours, bare, same, backup_bytes = [], [], [], 0
        for round_ in range(args.rounds):
            elapsed, backup_bytes = time_ours(cnf, dest)
            ours.append(elapsed)
            bare.append(time_bare(cnf))
            same.append(time_bare_same_flags(cnf))
            print(f"round {round_ + 1}: labhub {ours[-1]:.2f} s, bare mysqldump {bare[-1]:.2f} s, same flags {same[-1]:.2f} s", file=sys.stderr)
        results = {
            "database_bytes": size, "backup_bytes": backup_bytes, "rounds": args.rounds, "cpus": os.cpu_count(),
            "loadavg_after": os.getloadavg(), "labhub_s": ours, "bare_s": bare,
            "labhub_median_s": statistics.median(ours), "bare_median_s": statistics.median(bare),
            "ratio": statistics.median(ours) / statistics.median(bare),
            "same_flags_s": same, "same_flags_median_s": statistics.median(same),
            "ratio_to_same_flags": statistics.median(ours) / statistics.median(same),
        }  # fmt: skip
        print(json.dumps(results, indent=2))
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        return 0 if results["ratio"] <= 1.15 else 1
    finally:
        server.terminate()
        server.wait(timeout=120)


if __name__ == "__main__":
    sys.exit(main())
