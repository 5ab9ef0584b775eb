"""Offset paging that does not walk the offset: marks every few rows, kept per listing.

`LIMIT 100 OFFSET 900000` makes PostgreSQL step over 900,000 rows, and the exact `total` the
contract needs is one more pass: a listing of a million items cost two full scans per page.
Here the first page of a big listing makes one pass that counts its rows and keeps the sort key
of every n-th row (the marks: n is 100, or total/10,000 for listings over a million rows). A later
page at any offset starts from the mark just before it, by keyset (`WHERE (created_at, id) >=
mark`, an index seek), and steps over fewer than n rows; its total is the marks' count.

Marks are valid while the collection is unchanged: `datasets.browse_generation` moves at the
commit of every change of its media (migration 0013). A page reads the generation in the same
statement as its rows, so it either proves the marks still describe its own snapshot, or
finds them stale. So totals and pages stay exact under concurrent writes. Stale marks are
made again once they are a few seconds old (longer each time they went stale soon: a
collection written all the time would pay a pass per request); meanwhile a page is plain:
its total and rows in one statement (one snapshot), the offset walked over ids.

Marks live in this process's memory (a small LRU): each server process learns its own.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, bindparam, func, select, text, true, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Dataset, Media
from coreviz_studio.lru import Lru

SPACING = 100  # the finest spacing of marks; thinned to MAX_MARKS per listing
# So a page walks at most total/MAX_MARKS rows (SPACING at least) from its mark: each row
# walked is a heap page read, mostly not in shared buffers at a random offset of a big listing.
MAX_MARKS = 10_000
MIN_TOTAL = 2000  # smaller listings are counted and walked as they are
# Marks remembered per process, in keys (~200 bytes each: ~20 MB at most); a million-item
# listing takes 10,000 of them.
_CACHED_KEYS = 100_000
_ATTEMPTS = 2  # rebuilds of stale marks before falling back to a plain count and offset
# Marks that went stale sooner than this after they were made are not made again at once: the
# collection is changing under a stream of writes (an import, uploads while people browse), and
# a pass that makes marks costs more than a plain count and walk (bench/load.py, 20 clients with
# uploads and tag writes: 235 of 300 sampled active queries were mark-making passes). Its pages
# are counted and walked plainly until then, exact as always; then the marks are made again.
# Each time in a row that the new marks go stale that soon too, the wait doubles, up to
# MAX_REBUILD_AFTER_S: a collection written all the time stops paying a pass every 2 s
# (bench/load.py: 197 of 937 sampled active queries were still passes), and one that settles
# gets its marks back within that.
REBUILD_AFTER_S = 2.0
MAX_REBUILD_AFTER_S = 32.0
_MAX_BUSY = 16  # 2 s * 2**16 is far past the cap
_now = time.monotonic  # the clock of made_at and stale_at (tests set their own)


@dataclass(frozen=True)
class Marks:
    generation: int
    total: int
    spacing: int
    keys: tuple[tuple[Any, ...], ...]  # keys[i]: the sort key of the row at offset i*spacing
    made_at: float = 0.0  # _now() when they were made
    busy: int = 0  # how many marks of this listing in a row went stale within their wait
    stale_at: float | None = None  # when a page first found them stale

    def wait(self) -> float:
        return min(REBUILD_AFTER_S * 2.0 ** self.busy, MAX_REBUILD_AFTER_S)

    def may_remake(self) -> bool:
        """For marks found stale: made again once they are wait() old; made sooner, the
        collection is busy, and its pages stay plain until then."""
        return _now() - self.made_at >= self.wait()

    def busy_next(self) -> int:
        """`busy` for the marks made to replace these stale ones."""
        stale_at = _now() if self.stale_at is None else self.stale_at
        # Bounded: past MAX_REBUILD_AFTER_S a larger count changes nothing (and 2.0 ** busy
        # would overflow after hours of writes).
        return min(self.busy + 1, _MAX_BUSY) if stale_at - self.made_at < self.wait() else 0


@dataclass(frozen=True)
class Order:
    """The listing's order: its key expressions (the last one unique) and direction."""

    keys: tuple[Any, ...]  # SQL expressions
    descending: bool

    def clauses(self) -> list[ColumnElement[Any]]:
        return [k.desc() if self.descending else k.asc() for k in self.keys]

    def from_mark(self, mark: tuple[Any, ...]) -> ColumnElement[bool]:
        row = tuple_(*self.keys)
        # Each value bound as its key's type, so the comparison is the index's own operator.
        at = tuple_(*(bindparam(None, v, type_=k.type) for k, v in zip(self.keys, mark,
                                                                         strict=True)))
        return row <= at if self.descending else row >= at


_marks: Lru[Hashable, Marks] = Lru(_CACHED_KEYS, weight=lambda m: len(m.keys) + 1)


def _generation(dataset_id: uuid.UUID) -> Any:
    return (select(Dataset.browse_generation).where(Dataset.id == dataset_id)
            .scalar_subquery())


