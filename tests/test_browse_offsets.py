"""Offset paging from marks (media/offsets.py): every page and total equal the plain walk's,
and stay exact when the collection changes between two pages.

The marks are made every SPACING rows (thinned to MAX_MARKS) for listings of MIN_TOTAL rows or
more; the tests make all three small so that a 40-item collection takes the marked path, with
marks thinned."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from coreviz_studio.media import offsets
from tests import media_files
from tests.library import Library

ITEMS = 40


@pytest.fixture
def marked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(offsets, "SPACING", 2)
    monkeypatch.setattr(offsets, "MAX_MARKS", 4)  # 33 rows: marks every 10 (2, thinned)
    monkeypatch.setattr(offsets, "MIN_TOTAL", 6)
    offsets.forget()
    yield
    offsets.forget()


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on every listing is counted and walked as it is (the oracle)."""
    monkeypatch.setattr(offsets, "MIN_TOTAL", 10**9)
    offsets.forget()


@pytest.fixture
def lib(client, make_member, database) -> Library:  # type: ignore[no-untyped-def]
    """A collection of ITEMS images (a folder holding every 5th), names and dates shuffled,
    every 3rd tagged Color=red: written as processing leaves them, straight into the tables."""
    lib = Library(client, make_member())
    inner = lib.folder("Inner")["path"]
    with database.engine.begin() as conn:
        for n in range(ITEMS):
            media_id = uuid.uuid4()
            parent = inner if n % 5 == 0 else lib.root
            metadata = {"tags": {"Color": ["red"]}} if n % 3 == 0 else {}
            conn.execute(text(
                "INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id,"
                " is_active_version, status, metadata, created_at, updated_at)"
                " VALUES (:id, :org, :ds, 'image', :name, CAST(:path AS ltree), :id, true,"
                " 'active', CAST(:meta AS jsonb), :ts, :ts)"),
                {"id": media_id, "org": lib.member.org_id, "ds": lib.id,
                 "name": f"IMG_{(n * 7) % ITEMS:03d}.jpg", "path": f"{parent}.{media_id.hex}",
                 "meta": json.dumps(metadata),
                 # Every 4th shares its timestamp with another: the id breaks the tie.
                 "ts": f"2025-{1 + (n * 5) % 12:02d}-{1 + (n // 4) % 28:02d}T12:00:00Z"})
    lib.inner = inner  # type: ignore[attr-defined]
    return lib


SHAPES: dict[str, dict[str, Any]] = {
    "default": {},
    "name desc": {"sortBy": "name", "sortDirection": "desc"},
    "created desc": {"sortDirection": "desc"},
    "recursive": {"recursive": "true"},
    "tag": {"tagFilters": json.dumps({"Color": ["red"]})},
    "dates": {"dateFrom": "2025-03-01", "dateTo": "2025-09-30"},
    "updated": {"sortBy": "updatedAt"},
}


def _every_page(lib: Library, params: dict[str, Any], limit: int) -> list[tuple[int, list[str]]]:
    total = lib.browse(limit=0, **params)["pagination"]["total"]
    pages = []
    for offset in range(total + 2):  # one past the end too
        body = lib.browse(limit=limit, offset=offset, **params)
        pages.append((body["pagination"]["total"], [m["id"] for m in body["media"]]))
    return pages


@pytest.mark.parametrize("shape", SHAPES)
def test_every_offset_gives_the_page_the_plain_walk_gives(
        marked: None, lib: Library, shape: str, monkeypatch: pytest.MonkeyPatch) -> None:
    params = SHAPES[shape]
    got = _every_page(lib, params, limit=4)
    assert got[0][0] >= offsets.MIN_TOTAL  # the marked path was taken
    _plain(monkeypatch)
    expected = _every_page(lib, params, limit=4)
    assert got == expected


