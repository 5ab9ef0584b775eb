"""Turn a received file into a media item.

Order matters: the type is decided from the content, the headers are probed, the blob is made
durable under a server-made key, and only then is the row written. If the transaction does not
commit, the blob is removed again (db.session.on_rollback), so there is never a row without its
blob nor a blob without its row.
"""

from __future__ import annotations

import re
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.config import Settings
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.session import on_rollback
from coreviz_studio.db.tables import Media
from coreviz_studio.duplicates.service import exact_duplicate_of
from coreviz_studio.errors import Invalid, UnsupportedMediaType
from coreviz_studio.formats import sniff
from coreviz_studio.media import paths, tree
from coreviz_studio.media.service import get_row, make_active
from coreviz_studio.pipeline.queue import enqueue
from coreviz_studio.schemas import clean_text
from coreviz_studio.search import document
from coreviz_studio.storage.base import BlobStore
from coreviz_studio.storage.urls import BlobUrls
from coreviz_studio.uploads.probe import probe
from coreviz_studio.uploads.receive import Received
from coreviz_studio.uploads.schemas import UploadResult

MAX_NAME = 255
_SUPPORTED = ("JPEG, PNG, WebP, GIF, HEIC/HEIF, TIFF, BMP, a camera RAW (DNG, CR2, NEF, ARW), "
              "MP4, M4V, 3GP, MOV, WebM, MKV, AVI, MPEG (.mpg, .vob) or PDF")


def unsupported_message() -> str:
    return (f"Unsupported file type: the content is not {_SUPPORTED} (the type is read from "
            "the bytes, not the name)")


def before_streaming(session: Session, principal: Principal) -> None:
    """Checked before the body is read: a viewer's upload is refused without storing a byte.
    The authentication's transaction is committed here (the one exception to "services never
    commit"), so no pooled connection sits idle in a transaction while a big file streams in."""
    session.commit()


def display_name(given: str | None, filename: str | None, ext: str) -> str:
    """The name people see: the last component of what the client sent, without control
    characters. It is never used to build a file path (blob keys are random)."""
    raw = given if given and given.strip() else filename or ""
    clean = clean_text(re.split(r"[/\\]", raw)[-1])
    if clean in ("", ".", ".."):
        return f"upload.{ext}"
    return clean[:MAX_NAME]


def store_upload(session: Session, principal: Principal, received: Received, store: BlobStore,
                 settings: Settings, urls: BlobUrls) -> UploadResult:
    blob = received.blob
    assert blob is not None
    try:
        if blob.size == 0:
            raise Invalid("The file is empty")
        fmt = sniff(blob.head())
        if fmt is None:
            raise UnsupportedMediaType(unsupported_message())
        dataset_id = (received.fields.get("datasetId") or "").strip()
        if not dataset_id:
            raise Invalid("datasetId is required (the collection to upload into)")
        dataset = get_dataset(session, principal, dataset_id)
        with blob.open() as data:
            facts = probe(data, fmt, settings.max_image_pixels)
        tree.lock_tree(session, dataset.id, exclusive=False)
        previous = None
        if received.fields.get("versionOf"):
            previous = get_row(session, principal, received.fields["versionOf"], lock=True)
            if previous.type == "folder" or previous.dataset_id != dataset.id:
                raise Invalid("versionOf must be a media item of this collection")
            parent = paths.parent(previous.path)
        else:
            parent = tree.container(session, principal, dataset, received.fields.get("path"))
        key = blob.commit(fmt.ext)
    except BaseException:
        blob.discard()
        raise
    on_rollback(session, lambda: store.delete(key))

    media_id = uuid.uuid4()
    name = display_name(received.fields.get("name"), received.filename, fmt.ext)
    metadata: dict[str, object] = {}
    root_id, version = media_id, 1
    if previous is not None:
        root_id = previous.root_id or previous.id
        version = 1 + (session.scalar(select(func.max(Media.version_number))
                                      .where(Media.root_id == root_id)) or 1)
        if "tags" in previous.metadata_:
            metadata["tags"] = previous.metadata_["tags"]
        if not received.fields.get("name"):
            name = previous.name
    row = Media(
        id=media_id, organization_id=principal.organization_id, dataset_id=dataset.id,
        type=fmt.kind, name=name, path=paths.child(parent, media_id), blob_key=key,
        mime_type=fmt.mime, size_bytes=blob.size, sha256=blob.sha256, width=facts.width,
        height=facts.height, duration=facts.duration, page_count=facts.page_count,
        exif=facts.exif, metadata_=metadata, status="active", root_id=root_id,
        is_active_version=previous is None, version_number=version,
        created_by_id=principal.user_id)
    duplicate_of = exact_duplicate_of(session, principal, dataset.id, blob.sha256)
    session.add(row)
    session.flush()
    if previous is not None:
        make_active(session, principal, row)
    document.refresh(session, [row.id])  # findable by name before processing ends
    # In this transaction: the upload and its processing job commit together or not at all.
    enqueue(session, row, reason="upload", by=principal.credential_id)
    message = f"Uploaded {name} ({fmt.kind}); processing is queued"
    if duplicate_of is not None:
        message += f"; the collection already holds this file ({duplicate_of})"
    return UploadResult(media_id=media_id, url=urls.of(key) or "", message=message,
                        duplicate_of=duplicate_of)