def _build(session: Session, dataset_id: uuid.UUID, base: Select[Any], order: Order,
           busy: int = 0) -> Marks:
    """One pass over the listing in its order: its generation, count and marks, all from the
    same snapshot."""
    rank = (func.row_number().over(order_by=order.clauses()) - 1).label("rank")
    ranked = base.with_only_columns(*(k.label(f"k{i}") for i, k in enumerate(order.keys)),
                                    rank).subquery()
    picked = ranked.c.rank % SPACING == 0
    arrays = [func.array_agg(aggregate_order_by(ranked.c[f"k{i}"], ranked.c.rank))
              .filter(picked) for i in range(len(order.keys))]
    row = session.execute(select(_generation(dataset_id), func.count(), *arrays)
                          .select_from(ranked)).one()
    keys = tuple(zip(*(list(a or []) for a in row[2:]), strict=True))
    # Thinned to MAX_MARKS: a filtered listing (a tag, a month) keeps fine marks, since its
    # pages walk the unfiltered index between them; a big one keeps its memory bounded.
    stride = max(1, -(-len(keys) // MAX_MARKS))
    return Marks(generation=row[0] or 0, total=row[1], spacing=SPACING * stride,
                 keys=keys[::stride], made_at=_now(), busy=busy)


def page(session: Session, dataset_id: uuid.UUID, base: Select[Any], order: Order, limit: int,
         offset: int, listing: Hashable | None) -> tuple[int, list[Row[Any]]]:
    """The exact total of `base` (a SELECT of media columns) and its rows [offset, offset+limit)
    in `order`. `listing` names what `base` selects (same collection, filters and order give the
    same key); None for one that depends on more than the collection's media."""
    if listing is None:
        return _plain(session, base, order, limit, offset)
    busy = 0
    marks = _marks.get(listing)
    if marks is not None and marks.total < MIN_TOTAL:  # a small listing, seen before
        total, found = _plain(session, base, order, limit, offset)
        if total >= MIN_TOTAL:  # it grew: the next page makes its marks
            _marks.pop(listing)
        return total, found
    for _ in range(_ATTEMPTS):
        fresh = marks is None
        if marks is None:
            marks = _build(session, dataset_id, base, order, busy)
            _marks.put(listing, marks)
            if marks.total < MIN_TOTAL:  # small: counted and walked as it is, from now on
                return _plain(session, base, order, limit, offset)
        if not limit or offset >= marks.total:
            if fresh or session.scalar(select(_generation(dataset_id))) == marks.generation:
                return marks.total, []
        else:
            step = offset // marks.spacing
            stmt = (base.add_columns(_generation(dataset_id).label("generation"))
                    .where(order.from_mark(marks.keys[step])).order_by(*order.clauses())
                    .limit(limit).offset(offset - step * marks.spacing))
            rows = session.execute(stmt).all()
            if rows and rows[0].generation == marks.generation:
                return marks.total, list(rows)
        # The collection changed since the marks were made.
        if fresh or not marks.may_remake():
            if marks.stale_at is None:  # (unless another request replaced them meanwhile)
                _marks.swap(listing, marks, replace(marks, stale_at=_now()))
            break  # kept until their wait is over: this page is plain
        busy = marks.busy_next()
        # Made again. The stale marks stay in the LRU until the new ones replace them, so a
        # request that comes meanwhile sees them (and their `busy`), not an empty place.
        marks = None
    return _plain(session, base, order, limit, offset)


_SERIAL = text("SET LOCAL max_parallel_workers_per_gather = 0")  # until the request's end


def _plain(session: Session, base: Select[Any], order: Order, limit: int,
           offset: int) -> tuple[int, list[Row[Any]]]:
    """The total and the page in one statement, so both are of the same snapshot (two
    statements would each see the commits made before it: a total that disagrees with the
    page). The page's offset is walked over ids alone, then its rows are read by id: walking
    whole rows reads each skipped row from the heap (46 ms for 60,000 of a 100,000-item
    collection's root), ids are read from an index where one covers them (an index-only scan
    of media_children_idx for a folder by date, 9 ms), so a collection that changes too
    often to keep marks still pages cheaply."""
    # One process per page: a parallel index-only count of a 100,000-item folder took 36 ms
    # of wall time and ~85 ms of CPU in three processes (their btree scan waits on shared
    # pages), a serial one 25 ms; pages of busy collections come many at once.
    session.execute(_SERIAL)
    counted = select(func.count().label("total")).select_from(base.subquery()).subquery()
    if not limit:
        return session.scalar(select(counted.c.total)) or 0, []
    ids = (base.with_only_columns(Media.id).order_by(*order.clauses()).limit(limit)
           .offset(offset))
    page = (base.add_columns(*(k.label(f"k{i}") for i, k in enumerate(order.keys)))
            .where(Media.id.in_(ids)).subquery())
    in_page = Order(tuple(page.c[f"k{i}"] for i in range(len(order.keys))), order.descending)
    both = (select(counted.c.total, *page.c).select_from(counted.outerjoin(page, true()))
            .order_by(*in_page.clauses()))
    rows = session.execute(both).all()
    return rows[0].total, [r for r in rows if r.id is not None]


def forget() -> None:
    """Drop every listing's marks (tests that compare with and without them)."""
    _marks.clear()
