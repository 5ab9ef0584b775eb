"""Resumable (tus) uploads on S3: one multipart upload per tus upload, at `tus/<id>`.

S3 parts are at least 5 MiB (all but the last), and a tus PATCH may be any size, so bytes past
the last whole part wait in a small "tail" object and go in front of the next append (as tusd's
s3store does). The state (JSON, kept by the caller in the database) lists the parts and the
tail; every tail gets a name of its own, so a state the caller never recorded (a failed
request) spoils nothing the recorded one needs. finish completes the upload and copies it
(server-side) to a new blob key, because the key's extension is known only then."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import secrets
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import ClientError

from coreviz_studio.formats import mime_for_ext
from coreviz_studio.storage.base import CHUNK, NotStored, resumable_key
from coreviz_studio.storage.s3_client import answering, is_missing
from coreviz_studio.storage.spool import SpooledBlob

if TYPE_CHECKING:
    from coreviz_studio.storage.s3 import S3BlobStore

MIN_PART = 5 * 1024 * 1024
PART = 16 * 1024 * 1024
_ID = re.compile(r"^[0-9a-f]{32}$")


def _obj(store: S3BlobStore, s: dict[str, Any]) -> str:
    return f"{store.prefix}tus/{s['id']}"


def _load(state: str) -> dict[str, Any]:
    try:
        s = json.loads(state)
        if not (isinstance(s, dict) and _ID.match(s["id"]) and isinstance(s["upload"], str)):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise NotStored(state) from None
    return s


def _missing(exc: ClientError, state: str) -> NotStored:
    if is_missing(exc):
        return NotStored(state)
    raise exc


def create(store: S3BlobStore) -> str:
    s = {"id": secrets.token_hex(16), "parts": [], "size": 0, "tail": None, "tail_size": 0}
    with answering():
        s["upload"] = store.client.create_multipart_upload(
            Bucket=store.bucket, Key=_obj(store, s), ChecksumAlgorithm="SHA256")["UploadId"]
    return json.dumps(s)


def _exists(store: S3BlobStore, s: dict[str, Any], state: str) -> None:
    try:
        with answering():
            store.client.list_parts(Bucket=store.bucket, Key=_obj(store, s),
                                    UploadId=s["upload"], MaxParts=1)
    except ClientError as exc:
        raise _missing(exc, state) from None


def _tail(store: S3BlobStore, s: dict[str, Any]) -> bytes:
    if not s["tail"]:
        return b""
    with answering():
        return bytes(store.client.get_object(
            Bucket=store.bucket, Key=_obj(store, s) + s["tail"])["Body"].read())


def _put_part(store: S3BlobStore, s: dict[str, Any], body: bytes, state: str) -> None:
    n = len(s["parts"]) + 1
    digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    try:
        with answering():
            r = store.client.upload_part(
                Bucket=store.bucket, Key=_obj(store, s), UploadId=s["upload"], PartNumber=n,
                Body=body, ChecksumAlgorithm="SHA256", ChecksumSHA256=digest)
    except ClientError as exc:
        raise _missing(exc, state) from None
    s["parts"].append({"PartNumber": n, "ETag": r["ETag"], "ChecksumSHA256": digest})


class _Spool(SpooledBlob):
    durable = False  # only until it is sent: the parts S3 keeps are the durable copy


class Appender:
    """A request's bytes, spooled (owner-named, so a dead process's are reaped) and sent as
    parts at commit, when they are checked and the caller holds the upload's row."""

    def __init__(self, store: S3BlobStore, state: str, offset: int) -> None:
        stored = _load(state)["size"]
        if stored != offset:  # the state comes with the caller's records: no stale tail
            raise ValueError(f"the upload holds {stored} bytes, not {offset}")
        self._store, self._state, self._offset = store, state, offset
        self._spool = _Spool(store.spool_dir)
        self.size = 0

    def stale_tail(self) -> bool:
        return False

    def drop_stale_tail(self) -> None:
        pass

    def write(self, chunk: bytes | bytearray | memoryview) -> None:
        self._spool.write(chunk)
        self.size += len(chunk)

    def commit(self) -> str:
        with self._spool.open() as f:
            return append(self._store, self._state, self._offset, f)

    def abort(self) -> None:
        self._spool.discard()
        self.size = 0

    def close(self) -> None:
        self._spool.discard()

    def __enter__(self) -> Appender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def append(store: S3BlobStore, state: str, offset: int, data: BinaryIO) -> str:
    s = _load(state)
    if offset != s["size"]:
        raise ValueError(f"the upload holds {s['size']} bytes, not {offset}")
    _exists(store, s, state)
    start = s["size"] - s["tail_size"]  # where the pending bytes (tail, then data) begin
    buf = bytearray(_tail(store, s))
    size = s["size"]
    while True:
        chunk = data.read(CHUNK)
        size += len(chunk)
        buf += chunk
        while len(buf) >= PART or (not chunk and len(buf) >= MIN_PART):
            body = bytes(buf[:PART])
            _put_part(store, s, body, state)
            del buf[:len(body)]
            start += len(body)
        if not chunk:
            break
    s["size"], s["tail_size"], s["tail"] = size, len(buf), None
    if buf:
        s["tail"] = f".tail-{start}-{size}"
        with answering():
            store.client.put_object(Bucket=store.bucket, Key=_obj(store, s) + s["tail"],
                                    Body=bytes(buf))
    return json.dumps(s)


