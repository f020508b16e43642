"""Fixtures for the XNAT hub module tests: a running fake XNAT with fresh random passwords."""

from __future__ import annotations

import secrets
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_xnat import FakeXnat


@pytest.fixture
def fake_xnat() -> Iterator[FakeXnat]:
    """A fake XNAT on 127.0.0.1 with alice (role Jupyter), bob (no roles) and the hub's account."""
    xnat = FakeXnat(
        accounts={"alice": (secrets.token_urlsafe(12), ["Jupyter", "Researcher"]), "bob": (secrets.token_urlsafe(12), [])},
        hub_account=("jupyterhub", secrets.token_urlsafe(12)),
    )
    yield xnat.start()
    xnat.stop()


@pytest.fixture
def tls_context(tmp_path: Path) -> ssl.SSLContext:
    """A server TLS context with a fresh self-signed certificate for 127.0.0.1 (trusted by nobody)."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
