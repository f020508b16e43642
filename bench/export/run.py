"""Benchmark: `labhub export prepare` against the seed's sed pipeline on the same dump, in the same run.

The seed (LorenFrankLab/spyglass-export-docker Makefile `copy_files`, and
Spyglass's Export docs) copies each export .sql file, then runs `sed -i` over
it 14 times: two charset/collation expressions and twelve varchar
shortenings. We run exactly that (cp + 14 x sed -i), and, as a stronger
reference, the same 14 expressions in one `sed` process; against
`labhub export prepare --shorten-varchars`, which does both jobs in one
streaming pass and writes the whole build context.

The dump is synthetic but shaped like Spyglass's: mysqldump's layout (header,
per table DROP/CREATE TABLE with `DEFAULT CHARSET=latin1 COLLATE=...`, the
Spyglass columns the shortenings name, LOCK TABLES, extended INSERT lines of
about 1 MiB as mysqldump's net_buffer_length makes them, hex blobs as
--hex-blob writes them). Every INSERT line carries one row whose text quotes
" DEFAULT CHARSET=latin1" and " `nwb_file_name` varchar(255)", which sed
rewrites and a correct tool must not.

Measured per tool: wall time (page cache warm for all: the dump is read once
before the first run), peak RSS (ru_maxrss of each process, from wait4; for
the pipeline, the largest of its 15 processes), and the number of data lines
(INSERT statements) that differ from the input. Two dump sizes, so peak RSS
can be compared across them.

Usage: .venv/bin/python bench/export/run.py [--sizes-mib 128 1024] [--rounds 1] [--layout mysql|mariadb] [--workdir DIR]
Exit 1 if a target is missed: labhub at least as fast as the seed pipeline at
every size, labhub's peak RSS within 8 MiB across sizes, no data line
changed by labhub (and sed seen to change some).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GNU_TIME = shutil.which("time", path="/usr/bin:/bin") or sys.exit("GNU time is needed for peak RSS: apt-get install time")
SEDS = [
    r"s/ DEFAULT CHARSET=[^ ]\w*//g",
    r"s/ DEFAULT COLLATE [^ ]\w*//g",
    r"s/ `nwb_file_name` varchar(255)/ `nwb_file_name` varchar(64)/g",
    r"s/ `analysis_file_name` varchar(255)/ `analysis_file_name` varchar(64)/g",
    r"s/ `interval_list_name` varchar(200)/ `interval_list_name` varchar(170)/g",
    r"s/ `position_info_param_name` varchar(80)/ `position_info_param_name` varchar(32)/g",
    r"s/ `mark_param_name` varchar(80)/ `mark_param_name` varchar(32)/g",
    r"s/ `artifact_removed_interval_list_name` varchar(200)/ `artifact_removed_interval_list_name` varchar(128)/g",
    r"s/ `metric_params_name` varchar(200)/ `metric_params_name` varchar(64)/g",
    r"s/ `auto_curation_params_name` varchar(200)/ `auto_curation_params_name` varchar(36)/g",
    r"s/ `sort_interval_name` varchar(200)/ `sort_interval_name` varchar(64)/g",
    r"s/ `preproc_params_name` varchar(200)/ `preproc_params_name` varchar(32)/g",
    r"s/ `sorter` varchar(200)/ `sorter` varchar(32)/g",
    r"s/ `sorter_params_name` varchar(200)/ `sorter_params_name` varchar(64)/g",
]
HEADER = b"""-- MySQL dump 10.13  Distrib 8.0.40, for Linux (x86_64)
--
-- Host: lab-db    Database: common_session
-- ------------------------------------------------------
-- Server version\t8.0.40

/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!50503 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;

"""
TABLE = b"""--
-- Table structure for table `table_%d`
--

