"""Where z2jh takes credentials inline in its chart values: one list, read by the builders and the policy pack.

labhub fills z2jh's tokens (proxy auth token, cookie secret, CryptKeeper keys,
service API tokens, OAuth client secrets) itself, from pulumi_random outputs or
`secure:` stack config, because the chart's own generation relies on Helm
`lookup`, which renders empty outside a real release and would rotate them on
every update. The chart only takes them inline, so they are the one place a
credential may sit in chart values, and only as a Pulumi secret.

Who reads this list, and why it is the only copy:

* the value builders (`components/spyglass_values.py`) place the tokens at
  exactly these paths;
* the policy pack (`policies/config.py`) uses it as the default of
  `generatedValuePaths`: the Python policy SDK cannot see secretness, so the
  pack lets a value here through its name rule and holds it to the generated
  minimum length instead;
* `labhub policy-check` (`labhub/secretness.py`), which runs under the mock
  engine where secretness is visible, requires every value here to be a
  Pulumi secret, and `labhub render` redacts every value here.

Paths are dotted, relative to the chart's `values`, `*` matches one key, and a
path covers everything below it (the items of `CryptKeeper.keys`). This module
imports nothing from Pulumi, so the policy pack's own virtualenv can load it.
"""

from __future__ import annotations

CHART_CREDENTIAL_PATHS: tuple[str, ...] = (
    # where labhub's builders put them (z2jh 4.4.0 traitlets config)
    "hub.config.ConfigurableHTTPProxy.auth_token",
    "hub.config.JupyterHub.cookie_secret",
    "hub.config.CryptKeeper.keys",
    "hub.config.*.client_secret",  # GitHubOAuthenticator, GenericOAuthenticator, any OAuthenticator
    "hub.services.*.api_token",
    # z2jh's own spellings of the same credentials, and its hub database password
    "proxy.secretToken",
    "hub.cookieSecret",
    "hub.services.*.apiToken",
    "hub.db.password",
)
