"""The resource type tokens the rules, `labhub policy-check` and `labhub render` single out: one copy each.

No imports, so the policy pack, the offline checks and the renderer can all
read it (`labhub/render.py` writes chart values for `CHART_TYPES`).
"""

from __future__ import annotations

CHART_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart", "kubernetes:helm.sh/v3:Chart"})
SECRET_TYPES = frozenset({"kubernetes:core/v1:Secret", "kubernetes:core/v1:SecretPatch"})
CONFIGMAP_TYPES = frozenset({"kubernetes:core/v1:ConfigMap", "kubernetes:core/v1:ConfigMapPatch"})
# type -> where its build arguments sit
DOCKER_BUILD_ARGS: dict[str, tuple[str, ...]] = {
    "docker:index/image:Image": ("build", "args"),
    "docker:index/remoteImage:RemoteImage": ("build", "buildArgs"),
    "docker-build:index:Image": ("buildArgs",),
}
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # pragma: allowlist secret
# type -> (length property, config key of its minimum, unit)
RANDOM_LENGTHS: dict[str, tuple[str, str, str]] = {
    RANDOM_PASSWORD: ("length", "minLength", "characters"),
    "random:index/randomString:RandomString": ("length", "minLength", "characters"),
    "random:index/randomId:RandomId": ("byteLength", "minByteLength", "bytes"),
    "random:index/randomBytes:RandomBytes": ("length", "minByteLength", "bytes"),
}
STACK_TYPE = "pulumi:pulumi:Stack"
