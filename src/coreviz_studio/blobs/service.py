"""Find a blob by key; an unknown or malformed key is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from coreviz_studio.errors import NotFound
from coreviz_studio.formats import mime_for_ext
from coreviz_studio.storage.base import BlobStore


@dataclass
class Blob:
    path: Path
    mime: str
    etag: str


def find(store: BlobStore, key: str) -> Blob:
    path = store.local_path(key)
    if path is None:
        raise NotFound("Blob not found")
    # Blobs never change, so the key (a random token) is a perfect entity tag.
    token = key.rsplit("/", 1)[-1].split(".", 1)[0]
    return Blob(path=path, mime=mime_for_ext(path.suffix.lstrip(".")), etag=f'"{token}"')
