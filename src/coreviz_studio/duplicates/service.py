"""Exact duplicates (the same sha256) and near duplicates (a perceptual hash, confirmed by the
image embedding where there is one) within one collection (docs/duplicates.md).

Only what browse would list takes part: active items, the active version of each, no folders.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Embedding, Frame, Media, visible_media
from coreviz_studio.duplicates.schemas import (
    DuplicateGroup,
    DuplicatesOut,
    DuplicatesParams,
)
from coreviz_studio.ids import IdRef
from coreviz_studio.media.schemas import Pagination
from coreviz_studio.tenancy import scoped

# Hash bits (of 64) two pictures may differ by and still be candidates. Measured on real
# photos: a resized, re-encoded copy differs by 0-4 bits, two different photos by 20 or more.
MAX_HASH_DISTANCE = 8
# The image embeddings' cosine that confirms a candidate pair. Measured with the offline
# features model: copies 0.85-0.99, different photos at most 0.50.
MIN_COSINE = 0.75
_BLOCK = 512  # rows compared against all others at a time: bounded memory
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64: numpy 2's bitwise_count (one CPU instruction each), else a
    byte table."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    return _POPCOUNT[values.view(np.uint8)].reshape(*values.shape, 8).sum(axis=-1)


def _listed(principal: Principal, dataset_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return scoped(Media, principal).where(
        Media.dataset_id == dataset_id, *visible_media(), Media.type != "folder")


def exact_duplicate_of(session: Session, principal: Principal, dataset_id: uuid.UUID,
                       sha256: str, new_id: uuid.UUID | None = None) -> uuid.UUID | None:
    """The oldest listed item of the collection with these exact bytes, other than `new_id`."""
    stmt = _listed(principal, dataset_id).where(Media.sha256 == sha256)
    if new_id is not None:
        stmt = stmt.where(Media.id != new_id)
    row = session.scalars(stmt.order_by(Media.created_at, Media.id).limit(1)).first()
    return row.id if row is not None else None


@dataclass
class _Item:
    id: uuid.UUID
    sha256: str | None
    phash: int | None


def duplicate_groups(session: Session, principal: Principal, dataset_id: IdRef,
                     params: DuplicatesParams) -> DuplicatesOut:
    """The collection's groups of duplicates, the largest first."""
    dataset = get_dataset(session, principal, dataset_id)
    rows = session.execute(
        _listed(principal, dataset.id).with_only_columns(Media.id, Media.sha256,
                                                         Media.perceptual_hash)
        .order_by(Media.created_at, Media.id)).all()
    items = [_Item(r[0], r[1], r[2]) for r in rows]
    order = {item.id: i for i, item in enumerate(items)}
    links: dict[tuple[int, int], float] = {}
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        if item.sha256:
            by_sha[item.sha256].append(i)
    for same in by_sha.values():
        for j in same[1:]:
            links[(same[0], j)] = 1.0
    hashed = [i for i, item in enumerate(items) if item.phash is not None]
    candidates = [(hashed[a], hashed[b], d) for a, b, d in _close_pairs(
        [items[i].phash for i in hashed])]  # type: ignore[misc]
    vectors = _first_frame_vectors(session, principal, dataset.id,
                                   {items[i].id for pair in candidates for i in pair[:2]})
    for a, b, bits in candidates:
        if (min(a, b), max(a, b)) in links:
            continue
        similarity = _confirmed(vectors.get(items[a].id), vectors.get(items[b].id), bits)
        if similarity is not None:
            links[(min(a, b), max(a, b))] = similarity
    groups = _groups(items, links, order)
    page = groups[params.offset:params.offset + params.limit]
    return DuplicatesOut(groups=page, pagination=Pagination(
        total=len(groups), limit=params.limit, offset=params.offset,
        has_more=params.offset + len(page) < len(groups)))


def _close_pairs(hashes: list[int]) -> Iterable[tuple[int, int, int]]:
    """(i, j, differing bits) for every i < j whose hashes differ by at most
    MAX_HASH_DISTANCE bits: all pairs, compared in blocks with numpy."""
    if len(hashes) < 2:
        return []
    values = np.array(hashes, dtype=np.int64).view(np.uint64)
    found: list[tuple[int, int, int]] = []
    for start in range(0, len(values), _BLOCK):
        block = values[start:start + _BLOCK]
        later = values[start:]  # the upper triangle only: each pair once
        bits = _popcount(block[:, None] ^ later[None, :])
        rows, cols = np.nonzero(bits <= MAX_HASH_DISTANCE)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if j > i:
                found.append((start + i, start + j, int(bits[i, j])))
    return found


def _first_frame_vectors(session: Session, principal: Principal, dataset_id: uuid.UUID,
                         media_ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, np.ndarray]]:
    """Each item's first frame's image embeddings, by model, unit length."""
    if not media_ids:
        return {}
    rows = session.execute(
        scoped(Embedding, principal).with_only_columns(Embedding.media_id, Embedding.model,
                                                       Embedding.embedding)
        .join(Frame, Frame.id == Embedding.frame_id)
        .where(Embedding.dataset_id == dataset_id, Embedding.kind == "image",
               Embedding.media_id.in_(media_ids), Frame.frame_index == 0)).all()
    out: dict[uuid.UUID, dict[str, np.ndarray]] = defaultdict(dict)
    for media_id, model, vector in rows:
        v = np.asarray(vector, dtype=np.float64)
        norm = float(np.linalg.norm(v))
        if norm > 0:
            out[media_id][model] = v / norm
    return out


def _confirmed(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray] | None,
               bits: int) -> float | None:
    """The pair's similarity, or None when the embeddings say the two are not alike. Without
    an embedding model both share, the hash alone decides."""
    shared = sorted(set(a or {}) & set(b or {}))
    if not shared:
        return round(1 - bits / 64, 4)
    cosine = min(float(a[m] @ b[m]) for m in shared)  # type: ignore[index]
    return round(cosine, 4) if cosine >= MIN_COSINE else None


def _groups(items: list[_Item], links: dict[tuple[int, int], float],
            order: dict[uuid.UUID, int]) -> list[DuplicateGroup]:
    """Connected items (union-find over the links), each group with its weakest link."""
    parent = list(range(len(items)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in links:
        parent[root(b)] = root(a)
    linked = {i for pair in links for i in pair}
    members: dict[int, list[int]] = defaultdict(list)
    for i in sorted(linked):
        members[root(i)].append(i)
    weakest: dict[int, float] = {}
    for (a, _), similarity in links.items():
        r = root(a)
        weakest[r] = min(similarity, weakest.get(r, 1.0))
    groups = []
    for r, indexes in members.items():
        shas = {items[i].sha256 for i in indexes}
        exact = len(shas) == 1 and None not in shas
        groups.append(DuplicateGroup(
            media_ids=[items[i].id for i in sorted(indexes)],
            similarity=1.0 if exact else weakest[r], kind="exact" if exact else "near"))
    groups.sort(key=lambda g: (-len(g.media_ids), order[g.media_ids[0]]))
    return groups
