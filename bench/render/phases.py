"""Where the time of `labhub render --stack prod` goes, phase by phase, against run.py's floor.

Why: run.py says whether render stays within 1.5x its SDK import floor; this
says what stands in the way. It splits one render, in a fresh process like
run.py's, into what the SDK costs whoever the program is (importing its
modules; registering the program's resources under mocks once the program
body has returned: input-type introspection, property serialisation, output
resolution) and what labhub adds (pydantic and jsonschema, which the SDK does
not import; labhub's modules; the config models; the program body, which
builds the resources and validates the chart values; redaction; the YAML; the
files). From the medians it reports the budget the target leaves labhub: 1.5x
the floor minus what the SDK spends on this program's resources.

Method: N rounds (default 9), each one fresh process for the floor (run.py's
command) and one for the phased render, alternated, after one warm-up of each.
The phases are timed by wrapping labhub's own functions (`engine.run_program`,
`runpy.run_path` for the program body, `engine._required_secrets`, ...); a
renamed function stops the script with an error rather than timing nothing.
Usage: .venv/bin/python bench/render/phases.py [--rounds N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import ROOT, SDK_MODULES, TARGET_RATIO  # noqa: E402

COMMAND = "the render command (labhub.cli.main) in all"
# Runs in the child process: argv[1] is the output folder. Prints one JSON object of phase -> seconds.
PHASED_RENDER = r"""
import json, runpy, sys, time
COMMAND = %(command)r
started = time.perf_counter()
phases = {}
def lap(name, since):
    now = time.perf_counter()
    phases[name] = phases.get(name, 0.0) + now - since
    return now
t = started
import %(sdk)s
t = lap("SDK imports (the floor's work)", t)
import pydantic
t = lap("pydantic import", t)
import labhub.json_schema  # jsonschema as labhub imports it (without the RFC 3987 grammars)
t = lap("jsonschema import", t)
import labhub.cli, labhub.engine as engine, labhub.render as render
t = lap("labhub module imports", t)

def timed(module, name, phase):
    original = getattr(module, name)  # AttributeError if it was renamed: fix this script
    def wrapper(*args, **kwargs):
        since = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            lap(phase, since)
    setattr(module, name, wrapper)

timed(engine, "_required_secrets", "config models (import and parse)")
timed(engine, "run_program", "program run (body + SDK registration)")
timed(runpy, "run_path", "program body (labhub's components)")
timed(render, "redact_unmarked_credentials", "redaction")
timed(render, "render_files", "YAML of every file")
timed(render, "write_tree", "writing the files")
since = time.perf_counter()
code = labhub.cli.main(["render", "--stack", "prod", "--out", sys.argv[1]])
lap(COMMAND, since)
phases["SDK registration after the body"] = phases.pop("program run (body + SDK registration)") - phases["program body (labhub's components)"]
print(json.dumps({"exit": code, "phases": phases, "total": time.perf_counter() - started}))
"""

SDK_PHASES = ("SDK imports (the floor's work)", "SDK registration after the body")


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def _phased(out: Path) -> dict:
    script = PHASED_RENDER % {"sdk": ", ".join(SDK_MODULES), "command": COMMAND}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, str(out)], check=True, capture_output=True, text=True, cwd=ROOT)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["exit"] != 0:
        raise SystemExit(f"labhub render exited {result['exit']}: {done.stderr.strip()[-500:]}")
    result["wall"] = time.perf_counter() - start
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--json", metavar="FILE", help="also write the medians here")
    args = parser.parse_args()
    floor_cmd = [sys.executable, "-c", "import " + ", ".join(SDK_MODULES)]
    with tempfile.TemporaryDirectory() as tmp:
        _wall(floor_cmd), _phased(Path(tmp, "warm-up"))
        floors, runs = [], []
        for number in range(args.rounds):
            floors.append(_wall(floor_cmd))
            runs.append(_phased(Path(tmp, f"out-{number}")))
    floor = statistics.median(floors)
    wall = statistics.median(r["wall"] for r in runs)
    phases = {name: statistics.median(r["phases"][name] for r in runs) for name in runs[0]["phases"]}
    registration = phases["SDK registration after the body"]
    labhub_share = wall - floor - registration
    budget = TARGET_RATIO * floor - floor - registration
    print(f"floor (run.py's, fresh process): median {floor:.3f} s; phased render: median {wall:.3f} s ({wall / floor:.2f}x)")
    for name, seconds in phases.items():
        if name != COMMAND:
            owner = "SDK" if name in SDK_PHASES else "labhub"
            print(f"  {owner:<7} {name:<45} {seconds:6.3f} s")
    print(f"  {COMMAND}: {phases[COMMAND]:.3f} s (from the config models to the files, the registration included)")
    print(f"the SDK alone on this program: floor + registration = {floor + registration:.3f} s ({(floor + registration) / floor:.2f}x the floor)")
    print(f"labhub's share: {labhub_share:.3f} s; at {TARGET_RATIO}x the floor labhub may spend {budget:.3f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "rounds": args.rounds, "floor_s": floor, "render_s": wall, "phases_s": phases,
            "labhub_share_s": labhub_share, "labhub_budget_s": budget,
        }, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
