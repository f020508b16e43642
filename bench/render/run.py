"""Benchmark: `labhub render --stack prod` wall time against its floor.

The floor is a bare Python process that only imports the SDK modules the
program uses (pulumi, pulumi_random, pulumi_docker and every
pulumi_kubernetes submodule the components touch). Whatever render costs on
top of that is ours: config parsing, the mock engine, the program, writing.
Target: render <= 1.5 x floor.

Method: each command runs as a fresh process, alternating floor and render so
cache and CPU-frequency drift hit both alike; N rounds after one warm-up
round each; we report the median and min wall time and the ratio of medians.
Usage: .venv/bin/python bench/render/run.py [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SDK_MODULES = [
    "pulumi",
    "pulumi_random",
    "pulumi_docker",
    "pulumi_kubernetes.apps.v1",
    "pulumi_kubernetes.batch.v1",
    "pulumi_kubernetes.core.v1",
    "pulumi_kubernetes.helm.v4",
    "pulumi_kubernetes.meta.v1",
    "pulumi_kubernetes.networking.v1",
    "pulumi_kubernetes.policy.v1",
]
TARGET_RATIO = 1.5


def _time(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    floor_cmd = [python, "-c", "import " + ", ".join(SDK_MODULES)]
    with tempfile.TemporaryDirectory() as tmp:
        render_cmd = [python, "-m", "labhub.cli", "render", "--stack", "prod", "--out", f"{tmp}/out"]
        _time(floor_cmd), _time(render_cmd)  # warm-up: page cache, .pyc files
        floor, render = [], []
        for _ in range(args.rounds):
            floor.append(_time(floor_cmd))
            render.append(_time(render_cmd))
    ratio = statistics.median(render) / statistics.median(floor)
    print(f"floor  (SDK imports only): median {statistics.median(floor):.3f} s, min {min(floor):.3f} s")
    print(f"render --stack prod      : median {statistics.median(render):.3f} s, min {min(render):.3f} s")
    print(f"ratio of medians: {ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
