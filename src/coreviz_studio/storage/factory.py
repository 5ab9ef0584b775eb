"""The blob store the settings name: local files (the default) or an S3 bucket."""

from __future__ import annotations

from coreviz_studio.config import Settings
from coreviz_studio.storage.base import BlobStore
from coreviz_studio.storage.local import LocalBlobStore


def build_store(settings: Settings) -> BlobStore:
    if settings.storage == "s3":
        from coreviz_studio.storage.s3 import S3BlobStore  # boto3 is imported only when used

        return S3BlobStore.from_settings(settings)
    return LocalBlobStore(settings.effective_blob_dir())
