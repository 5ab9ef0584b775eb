"""Running the processing queue from tests, with a chosen set of models."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text

from coreviz_studio.config import Settings
from coreviz_studio.db.session import Database
from coreviz_studio.pipeline import worker
from coreviz_studio.pipeline.process import Pipeline
from coreviz_studio.pipeline.queue import QUEUE
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
    """Run the waiting jobs of these media (and only theirs) until none is left to run now.

    Their jobs are parked in a queue of their own for the run and a real worker (the one `serve`
    and `coreviz-studio worker` run: retries, job states, heartbeats) works through that queue
    alone; then whatever is left (a retry waiting for its backoff) goes back to the processing
    queue. Other tests' jobs are never run, moved or deleted."""
    media = [str(uuid.UUID(m)) for m in only]
    own = f"test-{uuid.uuid4().hex}"
    with pipe.db.engine.begin() as c:
        c.execute(text("UPDATE procrastinate_jobs SET queue_name = :own "
                       "WHERE queue_name = :queue AND status = 'todo' "
                       "AND args->>'media_id' = ANY(:media)"),
                  {"own": own, "queue": QUEUE, "media": media})
    try:
        worker.run_until_empty(pipe, queue=own)
    finally:
        with pipe.db.engine.begin() as c:
            c.execute(text("UPDATE procrastinate_jobs SET queue_name = :queue "
                           "WHERE queue_name = :own"), {"own": own, "queue": QUEUE})
