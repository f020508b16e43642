"""The pack's rules on *where* a credential sits in clear: env, chart values, ConfigMaps, metadata, command lines, build args, and every other property.

Each rule owns a territory and judges every string in it the same way
(`policies.free_text.value_findings`): the name above the value, through the
pack's one name classifier, then the text itself, parsed by its format and
searched for credential shapes with detect-secrets. A territory judged by a
specific rule (an env var, a command line, an annotation) is left alone by the
catch-all rules, so a leak is reported once, by the rule whose fix fits it.

One violation per property path, naming the path and every finding there;
never the value. Secrets are where credentials belong, so no rule here looks
inside a Secret's data (`labhub policy-check` checks they are Pulumi secrets).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from policies import command_line
from policies.config import (
    CHART_VALUES_SCHEMA,
    COMMAND_LINE_SCHEMA,
    CONFIGMAP_SCHEMA,
    DOCKER_SCHEMA,
    ENV_SCHEMA,
    METADATA_SCHEMA,
    PROPERTIES_SCHEMA,
    name_matcher,
    settings,
)
from policies.containers import (
    all_env,
    command_lines,
    is_chart,
    metadata_maps,
    names_a_secret_object,
    owned_paths,
    under,
)
from policies.free_text import scan, value_findings
from policies.matching import Path, children, format_path, get, is_mapping, path_matches, type_matches, walk
from policies.resource_types import CONFIGMAP_TYPES, DOCKER_BUILD_ARGS

REFERENCE_FIX = ("keep the value in a Kubernetes Secret and reference it (env `valueFrom.secretKeyRef`, "
                 "a mounted Secret file)")


def text_of(value: Any) -> str | None:
    """A scalar as the text a reader would see (numbers too: `password: 123456`); None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def nearest_key(path: Path, root: Any = None) -> str | None:
    """The name a value goes by: its key (for a list item, the list's key), or the `name` beside a `value`."""
    if root is not None and path and path[-1] == "value":
        label = get(root, *path[:-1], "name")
        if isinstance(label, str):
            return label  # {name: MYSQL_ROOT_PASSWORD, value: ...} in manifests not shaped as workloads
    return next((str(k) for k in reversed(path) if isinstance(k, str)), None)


def _emit(report_violation: ReportViolation, findings: Iterable[tuple[Path, str, list[str]]], why_fix: str) -> None:
    for path, subject, found in findings:
        if found:
            report_violation(f"{format_path(path)}: {subject} holds a credential in clear "
                             f"({'; '.join(dict.fromkeys(found))}). {why_fix}", None)


def no_plaintext_credential_env_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    names = name_matcher(settings(args, ENV_SCHEMA))
    _emit(report_violation, (
        (path, f"env var {name}", value_findings(name, value, names))
        for name, path, value in all_env(args.resource_type, args.props) if isinstance(value, str)
    ), "Anyone who can read this object, its Pulumi state or the rendered manifest reads the credential. "
       f"Fix: {REFERENCE_FIX}.")


def no_plaintext_credential_in_chart_values_validator(args: ResourceValidationArgs,
                                                      report_violation: ReportViolation) -> None:
    if not is_chart(args.resource_type):
        return
    config = settings(args, CHART_VALUES_SCHEMA)
    names = name_matcher(config)
    owned = owned_paths(args.resource_type, args.props)
    found = []
    for path, value in walk(get(args.props, "values"), ("values",)):
        text = text_of(value)
        if text is None or under(path, owned) or path_matches(path[1:], config["generatedValuePaths"]):
            continue
        python = "extraConfig" in path  # z2jh hub.extraConfig: Python the hub runs
        found.append((path, "chart value", value_findings(nearest_key(path), text, names, python=python)))
    _emit(report_violation, found,
          "Helm stores values in the release and Pulumi in its state, readable by anyone with access to either. "
          "Fix: point the chart at an existing Secret (existingSecret, secretKeyRef), or fill it from a generated "
          "pulumi_random secret at a path listed in generatedValuePaths.")


