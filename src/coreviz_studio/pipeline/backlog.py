"""Where an organization's processing stands: how many items wait, run, failed or are ready,
and which one has waited longest (`GET /api/queue`, docs/queue.md).

Waiting and running come from the job queue (a job's arguments name its organization), read
through the media they are about, so row-level security keeps a collection-scoped key to its
collections; failed and ready from the items' own state. Every count reads an index only
(migration 0012): the cost follows the backlog, not the size of the library.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.ids import IdRef
from coreviz_studio.pipeline.queue import TASK

# MATERIALIZED: the join to media then compares plain uuids, which row-level security lets the
# planner use on media's primary key (a cast of the job's jsonb in the join would not be).
_JOBS = """
    WITH jobs AS MATERIALIZED (
        SELECT (args->>'media_id')::uuid AS media_id, status, id FROM procrastinate_jobs
         WHERE task_name = :task AND status IN ('todo', 'doing')
           AND args->>'organization_id' = CAST(:org AS text))
"""
_MEDIA = ("m.id = j.media_id AND m.status = 'active' AND m.organization_id = CAST(:org AS uuid)"
          " AND (CAST(:dataset AS uuid) IS NULL OR m.dataset_id = CAST(:dataset AS uuid))")
_BY_JOB_STATE = text(_JOBS + f"""
    SELECT j.status::text AS state, count(*) AS n FROM jobs j JOIN media m ON {_MEDIA}
     GROUP BY j.status""")  # noqa: S608 - constants only
# In job order, stopping at the first visible item: the index's order, not a sort of the
# backlog. OFFSET 0 keeps the subquery whole, so the join compares plain uuids (as above).
_OLDEST = text("""
    SELECT m.id, m.name, m.dataset_id, m.metadata->'processing'->>'queuedAt' AS queued_at
      FROM (SELECT (args->>'media_id')::uuid AS media_id, id FROM procrastinate_jobs
             WHERE task_name = :task AND status = 'todo'
               AND args->>'organization_id' = CAST(:org AS text)
             ORDER BY id OFFSET 0) j
      JOIN media m ON """ + _MEDIA + """
     ORDER BY j.id LIMIT 1""")  # noqa: S608 - constants only
# Each matches the predicate of its partial index (media_ready_idx, media_failed_idx).
_IN_STATE = ("SELECT count(*) FROM media WHERE status = 'active' AND type <> 'folder'"
             " AND (metadata->'processing'->>'status') = '{state}'"
             " AND organization_id = CAST(:org AS uuid)"
             " AND (CAST(:dataset AS uuid) IS NULL OR dataset_id = CAST(:dataset AS uuid))")
# media_step_failed_idx (migration 0014): ready items with a failed step (docs/processing.md).
_STEP_FAILED = ("SELECT count(*) FROM media WHERE status = 'active' AND type <> 'folder'"
                " AND (metadata->'processing'->'failedSteps') IS NOT NULL"
                " AND organization_id = CAST(:org AS uuid)"
                " AND (CAST(:dataset AS uuid) IS NULL OR dataset_id = CAST(:dataset AS uuid))")
_DONE = text(f"SELECT ({_IN_STATE.format(state='ready')}) AS ready,"
             f" ({_IN_STATE.format(state='failed')}) AS failed,"
             f" ({_STEP_FAILED}) AS step_failed")


@dataclass(frozen=True)
class Waiting:
    id: uuid.UUID
    name: str
    dataset_id: uuid.UUID
    queued_at: str | None


@dataclass(frozen=True)
class Backlog:
    queued: int
    processing: int
    failed: int
    ready: int
    oldest: Waiting | None
    with_failed_step: int = 0  # usable items one of whose steps failed (counted in `ready`)


def backlog(session: Session, principal: Principal, dataset_id: IdRef | None = None) -> Backlog:
    """The caller's organization's items by state (of one collection, when given: another
    organization's is not found)."""
    dataset = get_dataset(session, principal, dataset_id).id if dataset_id else None
    params: dict[str, Any] = {"task": TASK, "org": str(principal.organization_id),
                              "dataset": str(dataset) if dataset else None}
    jobs = {row.state: int(row.n) for row in session.execute(_BY_JOB_STATE, params)}
    done = session.execute(_DONE, params).one()
    first = session.execute(_OLDEST, params).first()
    oldest = (Waiting(first.id, first.name, first.dataset_id, first.queued_at)
              if first else None)
    return Backlog(queued=jobs.get("todo", 0), processing=jobs.get("doing", 0),
                   failed=int(done.failed), ready=int(done.ready), oldest=oldest,
                   with_failed_step=int(done.step_failed))
