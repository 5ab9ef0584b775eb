"""Trouble of the server, not of the media: a full disk, a database that went away.

A job that hits it is not the file's fault, so it never ends `failed` and does not use up the
job's attempts: the media stays `queued` (saying what it waits for) and the job runs again
later, as often as it takes.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import DBAPIError

from coreviz_studio.diskspace import is_out_of_space

DISK = "disk space"
DATABASE = "the database"
DATABASE_DISK = "disk space for the database"


class Waiting(Exception):
    """The job stopped for want of `what`; the queue runs it again in `delay` seconds."""

    def __init__(self, what: str, delay: float) -> None:
        super().__init__(f"waiting for {what}")
        self.what = what
        self.delay = delay


class RetryLater(Exception):
    """An ordinary failure that still has attempts left: run again in `delay` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__(f"retrying in {delay:g} s")
        self.delay = delay


def waits_for(exc: BaseException) -> str | None:
    """What the job lacks when `exc` is the server's trouble (DISK, DATABASE...), else None."""
    if is_out_of_space(exc):
        return DISK
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 10:  # a bounded walk: cause chains can loop
        if isinstance(current, DBAPIError) and current.orig is not None:
            current = current.orig
        if isinstance(current, psycopg.OperationalError):
            return _database_trouble(current)
        current = current.__cause__ or current.__context__
        seen += 1
    return None


def _database_trouble(err: psycopg.OperationalError) -> str | None:
    """Only the database being away or out of resources; a value over a limit or a timeout
    would fail the same way every time."""
    state = err.sqlstate or ""
    if state == "53100":
        return DATABASE_DISK
    # none: the connection broke; 08 connection, 53 resources, 57P shutdown, 58 I/O.
    if not state or state[:2] in ("08", "53", "58") or state.startswith("57P"):
        return DATABASE
    return None
