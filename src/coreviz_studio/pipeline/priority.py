"""Which waiting job a worker takes first (docs/queue.md).

procrastinate fetches the waiting job of highest `priority` first, the oldest (lowest id) among
equals. We give jobs two bands:

- a person's work (an upload, reprocessing one item, a restore): each uploader (the API key or
  signed-in session that queued it) has a line of its own. Its next job goes one below its last
  waiting one; an uploader with nothing waiting joins at the head of the queue (the highest
  waiting priority). So uploaders take turns, one job each, and the first upload of someone who
  isn't bulk-importing waits for at most one job per other active uploader, not for a backlog
  of 1,000; two bulk importers share the workers evenly from the moment the second one starts.
- background work (reprocessing a collection or everything, thumbnail backfill, purges): far
  below every person's job, in arrival order. A person who asks for an item whose job waits
  there (reprocessing it) moves that job into their line.

Computing a priority costs two index probes (coreviz_jobs_uploader_idx, and procrastinate's own
priority index), whatever the backlog. `queue_priorities=false` puts every job at 0: FIFO.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

TOP = 0  # an uploader alone in an empty queue
FLOOR = -1_000_000_000  # a person's line never sinks into the background band
BACKGROUND = -1_500_000_000
UPLOADER = "uploader"  # the job argument naming a person's line

# The uploader's last waiting job (the lowest priority of its line): one probe of
# coreviz_jobs_uploader_idx (migration 0012).
_LAST = text("SELECT min(priority) FROM procrastinate_jobs "
             "WHERE status = 'todo' AND args->>'uploader' = :uploader")
# The head of the people's band: the first entries of procrastinate's (priority desc, id) index.
_HEAD = text("SELECT max(priority) FROM procrastinate_jobs "
             "WHERE status = 'todo' AND queue_name = :queue AND priority >= :floor")

_enabled: bool | None = None


def configure(enabled: bool) -> None:
    """The server's setting (create_app); other processes read COREVIZ_QUEUE_PRIORITIES."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    if _enabled is None:
        from coreviz_studio.config import get_settings

        return get_settings().queue_priorities
    return _enabled


def for_person(session: Session, uploader: str, queue: str) -> int:
    """The priority of the next job in `uploader`'s line."""
    if not enabled():
        return 0
    last = session.scalar(_LAST, {"uploader": uploader})
    if last is not None:
        return max(int(last) - 1, FLOOR)
    head = session.scalar(_HEAD, {"queue": queue, "floor": FLOOR})
    return TOP if head is None else min(int(head), TOP)


def background() -> int:
    """The priority of bulk work: after every person's job."""
    return BACKGROUND if enabled() else 0


def is_background(rank: int) -> bool:
    return rank < FLOOR


_PROMOTE = text("UPDATE procrastinate_jobs SET priority = :priority,"
                " args = args || jsonb_build_object('uploader', CAST(:uploader AS text))"
                " WHERE id = :id AND status = 'todo'")


def promote(session: Session, job_id: int, uploader: str, queue: str) -> None:
    """A person asks for an item whose job waits as bulk work: it joins their line."""
    session.execute(_PROMOTE, {"priority": for_person(session, uploader, queue),
                               "uploader": uploader, "id": job_id})
