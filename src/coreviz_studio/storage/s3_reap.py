"""What dead processes left behind: spool files on this machine, and multipart uploads (with
their owner markers) that a commit started and never completed or aborted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from coreviz_studio import owners
from coreviz_studio.storage.base import is_key

if TYPE_CHECKING:
    from coreviz_studio.storage.s3 import S3BlobStore


def reap(store: S3BlobStore, older_than: float) -> int:
    return _spools(store, older_than) + _uploads(store, older_than)


def _spools(store: S3BlobStore, older_than: float) -> int:
    return owners.remove_leftovers(store.spool_dir.iterdir(), older_than)


def _uploads(store: S3BlobStore, older_than: float) -> int:
    from coreviz_studio.storage.s3 import PENDING
    from coreviz_studio.storage.s3_client import answering

    c, bucket = store.client, store.bucket
    cutoff = datetime.now(UTC).timestamp() - older_than
    removed = 0
    with answering():
        pages = c.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=store.prefix + PENDING)
        for page in pages:
            for item in page.get("Contents", []):
                name = item["Key"][len(store.prefix + PENDING):]
                owner = owners.owner_in(name)
                dead = owners.is_dead(owner) if owner else None
                if not (dead or (dead is None and item["LastModified"].timestamp() < cutoff)):
                    continue  # a live process's upload, or another machine's recent one
                key = c.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode()
                if is_key(key):
                    removed += _abort_all(store, store.prefix + key)
                c.delete_object(Bucket=bucket, Key=item["Key"])
    return removed


def _abort_all(store: S3BlobStore, obj: str) -> int:
    """Abort every unfinished upload to exactly that object (there is at most one)."""
    found = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix=obj)
    aborted = 0
    for upload in found.get("Uploads", []):
        if upload["Key"] == obj:
            store.client.abort_multipart_upload(Bucket=store.bucket, Key=obj,
                                                UploadId=upload["UploadId"])
            aborted += 1
    return aborted
