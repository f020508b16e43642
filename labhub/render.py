"""`labhub render`: what a stack would deploy, as files a reviewer can diff.

Runs the whole program for one stack under the offline engine and writes:

- `resources.json`: every registered resource (type, name, parent, whether it
  is protected from deletion, inputs);
- `manifests/<namespace>/<kind>-<name>.yaml`: every Kubernetes object the
  program creates directly (cluster-scoped ones under `_cluster/`);
- `charts/<release>/values.yaml` and `chart.yaml`: every Helm chart's values
  and source.

Every secret value is replaced by `[secret]` before anything is written, and
so is every credential that should have been one: values at the credential
paths of chart values (`components.credential_paths`) and plaintext values at
credential keys of the stack file, each with a warning naming the key (a render
never writes a credential in clear; `labhub policy-check` fails on them). The
output directory is replaced atomically: a failed render leaves the
previous one untouched, never half a directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pulumi.runtime import rpc

from components.credential_paths import CHART_CREDENTIAL_PATHS
from labhub.engine import PROJECT_DIR, RecordedResource, StackRun, run_stack
from labhub.errors import UserError
from policies.matching import path_matches
from policies.resource_types import CHART_TYPES

REDACTED = "[secret]"
UNKNOWN = "[unknown]"
MARKER = ".labhub-render"
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "Namespace", "ClusterRole", "ClusterRoleBinding", "StorageClass", "PersistentVolume", "PriorityClass",
        "IngressClass", "CustomResourceDefinition", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    }
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", required=True, help="stack to render (reads Pulumi.<stack>.yaml)")
    parser.add_argument("--out", required=True, type=Path, help="directory to write; replaced as a whole")
    parser.add_argument("--program", type=Path, default=PROJECT_DIR, help="Pulumi project directory (default: labhub's)")


def run(args: argparse.Namespace) -> int:
    result = run_stack(args.stack, args.program)
    result, redacted = redact_unmarked_credentials(result, Path(args.program) / f"Pulumi.{args.stack}.yaml")
    for warning in result.warnings + redacted:
        print(f"labhub: warning: {warning}", file=sys.stderr)
    files = render_files(result)
    write_tree(args.out, files)
    print(f"rendered stack {args.stack!r}: {len(result.resources)} resources, {len(files)} files in {args.out}")
    return 0


def redact(value: Any, secret_values: frozenset[str] = frozenset()) -> Any:
    """A copy of `value` with every secret replaced by [secret] and unknowns by [unknown].

    A secret that wraps a mapping or list (the SDK marks a whole `values` object secret
    when one leaf is) keeps its shape: only the leaves that contain a known secret
    value are replaced, so a reviewer still sees the non-secret settings. A secret
    scalar is always replaced.
    """
    if rpc.is_rpc_secret(value):
        inner = rpc.unwrap_rpc_secret(value)
        return _redact_leaves(inner, secret_values) if isinstance(inner, (dict, list)) else REDACTED
    if value == rpc.UNKNOWN:
        return UNKNOWN
    if isinstance(value, dict):
        return {k: redact(v, secret_values) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v, secret_values) for v in value]
    if isinstance(value, str) and any(s in value for s in secret_values):
        return REDACTED  # a secret that lost its marker on the way: never write it
    if isinstance(value, float) and value.is_integer():
        return int(value)  # the wire format has only doubles; 600 was an integer in the program
    return value


def _redact_leaves(value: Any, secret_values: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _redact_leaves(v, secret_values) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_leaves(v, secret_values) for v in value]
    if not secret_values or (isinstance(value, str) and any(s in value for s in secret_values)):
        return REDACTED
    return redact(value, secret_values)


def redact_unmarked_credentials(result: StackRun, stack_file: Path) -> tuple[StackRun, list[str]]:
    """The run with plaintext stack-file credentials added to its secret values, and a warning per key redacted."""
    from labhub.secretness import chart_credential_leaves
    from labhub.stackfile_check import credential_keys

    warnings = []
    plaintext = {}
    for key, value in credential_keys(stack_file):
        plaintext[key] = value
        if value not in result.secret_values:
            warnings.append(f"{stack_file.name}: {key} is a plaintext credential; redacted in the render "
                            f"(set it with `pulumi config set --secret`)")
    result = dataclasses.replace(result, secret_values=result.secret_values | frozenset(plaintext.values()))
    for resource in result.resources:
        if resource.type in CHART_TYPES:
            warnings += [f"chart {resource.name}: {path} is not a Pulumi secret; redacted in the render"
                         for path, secret in chart_credential_leaves(result, resource) if not secret]
    return result, warnings


def _redact_credential_paths(values: Any, path: tuple[str | int, ...] = ()) -> Any:
    """Chart values with every leaf at a credential path replaced by [secret], marked secret or not."""
    if isinstance(values, dict):
        return {k: _redact_credential_paths(v, path + (k,)) for k, v in values.items()}
    if isinstance(values, list):
        return [_redact_credential_paths(v, path + (i,)) for i, v in enumerate(values)]
    return REDACTED if path_matches(path, CHART_CREDENTIAL_PATHS) and values not in (None, "") else values


def render_files(result: StackRun) -> dict[str, str]:
    """Relative path -> file text for one stack run (pure: nothing is written)."""
    names = {r.urn: r.name for r in result.resources}
    files: dict[str, str] = {}
    entries = [
        {
            "type": r.type,
            "name": r.name,
            "parent": names.get(r.parent_urn) if r.parent_urn else None,
            "protect": r.protect,
            "inputs": _redacted_inputs(r, result.secret_values),
        }
        for r in sorted(result.resources, key=lambda r: r.urn)  # registration order varies with threads
    ]
    files["resources.json"] = json.dumps(entries, indent=2, sort_keys=True) + "\n"
    for resource in result.resources:
        if resource.type in CHART_TYPES:
            files.update(_chart_files(resource, result.secret_values))
        elif resource.type.startswith("kubernetes:") and resource.custom:  # provider objects are "pulumi:providers:*"
            path, text = _manifest_file(resource, result.secret_values)
            if path in files:
                raise UserError(f"two Kubernetes objects render to {path}: names must be unique per kind and namespace")
            files[path] = text
    return files


def _redacted_inputs(resource: RecordedResource, secret_values: frozenset[str]) -> Any:
    inputs = redact(resource.inputs, secret_values)
    if resource.type in CHART_TYPES and isinstance(inputs.get("values"), dict):
        inputs["values"] = _redact_credential_paths(inputs["values"])
    return inputs


def _manifest_file(resource: RecordedResource, secret_values: frozenset[str]) -> tuple[str, str]:
    manifest = redact(resource.inputs, secret_values)
    kind = manifest.get("kind", resource.type.rsplit(":", 1)[-1])
    metadata = manifest.get("metadata") or {}
    name = metadata.get("name") or resource.name
    namespace = "_cluster" if kind in CLUSTER_SCOPED_KINDS else metadata.get("namespace", "default")
    return f"manifests/{namespace}/{kind.lower()}-{name}.yaml", _yaml(manifest)


def _chart_files(resource: RecordedResource, secret_values: frozenset[str]) -> dict[str, str]:
    inputs = _redacted_inputs(resource, secret_values)
    release = inputs.get("name") or resource.name
    repository = (inputs.get("repositoryOpts") or {}).get("repo")
    chart = {
        "chart": inputs.get("chart"),
        "version": inputs.get("version"),
        "repository": repository,
        "release": release,
        "namespace": inputs.get("namespace"),
        "resourceType": resource.type,
    }
    return {
        f"charts/{release}/chart.yaml": _yaml(chart),
        f"charts/{release}/values.yaml": _yaml(inputs.get("values") or {}),
    }


class _RenderDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """libyaml's emitter (about ten times the pure-Python one's speed), writing multi-line strings
    (scripts, config files, notebooks) as literal blocks, so the render reads like the files they are."""


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_RenderDumper.add_representer(str, _represent_str)


def _yaml(data: Any) -> str:
    return yaml.dump(data, Dumper=_RenderDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def write_tree(out: Path, files: dict[str, str]) -> None:
    """Write `files` under `out`, replacing a previous render atomically.

    Refuses to replace a non-empty directory that is not a labhub render, so a
    mistyped `--out` can never wipe someone's files. Anything the file system
    refuses (a file where a folder should be, a read-only folder or file
    system, a full disk) is one UserError naming `--out`; the previous render
    stays as it was and nothing is left beside it.
    """
    out = out.absolute()
    blocking = next((parent for parent in out.parents if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        raise UserError(f"--out {out}: {blocking} is a file, not a folder; choose a path under a folder")
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise UserError(f"--out {out} exists and is not a labhub render directory; choose an empty or new directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as error:
        raise UserError(f"--out {out}: cannot create it: {_reason(error)}") from None
    try:
        for relative, text in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (staging / MARKER).write_text("written by `labhub render`; the whole directory is replaced on each run\n")
        _swap_into_place(staging, out)
    except OSError as error:
        raise UserError(f"--out {out}: cannot write the render: {_reason(error)}; the previous render, if any, is unchanged") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already after a successful swap


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename `staging` to `out`; a previous render is moved aside first and restored if the rename fails."""
    if not out.exists():
        staging.rename(out)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    try:
        out.rename(retired / "render")
        try:
            staging.rename(out)
        except OSError:
            (retired / "render").rename(out)
            raise
    finally:
        shutil.rmtree(retired, ignore_errors=True)


def _reason(error: OSError) -> str:
    return error.strerror or str(error)