def no_credentials_in_configmaps_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in CONFIGMAP_TYPES:
        return
    names = name_matcher(settings(args, CONFIGMAP_SCHEMA))
    found = []
    for field in ("data", "binaryData"):
        for key, value in children(get(args.props, field)):
            if not isinstance(value, str):
                continue
            if field == "binaryData":
                value = _base64_text(value)
            found.append(((field, key), f"the file {key}",
                          value_findings(str(key), value, names, python=str(key).endswith(".py"))))
    _emit(report_violation, found,
          "ConfigMaps are not access-controlled as secrets: any workload or user with read access to the namespace "
          f"reads them. Fix: move it into a Secret and mount or reference it ({REFERENCE_FIX}).")


def _base64_text(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""


def no_credentials_in_metadata_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    names = name_matcher(settings(args, METADATA_SCHEMA))
    found = []
    for path, node in metadata_maps(args.props):
        for key, value in children(node):
            text = text_of(value)
            if text is not None and not names_a_secret_object(path + (key,), text):
                name = str(key).rsplit("/", 1)[-1]  # example.com/api-token -> api-token
                found.append((path + (key,), f"{str(path[-1])[:-1]} {key}", value_findings(name, text, names)))
    _emit(report_violation, found,
          "Annotations and labels are read by every controller, dashboard and `kubectl describe`, and labels are "
          "indexed. Fix: keep the credential in a Secret; annotate with the Secret's name, never its content.")


def no_credentials_in_properties_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Kubernetes objects only: a credential in any field is stored in clear by the API server, secret or not.

    Other resources' inputs (a docker registry password, a provider's kubeconfig) are where a
    credential belongs, kept only in the Pulumi state: whether they are secrets is what matters,
    which only `labhub policy-check` can see (`provider-inputs-keep-credentials-secret`).
    """
    config = settings(args, PROPERTIES_SCHEMA)
    if (not args.resource_type.startswith("kubernetes:") or is_chart(args.resource_type)
            or type_matches(args.resource_type, config["ignoredResourceTypes"])):
        return
    names = name_matcher(config)
    owned = owned_paths(args.resource_type, args.props)
    owned |= {("data",), ("binaryData",)} if args.resource_type in CONFIGMAP_TYPES else set()
    found = []
    for path, value in walk(args.props):
        text = text_of(value)
        if text is not None and path and not under(path, owned):
            found.append((path, "property", value_findings(nearest_key(path, args.props), text, names)))
    _emit(report_violation, found,
          "Every property outside a Secret is stored in clear in the Pulumi state and readable by anyone who can read "
          f"the object. Fix: {REFERENCE_FIX}, or pass the credential as a Pulumi secret input the provider keeps secret.")


def no_credentials_on_command_line_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, COMMAND_LINE_SCHEMA)
    names = name_matcher(config)
    found: dict[Path, list[str]] = {}
    for words in command_lines(args.resource_type, args.props):
        for path, finding in command_line.find(words, names, config["mysqlTools"]):
            found.setdefault(path, []).append(finding)
        for path, word in words:
            if path not in found:
                found.setdefault(path, []).extend(scan(word, names, config["mysqlTools"]))
    _emit(report_violation, ((path, "command line", f) for path, f in found.items()),
          "Command lines are stored in the manifest and shown in the node's process table. Fix: pass it through an "
          "env var from a secretKeyRef or a mounted option file (--defaults-extra-file, PGPASSFILE).")


def no_credential_docker_build_args_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    path = DOCKER_BUILD_ARGS.get(args.resource_type)
    if path is None:
        return
    names = name_matcher(settings(args, DOCKER_SCHEMA))
    build_args = get(args.props, *path)
    found = []
    known = dict(children(build_args))
    for name in (list(build_args) if is_mapping(build_args) else []):  # a name is known even when its value is not
        text = text_of(known.get(name)) or ""
        named = [f"{name} names a credential"] if names.is_credential(str(name)) else []
        found.append((path + (name,), f"build argument {name}", named + value_findings(None, text, names)))
    _emit(report_violation, found,
          "Build args are baked into the image history (`docker history`) for anyone who can pull it. Fix: use a "
          "build secret (docker-build `secrets`, RUN --mount=type=secret) or inject it at run time.")
