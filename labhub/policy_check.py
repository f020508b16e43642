"""`labhub policy-check`: the policy pack's verdict on a stack, offline.

`pulumi preview --policy-pack policies` needs the Pulumi CLI and a backend;
this gives a pull request the same verdict without either. It runs the
program for a stack under the mock engine (`labhub.engine`), then replays every
registered resource through the pack's own analyzer servicer, the object
`PolicyPack(...)` would serve over gRPC, exactly as the CLI drives it:

* `Configure` with each policy's enforcement level and config, resolved as the
  CLI resolves `--policy-pack-config FILE` (`{"all": "advisory",
  "<policy>": "mandatory" | {"enforcementLevel": ..., "<key>": ...}}`),
  validated against the policy's schema (stricter than the CLI: an unknown
  key is an error, since a typo would silently leave the default in force),
  with schema defaults applied;
* `Analyze` per resource with its inputs, secrets decrypted (the engine sends
  policies decrypted values);
* `AnalyzeStack` once with every resource plus the root Stack and its outputs
  (under mocks outputs equal inputs).

Then the checks only the mock engine can make (`labhub.secretness`: the stack
file holds credentials only as ciphertext; credential paths of chart values,
Secret data and credential-bearing stack outputs are Pulumi secrets), always
mandatory, reported in the same format. This is the one gate a pull request
needs without cloud credentials.

Violations print the way `pulumi preview` prints them, then a summary line;
the exit code is 1 if any mandatory violation was reported, else 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from google.protobuf import struct_pb2
from pulumi.runtime import proto
from pulumi_policy import EnforcementLevel
from pulumi_policy.policy import _PolicyAnalyzerServicer

from labhub.errors import UserError
from labhub.json_schema import jsonschema
from labhub.wire import plain
from policies.secret_rules import ENFORCEMENT_LEVEL, PACK_DESCRIPTION, POLICIES

REPO_ROOT = Path(__file__).resolve().parent.parent
PACK_DIR = REPO_ROOT / "policies"
PACK_NAME = "policies"
_LEVELS = {level.value: level for level in EnforcementLevel}
_PROTO_LEVELS = {proto.ADVISORY: "advisory", proto.MANDATORY: "mandatory", proto.REMEDIATE: "remediate",
                 proto.DISABLED: "disabled"}


@dataclass(frozen=True)
class Violation:
    """One policy diagnostic, attributed to the resource it was reported on."""

    policy: str
    level: str  # "mandatory" | "advisory" | ...
    resource_type: str
    resource_name: str
    urn: str
    message: str  # the policy description, a newline, the rule's message (as the CLI shows it)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack to check (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--program", type=Path, default=REPO_ROOT, help="Pulumi program directory (default: the repo)")
    parser.add_argument("--policy-config", type=Path, default=None, metavar="FILE",
                        help="policy config JSON, as for `pulumi preview --policy-pack-config`")


def run(args: argparse.Namespace) -> int:
    from labhub import secretness
    from labhub.engine import run_stack  # the engine imports the program's dependencies: only when running
    from labhub.stackfile_check import plaintext_credentials

    config = load_policy_config(args.policy_config)
    stack_path = Path(args.program) / f"Pulumi.{args.stack}.yaml"
    stack_file = plaintext_credentials(stack_path) if stack_path.is_file() else []  # missing: run_stack says so
    try:
        stack_run = run_stack(args.stack, args.program)
    except UserError:
        for finding in stack_file:  # the program did not run, but what the stack file gives away stands
            print(f"labhub: error: [stack-file-ciphertext-only] {finding.message()}", file=sys.stderr)
        raise
    violations = replay(stack_run.resources, stack_run.outputs, stack_run.stack, stack_run.project, config)
    violations += [Violation(f.check, "mandatory", f.resource_type, f.resource_name, f.urn,
                             f"{secretness.CHECKS[f.check]}\n{f.message}")
                   for f in secretness.check(stack_run, stack_file)]
    print(report(violations, len(stack_run.resources), stack_run.stack))
    return 1 if any(v.level == "mandatory" for v in violations) else 0


def load_policy_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UserError(f"--policy-config {path}: cannot read JSON ({error})") from None
    if not isinstance(data, dict):
        raise UserError(f"--policy-config {path}: expected a JSON object of policy name -> config")
    return data


def resolve_config(config: Mapping[str, Any]) -> dict[str, tuple[EnforcementLevel, dict[str, Any]]]:
    """Per policy: (enforcement level, properties with schema defaults), validated like the CLI does."""
    by_name = {policy.name: policy for policy in POLICIES}
    unknown = sorted(set(config) - set(by_name) - {"all"})
    if unknown:
        raise UserError(f"policy config names unknown policies {unknown}; the pack has {sorted(by_name)}")
    default_level = _level(config.get("all"), "all") if "all" in config else None
    resolved = {}
    for name, policy in by_name.items():
        entry = config.get(name, {})
        if isinstance(entry, str):
            entry = {"enforcementLevel": entry}
        if not isinstance(entry, dict):
            raise UserError(f"policy config for {name}: expected a level string or an object")
        properties = {k: v for k, v in entry.items() if k != "enforcementLevel"}
        schema = policy.config_schema
        defaults = {k: p["default"] for k, p in (schema.properties if schema else {}).items() if "default" in p}
        if schema is not None:
            try:
                jsonschema.validate(properties, {"type": "object", "properties": schema.properties,
                                                 "additionalProperties": False})
            except jsonschema.ValidationError as error:
                where = ".".join(str(p) for p in error.absolute_path) or "(top)"
                raise UserError(f"policy config for {name}: {where}: {error.message}") from None
        level = (_level(entry["enforcementLevel"], name) if "enforcementLevel" in entry
                 else default_level or policy.enforcement_level or ENFORCEMENT_LEVEL)
        resolved[name] = (level, {**defaults, **properties})
    return resolved


def _level(value: Any, where: str) -> EnforcementLevel:
    if value not in _LEVELS:
        raise UserError(f"policy config for {where}: enforcement level {value!r} is not one of {sorted(_LEVELS)}")
    return _LEVELS[value]


def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(plain(props))
    return struct


def pack_version() -> str:
    """The version the CLI would report: PulumiPolicy.yaml's, not the SDK's fixed 0.0.1."""
    return str(yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text()).get("version", "0.0.1"))


def replay(resources: Iterable[Any], outputs: Mapping[str, Any], stack: str, project: str,
           config: Mapping[str, Any] | None = None) -> list[Violation]:
    """Run the pack's analyzer servicer over recorded resources; the only place touching protobuf."""
    resources = list(resources)
    servicer = _PolicyAnalyzerServicer(PACK_NAME, pack_version(), POLICIES, ENFORCEMENT_LEVEL, None, PACK_DESCRIPTION)
    policy_config = {name: proto.PolicyConfig(enforcementLevel=servicer._map_enforcement_level(level),
                                              properties=_struct(props))
                     for name, (level, props) in resolve_config(config or {}).items()}
    servicer.Configure(proto.ConfigureAnalyzerRequest(policyConfig=policy_config), None)
    stack_urn = f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"
    by_urn = {r.urn: (r.type, r.name) for r in resources} | {stack_urn: ("pulumi:pulumi:Stack", f"{project}-{stack}")}
    violations: list[Violation] = []

    def collect(response: Any, default_urn: str) -> None:
        for d in response.diagnostics:
            urn = d.urn or default_urn
            type_, name = by_urn.get(urn, ("", ""))
            violations.append(Violation(d.policyName, _PROTO_LEVELS.get(d.enforcementLevel, "advisory"), type_, name,
                                        urn, d.message))

    analyzer_resources = []
    for r in resources:
        parent = r.parent_urn or stack_urn
        properties = _struct(r.inputs)
        request = proto.AnalyzeRequest(type=r.type, properties=properties, urn=r.urn, name=r.name,
                                       options=proto.AnalyzerResourceOptions(parent=parent))
        collect(servicer.Analyze(request, None), r.urn)
        analyzer_resources.append(proto.AnalyzerResource(type=r.type, properties=properties, urn=r.urn, name=r.name,
                                                         parent=parent, dependencies=list(r.dependencies)))
    analyzer_resources.append(proto.AnalyzerResource(type="pulumi:pulumi:Stack", properties=_struct(outputs),
                                                     urn=stack_urn, name=f"{project}-{stack}"))
    collect(servicer.AnalyzeStack(proto.AnalyzeStackRequest(resources=analyzer_resources), None), stack_urn)
    return violations


def report(violations: list[Violation], resource_count: int, stack: str) -> str:
    """The `Policies:` block of `pulumi preview`, plus one summary line."""
    mark = "❌" if any(v.level == "mandatory" for v in violations) else ("⚠️" if violations else "✅")
    lines = ["Policies:", f"    {mark} {PACK_NAME}@v{pack_version()} (local: {PACK_NAME})"]
    for v in violations:
        lines.append(f"        - [{v.level}]  {v.policy}  ({v.resource_type}: {v.resource_name})")
        lines.extend(f"          {line}" for line in v.message.splitlines())
        lines.append(f"          urn: {v.urn}")
    mandatory = sum(v.level == "mandatory" for v in violations)
    lines.append("")
    from labhub.secretness import CHECKS

    lines.append(f"policy-check: stack {stack}: {len(violations)} violation(s) ({mandatory} mandatory, "
                 f"{len(violations) - mandatory} advisory) in {resource_count} resources, {len(POLICIES)} policies "
                 f"and {len(CHECKS)} offline checks")
    return "\n".join(lines)

