"""The queue's visibility (GET /api/queue: counts by state, per organization and collection)
and its order (pipeline/priority.py): a person's upload is fetched before a bulk importer's
backlog and before bulk reprocessing, and two importers take turns. The order is the one
procrastinate's own fetch function gives, on the real queue."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from coreviz_studio.db.session import Database
from coreviz_studio.db.tables import Media
from coreviz_studio.pipeline import priority
from tests import media_files
from tests.jobs import drain, pipeline
from tests.library import Library


def _upload(lib: Library, n: int, headers: dict[str, str] | None = None) -> list[str]:
    ids = []
    for i in range(n):
        colour = f"#{uuid.uuid4().hex[:6]}"  # every file its own (no duplicates)
        r = lib.client.post("/api/upload/multipart", headers=headers or lib.headers,
                            data={"datasetId": lib.id},
                            files={"file": (f"p{uuid.uuid4().hex[:6]}.png",
                                            media_files.image("PNG", (40 + i, 30), color=colour),
                                            "image/png")})
        assert r.status_code == 201, r.text
        ids.append(r.json()["mediaId"])
    return ids


class _Fetcher:
    """procrastinate's fetch (procrastinate_fetch_job_v2) over some media's jobs only: they are
    parked in a queue of their own, as tests/jobs.py drain does, and removed afterwards."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.queue = f"test-{uuid.uuid4().hex}"
        with database.engine.begin() as c:
            self.worker = c.scalar(text("SELECT worker_id FROM procrastinate_register_worker_v1()"))

    def order(self, media_ids: list[str]) -> list[str]:
        with self.database.engine.begin() as c:
            c.execute(text("UPDATE procrastinate_jobs SET queue_name = :own WHERE status = 'todo' "
                           "AND args->>'media_id' = ANY(:media)"),
                      {"own": self.queue, "media": media_ids})
        fetched: list[str] = []
        while True:
            with self.database.engine.begin() as c:
                job = c.execute(text("SELECT id, args->>'media_id' AS media FROM "
                                     "procrastinate_fetch_job_v2(:queues, :worker)"),
                                {"queues": [self.queue], "worker": self.worker}).one()
            if job.id is None:
                return fetched
            fetched.append(job.media)

    def close(self) -> None:
        with self.database.engine.begin() as c:
            c.execute(text("DELETE FROM procrastinate_jobs WHERE queue_name = :own"),
                      {"own": self.queue})
            c.execute(text("SELECT procrastinate_unregister_worker_v1(:w)"), {"w": self.worker})


@pytest.fixture
def fetcher(database: Database) -> Iterator[_Fetcher]:
    f = _Fetcher(database)
    yield f
    f.close()


def _people(make_member: Any, client: Any, n: int) -> tuple[list[Any], Library]:
    """n members of one new organization and a collection of theirs."""
    org = f"queue-{uuid.uuid4().hex[:8]}"
    members = [make_member(org=org) for _ in range(n)]
    return members, Library(client, members[0])


def test_a_persons_upload_goes_before_a_bulk_backlog_and_bulk_reprocessing(  # type: ignore[no-untyped-def]
        client, make_member, settings, database, fetcher) -> None:
    (importer, person), lib = _people(make_member, client, 2)
    done = _upload(lib, 2)
    drain(pipeline(settings, database, models="none"), done)
    backlog = _upload(lib, 4)  # the importer's key
    r = client.post(f"/api/dataset/{lib.id}/reprocess", headers=importer.headers)
    assert r.status_code == 202 and r.json()["queued"] == 2  # the two processed ones
    [single] = _upload(lib, 1, person.headers)

    order = fetcher.order([*done, *backlog, single])
    # The backlog's first job was at the head already; the person's upload comes next, the
    # rest of the backlog after it, and the collection's reprocessing last.
    assert order[:2] == [backlog[0], single]
    assert order[2:5] == backlog[1:]
    assert sorted(order[5:]) == sorted(done)


def test_a_person_asking_for_an_item_moves_its_bulk_job_into_their_line(  # type: ignore[no-untyped-def]
        client, make_member, settings, database, fetcher) -> None:
    (admin, person), lib = _people(make_member, client, 2)
    items = _upload(lib, 3)
    drain(pipeline(settings, database, models="none"), items)
    assert client.post(f"/api/dataset/{lib.id}/reprocess",
                       headers=admin.headers).json()["queued"] == 3
    # bulk reprocessing queues in id order: the person asks for the one that would go last
    last = max(items, key=uuid.UUID)
    r = client.post(f"/api/media/{last}/reprocess", headers=person.headers)
    assert r.status_code == 202 and r.json()["queued"] is False  # the same job, moved
    assert fetcher.order(items) == [last, *sorted(set(items) - {last}, key=uuid.UUID)]


