"""labhub's policy pack on secrets: no credential where it can be read, none weak.

One module-level validator per rule, wrapped in a policy at the bottom and
listed in `POLICIES`, which `policies/__main__.py` and `labhub policy-check`
both serve, so the CLI and the offline replay judge with the same code. Every
policy is MANDATORY by default (a credential leak is not a style issue) and
configurable through its `PolicyConfigSchema` (see `policies.config`).

Secretness cannot be seen here. labhub fills z2jh's generated tokens (proxy
auth token, cookie secret, CryptKeeper keys, service API tokens, OAuth client
secrets) explicitly in chart values from pulumi_random outputs, because the
chart's own generation relies on Helm `lookup`, which renders empty outside a
real release and would rotate the tokens on every update. Those values are
Pulumi secrets, but the Python policy SDK hands validators every value
decrypted and unmarked (pulumi/pulumi-policy#241), so a rule cannot tell them
from a literal typed into the program. We settle it this way:

* `no-plaintext-credential-in-chart-values` skips chart value paths listed in
  its `generatedValuePaths` config (defaults: the five z2jh paths above). The
  list names only paths labhub fills from generated secrets.
* The unit tests of the program prove, under mocks where secretness *is*
  visible, that the values at exactly those paths are Pulumi secrets. The
  allow-list and those tests must change together.
* Allow-listed values still go through `no-weak-credentials`, which holds them
  to `generatedMinLength` (24 by default): a typed-in placeholder such as
  `SECRET_TOKEN` at an allow-listed path still fails.

Values unknown at preview time are skipped by the scanning rules (an unknown
is computed from another resource, so it is not a literal; `pulumi up` runs the
rules again on known values). `generated-passwords-long-enough` cannot decide
without the length, so it lets the SDK's `UnknownValueError` through, which the
analyzer reports as an advisory "can't run policy during preview".

Messages name the property path and never echo the value.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from policies import command_line
from policies.config import (
    CHART_VALUES_SCHEMA, COMMAND_LINE_SCHEMA, CONFIGMAP_SCHEMA, DOCKER_SCHEMA, ENV_SCHEMA, GENERATED_LENGTH_SCHEMA,
    URL_SCHEMA, WEAK_SCHEMA, name_matcher, settings,
)
from policies.containers import all_env, command_lines, is_chart
from policies.matching import (
    NameMatcher, Path, children, format_path, get, is_literal, is_mapping, is_unknown, leaves_under_credential_names,
    path_matches, type_matches, walk,
)

ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY
PACK_DESCRIPTION = "labhub secrets policy: no plaintext, default or short credentials anywhere in the stack."
REFERENCE_FIX = "keep the value in a Kubernetes Secret and reference it (env `valueFrom.secretKeyRef`, a mounted Secret file)"
CONFIGMAP_TYPES = frozenset({"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"})
SECRET_TYPES = frozenset({"kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch"})
DOCKER_BUILD_ARGS: dict[str, tuple[str, ...]] = {
    "docker:index/image:Image": ("build", "args"),
    "docker:index/remoteImage:RemoteImage": ("build", "buildArgs"),
    "docker-build:index:Image": ("buildArgs",),
}
RANDOM_PW = "random:index/randomPassword:RandomPassword"
# type -> (length property, config key of its minimum, unit)
RANDOM_LENGTHS: dict[str, tuple[str, str, str]] = {
    RANDOM_PW: ("length", "minLength", "characters"),
    "random:index/randomString:RandomString": ("length", "minLength", "characters"),
    "random:index/randomId:RandomId": ("byteLength", "minByteLength", "bytes"),
    "random:index/randomBytes:RandomBytes": ("length", "minByteLength", "bytes"),
}
_PRIVATE_KEY_RE = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----")
_ASSIGNMENT_LINE_RE = re.compile(
    r"""^[ \t]*(?:export[ \t]+)?["']?(?P<name>[A-Za-z_][\w.\-]*)["']?[ \t]*[:=][ \t]*(?P<value>.*?)[ \t]*$""", re.MULTILINE)
_NOT_A_VALUE = frozenset({"", "null", "none", "~", "true", "false", "yes", "no"})


def no_plaintext_credential_env_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    names = name_matcher(settings(args, ENV_SCHEMA))
    for name, path, value in all_env(args.resource_type, args.props):
        if names.is_credential(name) and is_literal(value):
            report_violation(
                f"{format_path(path)}: env var {name} has a literal value. Anyone who can read this object, "
                f"its Pulumi state or the rendered manifest reads the credential. Fix: {REFERENCE_FIX}.")


def no_plaintext_credential_in_chart_values_validator(args: ResourceValidationArgs,
                                                      report_violation: ReportViolation) -> None:
    if not is_chart(args.resource_type):
        return
    config = settings(args, CHART_VALUES_SCHEMA)
    names = name_matcher(config)
    env_paths = {path for _, path, _ in all_env(args.resource_type, args.props)}  # judged by the env rule
    for path, value in leaves_under_credential_names(get(args.props, "values"), names, ("values",)):
        if not is_literal(value) or path in env_paths or path_matches(path[1:], config["generatedValuePaths"]):
            continue
        report_violation(
            f"{format_path(path)}: chart value holds a literal credential. Helm stores values in the release "
            f"and Pulumi in its state, readable by anyone with access to either. Fix: point the chart at an existing "
            f"Secret (existingSecret, secretKeyRef), or fill it from a generated pulumi_random secret and list the "
            f"path in generatedValuePaths.")


def _content_findings(key: str, text: str, names: NameMatcher) -> Iterator[str]:
    if _PRIVATE_KEY_RE.search(text):
        yield "holds a private key (-----BEGIN ... PRIVATE KEY-----)"
    python = key.endswith(".py")
    for match in _ASSIGNMENT_LINE_RE.finditer(text):
        name, raw = match["name"], match["value"]
        if not names.is_credential(name.rsplit(".", 1)[-1]):
            continue
        if raw[:1] and raw[0] in "\"'":
            value = raw[1:].split(raw[0], 1)[0]
        elif python or re.search(r"[()\[\]{}$%]", raw) or re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", raw):
            continue  # code or a reference, not a value
        else:
            value = re.split(r"[\s#;,]", raw, maxsplit=1)[0]
        if value.lower() not in _NOT_A_VALUE and is_literal(value):
            yield f"sets {name} to a literal value"


def no_credentials_in_configmaps_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in CONFIGMAP_TYPES:
        return
    names = name_matcher(settings(args, CONFIGMAP_SCHEMA))
    why = ("ConfigMaps are not access-controlled as secrets: any workload or user with read access to the namespace "
           f"reads them. Fix: move it into a Secret and mount or reference it ({REFERENCE_FIX}).")
    for field in ("data", "binaryData"):
        for key, value in children(get(args.props, field)):
            if not isinstance(value, str):
                continue
            path = format_path((field, key))
            if field == "binaryData":
                try:
                    value = base64.b64decode(value, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    value = ""
            if names.is_credential(key) and value.strip():
                report_violation(f"{path}: the key {key} names a credential. {why}")
                continue
            for finding in _content_findings(str(key), value, names):
                report_violation(f"{path}: the file {finding}. {why}")


def no_credentials_in_urls_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if type_matches(args.resource_type, settings(args, URL_SCHEMA)["ignoredResourceTypes"]):
        return
    for path, value in walk(args.props):
        if isinstance(value, str) and command_line.url_credentials(value):
            report_violation(
                f"{format_path(path)}: URL carries a password (user:password@ before the host). It is visible to "
                f"anyone who can read this object and ends up in logs. Fix: keep the URL (or the password) in a "
                f"Secret, or use $(VAR) expansion of a secretKeyRef env var.")


def no_credentials_on_command_line_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, COMMAND_LINE_SCHEMA)
    names = name_matcher(config)
    for words in command_lines(args.resource_type, args.props):
        for path, finding in command_line.find(words, names, config["mysqlTools"]):
            report_violation(
                f"{format_path(path)}: command line holds a credential ({finding}). Command lines are stored in "
                f"the manifest and shown in the node's process table. Fix: pass it through an env var from a "
                f"secretKeyRef or a mounted option file (--defaults-extra-file, PGPASSFILE).")


def no_credential_docker_build_args_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    path = DOCKER_BUILD_ARGS.get(args.resource_type)
    if path is None:
        return
    names = name_matcher(settings(args, DOCKER_SCHEMA))
    build_args = get(args.props, *path)
    for name in (list(build_args) if is_mapping(build_args) else []):
        if names.is_credential(name):
            report_violation(
                f"{format_path(path + (name,))}: build argument {name} looks like a credential. Build args are "
                f"baked into the image history (`docker history`) for anyone who can pull it. Fix: use a build "
                f"secret (docker-build `secrets`, RUN --mount=type=secret) or inject it at run time.")


def _weak_candidates(args: ResourceValidationArgs, names: NameMatcher) -> Iterator[tuple[Path, str]]:
    for path, node in walk(args.props):
        name, value = get(node, "name"), get(node, "value")
        if is_mapping(node) and names.is_credential(name) and isinstance(value, str):
            yield path + ("value",), value
    for path, value in leaves_under_credential_names(args.props, names):
        if args.resource_type in SECRET_TYPES and path[0] == "data":
            try:
                value = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                continue
        yield path, value


def no_weak_credentials_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, WEAK_SCHEMA)
    if type_matches(args.resource_type, config["ignoredResourceTypes"]):
        return
    weak = {value.lower() for value in config["weakValues"]}
    chart = is_chart(args.resource_type)
    for path, value in _weak_candidates(args, name_matcher(config)):
        if not is_literal(value):
            continue
        generated = chart and path_matches(path[1:], config["generatedValuePaths"])
        minimum = config["generatedMinLength"] if generated else config["minLength"]
        fix = "generate it per stack with pulumi_random" + (" (length >= 24)" if generated else "")
        if value.strip().lower() in weak:
            report_violation(
                f"{format_path(path)}: credential is a well-known default (listed in weakValues). Default "
                f"credentials from tutorials and charts are the first thing an attacker tries. Fix: {fix}.")
        elif len(value) < minimum:
            report_violation(
                f"{format_path(path)}: credential is only {len(value)} characters long (minimum {minimum}). "
                f"Short credentials fall to guessing. Fix: {fix}.")


