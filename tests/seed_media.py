"""Many items in a collection at once, straight into the database (one INSERT ... SELECT), for
the library view's virtual-scrolling test and bench/studio_grid.py.

Each item is an image at the collection's top level, `item-000001.jpg` (the oldest) onwards, a
second apart, processed (`metadata.processing.status = ready`), with a thumbnail: a few real
WebP blobs put in the blob store are shared by all of them (a thumbnail URL is the blob's key, so
the browser loads each only once; the page still lays out and decodes one <img> per item). Their
original is one real JPEG blob, shared too, so that a test can tell if the grid ever asks for it.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from sqlalchemy import Engine, text

from coreviz_studio.storage.base import put_stream
from coreviz_studio.storage.local import LocalBlobStore

THUMBNAILS = ("#d9534f", "#5cb85c", "#5bc0de", "#f0ad4e", "#7e57c2", "#26a69a")

_MEDIA_SQL = """
INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id,
                   is_active_version, status, blob_key, thumbnail_key, mime_type, size_bytes,
                   width, height, metadata, created_at, updated_at)
SELECT id, CAST(:org AS uuid), CAST(:ds AS uuid), 'image',
       'item-' || lpad(n::text, 6, '0') || '.jpg',
       text2ltree(CAST(:root AS text) || '.' || replace(id::text, '-', '')), id, true, 'active',
       CAST(:original AS text),
       (CAST(:thumbs AS text[]))[1 + n % cardinality(CAST(:thumbs AS text[]))], 'image/jpeg',
       100000 + (n * 7919) % 5000000, 400, 300,
       '{"processing": {"status": "ready"}}'::jsonb,
       CAST(:start AS timestamptz) + n * interval '1 second',
       CAST(:start AS timestamptz) + n * interval '1 second'
FROM (SELECT n, gen_random_uuid() AS id FROM generate_series(1, CAST(:count AS integer)) n) s
"""


@dataclass(frozen=True)
class Seeded:
    thumbnail_keys: list[str]
    original_key: str


def _picture(color: str, fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), color).save(out, fmt, **({"quality": 80} if fmt == "WEBP" else {}))
    return out.getvalue()


def seed_items(engine: Engine, blob_dir: Path, org_id: object, dataset_id: object,
               count: int, thumbnails: list[bytes] | None = None) -> Seeded:
    """Put `count` items into the collection (owner's connection: no row-level security in
    the way); the blobs go into the local blob store at `blob_dir`. `thumbnails`: the WebP
    files the items share, in turn (default: a few plain colours)."""
    store = LocalBlobStore(blob_dir)
    pictures = thumbnails or [_picture(c, "WEBP") for c in THUMBNAILS]
    thumbs = [put_stream(store, io.BytesIO(p), "webp") for p in pictures]
    original = put_stream(store, io.BytesIO(_picture("#333333", "JPEG")), "jpg")
    ds = uuid.UUID(str(dataset_id))
    with engine.begin() as conn:
        conn.execute(text(_MEDIA_SQL), {
            "org": uuid.UUID(str(org_id)), "ds": ds, "root": ds.hex, "original": original,
            "thumbs": thumbs, "count": count, "start": "2025-01-01T00:00:00+00:00"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE media"))
    return Seeded(thumbs, original)
