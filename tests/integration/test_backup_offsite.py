"""Off-site copies land in a real S3-compatible server (moto's, over HTTP) and are checked after upload.

Invariants:
* `dump --s3-bucket` uploads every file and the manifest under
  `<prefix>/<backup folder>/`, byte for byte, credentials read from a shared
  credentials file (as the Secret mount provides), never from flags;
* an object that does not match what was uploaded fails the copy (exit 1),
  and the local backup stays complete;
* an unreachable bucket fails the copy with one line, not a traceback.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import boto3
import pytest
from backup_testlib import labhub
from moto.server import ThreadedMotoServer
from servers_mariadb import free_port

from labhub.backup import offsite
from labhub.backup.layout import read_manifest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    credentials = tmp_path_factory.mktemp("aws") / "credentials"
    key_id, key = f"AKIA{secrets.token_hex(8).upper()}", secrets.token_urlsafe(30)
    credentials.write_text(f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {key}\n")
    credentials.chmod(0o400)
    env = {"AWS_SHARED_CREDENTIALS_FILE": str(credentials), "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null"}
    client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1", aws_access_key_id=key_id, aws_secret_access_key=key)
    client.create_bucket(Bucket="lab-backups")
    yield f"http://127.0.0.1:{port}", env, client, key
    server.stop()


@pytest.fixture(scope="module")
def small_cnf(mariadb, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    with mariadb.root() as conn, conn.cursor() as cur:
        cur.execute("CREATE DATABASE IF NOT EXISTS offsite_demo")
        cur.execute("CREATE TABLE IF NOT EXISTS offsite_demo.t (id INT PRIMARY KEY, b BLOB)")
        cur.execute("REPLACE INTO offsite_demo.t VALUES (1, REPEAT('x', 5000)), (2, NULL)")
    cnf = tmp_path_factory.mktemp("offsite-cnf") / "root.cnf"
    cnf.write_text(f"[client]\nuser=root\nsocket={mariadb.socket}\n")
    return cnf


def test_dump_copies_every_file_and_the_manifest_byte_for_byte(s3, small_cnf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    endpoint, env, client, key = s3
    result = labhub("backup", "mysql", "dump", "--defaults-file", str(small_cnf), "--dest", str(tmp_path), "--name", "lab",
                    "--s3-bucket", "lab-backups", "--s3-prefix", "mysql/", "--s3-endpoint-url", endpoint, env={**os.environ, **env})  # fmt: skip
    assert result.returncode == 0, result.stderr
    (backup,) = [p for p in tmp_path.iterdir() if p.name.startswith("lab-")]
    manifest = read_manifest(backup)
    expected = {f"mysql/{backup.name}/{entry['path']}": (backup / entry["path"]).read_bytes() for entry in manifest["files"]}
    expected[f"mysql/{backup.name}/manifest.json"] = (backup / "manifest.json").read_bytes()
    listed = client.list_objects_v2(Bucket="lab-backups", Prefix=f"mysql/{backup.name}/")["Contents"]
    assert sorted(obj["Key"] for obj in listed) == sorted(expected)
    for object_key, data in expected.items():
        assert client.get_object(Bucket="lab-backups", Key=object_key)["Body"].read() == data
    assert key not in result.stdout + result.stderr


def test_an_object_that_differs_after_upload_fails_the_copy(s3, small_cnf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    endpoint, env, _client, _key = s3
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = labhub("backup", "mysql", "dump", "--defaults-file", str(small_cnf), "--dest", str(tmp_path), "--name", "lab")
    assert result.returncode == 0, result.stderr
    backup = Path(result.stdout.strip())
    real_client = offsite._client

    def corrupting_client(endpoint_url: str | None):  # type: ignore[no-untyped-def]
        client = real_client(endpoint_url)
        upload = client.upload_file

        def upload_truncated(filename: str, bucket: str, key: str) -> None:
            truncated = tmp_path / "truncated"
            truncated.write_bytes(Path(filename).read_bytes()[:-1])  # what a broken transfer would leave
            upload(str(truncated), bucket, key)

        client.upload_file = upload_truncated
        return client

    monkeypatch.setattr(offsite, "_client", corrupting_client)
    with pytest.raises(offsite.OffsiteFailed, match="does not match the backup after upload"):
        offsite.upload(backup, "lab-backups", "tampered", endpoint)
    assert read_manifest(backup)["files"]


def test_a_missing_bucket_is_one_line_and_exit_1(s3, small_cnf: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    endpoint, env, _client, _key = s3
    result = labhub("backup", "mysql", "dump", "--defaults-file", str(small_cnf), "--dest", str(tmp_path),
                    "--s3-bucket", "no-such-bucket", "--s3-endpoint-url", endpoint, env={**os.environ, **env})  # fmt: skip
    assert result.returncode == 1
    assert "is complete, but off-site copy to s3://no-such-bucket/" in result.stderr
    assert "Traceback" not in result.stderr
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("mysql-")]) == 1