def _completed(store: S3BlobStore, s: dict[str, Any]) -> bool:
    """Whether the multipart upload was completed already (by a finish cut off before its copy)."""
    try:
        with answering():
            store.client.head_object(Bucket=store.bucket, Key=_obj(store, s))
    except ClientError as exc:
        if is_missing(exc):
            return False
        raise
    return True


def finish(store: S3BlobStore, state: str, ext: str) -> str:
    """Complete, copy to the blob's key, remove the rest. The key comes from the upload's own
    random id, so a finish cut off at any step (a crash before the caller recorded the result)
    is completed by the next call instead of losing the upload."""
    s = _load(state)
    key = resumable_key(s["id"], ext)
    if store.stat(key) is not None:  # copied already: only the leftovers remain to go
        abort(store, state)
        return key
    if not s["parts"]:  # under 5 MiB: one PUT, checked like any other
        _exists(store, s, state)
        tail = _tail(store, s)
        store.put_verified(key, tail, hashlib.sha256(tail).hexdigest())
        abort(store, state)
        return key
    if not _completed(store, s):
        _exists(store, s, state)
        tail = _tail(store, s)
        if tail:  # a part number of its own: an earlier try's upload of it is overwritten
            _put_part(store, s, tail, state)
        try:
            with answering():
                store.client.complete_multipart_upload(
                    Bucket=store.bucket, Key=_obj(store, s), UploadId=s["upload"],
                    MultipartUpload={"Parts": s["parts"]})
        except ClientError as exc:
            raise _missing(exc, state) from None
    with store.owned(key), answering():
        # Managed copy: one CopyObject, or a multipart copy past 8 MiB; never through here.
        store.client.copy({"Bucket": store.bucket, "Key": _obj(store, s)}, store.bucket,
                          store.prefix + key, ExtraArgs={
                              "ContentType": mime_for_ext(ext), "MetadataDirective": "REPLACE"})
    _remove_objects(store, s)
    return key


def abort(store: S3BlobStore, state: str) -> None:
    try:
        s = _load(state)
    except NotStored:
        return
    try:
        with answering():
            store.client.abort_multipart_upload(Bucket=store.bucket, Key=_obj(store, s),
                                                UploadId=s["upload"])
    except ClientError as exc:
        if not is_missing(exc):
            raise
    _remove_objects(store, s)


def _remove_objects(store: S3BlobStore, s: dict[str, Any]) -> None:
    """The completed upload's object and every tail it had."""
    with answering():
        pages = store.client.get_paginator("list_objects_v2").paginate(
            Bucket=store.bucket, Prefix=_obj(store, s))
        for page in pages:
            for item in page.get("Contents", []):
                with contextlib.suppress(ClientError):
                    store.client.delete_object(Bucket=store.bucket, Key=item["Key"])
