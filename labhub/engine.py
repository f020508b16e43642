"""The offline engine: run a labhub program for a stack under Pulumi's mock runtime.

There is no Pulumi CLI here, so `labhub render`, `labhub policy-check` and the
tests all need what the CLI would do before the first resource reaches a
provider: read `Pulumi.yaml` and `Pulumi.<stack>.yaml`, hand the config to the
program, run `__main__.py`, and record every resource registration exactly as
the engine receives it (type, name, parent, inputs with secret markers).

The mocks behave like the engine where it matters for review:
- outputs echo inputs, plus what a provider computes (a random password of the
  requested length, an image digest);
- outputs a resource declares in `additionalSecretOutputs` come back as
  secrets, as the engine makes them (without this, a generated password would
  look like plaintext downstream and secret checks would prove nothing);
- `secure:` config values become secret placeholders (they cannot be
  decrypted offline), and required secrets the stack file does not hold get a
  placeholder and a warning, so a fresh clone can render `prod`.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import logging
import re
import runpy
import secrets
import string
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.proto import resource_pb2

from labhub.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parent.parent
STACK_TYPE = "pulumi:pulumi:Stack"


@dataclass(frozen=True)
class RecordedResource:
    """One resource registration as the engine would receive it."""

    type: str
    name: str
    urn: str
    parent_urn: str | None
    custom: bool
    inputs: dict[str, Any]  # camelCase keys; secrets still wrapped (rpc.is_rpc_secret)
    dependencies: tuple[str, ...] = ()
    protect: bool = False  # Pulumi refuses to delete or replace it (components/data_safety.py)


@dataclass
class StackRun:
    """What one run of the program for one stack registered and exported."""

    stack: str
    project: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]  # stack exports, secrets wrapped
    warnings: list[str] = field(default_factory=list)
    # Every secret string the run produced (generated credentials, config placeholders), so a
    # renderer can redact them wherever they travelled, even inside a larger secret value.
    secret_values: frozenset[str] = frozenset()


# --- stack files ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StackFiles:
    """The config the CLI would hand the program: values and which keys are secret."""

    project: str
    config: dict[str, str]
    secret_keys: frozenset[str]


def read_stack_files(program_dir: Path, stack: str) -> StackFiles:
    """Read Pulumi.yaml and Pulumi.<stack>.yaml as the CLI would (minus decryption)."""
    project_file = program_dir / "Pulumi.yaml"
    stack_file = program_dir / f"Pulumi.{stack}.yaml"
    project_doc = _load_yaml(project_file)
    project = project_doc.get("name") if isinstance(project_doc, dict) else None
    if not isinstance(project, str):
        raise UserError(f"{project_file}: no project name (a top-level `name:`)")
    if not stack_file.exists():
        available = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in program_dir.glob("Pulumi.*.yaml"))
        raise UserError(f"no stack {stack!r}: {stack_file} does not exist; stacks here: {', '.join(available) or 'none'}")
    stack_doc = _load_yaml(stack_file) or {}
    raw = stack_doc.get("config", {}) if isinstance(stack_doc, dict) else None
    if not isinstance(raw, dict):
        raise UserError(f"{stack_file}: `config:` must be a mapping of keys to values")
    config: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in raw.items():
        full_key = key if ":" in key else f"{project}:{key}"
        value, is_secret = _replace_secure(value)
        if is_secret:
            secret_keys.add(full_key)
        if isinstance(value, bool):  # the CLI hands scalars over as strings: true -> "true"
            value = "true" if value else "false"
        config[full_key] = value if isinstance(value, str) else json.dumps(value)
    return StackFiles(project, config, frozenset(secret_keys))


class StackFileLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads a stack file: a duplicate key is an error, a date stays text.

    PyYAML keeps the last of two equal keys without a word (the CLI's YAML
    library refuses them), and turns an unquoted `2026-12-03` into a date
    object, which the CLI hands to the program as the text it reads.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                first = seen[key]
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first.line + 1}, column {first.column + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark
        return super().construct_mapping(node, deep=deep)


StackFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _load_yaml(path: Path) -> Any:
    """The document in `path`; UserError with line and column for a YAML mistake."""
    try:
        return yaml.load(path.read_text(), Loader=StackFileLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError:
        raise UserError(f"{path} does not exist: is this a Pulumi project directory?") from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise UserError(f"{path}: {where}: {error.problem} (not valid YAML)") from None
    except yaml.YAMLError as error:
        raise UserError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None


def _replace_secure(value: Any) -> tuple[Any, bool]:
    """Swap every `{secure: ...}` for a placeholder; report whether any was found."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return placeholder_secret(), True
        found = False
        out = {}
        for k, v in value.items():
            out[k], inner = _replace_secure(v)
            found |= inner
        return out, found
    if isinstance(value, list):
        pairs = [_replace_secure(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


PLACEHOLDER_PREFIX = "offline-placeholder-"
_PLACEHOLDER = re.compile(re.escape(PLACEHOLDER_PREFIX) + "[0-9a-f]{32}")


def placeholder_secret() -> str:
    """A stand-in for a secret that cannot be read offline: random, so it trips no weak-value rule."""
    return PLACEHOLDER_PREFIX + secrets.token_hex(16)


# --- mocks ----------------------------------------------------------------------------------


class LabhubMocks(pulumi.runtime.Mocks):
    """Echo inputs, compute what providers compute, and keep engine-side secretness."""

    def __init__(self) -> None:
        self.secret_values: set[str] = set()  # every value this mock handed out as a secret
        self.helm_values: dict[str, Any] = {}  # release name -> values a helm v3 Chart asked to template

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        return self.resource_outputs(args, ())

    def resource_outputs(
        self, args: pulumi.runtime.MockResourceArgs, secret_outputs: Sequence[str]
    ) -> tuple[str | None, dict[str, Any]]:
        """The provider's answer; `secret_outputs` (the request's additionalSecretOutputs) come back secret."""
        outputs = dict(args.inputs)
        outputs.update(_computed_outputs(args.typ, args.name, args.inputs))
        for key in secret_outputs:
            if key in outputs and not rpc.is_rpc_secret(outputs[key]):
                if isinstance(outputs[key], str):
                    self.secret_values.add(outputs[key])
                outputs[key] = rpc.wrap_rpc_secret(outputs[key])
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "kubernetes:yaml:decode":  # k8s.yaml.ConfigFile/ConfigGroup (v1) parse manifests, as the provider would
            return {"result": [d for d in yaml.safe_load_all(str(args.args.get("text", ""))) if d]}, []
        if args.token == "kubernetes:helm:template":  # helm v3 Chart: no helm offline; keep its values for review
            raw = args.args.get("jsonOpts", "{}")
            chart = json.loads(rpc.unwrap_rpc_secret(raw) if rpc.is_rpc_secret(raw) else raw)
            # The SDK resolves the values (secrets included) inside an apply before this call, so their
            # markers are gone; the engine would mark the rendered objects secret if any value was.
            # Marked here, the secret values they carry (`secret_values`) tell secrets from literals.
            self.helm_values[str(chart.get("release_name"))] = rpc.wrap_rpc_secret(chart.get("values") or {})
            return {"result": []}, []
        raise UserError(f"the program called {args.token}, which the offline engine does not answer")


def _computed_outputs(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    if type_ in ("random:index/randomPassword:RandomPassword", "random:index/randomString:RandomString"):
        length = int(inputs.get("length", 16))
        alphabet = string.ascii_letters + string.digits
        return {"result": "".join(secrets.choice(alphabet) for _ in range(length)), "bcryptHash": "$2a$10$mock"}
    if type_ == "random:index/randomBytes:RandomBytes":
        raw = secrets.token_bytes(int(inputs.get("length", 32)))
        return {"hex": raw.hex(), "base64": base64.b64encode(raw).decode()}
    if type_ == "docker:index/image:Image":
        image = str(inputs.get("imageName", name))
        return {"repoDigest": f"{_repository(image)}@sha256:{'0' * 64}", "baseImageName": image}
    return {}


def _repository(image: str) -> str:
    """`registry:5001/a/b:tag` -> `registry:5001/a/b`: the tag is after the last ':' of the last path part."""
    name = image.partition("@")[0]
    head, slash, last = name.rpartition("/")
    return head + slash + last.partition(":")[0]


class CapturingMonitor(pulumi_mocks.MockMonitor):
    """A MockMonitor that records each registration as the engine sees it."""

    def __init__(self, mocks: LabhubMocks) -> None:
        super().__init__(mocks)
        self.labhub_mocks = mocks
        self.recorded: list[RecordedResource] = []
        self._stack_urn = ""

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        # MockMonitor.RegisterResource, plus the request's additionalSecretOutputs handed to the
        # mocks (registrations run on several threads, so this cannot go through shared state).
        urn = self.make_urn(request.parent, request.type, request.name)
        if request.type == STACK_TYPE:
            self._stack_urn = urn
            return resource_pb2.RegisterResourceResponse(urn=urn)
        pulumi_mocks._ensure_event_loop()
        inputs = rpc.deserialize_properties(request.object)
        args = pulumi.runtime.MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
        )
        id_, state = self.labhub_mocks.resource_outputs(args, list(request.additionalSecretOutputs))
        id_ = id_ or ""
        obj_proto = pulumi_mocks._sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = pulumi_mocks.MockMonitor.ResourceRegistration(urn, id_, state)
        self.recorded.append(
            RecordedResource(
                type=request.type,
                name=request.name,
                urn=urn,
                parent_urn=request.parent if request.parent and request.parent != self._stack_urn else None,
                custom=bool(request.custom),
                inputs=inputs,
                dependencies=tuple(request.dependencies),
                protect=bool(request.protect),
            )
        )
        return resource_pb2.RegisterResourceResponse(urn=urn, id=id_, object=obj_proto)


def _config_secret_values(config: Mapping[str, str], secret_keys: set[str] | frozenset[str]) -> set[str]:
    """Secret config values, and the placeholders inside secret objects (`pulumi config set --path --secret`)."""
    values = {config[k] for k in secret_keys if k in config}
    return values | {m for v in values for m in _PLACEHOLDER.findall(v)}


def _stack_outputs() -> dict[str, Any]:
    """The root stack's exports, resolved, with secrets wrapped as the engine would store them."""
    from pulumi.runtime.settings import get_root_resource
    from pulumi.runtime.sync_await import _sync_await

    async def resolve(value: Any) -> Any:
        output = pulumi.Output.from_input(value)
        plain = await output.future()
        return rpc.wrap_rpc_secret(plain) if await output.is_secret() else plain

    root = get_root_resource()
    return {key: _sync_await(resolve(value)) for key, value in (getattr(root, "outputs", None) or {}).items()}


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


# --- running --------------------------------------------------------------------------------


def run_stack(stack: str, program_dir: Path | None = None) -> StackRun:
    """Run `program_dir/__main__.py` for `stack` under mocks; UserError on bad input."""
    program_dir = (program_dir or PROJECT_DIR).resolve()
    files = read_stack_files(program_dir, stack)
    config = dict(files.config)
    secret_keys = set(files.secret_keys)
    warnings: list[str] = []
    plaintext: set[str] = set()
    for key in _required_secrets(program_dir, config):
        if key not in config:
            config[key] = placeholder_secret()
            secret_keys.add(key)
            warnings.append(
                f"{key} is a required secret that Pulumi.{stack}.yaml does not hold; using a placeholder "
                f"(set it with `pulumi config set --secret {key.partition(':')[2]} ...` before deploying)"
            )
        elif key not in secret_keys:
            # The CLI reads a plaintext value as written and the program's get_secret makes it a secret:
            # do the same (never a placeholder), treat the value as secret downstream, and say it is in git.
            plaintext.add(config[key])
            warnings.append(
                f"{key} is plaintext in Pulumi.{stack}.yaml: the CLI would deploy it as written, and it is committed "
                f"(set it with `pulumi config set --secret {key.partition(':')[2]} ...`; `labhub policy-check` fails on it)"
            )
    run = run_program(program_dir, files.project, stack, config, secret_keys, warnings)
    return dataclasses.replace(run, secret_values=run.secret_values | plaintext) if plaintext else run


def run_program(
    program_dir: Path,
    project: str,
    stack: str,
    config: Mapping[str, str],
    secret_keys: set[str] | frozenset[str] = frozenset(),
    warnings: list[str] | None = None,
) -> StackRun:
    """Run a program directory's `__main__.py` with an explicit config bag."""

    def program() -> None:
        with _program_on_path(program_dir), contextlib.chdir(program_dir):  # the CLI runs it in its directory
            runpy.run_path(str(program_dir / "__main__.py"), run_name="__main__")

    return run_under_mocks(program, project, stack, config, secret_keys, warnings)


def run_under_mocks(
    build: Callable[[], Any],
    project: str = "labhub",
    stack: str = "test",
    config: Mapping[str, str] | None = None,
    secret_keys: set[str] | frozenset[str] = frozenset(),
    warnings: list[str] | None = None,
) -> StackRun:
    """Call `build` (a program, or one component) under fresh mocks and record what it registers.

    Each call gets a fresh root stack and config, so runs never leak into each other.
    """
    config = dict(config or {})
    mocks = LabhubMocks()
    monitor = CapturingMonitor(mocks)
    collector = _WarningCollector()
    logger = logging.getLogger(f"labhub.engine.{stack}")
    logger.propagate = False
    logger.handlers = [collector]
    pulumi.runtime.reset_options(project=project, stack=stack)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, logger=logger, monitor=monitor)
    pulumi.runtime.set_all_config(config, sorted(secret_keys))
    try:
        pulumi.runtime.test(lambda: build() and None)()
        outputs = _stack_outputs()
    except pulumi.RunError as error:
        if isinstance(error, UserError):
            raise
        raise UserError(str(error)) from None
    finally:
        pulumi.runtime.set_all_config({}, [])
    return StackRun(
        stack=stack,
        project=project,
        resources=[_with_helm_values(r, mocks.helm_values) for r in monitor.recorded],
        outputs=outputs,
        warnings=(warnings or []) + collector.messages,
        secret_values=frozenset(mocks.secret_values | _config_secret_values(config, secret_keys)),
    )


def _with_helm_values(resource: RecordedResource, helm_values: Mapping[str, Any]) -> RecordedResource:
    """A helm v3 Chart registers without inputs; give it the values it templated, as the renderer and rules expect."""
    if resource.type == "kubernetes:helm.sh/v3:Chart" and resource.name in helm_values:
        return dataclasses.replace(resource, inputs={**resource.inputs, "values": helm_values[resource.name]})
    return resource


def _required_secrets(program_dir: Path, config: Mapping[str, str]) -> list[str]:
    """Ask the program's own config module which external secrets this stack needs."""
    if not (program_dir / "components" / "config.py").exists():
        return []  # a program without labhub's config module declares none
    with _program_on_path(program_dir):
        from components.config import load_required_secret_keys

        return load_required_secret_keys(config)


@contextlib.contextmanager
def _program_on_path(program_dir: Path) -> Iterator[None]:
    sys.path.insert(0, str(program_dir))
    try:
        yield
    finally:
        sys.path.remove(str(program_dir))
