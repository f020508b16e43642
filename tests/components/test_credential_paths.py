"""One list of chart credential paths, loadable without Pulumi, is what the policy pack and policy-check use.

The pack runs in its own virtualenv and imports this module; the builders,
the pack's `generatedValuePaths` default and the offline secretness check
must all read the same tuple, so they cannot drift apart.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from components.credential_paths import CHART_CREDENTIAL_PATHS
from policies.config import CHART_VALUES_SCHEMA, WEAK_SCHEMA
from policies.matching import path_matches

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_module_imports_no_pulumi():
    code = ("import sys; import components.credential_paths; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'pulumi_kubernetes', 'pydantic')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_the_pack_allow_lists_exactly_this_list():
    for schema in (CHART_VALUES_SCHEMA, WEAK_SCHEMA):
        assert schema.properties["generatedValuePaths"]["default"] == list(CHART_CREDENTIAL_PATHS)


def test_paths_cover_the_tokens_labhub_places_and_nothing_beside_them():
    placed = ["hub.config.ConfigurableHTTPProxy.auth_token", "hub.config.JupyterHub.cookie_secret",
              "hub.config.CryptKeeper.keys", "hub.config.GitHubOAuthenticator.client_secret",
              "hub.config.GenericOAuthenticator.client_secret", "hub.services.templates.api_token"]
    assert all(path_matches(tuple(p.split(".")), CHART_CREDENTIAL_PATHS) for p in placed)
    assert path_matches(("hub", "config", "CryptKeeper", "keys", 0), CHART_CREDENTIAL_PATHS)  # list items
    for neighbour in ["hub.config.GitHubOAuthenticator.client_id", "hub.services.templates.url",
                      "hub.config.JupyterHub.authenticator_class"]:
        assert not path_matches(tuple(neighbour.split(".")), CHART_CREDENTIAL_PATHS)
