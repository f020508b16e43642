"""No secret is committed: detect-secrets over every git-tracked file finds nothing.

Runs the default detect-secrets plugins (keywords, high-entropy strings,
private keys, cloud tokens) over `git ls-files`. A finding that is a deliberate
fake is marked in place with `# pragma: allowlist secret` (or recorded in a
committed `.secrets.baseline`, audited), so the exception is reviewable where it
lives. Test fixtures use known-weak words or values generated at test time.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = REPO_ROOT / ".secrets.baseline"


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, check=True, capture_output=True, timeout=60).stdout
    return [name for name in out.decode().split("\0") if name and name != ".secrets.baseline"
            and (REPO_ROOT / name).is_file()]


def baseline_hashes() -> set[tuple[str, str]]:
    if not BASELINE.exists():
        return set()
    results = json.loads(BASELINE.read_text()).get("results", {})
    return {(name, secret["hashed_secret"]) for name, found in results.items() for secret in found}


def test_no_secret_in_tracked_files(monkeypatch):
    monkeypatch.chdir(REPO_ROOT)  # detect-secrets reports paths relative to where it runs
    files = tracked_files()
    assert files, "git ls-files found nothing: is this a git checkout?"
    collection = SecretsCollection()
    with default_settings():
        collection.scan_files(*files)
    known = baseline_hashes()
    findings = [f"{name}:{secret.line_number}: {secret.type}" for name, secret in collection
                if (name, secret.secret_hash) not in known]
    assert not findings, ("possible secrets committed (fix them, or mark a deliberate fake "
                          "`# pragma: allowlist secret`):\n" + "\n".join(findings))
