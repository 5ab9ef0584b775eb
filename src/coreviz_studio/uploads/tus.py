"""Resumable uploads (tus 1.0): their state in `tus_uploads`, their bytes in the blob store.

A PATCH's body is spooled and checked by the route (tus_receive.py) before anything here sees
it; `append` then locks the row (FOR UPDATE NOWAIT: a second PATCH of the same upload at the
same moment is a 423, never a mixed file), checks the offset again, hands the bytes to the
store and only then advances the offset, in a transaction of its own, so stored bytes are never
lost by a later failure. When the last byte is in, `finish` turns the upload into media through
service.store_upload, exactly as a multipart upload (same checks, versions, processing job).

Services commit here (as before_streaming does): a request that appends must not keep its
transaction, or the row's lock, while the next bytes stream in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.config import Settings
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.session import Database, committed, on_rollback, rolled_back
from coreviz_studio.db.tables import TusUpload
from coreviz_studio.errors import (
    AppError,
    BadRequest,
    Conflict,
    Gone,
    Invalid,
    Locked,
    NotFound,
    TooLarge,
    UnsupportedMediaType,
)
from coreviz_studio.formats import SNIFF_BYTES, sniff
from coreviz_studio.ids import parse_id
from coreviz_studio.media import tree
from coreviz_studio.media.service import get_row
from coreviz_studio.storage.base import AppendBusy, BlobStore, NotStored, ResumableAppend
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.tenancy import scoped
from coreviz_studio.uploads import service, tus_hashes
from coreviz_studio.uploads.receive import FIELDS as FORM_FIELDS
from coreviz_studio.uploads.receive import Received, too_large
from coreviz_studio.uploads.stored_blob import StoredPendingBlob

log = logging.getLogger(__name__)
FIELDS = ("datasetId", "path", "name", "versionOf", "filename")
MAX_METADATA = 16 * 1024
_NOT_FOUND = "Upload not found"


@dataclass(frozen=True)
class Progress:
    id: uuid.UUID
    offset: int
    length: int
    expires_at: datetime
    result: dict[str, Any] | None  # the multipart answer (UploadResult), once finished
    store_state: str  # where the store keeps its bytes (never shown to the client)


def _progress(row: TusUpload) -> Progress:
    return Progress(row.id, row.offset, row.length, row.expires_at, row.result,
                    row.store_state)


def _commit(session: Session) -> None:
    session.commit()
    committed(session)  # its undo actions are for a rollback that can no longer happen


def parse_metadata(header: str | None) -> dict[str, str]:
    """Upload-Metadata: `key base64value` pairs separated by commas. Keys this server does not
    use (clients add filetype, relativePath...) are ignored."""
    if not header:
        return {}
    if len(header) > MAX_METADATA:
        raise BadRequest(f"Upload-Metadata is longer than {MAX_METADATA:,} characters")
    out: dict[str, str] = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            raise BadRequest("Upload-Metadata: expected 'key base64value' pairs separated by "
                             "commas")
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise BadRequest(f"Upload-Metadata: the value of '{key[:50]}' is not base64 of "
                             "UTF-8 text") from None
        if key in out:
            raise BadRequest(f"Upload-Metadata: '{key[:50]}' is given twice")
        if key in FIELDS:
            out[key] = decoded
    return out


def _busy() -> Locked:
    return Locked("Another request is writing to this upload; wait for it to end, then ask "
                  "for the offset again (HEAD)")


def _bytes_gone() -> Gone:
    return Gone("The upload's bytes are gone; start a new upload")


def _expiry(settings: Settings) -> datetime:
    return datetime.now(UTC) + timedelta(hours=settings.tus_expiry_hours)


def create(session: Session, principal: Principal, store: BlobStore, settings: Settings,
           length: int, metadata: dict[str, str]) -> Progress:
    """A new upload, after the checks a multipart upload makes before its body (collection,
    folder, versionOf), so that a client learns of a mistake before sending gigabytes."""
    if length > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes)
    if length == 0:
        raise Invalid("The file is empty (Upload-Length: 0)")
    dataset_id = metadata.get("datasetId", "").strip()
    if not dataset_id:
        raise Invalid("datasetId is required in Upload-Metadata (the collection to upload into)")
    dataset = get_dataset(session, principal, dataset_id)
    if metadata.get("versionOf"):
        previous = get_row(session, principal, metadata["versionOf"])
        if previous.type == "folder" or previous.dataset_id != dataset.id:
            raise Invalid("versionOf must be a media item of this collection")
    else:
        tree.container(session, principal, dataset, metadata.get("path"))
    state = store.resumable_create()
    on_rollback(session, lambda: store.resumable_abort(state))
    row = TusUpload(organization_id=principal.organization_id, dataset_id=dataset.id,
                    created_by_id=principal.user_id, metadata_=metadata, length=length,
                    offset=0, store_state=state, head=b"", expires_at=_expiry(settings))
    session.add(row)
    session.flush()
    _commit(session)
    return _progress(row)


def _remove(session: Session, store: BlobStore, row: TusUpload) -> None:
    tus_hashes.forget(row.id)
    if row.result is None:  # a finished upload's bytes are media now: they stay
        store.resumable_abort(row.store_state)
    session.execute(delete(TusUpload).where(TusUpload.id == row.id))


def _gone(session: Session, store: BlobStore, row: TusUpload) -> AppError:
    """An expired upload: its bytes and row go now (committed with the 410)."""
    _remove(session, store, row)
    error = Gone("The upload expired (nothing arrived for COREVIZ_TUS_EXPIRY_HOURS); its "
                 "bytes were removed: start a new upload")
    error.keep_changes = True
    return error


def _find(session: Session, principal: Principal, upload_id: uuid.UUID, store: BlobStore,
          *, lock: bool = False) -> TusUpload:
    stmt = scoped(TusUpload, principal).where(TusUpload.id == parse_id(upload_id, "upload"))
    if lock:
        stmt = stmt.with_for_update(nowait=True)
    try:
        row = session.scalars(stmt).one_or_none()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise _busy() from None
        raise
    if row is None:
        raise NotFound(_NOT_FOUND)
    if row.expires_at <= datetime.now(UTC):
        raise _gone(session, store, row)
    return row


def progress(session: Session, principal: Principal, upload_id: uuid.UUID,
             store: BlobStore) -> Progress:
    """Where an upload stands; the transaction ends here (a body may stream next)."""
    row = _find(session, principal, upload_id, store)
    _commit(session)
    return _progress(row)


def _moved(offset: int, row: TusUpload) -> Conflict:
    return Conflict(f"Upload-Offset is {offset}, but the upload holds {row.offset} bytes "
                    "(ask with HEAD)")


def confirm_offset(session: Session, principal: Principal, store: BlobStore,
                   upload_id: uuid.UUID, offset: int) -> None:
    """The upload still holds `offset` bytes by its row (so stored bytes past it are a failed
    request's, to drop); a Conflict otherwise."""
    row = _find(session, principal, upload_id, store)
    _commit(session)
    if row.offset != offset:
        raise _moved(offset, row)


def start_append(store: BlobStore, p: Progress) -> ResumableAppend:
    """The store's append for a request's bytes, at the upload's offset."""
    try:
        return store.resumable_appender(p.store_state, p.offset)
    except AppendBusy:
        raise _busy() from None
    except ValueError as exc:
        raise Conflict(f"The stored upload is not at offset {p.offset} ({exc}); ask with "
                       "HEAD") from None
    except NotStored:
        raise _bytes_gone() from None


def running_hash(store: BlobStore, p: Progress) -> hashlib._Hash | None:
    """The sha256 of the upload's bytes so far, where this process has it and the store keeps
    bytes as handed in (tus_hashes.py)."""
    return tus_hashes.take(p.id, p.offset) if store.resumable_trusted else None


def append(session: Session, principal: Principal, store: BlobStore, settings: Settings,
           upload_id: uuid.UUID, offset: int, data: ResumableAppend, head: bytes,
           whole: hashlib._Hash | None = None) -> Progress:
    """Record the checked bytes written through `data` (`head`: their first bytes) at
    `offset`: the store commits them, then the row's offset advances, committed before
    anything else happens. `whole`: the running hash, kept for the next chunk once they
    are."""
    row = _find(session, principal, upload_id, store, lock=True)
    if row.offset != offset:
        raise _moved(offset, row)
    size = data.size
    if offset + size > row.length:
        raise too_large_chunk(row.length - offset)
    if size:
        try:
            row.store_state = data.commit()
        except ValueError as exc:  # the store disagrees with the row: never overwrite
            raise Conflict(f"The stored upload is not at offset {offset} ({exc})") from exc
        row.offset = offset + size
        if len(row.head) < SNIFF_BYTES:
            row.head = (row.head + head)[:SNIFF_BYTES]
        row.expires_at = _expiry(settings)
    if len(row.head) >= min(SNIFF_BYTES, row.length) and sniff(row.head) is None:
        # The type is known from the first bytes: no need to receive the rest to refuse it.
        _remove(session, store, row)
        _commit(session)
        raise UnsupportedMediaType(service.unsupported_message())
    session.flush()
    _commit(session)
    if whole is not None:
        tus_hashes.put(row.id, row.offset, whole)
    return _progress(row)


def too_large_chunk(room: int) -> TooLarge:
    return TooLarge(f"The body is larger than what is left of Upload-Length ({room:,} bytes)")


def finish(session: Session, principal: Principal, store: BlobStore, settings: Settings,
           urls: BlobUrls, upload_id: uuid.UUID) -> Progress:
    """Make a complete upload media (once: a finished one keeps its answer). A file refused
    here (its type, its content, a collection deleted meanwhile) is removed with its upload,
    and the refusal answered."""
    row = _find(session, principal, upload_id, store, lock=True)
    if row.offset < row.length or row.result is not None:
        return _progress(row)
    fmt = sniff(row.head)
    meta = dict(row.metadata_)
    received = Received(fields={k: meta[k] for k in FORM_FIELDS if k in meta},
                        filename=meta.get("filename"))
    running = tus_hashes.take(row.id, row.length) if store.resumable_trusted else None
    try:
        key = store.resumable_finish(row.store_state, fmt.ext if fmt else "bin")
        received.blob = StoredPendingBlob(store, key, row.length, row.head,
                                          sha256=running.hexdigest() if running else "")
        result = service.store_upload(session, principal, received, store, settings, urls)
    except (AppError, NotStored) as exc:
        session.rollback()
        rolled_back(session)
        session.execute(delete(TusUpload).where(TusUpload.id == row.id))
        _commit(session)
        store.resumable_abort(row.store_state)
        if isinstance(exc, NotStored):
            raise _bytes_gone() from exc
        raise
    row.result = result.model_dump(mode="json", by_alias=True)
    row.expires_at = _expiry(settings)  # the answer stays readable this long
    session.flush()
    return _progress(row)


def terminate(session: Session, principal: Principal, store: BlobStore,
              upload_id: uuid.UUID) -> None:
    """Remove an upload and its bytes (a finished one's media stays)."""
    row = _find(session, principal, upload_id, store, lock=True)
    _remove(session, store, row)


def remove_expired(db: Database, store: BlobStore, now: datetime | None = None) -> int:
    """Remove every expired upload, of every organization (rows and stored bytes); how many.
    Rows being written (locked) are left for the next sweep."""
    removed = 0
    with db.system_sessions() as session:
        rows = session.scalars(select(TusUpload).where(
            TusUpload.expires_at <= (now or datetime.now(UTC)))
            .with_for_update(skip_locked=True)).all()
        for row in rows:
            _remove(session, store, row)
            removed += 1
        session.commit()
    if removed:
        log.info("removed %d expired resumable uploads", removed)
    return removed
