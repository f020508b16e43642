"""`labhub:spyglassHub`: every rule the hub's builders rely on is checked once, at parse time, naming the stack-file key.

Invariant: a value Kubernetes, z2jh or a lab member would regret (a request above
its limit, a public hub anyone can log in to, a chart whose schema labhub does not
carry, a setting that would be silently ignored) stops `pulumi preview` and
`labhub render` with one line per problem, each naming the key as written in
Pulumi.<stack>.yaml; and what YAML gives for a sensible value (a plain number of
bytes, a digest-only image) is accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, parse_stack_config
from components.models.spyglass_hub import SpyglassHubConfig

OAUTH = {"type": "github", "clientId": "Iv1.abc", "allowedOrganizations": ["lab"]}


def _error(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({"labhub:spyglassHub": json.dumps(section)})
    return str(caught.value)


def _hub(section: dict[str, Any]) -> SpyglassHubConfig:
    return parse_stack_config({"labhub:spyglassHub": json.dumps(section)}).spyglass_hub


@pytest.mark.parametrize(
    ("section", "line"),
    [
        pytest.param(
            {"singleuser": {"memoryLimit": "2G", "memoryGuarantee": "3G"}},
            "labhub:spyglassHub.singleuser: memoryGuarantee '3G' exceeds memoryLimit '2G': Kubernetes refuses a container whose request is above its limit",
            id="memory-guarantee-over-limit",
        ),
        pytest.param(
            {"singleuser": {"cpuLimit": 1, "cpuGuarantee": "1500m"}},
            "labhub:spyglassHub.singleuser: cpuGuarantee '1500m' exceeds cpuLimit '1': Kubernetes refuses a container whose request is above its limit",
            id="cpu-guarantee-over-limit",
        ),
        pytest.param(
            {"mysql": {"memoryRequest": "8Gi"}},
            "labhub:spyglassHub.mysql: memoryRequest '8Gi' exceeds memoryLimit '4Gi': Kubernetes refuses a container whose request is above its limit",
            id="sidecar-request-over-limit",
        ),
        pytest.param(
            {"hubResources": {"memoryLimit": "1Gi", "memoryRequest": "2Gi", "cpuLimit": 1, "cpuRequest": "100m"}},
            "labhub:spyglassHub.hubResources: memoryRequest '2Gi' exceeds memoryLimit '1Gi': Kubernetes refuses a container whose request is above its limit",
            id="hub-request-over-limit",
        ),
        pytest.param(
            {"tls": {"enabled": True}, "auth": OAUTH},
            "labhub:spyglassHub: host is required when TLS or OAuth is on (the default 'spyglass.localhost' is for local development)",
            id="host-missing-with-tls-and-oauth",
        ),
        pytest.param(
            {"chart": {"version": "4.3.0"}},
            "labhub:spyglassHub.chart.version: '4.3.0' is not allowed: Input should be '4.4.0'",
            id="chart-version-without-schema",
        ),
        pytest.param(
            {"singleuser": {"storage": {"capacity": 0}}},
            "labhub:spyglassHub.singleuser.storage.capacity: 0 is not allowed: '0' is not a positive memory quantity "
            "(e.g. 512Mi, 4Gi, 1G or a plain number of bytes)",
            id="capacity-zero",
        ),
        pytest.param(
            {"mysql": {"memoryLimit": "200Mi"}},
            "labhub:spyglassHub.mysql: MySQL memory limit '200Mi' is too small: a 128 MiB buffer pool needs 128 MiB beside it (use at least 256Mi)",
            id="sidecar-limit-too-small",
        ),
        pytest.param(
            {"mysql": {"image": "datajoint/mysql:latest"}},
            "labhub:spyglassHub.mysql.image: 'datajoint/mysql:latest' is not allowed: must not use the 'latest' tag: pin a version so a deploy is repeatable",
            id="latest-image",
        ),
        pytest.param(
            {"mysql": {"initImage": "busybox"}},
            "labhub:spyglassHub.mysql.initImage: 'busybox' is not allowed: must pin a tag or digest (e.g. 'repo/image:1.2.3'); an untagged image means 'latest'",
            id="untagged-init-image",
        ),
        pytest.param(
            {"mysql": {"persistence": {"enabled": True, "dataSubPath": "../other"}}},
            "labhub:spyglassHub.mysql.persistence.dataSubPath: '../other' is not allowed: must be a relative path inside the home volume, e.g. .labhub/mysql",
            id="escaping-data-path",
        ),
        pytest.param(
            {"mysql": {"bufferPoolFraction": 0.9}},
            "labhub:spyglassHub.mysql.bufferPoolFraction: 0.9 is not allowed: Input should be less than or equal to 0.75",
            id="pool-fraction",
        ),
        pytest.param(
            {"mysql": {"persistence": {"enabled": True}}, "singleuser": {"storage": {"type": "none"}}},
            "labhub:spyglassHub: mysql.persistence keeps the database in the user's home volume: it needs singleuser.storage.type 'dynamic'",
            id="persistence-without-home",
        ),
        pytest.param(
            {"network": {"nonPrivateClusterCidrs": ["fd00::/8"]}},
            "labhub:spyglassHub.network.nonPrivateClusterCidrs: ['fd00::/8'] is not allowed: 'fd00::/8': only IPv4 CIDRs (z2jh's egress rules are IPv4)",
            id="ipv6-cidr",
        ),
        pytest.param(
            {"host": "hub.example.org"},
            "labhub:spyglassHub: auth.type 'dummy' lets anyone log in as anyone (admins included) and host 'hub.example.org' is not "
            "*.localhost: use github or generic-oauth, or set auth.insecureAllowDummyOnPublicHost for a throwaway demo",
            id="dummy-on-a-public-host",
        ),
        pytest.param(
            {"tls": {"enabled": True}, "host": "spyglass.localhost"},
            "labhub:spyglassHub: auth.type 'dummy' lets anyone log in as anyone (admins included) and host 'spyglass.localhost' has TLS on: "
            "use github or generic-oauth, or set auth.insecureAllowDummyOnPublicHost for a throwaway demo",
            id="dummy-with-tls",
        ),
        pytest.param(
            {"host": "hub.example.org", "auth": {"type": "generic-oauth", "clientId": "c", "authorizeUrl": "https://i/a",
             "tokenUrl": "https://i/t", "userdataUrl": "https://i/u", "allowedOrganizations": ["lab"]}},
            "labhub:spyglassHub.auth: allowedOrganizations has no effect with type 'generic-oauth'; remove it or change type",
            id="generic-oauth-with-organizations-only",
        ),
        pytest.param(
            {"host": "hub.example.org", "auth": {**OAUTH, "allowedUsers": ["ada"], "usernameClaim": "email"}},
            "labhub:spyglassHub.auth: usernameClaim has no effect with type 'github'; remove it or change type",
            id="generic-setting-with-github",
        ),
        pytest.param(
            {"auth": {"type": "dummy", "allowedOrganizations": ["lab"]}},
            "labhub:spyglassHub.auth: allowedOrganizations has no effect with type 'dummy'; remove it or change type",
            id="organizations-with-dummy",
        ),
        pytest.param(
            {"host": "hub.example.org", "auth": {"type": "github", "allowedUsers": ["ada"]}},
            "labhub:spyglassHub.auth: clientId is required when type is 'github'",
            id="github-without-client-id",
        ),
    ],
)
def test_a_value_kubernetes_or_a_user_would_regret_fails_naming_the_stack_file_key(section: dict[str, Any], line: str) -> None:
    assert _error(section) == line


def test_a_plain_number_of_bytes_is_a_memory_quantity() -> None:
    """YAML reads `2147483648` as an integer; the error text offers it, so it must be accepted."""
    hub = _hub({"mysql": {"memoryLimit": 2147483648}, "singleuser": {"memoryLimit": 8589934592, "cpuLimit": 2.5}})
    assert (hub.mysql.memory_limit, hub.singleuser.memory_limit, hub.singleuser.cpu_limit) == ("2147483648", "8589934592", "2.5")


def test_a_digest_only_image_is_accepted() -> None:
    digest = "quay.io/lorenlab/hhmi-spyglass-image@sha256:" + "a" * 64
    assert _hub({"singleuser": {"image": digest}}).singleuser.image == digest


def test_the_dummy_authenticator_runs_on_a_public_host_only_with_the_named_override() -> None:
    hub = _hub({"host": "demo.example.org", "auth": {"type": "dummy", "insecureAllowDummyOnPublicHost": True}})
    assert hub.auth.type == "dummy"


def test_names_of_the_hubs_objects_derive_from_the_release_name() -> None:
    hub = _hub({"releaseName": "lab", "host": "hub.example.org", "tls": {"enabled": True}, "auth": {**OAUTH, "allowedUsers": []}})
    assert (hub.mysql_secret_name, hub.mysql_config_map_name, hub.tls_secret_name, hub.url) == (
        "lab-mysql", "lab-mysql-config", "lab-tls", "https://hub.example.org",
    )


def test_every_stack_file_key_is_reported_when_several_are_wrong() -> None:
    lines = _error({"mysql": {"memry": "4Gi", "image": "mysql"}}).splitlines()
    assert lines == [
        "labhub:spyglassHub.mysql.image: 'mysql' is not allowed: must pin a tag or digest (e.g. 'repo/image:1.2.3'); an untagged image means 'latest'",
        "labhub:spyglassHub.mysql.memry: unknown key; allowed keys here are bufferPoolFraction, cpuLimit, cpuRequest, "
        "ephemeralSizeLimit, image, initImage, memoryLimit, memoryRequest, persistence",
    ]
