"""Blobs as objects in an S3 bucket (AWS, R2, MinIO, Ceph, Garage; tested against moto) under
COREVIZ_S3_PREFIX + key.

A pending blob is spooled to a local file (size and sha256 on the way), so it can be probed
before it is stored; commit uploads it (one PUT, or a multipart upload for big ones) and then
checks what the service stored: S3 services that don't check checksums exist (moto), so a
commit trusts only a digest the service computed from the bytes it kept (see verify.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from coreviz_studio import owners
from coreviz_studio.config import Settings
from coreviz_studio.formats import mime_for_ext
from coreviz_studio.storage import s3_resumable, s3_verify
from coreviz_studio.storage.base import CHUNK, NotStored, StoredBlob, is_key, new_key
from coreviz_studio.storage.s3_client import answering, client_from_settings, is_missing
from coreviz_studio.storage.spool import SpooledBlob

PART = 16 * 1024 * 1024  # multipart above this, in parts this big (S3: 5 MiB .. 5 GiB each)
PARALLEL = 3  # parts sent at once
PENDING = "pending/"  # markers naming the owner of each multipart upload a commit runs
STALE_PENDING_SECONDS = 6 * 3600
_Part = tuple[dict[str, Any], bytes]  # a part as CompleteMultipartUpload lists it, its md5


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _mime(key: str) -> str:
    return mime_for_ext(key.rsplit(".", 1)[-1])


class S3PendingBlob(SpooledBlob):
    durable = False  # the durable copy is the one S3 keeps

    def __init__(self, store: S3BlobStore) -> None:
        super().__init__(store.spool_dir)
        self._store = store

    def commit(self, ext: str) -> str:
        self.flush()
        key = new_key(ext)
        with self.open() as f:
            if self.size <= PART:
                self._store.put_verified(key, f.read(), self.sha256)
            else:
                self._store.put_multipart(key, f, self.size, self.sha256)
        self.discard()  # the spool: the blob is in S3 now
        return key


class S3BlobStore:
    kind = "s3"
    resumable_trusted = False  # parts are checked by reading the finished blob back

    def __init__(self, client: Any, bucket: str, prefix: str, spool_dir: Path) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)

    @classmethod
    def from_settings(cls, settings: Settings) -> S3BlobStore:
        client = client_from_settings(settings)  # checks the settings first
        assert settings.s3_bucket is not None
        return cls(client, settings.s3_bucket, settings.s3_prefix,
                   settings.data_dir / "s3-spool")

    def _obj(self, key: str) -> str:
        return self.prefix + key

    def begin(self) -> S3PendingBlob:
        return S3PendingBlob(self)

    # --- storing, verified ------------------------------------------------------------------

    def put_verified(self, key: str, data: bytes, sha256: str) -> None:
        with answering():
            r = self.client.put_object(
                Bucket=self.bucket, Key=self._obj(key), Body=data, ChecksumAlgorithm="SHA256",
                ChecksumSHA256=_b64(bytes.fromhex(sha256)), ContentType=_mime(key))
        expected = hashlib.md5(data, usedforsecurity=False).hexdigest()
        s3_verify.check(self, key, r.get("ETag", ""), f'"{expected}"', sha256)

    @contextlib.contextmanager
    def owned(self, key: str) -> Iterator[None]:
        """While the body runs, a marker names this process as the owner of any multipart
        upload to `key` (a managed copy makes one past 8 MiB): should the process die midway,
        reap_pending aborts it at the next start instead of leaving its parts forever."""
        marker = self._obj(PENDING + f"{owners.me()}.{key.replace('/', '.')}")
        with answering():
            self.client.put_object(Bucket=self.bucket, Key=marker, Body=key.encode())
        try:
            yield
        finally:
            with contextlib.suppress(Exception):  # best effort: reap_pending tries again
                self.client.delete_object(Bucket=self.bucket, Key=marker)

    def put_multipart(self, key: str, f: BinaryIO, size: int, sha256: str) -> None:
        """Parts of PART bytes, each with its SHA256; aborted on any failure, so no upload
        is left behind. A marker object names this process as the upload's owner until it
        ends, so that reap_pending can abort it should this process die first."""
        marker = self._obj(PENDING + f"{owners.me()}.{key.replace('/', '.')}")
        with answering():
            self.client.put_object(Bucket=self.bucket, Key=marker, Body=key.encode())
            upload = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=self._obj(key), ChecksumAlgorithm="SHA256",
                ContentType=_mime(key))["UploadId"]
        try:
            done = self._upload_parts(key, upload, f)
            parts = [part for part, _ in done]
            md5s = [md5 for _, md5 in done]
            with answering():
                r = self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=self._obj(key), UploadId=upload,
                    MultipartUpload={"Parts": parts})
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: reap_pending tries again
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=self._obj(key),
                                                   UploadId=upload)
                self.client.delete_object(Bucket=self.bucket, Key=marker)
            raise
        # The multipart ETag: md5 of the parts' md5s, "-" and how many parts.
        expected = f'"{hashlib.md5(b"".join(md5s), usedforsecurity=False).hexdigest()}-{len(md5s)}"'
        try:
            s3_verify.check(self, key, r.get("ETag", ""), expected, sha256)
        finally:
            with contextlib.suppress(Exception):
                self.client.delete_object(Bucket=self.bucket, Key=marker)

    def _upload_parts(self, key: str, upload: str, f: BinaryIO) -> list[_Part]:
        """Read parts in order, send up to PARALLEL at once (as boto3's own transfers do: one
        connection alone is slower); at most PARALLEL + 1 parts are in memory."""
        futures: list[Future[_Part]] = []
        with ThreadPoolExecutor(PARALLEL, thread_name_prefix="s3-part") as pool:
            try:
                while chunk := f.read(PART):
                    while sum(not x.done() for x in futures) >= PARALLEL:
                        wait(futures, return_when=FIRST_COMPLETED)
                    for x in futures:
                        if x.done():
                            x.result()  # a failed part fails the upload now
                    futures.append(pool.submit(self._part, key, upload, len(futures) + 1,
                                               chunk))
                return [x.result() for x in futures]
            except BaseException:
                for x in futures:
                    x.cancel()
                raise

    def _part(self, key: str, upload: str, n: int, chunk: bytes) -> _Part:
        digest = _b64(hashlib.sha256(chunk).digest())
        with answering():
            r = self.client.upload_part(
                Bucket=self.bucket, Key=self._obj(key), UploadId=upload, PartNumber=n,
                Body=chunk, ChecksumAlgorithm="SHA256", ChecksumSHA256=digest)
        part = {"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": digest}
        return part, hashlib.md5(chunk, usedforsecurity=False).digest()

    # --- reading ----------------------------------------------------------------------------

    def stat(self, key: str) -> StoredBlob | None:
        if not is_key(key):
            return None
        try:
            with answering():
                r = self.client.head_object(Bucket=self.bucket, Key=self._obj(key))
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise
        return StoredBlob(key, int(r["ContentLength"]), r["LastModified"])

    def read(self, key: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if not is_key(key):
            raise NotStored(key)
        if end is not None and end <= start:
            if self.stat(key) is None:
                raise NotStored(key)
            return iter(())
        extra = {} if start == 0 and end is None else {
            "Range": f"bytes={start}-{'' if end is None else end - 1}"}
        try:
            with answering():
                r = self.client.get_object(Bucket=self.bucket, Key=self._obj(key), **extra)
        except ClientError as exc:
            if is_missing(exc):
                raise NotStored(key) from None
            if exc.response.get("Error", {}).get("Code") == "InvalidRange":  # at or past the end
                return iter(())
            raise
        return _stream(r["Body"])

    def fetch(self, key: str, dest: Path) -> None:
        chunks = self.read(key)
        with open(dest, "xb") as f:
            for chunk in chunks:
                f.write(chunk)

    def delete(self, key: str) -> None:
        if is_key(key):
            with answering():
                self.client.delete_object(Bucket=self.bucket, Key=self._obj(key))

    def list_blobs(self) -> Iterator[StoredBlob]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix)
        with answering():
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"][len(self.prefix):]
                    if is_key(key):
                        yield StoredBlob(key, int(item["Size"]), item["LastModified"])

    def presigned_url(self, key: str, seconds: int) -> str | None:
        if not is_key(key):
            return None
        # The type and disposition the server would send (the object's own may be missing).
        params = {"Bucket": self.bucket, "Key": self._obj(key), "ResponseContentType": _mime(key),
                  "ResponseContentDisposition": "inline"}
        with answering():
            return str(self.client.generate_presigned_url("get_object", Params=params,
                                                          ExpiresIn=seconds))

    # --- leftovers of dead processes --------------------------------------------------------

    def reap_pending(self, older_than: float = STALE_PENDING_SECONDS) -> int:
        from coreviz_studio.storage import s3_reap

        return s3_reap.reap(self, older_than)

    # --- resumable uploads (tus): s3_resumable.py -------------------------------------------

    def resumable_create(self) -> str:
        return s3_resumable.create(self)

    def resumable_appender(self, state: str, offset: int) -> s3_resumable.Appender:
        return s3_resumable.Appender(self, state, offset)

    def resumable_finish(self, state: str, ext: str) -> str:
        return s3_resumable.finish(self, state, ext)

    def resumable_abort(self, state: str) -> None:
        s3_resumable.abort(self, state)


def _stream(body: Any) -> Iterator[bytes]:
    with contextlib.closing(body), answering():
        yield from body.iter_chunks(CHUNK)
