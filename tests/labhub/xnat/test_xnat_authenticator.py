"""XnatAuthenticator over real HTTP against a fake XNAT: only XNAT's yes lets a user in.

Invariants: a user gets in only when XNAT accepts their own credentials AND they
have the `jupyter` role (any case) or the site allows all users; every XNAT
failure (401, 500, a redirect, bad JSON, a timeout, an unreachable or untrusted
server) denies with a log line naming the cause, never raises; usernames and
passwords with special characters reach XNAT intact; settings default from the
JH_XNAT_* variables; a slow XNAT answer for one user does not hold up another
user's login.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import ssl
from collections.abc import Callable
from typing import Any

import pytest
from fake_xnat import FakeXnat, run_async
from traitlets import TraitError

from labhub.xnat.xnat_jupyterhub import XnatAuthenticator

LOG = logging.getLogger("test.xnat.auth")
ROLES = "/xapi/users/{}/roles"
PREFS = "/xapi/jupyterhub/preferences/allUsersCanStartJupyter"


def authenticator(xnat: FakeXnat, **traits: Any) -> XnatAuthenticator:
    return XnatAuthenticator(xnat_url=xnat.url, log=LOG, **{"timeout": 5.0, **traits})


def login(auth: XnatAuthenticator, username: str, password: str) -> dict[str, Any] | None:
    return run_async(auth.authenticate(None, {"username": username, "password": password}))


def test_a_user_with_the_jupyter_role_gets_in_without_asking_the_site_preference(fake_xnat: FakeXnat) -> None:
    assert login(authenticator(fake_xnat), "alice", fake_xnat.accounts["alice"][0]) == {"name": "alice"}
    assert fake_xnat.requests == [(ROLES.format("alice"), "alice")]


@pytest.mark.parametrize("role", ["jupyter", "JUPYTER", "Jupyter"])
def test_the_jupyter_role_counts_in_any_case(fake_xnat: FakeXnat, role: str) -> None:
    fake_xnat.accounts["bob"] = (fake_xnat.accounts["bob"][0], ["Owner", role])
    assert login(authenticator(fake_xnat), "bob", fake_xnat.accounts["bob"][0]) == {"name": "bob"}


@pytest.mark.parametrize(
    ("preference", "allowed"),
    [
        pytest.param(True, True, id="true"),
        pytest.param("true", True, id="string-true"),
        pytest.param(False, False, id="false"),
        pytest.param("false", False, id="string-false-is-not-truthy"),
        pytest.param(None, False, id="missing"),
        pytest.param(1, False, id="number-is-not-a-yes"),
    ],
)
def test_without_the_role_the_site_preference_decides(fake_xnat: FakeXnat, preference: Any, allowed: bool) -> None:
    fake_xnat.all_users_can_start = preference
    result = login(authenticator(fake_xnat), "bob", fake_xnat.accounts["bob"][0])
    assert result == ({"name": "bob"} if allowed else None)
    assert fake_xnat.requests == [(ROLES.format("bob"), "bob"), (PREFS, "bob")]


def _roles_fault(fault: str) -> Callable[[FakeXnat], None]:
    return lambda xnat: xnat.faults.__setitem__(ROLES.format("bob"), fault)


def _prefs_fault(fault: str) -> Callable[[FakeXnat], None]:
    return lambda xnat: xnat.faults.__setitem__(PREFS, fault)


@pytest.mark.parametrize(
    ("break_xnat", "password", "logged"),
    [
        pytest.param(lambda xnat: None, "wrong-password", "wrong username or password", id="401-wrong-password"),
        pytest.param(_roles_fault("500"), None, "HTTP 500 when asked for the user's roles", id="roles-500"),
        pytest.param(_roles_fault("badjson"), None, "not JSON", id="roles-invalid-json"),
        pytest.param(_roles_fault("redirect"), None, "HTTP 302", id="roles-redirect-to-login-page"),
        pytest.param(lambda xnat: xnat.accounts.__setitem__("bob", (xnat.accounts["bob"][0], {"roles": ["jupyter"]})),
                     None, "roles answer is not a list", id="roles-not-a-list"),
        pytest.param(_prefs_fault("500"), None, "HTTP 500 when asked whether all users", id="preference-500"),
        pytest.param(_prefs_fault("badjson"), None, "not JSON", id="preference-invalid-json"),
    ],
)  # fmt: skip
def test_any_xnat_failure_denies_the_login_with_a_log_line(
    fake_xnat: FakeXnat, caplog: pytest.LogCaptureFixture, break_xnat: Callable[[FakeXnat], None], password: str | None, logged: str
) -> None:
    fake_xnat.all_users_can_start = True  # would let bob in, were XNAT working
    break_xnat(fake_xnat)
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert login(authenticator(fake_xnat), "bob", password or fake_xnat.accounts["bob"][0]) is None
    assert logged in caplog.text and "'bob'" in caplog.text


def test_a_slow_xnat_denies_after_the_timeout(fake_xnat: FakeXnat, caplog: pytest.LogCaptureFixture) -> None:
    fake_xnat.faults[ROLES.format("alice")] = "slow"
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert login(authenticator(fake_xnat, timeout=0.3), "alice", fake_xnat.accounts["alice"][0]) is None
    assert "did not answer" in caplog.text


def test_an_unreachable_xnat_denies_with_a_log_line(fake_xnat: FakeXnat, caplog: pytest.LogCaptureFixture) -> None:
    url = fake_xnat.url
    fake_xnat.stop()
    with caplog.at_level(logging.INFO, logger=LOG.name):
        assert login(XnatAuthenticator(xnat_url=url, log=LOG), "alice", fake_xnat.accounts["alice"][0]) is None
    assert "could not be reached" in caplog.text


@pytest.mark.parametrize(
    "username",
    [
        pytest.param("o'brien+lab@uni.edu", id="at-plus-quote"),
        pytest.param("a/b?c#d", id="slash-question-hash"),
        pytest.param("first last%20é", id="space-percent-unicode"),
    ],
)
def test_special_characters_in_username_and_password_reach_xnat_intact(fake_xnat: FakeXnat, username: str) -> None:
    password = "pä:ss wörd/" + secrets.token_urlsafe(8)  # pragma: allowlist secret
    fake_xnat.accounts[username] = (password, ["jupyter"])
    assert login(authenticator(fake_xnat), username, password) == {"name": username}
    assert fake_xnat.requests == [(ROLES.format(username), username)]


@pytest.mark.parametrize(
    ("username", "password"),
    [pytest.param("ali:ce", "x", id="colon-in-username"), pytest.param("alice", "", id="empty-password"), pytest.param("", "x", id="empty-username")],
)
def test_logins_xnat_cannot_check_are_denied_without_asking(fake_xnat: FakeXnat, username: str, password: str) -> None:
    assert login(authenticator(fake_xnat), username, password) is None
    assert fake_xnat.requests == []


def test_tls_is_verified_by_default_and_an_untrusted_xnat_denies(
    tls_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    xnat = FakeXnat(accounts={"alice": ("pw-" + secrets.token_hex(4), ["jupyter"])}).start(tls=tls_context)
    try:
        with caplog.at_level(logging.INFO, logger=LOG.name):
            assert login(XnatAuthenticator(xnat_url=xnat.url, log=LOG), "alice", xnat.accounts["alice"][0]) is None
        assert "could not be reached" in caplog.text and "CERTIFICATE_VERIFY_FAILED" in caplog.text
        assert xnat.requests == []
        insecure = XnatAuthenticator(xnat_url=xnat.url, verify_tls=False, log=LOG)
        assert login(insecure, "alice", xnat.accounts["alice"][0]) == {"name": "alice"}
    finally:
        xnat.stop()


def test_a_slow_xnat_answer_for_one_user_does_not_hold_up_another_users_login(fake_xnat: FakeXnat) -> None:
    """Twelve logins wait on XNAT (more than tornado's shared client would run at once); alice gets in meanwhile."""
    slow_users = [f"slow{i}" for i in range(12)]
    for name in slow_users:
        fake_xnat.accounts[name] = ("pw", ["jupyter"])  # pragma: allowlist secret
        fake_xnat.faults[ROLES.format(name)] = "slow"
    auth = authenticator(fake_xnat, timeout=30.0)

    async def scenario() -> None:
        slow = [asyncio.create_task(auth.authenticate(None, {"username": n, "password": "pw"})) for n in slow_users]  # pragma: allowlist secret
        while not all(fake_xnat.requested(ROLES.format(n)) for n in slow_users):  # all twelve are at XNAT now
            await asyncio.sleep(0.01)
        alice = await asyncio.wait_for(auth.authenticate(None, {"username": "alice", "password": fake_xnat.accounts["alice"][0]}), 5)
        assert alice == {"name": "alice"}
        assert not any(task.done() for task in slow)
        fake_xnat.release.set()
        assert await asyncio.gather(*slow) == [{"name": n} for n in slow_users]

    run_async(scenario())


def test_settings_default_from_the_jh_xnat_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JH_XNAT_URL", "https://xnat.example.org/")
    monkeypatch.setenv("JH_XNAT_VERIFY_TLS", "false")
    monkeypatch.setenv("JH_XNAT_TIMEOUT", "2.5")
    auth = XnatAuthenticator()
    assert (auth.xnat_url, auth.verify_tls, auth.timeout) == ("https://xnat.example.org", False, 2.5)
    monkeypatch.delenv("JH_XNAT_VERIFY_TLS")
    monkeypatch.delenv("JH_XNAT_TIMEOUT")
    assert (XnatAuthenticator().verify_tls, XnatAuthenticator().timeout) == (True, 10.0)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        pytest.param({}, "xnat_url is not set", id="no-url"),
        pytest.param({"JH_XNAT_URL": "xnat.example.org"}, "is not an http(s) URL", id="url-without-scheme"),
        pytest.param({"JH_XNAT_URL": "http://x", "JH_XNAT_VERIFY_TLS": "maybe"}, "JH_XNAT_VERIFY_TLS='maybe' is not a boolean", id="bad-bool"),
        pytest.param({"JH_XNAT_URL": "http://x", "JH_XNAT_TIMEOUT": "soon"}, "JH_XNAT_TIMEOUT='soon' is not a number", id="bad-timeout"),
        pytest.param({"JH_XNAT_URL": "http://x", "JH_XNAT_TIMEOUT": "0"}, "timeout must be a positive", id="zero-timeout"),
    ],
)  # fmt: skip
def test_bad_settings_stop_the_hub_at_start_with_a_clear_error(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str) -> None:
    for name in ("JH_XNAT_URL", "JH_XNAT_VERIFY_TLS", "JH_XNAT_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises((ValueError, TraitError), match=message.replace("(", r"\(").replace(")", r"\)")):
        auth = XnatAuthenticator()
        (auth.verify_tls, auth.timeout)  # dynamic defaults are read on first use


def test_each_setting_is_configurable_and_documents_its_environment_variable() -> None:
    traits = XnatAuthenticator.class_traits(config=True)
    for name, variable in (("xnat_url", "JH_XNAT_URL"), ("verify_tls", "JH_XNAT_VERIFY_TLS"), ("timeout", "JH_XNAT_TIMEOUT")):
        assert variable in traits[name].help
