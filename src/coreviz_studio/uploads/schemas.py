"""Wire shape of an upload's answer."""

from __future__ import annotations

import uuid

from coreviz_studio.schemas import WireModel


class UploadResult(WireModel):
    media_id: uuid.UUID
    url: str
    message: str
