"""Entry point the Pulumi CLI runs for `--policy-pack policies`.

Only builds the pack: `PolicyPack(...)` starts the analyzer's gRPC server and
never returns, so nothing may import this file (tests import
`policies.secret_rules`). The repo root goes on sys.path so the rules import as
the `policies` package whether the CLI runs this file from its own virtualenv
or labhub is installed.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack  # noqa: E402

from policies.secret_rules import ENFORCEMENT_LEVEL, PACK_DESCRIPTION, POLICIES  # noqa: E402

PolicyPack(name="policies", policies=POLICIES, enforcement_level=ENFORCEMENT_LEVEL, description=PACK_DESCRIPTION)
