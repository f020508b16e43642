"""`labhub:xnatHub`: what the XNAT hub's builders rely on is checked once, at parse time, naming the stack-file key.

Invariant: a value that would give a hub that cannot work or is wider open than
asked (no XNAT to log in against, credentials in a URL, a network policy with
nothing to allow, a relative archive path, an unpinned image, a database name
that is no SQL name) stops `labhub render` / `pulumi preview` with one line
naming the key; sensible values are accepted and the derived names and
addresses follow from them.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.config import ConfigError, parse_stack_config
from components.models.xnat_hub import XnatHubConfig

XNAT = {"url": "http://xnat-web.xnat.svc:8080", "namespace": "xnat", "podLabels": {"app": "xnat-web"}}
ON = {"enabled": True, "host": "xnat.example.org", "xnat": XNAT}


def _error(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_stack_config({"labhub:xnatHub": json.dumps(section)})
    return str(caught.value)


def _hub(section: dict[str, Any]) -> XnatHubConfig:
    return parse_stack_config({"labhub:xnatHub": json.dumps(section)}).xnat_hub


@pytest.mark.parametrize(
    ("section", "line"),
    [
        pytest.param({"enabled": True}, "labhub:xnatHub: host and xnat required when enabled (the XNAT host and how to reach XNAT)", id="nothing-set"),
        pytest.param({"enabled": True, "host": "x.org"}, "labhub:xnatHub: xnat required when enabled (the XNAT host and how to reach XNAT)", id="no-xnat"),
        pytest.param({**ON, "xnat": {**XNAT, "url": "http://jupyterhub:pw@xnat"}},  # pragma: allowlist secret
                     "labhub:xnatHub.xnat.url: 'http://jupyterhub:pw@xnat' is not allowed: must be an http(s) URL without credentials, e.g. http://xnat-web.xnat.svc:8080",  # pragma: allowlist secret
                     id="credentials-in-url"),
        pytest.param({**ON, "xnat": {**XNAT, "url": "xnat:8080"}},
                     "labhub:xnatHub.xnat.url: 'xnat:8080' is not allowed: must be an http(s) URL without credentials, e.g. http://xnat-web.xnat.svc:8080",
                     id="url-without-scheme"),
        pytest.param({**ON, "xnat": {"url": "http://xnat"}},
                     "labhub:xnatHub.xnat: say where XNAT runs for the hub's network policy: namespace and podLabels, or cidrs", id="xnat-location-unknown"),
        pytest.param({**ON, "xnat": {**XNAT, "uid": 54}}, "labhub:xnatHub.xnat: set uid and gid together (the archive's owner and group)", id="uid-without-gid"),
        pytest.param({**ON, "xnat": {**XNAT, "archivePath": "data/archive"}},
                     "labhub:xnatHub.xnat.archivePath: 'data/archive' is not allowed: must be an absolute path without '..'", id="relative-archive-path"),
        pytest.param({**ON, "xnat": {"url": "http://xnat", "cidrs": ["10.0.0.0/33"]}},
                     "labhub:xnatHub.xnat.cidrs: ['10.0.0.0/33'] is not allowed: '10.0.0.0/33' is not a CIDR (e.g. 10.20.0.0/16)", id="bad-cidr"),
        pytest.param({**ON, "xnat": {**XNAT, "passwd": "x"}},
                     "labhub:xnatHub.xnat.passwd: unknown key; allowed keys here are archivePath, archivePvc, cidrs, gid, hubAccount, namespace, "
                     "podLabels, timeout, uid, url, verifyTls, workspacePath", id="unknown-key-in-optional-section"),
        pytest.param({**ON, "postgres": {"external": {"host": "db.example.org", "cidrs": []}}},
                     "labhub:xnatHub.postgres.external.cidrs: [] is not allowed: list at least one CIDR: the hub may reach the database only there",
                     id="external-postgres-without-address"),
        pytest.param({**ON, "postgres": {"database": "Jupyter-Hub"}},
                     "labhub:xnatHub.postgres.database: 'Jupyter-Hub' is not allowed: must be a plain SQL name: lower-case letters, digits and _, "
                     "not starting with a digit, at most 63", id="database-not-an-sql-name"),
        pytest.param({**ON, "postgres": {"image": "postgres:latest"}},
                     "labhub:xnatHub.postgres.image: 'postgres:latest' is not allowed: must not use the 'latest' tag: pin a version so a deploy is repeatable",
                     id="unpinned-postgres"),
        pytest.param({**ON, "baseUrl": "jupyterhub"},
                     "labhub:xnatHub.baseUrl: 'jupyterhub' is not allowed: must be a path below / on the XNAT host, e.g. /jupyterhub", id="relative-base-url"),
        pytest.param({**ON, "baseUrl": "/"},
                     "labhub:xnatHub.baseUrl: '/' is not allowed: must be a path below / on the XNAT host, e.g. /jupyterhub", id="base-url-over-xnat"),
        pytest.param({**ON, "postgres": {"resources": {"memoryLimit": "128Mi", "memoryRequest": "1Gi", "cpuLimit": "1", "cpuRequest": "1"}}},
                     "labhub:xnatHub.postgres.resources: memoryRequest '1Gi' exceeds memoryLimit '128Mi': Kubernetes refuses a container whose request is above its limit",
                     id="postgres-request-over-limit"),
    ],
)  # fmt: skip
def test_a_bad_value_fails_with_one_line_naming_the_key(section: dict[str, Any], line: str) -> None:
    assert _error(section) == line


def test_off_by_default_and_nothing_is_required_while_off() -> None:
    assert parse_stack_config({}).xnat_hub.enabled is False
    assert _hub({"enabled": False}).xnat is None


def test_names_and_addresses_follow_from_the_config() -> None:
    hub = _hub({**ON, "releaseName": "jh", "namespace": "xnat-prod", "baseUrl": "/jupyterhub/", "tls": {"enabled": True}})
    assert (hub.url, hub.api_url) == ("https://xnat.example.org/jupyterhub", "https://xnat.example.org/jupyterhub/hub/api")
    assert hub.db_url == "postgresql+psycopg2://jupyterhub@jh-postgres.xnat-prod.svc.cluster.local:5432/jupyterhub"
    assert (hub.postgres_name, hub.postgres_secret_name, hub.xnat_account_secret_name, hub.tls_secret_name) == (
        "jh-postgres", "jh-postgres", "jh-xnat-account", "jh-tls",
    )  # fmt: skip
    external = _hub({**ON, "postgres": {"external": {"host": "db.example.org", "port": 6432, "cidrs": ["10.9.0.0/24"]}}})
    assert external.db_url == "postgresql+psycopg2://jupyterhub@db.example.org:6432/jupyterhub"


@pytest.mark.parametrize(("url", "port"), [("http://xnat", 80), ("https://xnat", 443), ("http://xnat:8080/", 8080)])
def test_the_xnat_port_comes_from_its_url(url: str, port: int) -> None:
    assert _hub({**ON, "xnat": {**XNAT, "url": url}}).xnat.port == port