def test_a_folder_listing_is_marked_on_its_own(marked: None, lib: Library,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    inner = lib.inner  # type: ignore[attr-defined]
    root_first = lib.browse(limit=3, offset=6)
    folder = _every_page(lib, {"path": inner}, limit=2)
    assert folder[0][0] == ITEMS // 5
    _plain(monkeypatch)
    assert folder == _every_page(lib, {"path": inner}, limit=2)
    assert root_first == lib.browse(limit=3, offset=6)


def test_a_page_after_a_change_is_exact(marked: None, lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    """Marks made, then the collection changes (an upload sorting first, a rename, a move to
    the trash): the next pages see it at once."""
    before = lib.browse(limit=5, offset=20, sortBy="name")
    total = before["pagination"]["total"]
    lib.upload(media_files.image(), "AAA_first.jpg")  # sorts before every IMG_...
    after = lib.browse(limit=5, offset=21, sortBy="name")
    assert after["pagination"]["total"] == total + 1
    assert [m["id"] for m in after["media"]] == [m["id"] for m in before["media"]]

    moved = before["media"][0]
    r = lib.client.patch(f"/api/media/{moved['id']}", headers=lib.headers,
                         json={"name": "ZZZ_last.jpg"})
    assert r.status_code == 200, r.text
    renamed = lib.browse(limit=5, offset=total, sortBy="name")
    assert [m["id"] for m in renamed["media"]] == [moved["id"]]  # now the last one

    r = lib.client.delete(f"/api/media/{moved['id']}", headers=lib.headers)
    assert r.status_code == 200, r.text
    gone = lib.browse(limit=5, offset=total - 1, sortBy="name")
    assert gone["pagination"]["total"] == total
    assert moved["id"] not in [m["id"] for m in gone["media"]]


def _media_statements(lib: Library, **params: Any) -> tuple[dict[str, Any], list[str]]:
    """A browse page, and the statements on media it ran (on every engine, the app's too)."""
    statements: list[str] = []

    def record(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        page = lib.browse(**params)
    finally:
        event.remove(Engine, "before_cursor_execute", record)
    return page, [s for s in statements if "FROM media" in s]


def test_a_marked_page_counts_nothing(marked: None, lib: Library) -> None:
    """Once the marks are made, a page at any offset is one keyset seek: no count(*), no
    window over the listing."""
    lib.browse(limit=4, offset=20)
    page, media_statements = _media_statements(lib, limit=4, offset=25)
    assert len(page["media"]) == 4
    assert media_statements and not any("count(" in s or "row_number()" in s
                                        for s in media_statements)
    assert any("browse_generation" in s for s in media_statements)


def test_the_generation_moves_once_per_committed_change(lib: Library, database) -> None:  # type: ignore[no-untyped-def]
    def generation() -> int:
        with database.engine.begin() as conn:
            value: int = conn.execute(text("SELECT browse_generation FROM datasets WHERE id = :id"),
                                      {"id": lib.id}).scalar_one()
            return value

    start = generation()
    with database.engine.begin() as conn:  # many rows, one transaction: one step
        conn.execute(text("UPDATE media SET name = name || '' WHERE dataset_id = :id"),
                     {"id": lib.id})
        conn.execute(text("UPDATE media SET metadata = metadata WHERE dataset_id = :id"),
                     {"id": lib.id})
    assert generation() == start + 1
    with database.engine.connect() as conn:  # rolled back: no step
        conn.execute(text("UPDATE media SET name = name WHERE dataset_id = :id"), {"id": lib.id})
        conn.rollback()
    assert generation() == start + 1
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM media WHERE dataset_id = :id AND type <> 'folder'"
                          " AND name = 'IMG_000.jpg'"), {"id": lib.id})
    assert generation() == start + 2


@pytest.mark.parametrize("by_name", [False, True])
def test_a_marked_page_seeks_its_index_under_rls(database, by_name: bool) -> None:  # type: ignore[no-untyped-def]
    """The keyset condition of a marked page is an index condition as the application runs
    it (its role, under row-level security), not a filter over the whole listing: under RLS
    only leakproof functions may go into an index condition, and lower(name) is not one, so
    the name order walks the stored `name_key` (migration 0013)."""
    from sqlalchemy import select, true, tuple_

    from coreviz_studio.db.rls import scope_session
    from coreviz_studio.db.tables import Media
    from coreviz_studio.media import tree

    keys = (Media.name_key, Media.id) if by_name else (Media.created_at, Media.id)
    from datetime import UTC, datetime

    mark = ("img_5", uuid.uuid4()) if by_name else (datetime(2025, 6, 1, tzinfo=UTC),
                                                    uuid.uuid4())
    stmt = (select(Media.id)
            .where(Media.dataset_id == uuid.uuid4(), Media.status == "active",
                   Media.is_active_version == true(), tree.parent_path() == "abc",
                   tuple_(*keys) <= tuple_(*mark))
            .order_by(*(k.desc() for k in keys)).limit(100).offset(500))
    with database.sessions() as session:
        scope_session(session, uuid.uuid4())
        conn = session.connection()
        compiled = stmt.compile(conn)
        conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + str(compiled),
                                                             compiled.params))
    cond = next((line for line in plan.splitlines() if "Index Cond" in line), "")
    column = "name_key" if by_name else "created_at"
    assert f"ROW({column}, id) <=" in cond, plan