DROP TABLE IF EXISTS `table_%d`;
/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!50503 SET character_set_client = utf8mb4 */;
CREATE TABLE `table_%d` (
  `nwb_file_name` varchar(255) NOT NULL,
  `interval_list_name` varchar(200) NOT NULL,
  `sorter` varchar(200) NOT NULL,
  `data` longblob,
  `description` varchar(2000) CHARACTER SET latin1 COLLATE latin1_bin DEFAULT NULL,
  PRIMARY KEY (`nwb_file_name`,`interval_list_name`,`sorter`)
) ENGINE=InnoDB DEFAULT CHARSET=latin1 COLLATE=latin1_swedish_ci COMMENT='bench table';
/*!40101 SET character_set_client = @saved_cs_client */;

LOCK TABLES `table_%d` WRITE;
/*!40000 ALTER TABLE `table_%d` DISABLE KEYS */;
"""
PLANTED = b"('planted_%d.nwb','a row quoting DDL',_binary '',0x00,'copied from ) ENGINE=InnoDB DEFAULT CHARSET=latin1; and `x` plus `nwb_file_name` varchar(255) NOT NULL')"
ROW = b"('file_%08d_.nwb','pos %d valid times','mountainsort4',0x" + b"0123456789abcdef" * 16 + b",'trial %d: lick, reward, it''s fine \\\\ ok')"
LINE_BYTES = 1 << 20
LINES_PER_TABLE = 8


def generate(path: Path, size: int, layout: str = "mysql") -> int:
    """Write a dump of about `size` bytes; return the number of INSERT lines (each holds one planted row)."""
    inserts = 0
    with path.open("wb", buffering=1 << 20) as out:
        out.write(HEADER)
        written, table, row = len(HEADER), 0, 0
        while written < size:
            chunk = TABLE % ((table,) * 5)
            for _ in range(LINES_PER_TABLE):
                rows = [PLANTED % inserts]
                length = len(rows[0])
                while length < LINE_BYTES:
                    rows.append(ROW % (row, row % 97, row))
                    length += len(rows[-1]) + 1
                    row += 1
                if layout == "mysql":  # mysqldump: one extended INSERT per line
                    chunk += b"INSERT INTO `table_%d` VALUES " % table + b",".join(rows) + b";\n"
                else:  # mariadb-dump >= 10.11: one row per line
                    chunk += b"INSERT INTO `table_%d` VALUES\n" % table + b",\n".join(rows) + b";\n"
                inserts += 1
            chunk += b"/*!40000 ALTER TABLE `table_%d` ENABLE KEYS */;\nUNLOCK TABLES;\n\n" % table
            out.write(chunk)
            written += len(chunk)
            table += 1
        out.write(b"/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n-- Dump completed on 2026-12-03 08:00:00\n")
    return inserts


def run_measured(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one process.

    RSS comes from GNU time (`%M`), not from our own wait4: a child forked from
    this process inherits its high-water mark at exec, so wait4 here would report
    the benchmark's own size; time(1) is small and forks the command itself.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        result = subprocess.run([GNU_TIME, "-f", "%M", "-o", report.name, *command], cwd=ROOT, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
        if result.returncode != 0:
            raise SystemExit(f"{command[0]} failed with {result.returncode}")
        return seconds, int(report.read().split()[-1]) * 1024


def seed_pipeline(dump: Path, work: Path) -> tuple[float, int, Path]:
    """The Makefile's copy_files: cp, then sed -i once per expression."""
    target = work / "seed" / dump.name
    target.parent.mkdir(exist_ok=True)
    total, peak = run_measured(["cp", str(dump), str(target)])
    for expression in SEDS:
        seconds, rss = run_measured(["sed", "-i", expression, str(target)])
        total, peak = total + seconds, max(peak, rss)
    return total, peak, target


def seed_one_pass(dump: Path, work: Path) -> tuple[float, int, Path]:
    target = work / "seed-one-pass.sql"
    script = work / "seds.sed"
    script.write_text("\n".join(SEDS) + "\n")
    command = ["sh", "-c", f'exec sed -f "{script}" "{dump}" > "{target}"']
    seconds, rss = run_measured(command)
    return seconds, rss, target


