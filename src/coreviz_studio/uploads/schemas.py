"""Wire shape of an upload's answer."""

from __future__ import annotations

import uuid

from coreviz_studio.schemas import WireModel


class UploadResult(WireModel):
    media_id: uuid.UUID
    url: str
    message: str
    # Additive: the oldest item of the collection with the same bytes (sha256), if any; the
    # upload is stored all the same (docs/duplicates.md).
    duplicate_of: uuid.UUID | None = None
