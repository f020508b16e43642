"""Off-site copy of a finished backup to S3-compatible storage, checked after upload.

Each file is uploaded under `<prefix>/<backup folder>/`, then read back from
the bucket and its sha256 compared with the manifest: a copy is only called
good once the bytes in the bucket are the bytes we wrote. `manifest.json` goes
last, so a remote folder without a manifest is an unfinished upload (the same
rule as on disk).

Credentials come from boto3's usual chain, never from flags: in the cluster,
`AWS_SHARED_CREDENTIALS_FILE` names a mounted Secret file (mode 0400).
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

from labhub.backup.layout import MANIFEST, read_manifest
from labhub.errors import UserError


class OffsiteFailed(Exception):
    """An upload failed or the bucket holds other bytes than the backup."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("off-site copy (optional; credentials from AWS_SHARED_CREDENTIALS_FILE or the AWS_* environment)")
    group.add_argument("--s3-bucket", metavar="BUCKET", help="also copy the finished backup to this bucket, and check it")
    group.add_argument("--s3-prefix", default="", metavar="PREFIX", help="key prefix in the bucket (default: none)")
    group.add_argument("--s3-endpoint-url", metavar="URL", help="an S3-compatible endpoint (MinIO, Ceph, ...); default AWS")


def copy_if_asked(args: argparse.Namespace, backup: Path) -> None:
    if args.s3_bucket:
        copied = upload(backup, args.s3_bucket, args.s3_prefix, args.s3_endpoint_url)
        print(f"copied {backup.name} to s3://{args.s3_bucket}/{copied} and checked it")


def _client(endpoint_url: str | None) -> Any:
    try:
        import boto3
    except ModuleNotFoundError as error:
        raise UserError("--s3-bucket needs boto3: pip install 'labhub[backup]'") from error
    return boto3.client("s3", endpoint_url=endpoint_url)


def upload(backup: Path, bucket: str, prefix: str, endpoint_url: str | None) -> str:
    """Upload `backup`'s files and manifest, read each back and compare sha256; returns the remote folder."""
    import boto3.exceptions
    import botocore.exceptions

    manifest = read_manifest(backup)
    client = _client(endpoint_url)
    folder = "/".join(part for part in (prefix.strip("/"), backup.name) if part)
    entries = [*manifest["files"], {"path": MANIFEST, "sha256": None, "size": (backup / MANIFEST).stat().st_size}]
    try:
        for entry in entries:
            key = f"{folder}/{entry['path']}"
            client.upload_file(str(backup / entry["path"]), bucket, key)
            digest, size = _remote_digest(client, bucket, key)
            expected = entry["sha256"] or _sha256(backup / MANIFEST)
            if size != entry["size"] or digest != expected:
                raise OffsiteFailed(f"s3://{bucket}/{key} does not match the backup after upload")
    except (boto3.exceptions.Boto3Error, botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as error:
        raise OffsiteFailed(f"off-site copy to s3://{bucket}/{folder} failed: {error}") from error
    return folder


def _remote_digest(client: Any, bucket: str, key: str) -> tuple[str, int]:
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    digest, size = hashlib.sha256(), 0
    for chunk in body.iter_chunks(1 << 20):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