def labhub(dump: Path, work: Path) -> tuple[float, int, Path]:
    export = work / "export"
    export.mkdir(exist_ok=True)
    (export / "environment.yml").write_text("name: bench\ndependencies:\n  - python=3.11\n")
    link = export / dump.name
    if not link.exists():
        link.symlink_to(dump)
    out = work / "context"
    command = [sys.executable, "-m", "labhub.cli", "export", "prepare", "--export-dir", str(export), "--out", str(out), "--force", "--shorten-varchars"]
    seconds, rss = run_measured(command)
    return seconds, rss, out / "initdb" / f"1-{dump.name}"


def changed_data_lines(source: Path, output: Path) -> tuple[int, int]:
    """(data lines that differ from the input, data lines compared): INSERT lines, and the row lines of
    mariadb-dump's layout; both files keep the input's line count."""
    changed = compared = 0
    with source.open("rb") as a, output.open("rb") as b:
        for left, right in zip(a, b, strict=True):
            if left.startswith((b"INSERT", b"(")):
                compared += 1
                changed += left != right
    return changed, compared


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--layout", choices=["mysql", "mariadb"], default="mysql", help="mysqldump's one INSERT per line, or mariadb-dump's one row per line")
    parser.add_argument("--workdir", type=Path, default=None, help="where the dumps go (default: a temp dir; needs ~4x the largest size)")
    args = parser.parse_args()
    ok = True
    rss_by_size: dict[int, int] = {}
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for size_mib in args.sizes_mib:
            work = Path(tmp) / f"{size_mib}"
            work.mkdir()
            dump = work / "_Populate_bench.sql"
            inserts = generate(dump, size_mib << 20, args.layout)
            with dump.open("rb") as warm:  # page cache warm for every tool alike
                while warm.read(1 << 24):
                    pass
            results: dict[str, list[tuple[float, int]]] = {"seed pipeline (cp + 14 x sed -i)": [], "sed, one pass (reference)": [], "labhub export prepare": []}
            outputs = {}
            for _ in range(args.rounds):
                for name, tool in zip(results, (seed_pipeline, seed_one_pass, labhub), strict=True):
                    seconds, rss, outputs[name] = tool(dump, work)
                    results[name].append((seconds, rss))
            print(f"\n## {size_mib} MiB dump, {args.layout} layout ({dump.stat().st_size} bytes, {inserts} INSERT statements), {args.rounds} round(s)\n")
            print("| tool | wall median (min) | peak RSS | data lines changed |")
            print("| --- | --- | --- | --- |")
            for name, runs in results.items():
                walls = [w for w, _ in runs]
                changed, compared = changed_data_lines(dump, outputs[name])
                peak = max(r for _, r in runs)
                print(f"| {name} | {statistics.median(walls):.2f} s ({min(walls):.2f} s) | {peak / 2**20:.1f} MiB | {changed} of {compared} |")
                if name.startswith("labhub"):
                    rss_by_size[size_mib] = peak
                    ok &= changed == 0
                elif name.startswith("seed pipeline"):
                    ok &= changed > 0
            seed_wall = statistics.median(w for w, _ in results["seed pipeline (cp + 14 x sed -i)"])
            ours_wall = statistics.median(w for w, _ in results["labhub export prepare"])
            print(f"\nlabhub / seed pipeline wall time: {ours_wall / seed_wall:.3f}")
            ok &= ours_wall <= seed_wall
            shutil.rmtree(work)
    spread = max(rss_by_size.values()) - min(rss_by_size.values())
    print(f"\nlabhub peak RSS across sizes: {', '.join(f'{s} MiB -> {r / 2**20:.1f} MiB' for s, r in rss_by_size.items())}; spread {spread / 2**20:.2f} MiB")
    ok &= spread <= 8 << 20
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