def _length_violation(resource_type: str, value: Any, config: dict[str, Any]) -> str | None:
    prop, minimum_key, unit = RANDOM_LENGTHS[resource_type]
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < config[minimum_key]:
        return (f"{prop}: generates {int(value)} {unit}, below the minimum of {config[minimum_key]} "
                f"({minimum_key}). Short generated credentials can be brute-forced. Fix: raise `{prop}`.")
    return None


def generated_passwords_long_enough_validator(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    if args.resource_type not in RANDOM_LENGTHS:
        return
    config = settings(args, GENERATED_LENGTH_SCHEMA)
    if args.resource_type != RANDOM_PW and not name_matcher(config).is_credential(args.name):
        return  # a RandomString/RandomId named like `suffix` is not a credential
    prop = RANDOM_LENGTHS[args.resource_type][0]
    if prop not in args.props:
        return
    value = args.props[prop]  # unknown at preview: the proxy raises UnknownValueError for the SDK to report
    if is_unknown(value):
        raise UnknownValueError(value, [prop])
    message = _length_violation(args.resource_type, value, config)
    if message:
        report_violation(message)


def secret_random_values_long_enough_validator(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    config = settings(args, GENERATED_LENGTH_SCHEMA)
    names = name_matcher(config)
    seen: set[str] = set()
    for resource in args.resources:
        if resource.resource_type not in SECRET_TYPES:
            continue
        sources = list(resource.dependencies) + [d for deps in resource.property_dependencies.values() for d in deps]
        for source in sources:
            if source.urn in seen or source.resource_type not in RANDOM_LENGTHS:
                continue
            seen.add(source.urn)
            if source.resource_type == RANDOM_PW or names.is_credential(source.name):
                continue  # judged per resource by generated-passwords-long-enough
            message = _length_violation(source.resource_type, get(source.props, RANDOM_LENGTHS[source.resource_type][0]),
                                        config)
            if message:
                report_violation(f"{message} It feeds the Secret {resource.name}, so it is a credential.", source.urn)


def _resource_policy(name: str, description: str, validate: Any, schema: Any) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=ENFORCEMENT_LEVEL, config_schema=schema)


POLICIES: list[ResourceValidationPolicy | StackValidationPolicy] = [
    _resource_policy("no-plaintext-credential-env",
                     "Containers must not set credential-like env vars to literal values.",
                     no_plaintext_credential_env_validator, ENV_SCHEMA),
    _resource_policy("no-plaintext-credential-in-chart-values",
                     "Helm chart values must not hold literal credentials.",
                     no_plaintext_credential_in_chart_values_validator, CHART_VALUES_SCHEMA),
    _resource_policy("no-credentials-in-configmaps",
                     "ConfigMaps must not hold credentials or private keys.",
                     no_credentials_in_configmaps_validator, CONFIGMAP_SCHEMA),
    _resource_policy("no-credentials-in-urls",
                     "No property outside a Secret may embed a password in a URL.",
                     no_credentials_in_urls_validator, URL_SCHEMA),
    _resource_policy("no-credentials-on-command-line",
                     "Container command lines must not carry passwords.",
                     no_credentials_on_command_line_validator, COMMAND_LINE_SCHEMA),
    _resource_policy("no-credential-docker-build-args",
                     "Docker image builds must not take credentials as build arguments.",
                     no_credential_docker_build_args_validator, DOCKER_SCHEMA),
    _resource_policy("no-weak-credentials",
                     "Credentials must not be well-known defaults or very short.",
                     no_weak_credentials_validator, WEAK_SCHEMA),
    _resource_policy("generated-passwords-long-enough",
                     "Generated passwords and credential strings must be long enough.",
                     generated_passwords_long_enough_validator, GENERATED_LENGTH_SCHEMA),
    StackValidationPolicy(name="secret-random-values-long-enough",
                          description="Random values stored in Secrets must be long enough.",
                          validate=secret_random_values_long_enough_validator,
                          enforcement_level=ENFORCEMENT_LEVEL, config_schema=GENERATED_LENGTH_SCHEMA),
]
