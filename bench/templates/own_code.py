"""labhub's own work in one create flow, timed in-process: what is left to cut once tornado and JupyterHub are set aside.

Why: run.py measures the server's whole CPU per flow, and cProfile inflates
code made of many small Python calls, so neither says how much of a flow is
labhub's own logic. This times each step the handlers run for one flow, on
the same ~200 KB template run.py generates, with the same parameters, as
plain function calls (`timeit`, N calls each, the mean in microseconds):
the template lookup, parsing and checking `params`, the destination (twice:
confirm and create), the parameters cell, the example name, signing and
checking the confirmation token, the confirmation page, and building the
notebook. Not included: tornado's HTTP handling and xsrf cookie and
JupyterHub's auth, which labhub does not write, and the file write, which
the floor does too.
Usage: .venv/bin/python bench/templates/own_code.py [--calls N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import timeit
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import TEMPLATE, make_template  # noqa: E402

from labhub.templates import pages  # noqa: E402
from labhub.templates.handlers import _has_lone_surrogate, _refuse_constant  # noqa: E402
from labhub.templates.naming import candidates  # noqa: E402
from labhub.templates.notebook import Catalog  # noqa: E402
from labhub.templates.tokens import CreateRequest, TokenSigner  # noqa: E402

PARAMS = {"measurement_name": "M0-1", "operator": "bench", "temperature_k": 4.2, "calibrated": True}  # as run.py sends them


def steps(folder: Path) -> dict[str, Callable[[], object]]:
    """One flow's steps as calls, in the order the handlers make them."""
    make_template(folder)
    catalog = Catalog(str(folder))
    template = catalog.get(TEMPLATE)
    assert template is not None
    signer = TokenSigner(os.urandom(32))
    destination = template.destination(PARAMS)
    cell = template.parameters_source(PARAMS)
    request = CreateRequest("bench", template.path, destination, PARAMS)
    token = signer.dumps(request)
    body = json.dumps(PARAMS).encode()
    return {
        "template lookup (x2)": lambda: (catalog.get(TEMPLATE), catalog.get(TEMPLATE)),
        "params: JSON and checks": lambda: _has_lone_surrogate(json.loads(body.decode(), parse_constant=_refuse_constant)),
        "destination (x2)": lambda: (template.destination(PARAMS), template.destination(PARAMS)),
        "parameters cell": lambda: template.parameters_source(PARAMS),
        "example other name": lambda: list(candidates(destination.rsplit("/", 1)[-1], limit=2)),
        "token: sign": lambda: signer.dumps(request),
        "confirmation page": lambda: pages.render("confirm.html", prefix="/", user="bench", template=template.path,
                                                  destination=destination, example_alternative="x", cell=cell,
                                                  token=token, xsrf_html='<input type="hidden" name="_xsrf" value="x"/>'),
        "token: check": lambda: signer.loads(token, "bench"),
        "notebook bytes": lambda: template.build(PARAMS),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        timings = {name: timeit.timeit(call, number=args.calls) / args.calls * 1e6 for name, call in steps(Path(tmp)).items()}
    for name, micros in timings.items():
        print(f"  {name:<28} {micros:7.1f} us")
    print(f"labhub's own work per flow: {sum(timings.values()) / 1000:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
