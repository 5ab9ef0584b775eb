"""The processing queue: procrastinate's tables in our own database.

A job is added with plain SQL in the caller's transaction (`enqueue`), so an upload and its
processing job commit together or not at all; procrastinate's insert trigger wakes idle
workers (LISTEN/NOTIFY) once that transaction commits.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from coreviz_studio.db.tables import Media
from coreviz_studio.pipeline import priority

QUEUE = "processing"
TASK = "coreviz_studio.process_media"


def lock_name(media_id: uuid.UUID) -> str:
    """One media's jobs run one at a time and are queued at most once."""
    return f"media:{media_id}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def enqueue(session: Session, media: Media, reason: str = "upload", *,
            by: uuid.UUID | None = None, bulk: bool = False) -> bool:
    """Queue processing of `media` in the session's transaction and say so in its metadata.

    `by`: the credential (API key or session) of the person who asked; their jobs form one
    line (priority.py), and without one the organization's jobs share a line. `bulk`: work no
    one waits for (reprocessing a collection), after every person's job.
    False when a job for it is already waiting (the waiting one will see the latest file and
    models, so a second is pointless; a person asking for one that waits as bulk work moves it
    into their line)."""
    line = None if bulk else str(by) if by else f"org:{media.organization_id}"
    waiting = session.execute(
        text("SELECT id, priority FROM procrastinate_jobs "
             "WHERE queueing_lock = :lock AND status = 'todo'"),
        {"lock": lock_name(media.id)},
    ).first()
    if waiting:
        if line and priority.is_background(waiting.priority):
            priority.promote(session, waiting.id, line, QUEUE)
        return False
    args = {"media_id": str(media.id), "organization_id": str(media.organization_id)}
    if line:
        args[priority.UPLOADER] = line
    rank = priority.for_person(session, line, QUEUE) if line else priority.background()
    # A savepoint: two racing enqueues hit the queueing lock's unique index; the loser's
    # transaction (an upload, a reprocess call) must survive that.
    with session.begin_nested() as nested:
        try:
            session.execute(
                text("SELECT procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, "
                     ":lock, :lock, CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])"),
                {"queue": QUEUE, "task": TASK, "priority": rank, "lock": lock_name(media.id),
                 "args": _json(args)},
            )
        except IntegrityError as exc:
            if "queueing_lock" not in str(exc):
                raise
            nested.rollback()
            return False
    set_processing(media, {"status": "queued", "queuedAt": now_iso(), "reason": reason})
    return True


def set_processing(media: Media, state: dict[str, Any]) -> None:
    """Replace `metadata.processing` (server-owned; users cannot write it)."""
    media.metadata_ = {**media.metadata_, "processing": state}


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value)
