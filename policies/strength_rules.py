"""The pack's rules on *how strong* a credential is: no well-known defaults, nothing short, generated values long enough.

These judge values wherever they are, Secrets included: a Secret holding
"tutorial" is as open as a ConfigMap holding it. Values at the chart paths
labhub fills from generated secrets (`generatedValuePaths`) are held to the
generated minimum length, so a typed-in placeholder there fails even though the
SDK cannot tell it is not a Pulumi secret.

`generated-passwords-long-enough` cannot decide without the length, so at
preview it lets the SDK's `UnknownValueError` through, which the analyzer
reports as an advisory "can't run policy during preview".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs
from pulumi_policy.proxy import UnknownValueError

from policies.config import GENERATED_LENGTH_SCHEMA, WEAK_SCHEMA, name_matcher, settings
from policies.containers import is_chart, names_a_secret_object
from policies.matching import (
    NameMatcher,
    Path,
    format_path,
    get,
    is_literal,
    is_mapping,
    is_unknown,
    leaves_under_credential_names,
    path_matches,
    type_matches,
    walk,
)
from policies.resource_types import RANDOM_LENGTHS, RANDOM_PASSWORD, SECRET_TYPES


def _weak_candidates(args: ResourceValidationArgs, names: NameMatcher,
                     generated_paths: list[str]) -> Iterator[tuple[Path, str]]:
    for path, node in walk(args.props):
        name, value = get(node, "name"), get(node, "value")
        if is_mapping(node) and names.is_credential(name) and isinstance(value, str):
            yield path + ("value",), value
    candidates = list(leaves_under_credential_names(args.props, names))
    if is_chart(args.resource_type):  # values at generatedValuePaths are credentials whatever their key
        candidates += [(path, value) for path, value in walk(get(args.props, "values"), ("values",))
                       if isinstance(value, str) and path_matches(path[1:], generated_paths)]
    for path, value in dict(candidates).items():
        if names_a_secret_object(path, value):
            continue
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
    for path, value in _weak_candidates(args, name_matcher(config), config["generatedValuePaths"]):
        if not is_literal(value):
            continue
        generated = chart and path_matches(path[1:], config["generatedValuePaths"])
        minimum = config["generatedMinLength"] if generated else config["minLength"]
        fix = "generate it per stack with pulumi_random" + (" (length >= 24)" if generated else "")
        if value.strip().lower() in weak:
            report_violation(
                f"{format_path(path)}: credential is a well-known default (listed in weakValues). Default "
                f"credentials from tutorials and charts are the first thing an attacker tries. Fix: {fix}.", None)
        elif len(value) < minimum:
            report_violation(
                f"{format_path(path)}: credential is only {len(value)} characters long (minimum {minimum}). "
                f"Short credentials fall to guessing. Fix: {fix}.", None)


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
    if args.resource_type != RANDOM_PASSWORD and not name_matcher(config).is_credential(args.name):
        return  # a RandomString/RandomId named like `suffix` is not a credential
    prop = RANDOM_LENGTHS[args.resource_type][0]
    if prop not in args.props:
        return
    value = args.props[prop]  # unknown at preview: the proxy raises UnknownValueError for the SDK to report
    if is_unknown(value):
        raise UnknownValueError(value, [prop])
    message = _length_violation(args.resource_type, value, config)
    if message:
        report_violation(message, None)


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
            if source.resource_type == RANDOM_PASSWORD or names.is_credential(source.name):
                continue  # judged per resource by generated-passwords-long-enough
            message = _length_violation(source.resource_type, get(source.props, RANDOM_LENGTHS[source.resource_type][0]),
                                        config)
            if message:
                report_violation(f"{message} It feeds the Secret {resource.name}, so it is a credential.", source.urn)