def test_marks_of_a_busy_collection_are_not_made_again_at_once(
        marked: None, lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Marks that go stale soon after they were made wait REBUILD_AFTER_S before the next
    pass: meanwhile pages are counted and walked plainly, and exact."""
    monkeypatch.setattr(offsets, "REBUILD_AFTER_S", 3600.0)
    first = lib.browse(limit=4, offset=10)
    lib.upload(media_files.image(), "AAA_busy.jpg")  # sorts last by date: the page is the same
    page, statements = _media_statements(lib, limit=4, offset=10)
    assert page["pagination"]["total"] == first["pagination"]["total"] + 1
    assert [m["id"] for m in page["media"]] == [m["id"] for m in first["media"]]
    assert not any("row_number()" in s for s in statements)  # no pass made marks
    assert any("count(" in s for s in statements)  # counted plainly

    monkeypatch.setattr(offsets, "REBUILD_AFTER_S", 0.0)  # the marks have lasted long enough
    again, statements = _media_statements(lib, limit=4, offset=10)
    assert again == page
    assert any("row_number()" in s for s in statements)  # made again
    _, statements = _media_statements(lib, limit=4, offset=11)
    assert not any("count(" in s or "row_number()" in s for s in statements)  # and used


def test_marks_that_keep_going_stale_wait_longer_each_time(
        marked: None, lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Marks that go stale within their wait are made again after twice that wait (a pass
    every 2 s is wasted on a collection written all the time); marks that lasted reset it."""
    clock = [1000.0]
    monkeypatch.setattr(offsets, "_now", lambda: clock[0])

    def made_marks(offset: int = 10) -> bool:
        page, statements = _media_statements(lib, limit=4, offset=offset)
        assert page == lib.browse(limit=4, offset=offset)  # exact either way
        return any("row_number()" in s for s in statements)

    assert made_marks()
    for n in range(3):
        lib.upload(media_files.image(), f"AAA_busy{n}.jpg")
        clock[0] += 1.0  # stale one second after they were made: soon
        assert not made_marks()  # plain until the wait is over
        wait = offsets.REBUILD_AFTER_S * 2 ** n
        clock[0] += wait - 1.0 - 0.01
        assert not made_marks()
        clock[0] += 0.02
        assert made_marks()

    # These marks last 100 s before the next write: the wait is back to REBUILD_AFTER_S.
    clock[0] += 100.0
    lib.upload(media_files.image(), "AAA_settled.jpg")
    assert made_marks()  # older than their wait: made again at once
    lib.upload(media_files.image(), "AAA_again.jpg")
    clock[0] += offsets.REBUILD_AFTER_S + 0.01
    assert made_marks()


def test_the_wait_before_marks_are_made_again_is_bounded() -> None:
    """However long a collection is written, the wait stays MAX_REBUILD_AFTER_S (and the
    count of stale marks in a row stays a number 2.0 ** can take)."""
    marks = offsets.Marks(generation=0, total=0, spacing=100, keys=(), busy=20)
    assert marks.wait() == offsets.MAX_REBUILD_AFTER_S
    for _ in range(2000):  # every one stale at once, hours of them
        marks = offsets.Marks(generation=0, total=0, spacing=100, keys=(), made_at=0.0,
                              stale_at=0.0, busy=marks.busy_next())
    assert marks.wait() == offsets.MAX_REBUILD_AFTER_S


@pytest.mark.parametrize("marks", [False, True])
def test_a_plain_page_and_its_total_are_of_one_snapshot(  # type: ignore[no-untyped-def]
        lib: Library, monkeypatch: pytest.MonkeyPatch, database, marks: bool) -> None:
    """An item committed just before the statement that reads a plain page is in both the
    page and the total, or in neither: a total counted by an earlier statement would miss an
    item the page shows."""
    if marks:  # made, then stale: the page that finds them so is plain
        monkeypatch.setattr(offsets, "MIN_TOTAL", 6)
        monkeypatch.setattr(offsets, "REBUILD_AFTER_S", 3600.0)
        offsets.forget()
        lib.browse(limit=4, offset=0)
        lib.upload(media_files.image(), "ZZZ_stale.jpg")
    else:
        _plain(monkeypatch)
    before = lib.browse(limit=0)["pagination"]["total"]
    inserted = []

    def insert_first(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if inserted or "IN (SELECT media.id" not in statement:  # a plain page's statement
            return
        media_id = uuid.uuid4()
        inserted.append(media_id)
        with database.engine.begin() as other:  # another transaction, committed now
            other.execute(text(
                "INSERT INTO media (id, organization_id, dataset_id, type, name, path, root_id,"
                " is_active_version, status, metadata, created_at, updated_at)"
                " VALUES (:id, :org, :ds, 'image', 'first.jpg', CAST(:path AS ltree), :id,"
                " true, 'active', '{}', '2000-01-01T00:00:00Z', '2000-01-01T00:00:00Z')"),
                {"id": media_id, "org": lib.member.org_id, "ds": lib.id,
                 "path": f"{lib.root}.{media_id.hex}"})

    event.listen(Engine, "before_cursor_execute", insert_first)
    try:
        page = lib.browse(limit=4, offset=before - 2)  # the oldest first: all shift by one
    finally:
        event.remove(Engine, "before_cursor_execute", insert_first)
    assert inserted
    after = lib.browse(limit=4, offset=before - 2)
    assert after["pagination"]["total"] == before + 1
    assert page == after  # the page saw the insert, and so did its total


def test_visible_media_lets_a_generic_plan_use_the_browse_indexes(database) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL switches a statement run often to a generic plan, planned without its
    values: `visible_media()` writes its values into the SQL text, so that plan can still
    prove the partial browse indexes' predicate (a bound 'active' cannot be proven, and a
    listing then walked media_browse_idx and the heap: ~10x slower under load)."""
    from sqlalchemy import select

    from coreviz_studio.db.rls import scope_session
    from coreviz_studio.db.tables import Media, visible_media

    stmt = (select(Media.id).where(Media.dataset_id == uuid.uuid4(), *visible_media())
            .order_by(Media.created_at, Media.id).limit(100))
    with database.sessions() as session:
        scope_session(session, uuid.uuid4())
        conn = session.connection()
        compiled = stmt.compile(conn)
        names: list[str] = []

        def placeholder(m: re.Match[str]) -> str:
            names.append(m.group(1))
            return f"${len(names)}"

        generic = re.sub(r"%\(([^)]+)\)s", placeholder, str(compiled))
        assert len(names) == len(compiled.params) and "'active'" in generic
        for scan in ("seqscan", "bitmapscan", "sort", "incremental_sort"):
            conn.exec_driver_sql(f"SET LOCAL enable_{scan} = off")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql("EXPLAIN (GENERIC_PLAN) " + generic))
    assert "using media_visible_idx" in plan and "Disabled" not in plan, plan


def test_every_browse_index_covers_what_the_policy_and_the_folder_filter_read(database) -> None:  # type: ignore[no-untyped-def]
    """A plain page's id walk can be index-only in every browse order only if its index holds
    the organization (the policy's column) and the path (a folder's filter) too: by date
    (media_children_idx, migration 0002), by name and across folders (migration 0017)."""
    with database.engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'media' AND indexname"
            " IN ('media_children_idx', 'media_children_name_key_idx', 'media_visible_idx')"))
        defs = {name: definition for name, definition in rows}
    assert len(defs) == 3, defs
    for name, definition in defs.items():
        assert "INCLUDE (organization_id, path)" in definition, (name, definition)
        assert "WHERE (((status)::text = 'active'::text) AND is_active_version)" in definition


def test_a_small_listing_is_counted_once_then_plainly_until_it_grows(
        marked: None, lib: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """A listing found small is not passed over again on its next pages (one statement each,
    total and rows); once it has grown to MIN_TOTAL its next page makes marks."""
    total = lib.browse(limit=0)["pagination"]["total"]
    monkeypatch.setattr(offsets, "MIN_TOTAL", total + 1)
    offsets.forget()
    _, statements = _media_statements(lib, limit=4, offset=3)
    assert any("row_number()" in s for s in statements)  # the first page: one pass
    page, statements = _media_statements(lib, limit=4, offset=3)
    assert not any("row_number()" in s for s in statements) and len(statements) == 1
    assert page["pagination"]["total"] == total
    lib.upload(media_files.image(), "AAA_grown.jpg")
    page, statements = _media_statements(lib, limit=4, offset=3)
    assert page["pagination"]["total"] == total + 1
    assert not any("row_number()" in s for s in statements)  # counted plainly: it grew
    _, statements = _media_statements(lib, limit=4, offset=3)
    assert any("row_number()" in s for s in statements)  # now big enough for marks
