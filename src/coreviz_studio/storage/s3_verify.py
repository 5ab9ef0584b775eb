"""Did the S3 service store the bytes we sent? moto (and so possibly other S3-compatible
services) accepts a wrong x-amz-checksum-sha256, so a commit trusts only a digest the service
computed itself from what it kept: the ETag, where it is the MD5 (single PUTs and md5-of-md5s
multipart ETags, on unencrypted or SSE-S3 objects). Where the ETag is something else (SSE-KMS,
services with opaque ETags), the object is read back and its sha256 compared: sound anywhere,
at the cost of a download. A mismatch deletes the object."""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING

from coreviz_studio.storage.base import StorageUnavailable

if TYPE_CHECKING:
    from coreviz_studio.storage.s3 import S3BlobStore


class StoredOtherBytes(StorageUnavailable):
    """The service stored bytes other than those sent (damaged on the way): nothing was kept."""


def check(store: S3BlobStore, key: str, etag: str, expected_etag: str, sha256: str) -> None:
    if etag == expected_etag:
        return
    digest = hashlib.sha256()
    try:
        for chunk in store.read(key):
            digest.update(chunk)
    except BaseException:
        with contextlib.suppress(Exception):
            store.delete(key)
        raise
    if digest.hexdigest() != sha256:
        store.delete(key)
        raise StoredOtherBytes("S3 stored bytes other than those sent (their sha256 differs)")