def test_two_bulk_importers_take_turns(client, make_member, fetcher) -> None:  # type: ignore[no-untyped-def]
    (first, second), lib = _people(make_member, client, 2)
    a = _upload(lib, 3, first.headers)
    b = _upload(lib, 3, second.headers)
    assert fetcher.order([*a, *b]) == [a[0], b[0], a[1], b[1], a[2], b[2]]


def test_without_priorities_the_queue_is_first_come_first_served(  # type: ignore[no-untyped-def]
        client, make_member, fetcher, monkeypatch) -> None:
    monkeypatch.setattr(priority, "_enabled", False)
    (first, second), lib = _people(make_member, client, 2)
    a = _upload(lib, 3, first.headers)
    [b] = _upload(lib, 1, second.headers)
    assert fetcher.order([*a, b]) == [*a, b]


def _queue(client: Any, headers: dict[str, str], **params: str) -> dict[str, Any]:
    r = client.get("/api/queue", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _fail_one(settings: Any, database: Database, media_id: str) -> None:
    """Its file gone from storage: processing fails it (a bad file, as far as the job knows)."""
    pipe = pipeline(settings, database, models="none")
    with database.system_sessions() as s:
        key = s.scalar(select(Media.blob_key).where(Media.id == uuid.UUID(media_id)))
    assert key
    pipe.store.delete(key)
    drain(pipe, [media_id])


def test_counts_by_state_per_organization_and_collection(  # type: ignore[no-untyped-def]
        client, make_member, settings, database, fetcher) -> None:
    a, b = make_member(), make_member()
    photos, other = Library(client, a), Library(client, a, name="Other")
    theirs = Library(client, b)
    first, second, *waiting = _upload(photos, 5)
    elsewhere = _upload(other, 2)
    _upload(theirs, 1)
    drain(pipeline(settings, database, models="none"), [first])
    _fail_one(settings, database, second)

    everything = _queue(client, a.headers)
    assert {k: everything[k] for k in ("queued", "processing", "failed", "ready")} == {
        "queued": 5, "processing": 0, "failed": 1, "ready": 1}
    oldest = everything["oldestWaiting"]
    assert oldest["id"] == waiting[0] and oldest["datasetId"] == photos.id
    assert oldest["name"].endswith(".png") and oldest["queuedAt"]

    one = _queue(client, a.headers, datasetId=other.id)
    assert {k: one[k] for k in ("queued", "processing", "failed", "ready")} == {
        "queued": 2, "processing": 0, "failed": 0, "ready": 0}
    assert one["oldestWaiting"]["id"] == elsewhere[0]
    assert _queue(client, a.headers, datasetId=photos.id)["queued"] == 3
    mine = _queue(client, b.headers)
    assert (mine["queued"], mine["ready"], mine["failed"]) == (1, 0, 0)

    # a job a worker has taken is `processing`
    fetched = fetcher.order([elsewhere[0]])
    assert fetched == [elsewhere[0]]
    now = _queue(client, a.headers, datasetId=other.id)
    assert (now["queued"], now["processing"]) == (1, 1)
    assert now["oldestWaiting"]["id"] == elsewhere[1]

    # another organization's collection is not found; theirs sees none of ours
    r = client.get("/api/queue", headers=a.headers, params={"datasetId": theirs.id})
    assert r.status_code == 404, r.text
    assert _queue(client, b.headers, datasetId=theirs.id)["queued"] == 1


def test_an_empty_queue_has_no_oldest(client, make_member) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    assert _queue(client, member.headers) == {"queued": 0, "processing": 0, "failed": 0,
                                              "ready": 0, "oldestWaiting": None,
                                              "withFailedStep": 0}


def test_a_collection_scoped_key_counts_only_its_collections(client, make_member) -> None:  # type: ignore[no-untyped-def]
    owner = make_member()
    first, second = Library(client, owner, "First"), Library(client, owner, "Second")
    mine = _upload(first, 1)
    _upload(second, 2)
    r = client.post("/api/auth/api-key/create", headers=owner.headers,
                    json={"name": "scoped", "collections": [first.id]})
    assert r.status_code == 200, r.text
    scoped = {"x-api-key": r.json()["key"]}
    assert _queue(client, owner.headers)["queued"] == 3
    seen = _queue(client, scoped)
    assert seen["queued"] == 1 and seen["oldestWaiting"]["id"] == mine[0]
    r = client.get("/api/queue", headers=scoped, params={"datasetId": second.id})
    assert r.status_code == 404, r.text
