"""labhub's policy pack on secrets: no credential where it can be read, none weak.

One module-level validator per rule (`policies.content_rules`: where a
credential sits in clear; `policies.strength_rules`: how strong it is), each
wrapped in a policy here and listed in `POLICIES`, which `policies/__main__.py`
and `labhub policy-check` both serve, so the CLI and the offline replay judge
with the same code. Every policy is MANDATORY by default (a credential leak is
not a style issue) and configurable through its `PolicyConfigSchema` (see
`policies.config`).

Secretness cannot be seen here: the Python policy SDK hands validators every
value decrypted and unmarked (pulumi/pulumi-policy#241), so a rule cannot tell
a generated Pulumi secret from a literal typed into the program. Two things
follow:

* Chart values at the paths labhub fills from generated secrets
  (`generatedValuePaths`, default `components.credential_paths`) pass the
  name rule here and are held to the generated minimum length instead.
* `labhub policy-check` adds the checks only the mock engine can make (see
  `labhub.secretness`): every value at those paths, every Secret's data and
  every stack output that holds a credential must be a Pulumi secret, and the
  stack file must hold credentials only as ciphertext.

Values unknown at preview time are skipped by the scanning rules (an unknown
is computed from another resource, so it is not a literal; `pulumi up` runs the
rules again on known values). Messages name the property path and never echo
the value.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import EnforcementLevel, Policy, ResourceValidationPolicy, StackValidationPolicy

from policies import content_rules as content
from policies import strength_rules as strength
from policies.config import (
    CHART_VALUES_SCHEMA,
    COMMAND_LINE_SCHEMA,
    CONFIGMAP_SCHEMA,
    DOCKER_SCHEMA,
    ENV_SCHEMA,
    GENERATED_LENGTH_SCHEMA,
    METADATA_SCHEMA,
    PROPERTIES_SCHEMA,
    WEAK_SCHEMA,
)

ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY
PACK_DESCRIPTION = "labhub secrets policy: no plaintext, default or short credentials anywhere in the stack."


def _resource_policy(name: str, description: str, validate: Any, schema: Any) -> ResourceValidationPolicy:
    return ResourceValidationPolicy(name=name, description=description, validate=validate,
                                    enforcement_level=ENFORCEMENT_LEVEL, config_schema=schema)


POLICIES: list[Policy] = [
    _resource_policy("no-plaintext-credential-env",
                     "Containers must not set credential-like env vars to literal values.",
                     content.no_plaintext_credential_env_validator, ENV_SCHEMA),
    _resource_policy("no-plaintext-credential-in-chart-values",
                     "Helm chart values must not hold literal credentials.",
                     content.no_plaintext_credential_in_chart_values_validator, CHART_VALUES_SCHEMA),
    _resource_policy("no-credentials-in-configmaps",
                     "ConfigMaps must not hold credentials or private keys.",
                     content.no_credentials_in_configmaps_validator, CONFIGMAP_SCHEMA),
    _resource_policy("no-credentials-in-metadata",
                     "Annotations and labels must not hold credentials.",
                     content.no_credentials_in_metadata_validator, METADATA_SCHEMA),
    _resource_policy("no-credentials-in-properties",
                     "No other property outside a Secret may hold a credential (named fields, URLs, tokens, keys).",
                     content.no_credentials_in_properties_validator, PROPERTIES_SCHEMA),
    _resource_policy("no-credentials-on-command-line",
                     "Container command lines must not carry passwords.",
                     content.no_credentials_on_command_line_validator, COMMAND_LINE_SCHEMA),
    _resource_policy("no-credential-docker-build-args",
                     "Docker image builds must not take credentials as build arguments.",
                     content.no_credential_docker_build_args_validator, DOCKER_SCHEMA),
    _resource_policy("no-weak-credentials",
                     "Credentials must not be well-known defaults or very short.",
                     strength.no_weak_credentials_validator, WEAK_SCHEMA),
    _resource_policy("generated-passwords-long-enough",
                     "Generated passwords and credential strings must be long enough.",
                     strength.generated_passwords_long_enough_validator, GENERATED_LENGTH_SCHEMA),
    StackValidationPolicy(name="secret-random-values-long-enough",
                          description="Random values stored in Secrets must be long enough.",
                          validate=strength.secret_random_values_long_enough_validator,
                          enforcement_level=ENFORCEMENT_LEVEL, config_schema=GENERATED_LENGTH_SCHEMA),
]
