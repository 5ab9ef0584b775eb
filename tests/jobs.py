"""Running the processing queue from tests, with a chosen set of models."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from coreviz_studio.config import Settings
from coreviz_studio.db.session import Database
from coreviz_studio.pipeline import worker
from coreviz_studio.pipeline.process import Pipeline
from coreviz_studio.storage.local import LocalBlobStore


def pipeline(settings: Settings, database: Database, **overrides: Any) -> Pipeline:
    """A pipeline on the test database and blob store; `models="none"` for plumbing tests."""
    custom = settings.model_copy(update=overrides)
    return Pipeline(database, LocalBlobStore(custom.effective_blob_dir()), custom)


def jobs_of(database: Database, media_id: str) -> list[dict[str, Any]]:
    with database.engine.connect() as c:
        rows = c.execute(text("SELECT id, status, attempts FROM procrastinate_jobs "
                              "WHERE args->>'media_id' = :m ORDER BY id"), {"m": media_id})
        return [dict(r._mapping) for r in rows]


def drain(pipe: Pipeline, only: list[str]) -> None:
    """Run the queue until it is empty, after dropping the jobs other tests queued (their
    uploads are not this test's business and would only cost time)."""
    keep = [str(uuid.UUID(m)) for m in only]
    with pipe.db.engine.begin() as c:
        c.execute(text("DELETE FROM procrastinate_jobs WHERE status = 'todo' "
                       "AND NOT (args->>'media_id' = ANY(:keep))"), {"keep": keep})
    worker.run_until_empty(pipe)
