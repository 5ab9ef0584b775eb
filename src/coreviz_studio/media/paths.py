"""ltree paths of the media tree, made only from ids.

Every row's `path` ends with its own id: `<collection>.<id>` at the root of a collection,
`<collection>.<folder>.<id>` inside a folder. A folder's path is therefore exactly the path its
children are listed under, moved to, and uploaded into. Labels are ids written as 32 lower-case
hex digits, so names never reach an ltree and can be anything.
"""

from __future__ import annotations

import re
import uuid

from coreviz_studio.errors import BadRequest, Invalid

_LABEL = re.compile(r"^[0-9a-f]{32}$")
# Labels in a path, the collection's included. A btree index entry holds at most 2704 bytes and
# the browse index stores a path and its parent (about 36 bytes a label each): 30 leaves room.
MAX_DEPTH = 30
# What parse accepts, for the API's documentation: ids (any case, hyphens anywhere) joined by
# dots, each may be padded with spaces; QUERY_PATTERN also takes a blank (the root).
_ID = r"\s*(?:-*[0-9a-fA-F]){32}-*\s*"
PATTERN = rf"^{_ID}(?:\.{_ID}){{0,{MAX_DEPTH - 1}}}$"
QUERY_PATTERN = rf"^\s*$|{PATTERN}"


def label(row_id: uuid.UUID) -> str:
    return row_id.hex


def root(dataset_id: uuid.UUID) -> str:
    """The path of a collection's root (its children live directly under it)."""
    return label(dataset_id)


def child(parent: str, row_id: uuid.UUID) -> str:
    """The path of a new row in `parent`; 422 when it would nest deeper than MAX_DEPTH."""
    if depth(parent) >= MAX_DEPTH:
        raise Invalid(f"Folders cannot nest deeper than {MAX_DEPTH - 1} levels")
    return f"{parent}.{label(row_id)}"


def parent(path: str) -> str:
    return path.rsplit(".", 1)[0]


def last_id(path: str) -> uuid.UUID:
    return uuid.UUID(path.rsplit(".", 1)[-1])


def depth(path: str) -> int:
    return path.count(".") + 1


def parse(value: str, what: str = "path") -> str:
    """A client's path, normalised: labels are ids with or without hyphens, any case.
    Anything else is a 400 naming the problem."""
    labels = [part.strip().replace("-", "").lower() for part in value.strip().split(".")]
    if not value.strip() or not all(_LABEL.match(part) for part in labels):
        raise BadRequest(f"Invalid {what} '{value[:200]}': expected ids joined by dots, as "
                         "browse returns them (for example '<collectionId>.<folderId>')")
    if len(labels) > MAX_DEPTH:
        raise BadRequest(f"Invalid {what}: deeper than {MAX_DEPTH} levels")
    return ".".join(labels)
