"""Workers: procrastinate runs the jobs; we add the recovery of stalled ones.

The same code runs inside `serve` (by default) and as `coreviz-studio worker`, on this machine
or any other that reaches the database. A worker sends a heartbeat; when one dies mid-job (a
kill, a crash, a lost machine), any other worker notices the silent heartbeat after
`stalled_after_seconds` and queues that job again (procrastinate reports stalled jobs but
leaves retrying them to us). When the database goes away, a worker waits and reconnects
instead of exiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Coroutine, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import procrastinate
import psycopg

from coreviz_studio.lifecycle import purge, sweep
from coreviz_studio.pipeline import missing_thumbnails
from coreviz_studio.pipeline.process import Pipeline, process, sweep_scratch
from coreviz_studio.pipeline.queue import QUEUE, TASK
from coreviz_studio.pipeline.transient import RetryLater, Waiting, waits_for
from coreviz_studio.uploads import tus

log = logging.getLogger(__name__)


class _Retries(procrastinate.BaseRetryStrategy):
    """process() decides: Waiting (disk, database) and RetryLater carry their delay; any
    other exception is a last attempt."""

    def get_retry_decision(self, *, exception: BaseException,
                           job: procrastinate.jobs.Job) -> procrastinate.RetryDecision | None:
        if isinstance(exception, Waiting | RetryLater):
            when = datetime.now(UTC) + timedelta(seconds=exception.delay)
            return procrastinate.RetryDecision(retry_at=when)
        return None


def make_app(pipe: Pipeline) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=pipe.db.url, min_size=1, max_size=4))

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=_Retries())
    def process_media(context: procrastinate.JobContext, media_id: str,
                      organization_id: str | None = None, uploader: str | None = None) -> str:
        # `uploader` names the job's line in the queue (priority.py); the job needs nothing of it
        return process(pipe, uuid.UUID(media_id), run=context.job.attempts + 1,
                       organization_id=uuid.UUID(organization_id) if organization_id else None)

    # A failed purge is retried (it is idempotent); after the last try the periodic purge
    # picks the entry up again once it is old enough.
    @app.task(name=purge.TASK, queue=QUEUE, retry=procrastinate.RetryStrategy(
        max_attempts=pipe.settings.job_attempts, exponential_wait=4))
    def purge_media(media_id: str, organization_id: str) -> int:
        return purge.purge(replace(pipe, organization_id=uuid.UUID(organization_id)),
                           uuid.UUID(media_id))

    # A failure to fetch or store is retried; a picture that cannot be made is not (logged).
    @app.task(name=missing_thumbnails.TASK, queue=QUEUE, retry=procrastinate.RetryStrategy(
        max_attempts=pipe.settings.job_attempts, exponential_wait=4))
    def make_thumbnail(media_id: str, organization_id: str) -> str:
        return missing_thumbnails.make_missing(
            replace(pipe, organization_id=uuid.UUID(organization_id)), uuid.UUID(media_id))

    # Periodic upkeep, in a queue of its own that only full workers (not tests' drains) run;
    # procrastinate defers each tick once whichever worker sees it first.
    @app.periodic(cron=PURGE_CRON, periodic_id="purge-trash")
    @app.task(name="coreviz_studio.purge_trash", queue=MAINTENANCE, queueing_lock="purge-trash")
    def purge_trash(timestamp: int) -> int:
        return purge.purge_expired(pipe, datetime.fromtimestamp(timestamp, UTC))

    @app.periodic(cron=SWEEP_CRON, periodic_id="sweep-orphans")
    @app.task(name="coreviz_studio.sweep_orphans", queue=MAINTENANCE,
              queueing_lock="sweep-orphans")
    def sweep_orphan_blobs(timestamp: int) -> int:
        return sweep.sweep_orphans(pipe.db, pipe.store,
                                   timedelta(hours=pipe.settings.orphan_grace_hours),
                                   datetime.fromtimestamp(timestamp, UTC))

    @app.periodic(cron=TUS_CRON, periodic_id="expire-uploads")
    @app.task(name="coreviz_studio.expire_uploads", queue=MAINTENANCE,
              queueing_lock="expire-uploads")
    def expire_uploads(timestamp: int) -> int:
        return tus.remove_expired(pipe.db, pipe.store, datetime.fromtimestamp(timestamp, UTC))

    return app


MAINTENANCE = "maintenance"
PURGE_CRON = "17 * * * *"  # hourly: trash_days is counted in days
SWEEP_CRON = "43 */6 * * *"  # every 6 hours: orphan_grace_hours is at least one
TUS_CRON = "29 * * * *"  # hourly: tus_expiry_hours is at least one


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run(pipe: Pipeline, *, wait: bool = True, install_signal_handlers: bool = False,
              concurrency: int | None = None, queue: str = QUEUE) -> None:
    """Work through the queue: forever (`wait`), or until it is empty (tests, one-shot runs).
    Forever means through database outages too: the worker waits, reconnects and goes on;
    only a stop (a signal, or cancelling this task) ends it. `queue` is the processing queue
    unless a caller parked some jobs in a queue of their own (the tests do, to run only
    theirs)."""
    settings = pipe.settings
    options: dict[str, Any] = {
        # The processing queue's workers also do the upkeep; a queue of a caller's own is just
        # that queue.
        "queues": [queue, MAINTENANCE] if queue == QUEUE else [queue],
        "wait": wait, "name": worker_name(),
        "concurrency": concurrency or settings.worker_concurrency,
        # With `wait` we handle the signals: a stop must end the reconnect loop too.
        "install_signal_handlers": install_signal_handlers and not wait,
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.stalled_after_seconds,
        "delete_jobs": "successful",
    }
    if swept := sweep_scratch(settings):
        log.info("removed %d folders left by stopped workers", swept)
    if not wait:
        await _run_once(pipe, options)
        return
    stopping = asyncio.Event()
    with _stop_on_signals(stopping, install_signal_handlers):
        delay = _FIRST_DELAY
        while not stopping.is_set():
            began = time.monotonic()
            try:
                await _until(stopping, _run_once(pipe, options))
                problem = "the worker stopped by itself"  # e.g. its heartbeat failed
            except Exception as exc:
                problem = (f"the database is unavailable ({type(exc).__name__}: {exc})"
                           if waits_for(exc) else f"the worker failed: {exc!r}")
                if not waits_for(exc):
                    log.exception("worker %s failed", worker_name())
            if stopping.is_set():
                break
            if time.monotonic() - began > _HEALTHY_RUN:
                delay = _FIRST_DELAY
            log.warning("worker %s: %s; it waits %g s and reconnects", worker_name(), problem,
                        delay)
            await _until(stopping, asyncio.sleep(delay))
            delay = min(delay * 2, _MAX_DELAY)


_FIRST_DELAY, _MAX_DELAY = 0.5, 10.0  # seconds between reconnects: cheap when it is down
_HEALTHY_RUN = 60.0  # a run this long was not part of the same outage


async def _run_once(pipe: Pipeline, options: dict[str, Any]) -> None:
    # Fail fast while the database is away (opening the pool would wait 30 s for it).
    await (await psycopg.AsyncConnection.connect(pipe.db.url, connect_timeout=10)).close()
    app = make_app(pipe)
    stalled_after = pipe.settings.stalled_after_seconds
    queues = options["queues"]
    async with app.open_async():
        for queue in queues:
            await recover_stalled(app, stalled_after, queue)
        watcher = asyncio.create_task(_watch_stalled(app, stalled_after, queues))
        try:
            await app.run_worker_async(**options)
        finally:
            watcher.cancel()


async def _until(stop: asyncio.Event, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` until it ends (its error is raised) or `stop` is set (it is cancelled: a
    procrastinate worker then stops gracefully, letting running jobs finish)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
    if not task.cancelled():
        task.result()


@contextlib.contextmanager
def _stop_on_signals(stopping: asyncio.Event, install: bool) -> Iterator[None]:
    """SIGINT/SIGTERM set `stopping` once; a second one acts as usual (ends the process)."""
    signals = (signal.SIGINT, signal.SIGTERM)
    loop = asyncio.get_running_loop()

    def stop() -> None:
        log.info("worker %s stopping (running jobs finish first)", worker_name())
        stopping.set()
        for sig in signals:
            loop.remove_signal_handler(sig)

    if install:
        for sig in signals:
            loop.add_signal_handler(sig, stop)
    try:
        yield
    finally:
        if install:
            for sig in signals:
                loop.remove_signal_handler(sig)


async def _watch_stalled(app: procrastinate.App, stalled_after: float,
                         queues: list[str]) -> None:
    while True:
        await asyncio.sleep(max(stalled_after / 3, 0.5))
        try:
            for queue in queues:
                await recover_stalled(app, stalled_after, queue)
        except Exception as exc:  # the database may be briefly away; try again next round
            if waits_for(exc):
                log.warning("stalled-job check failed: the database is unavailable")
            else:
                log.exception("stalled-job check failed")


async def recover_stalled(app: procrastinate.App, stalled_after: float,
                          queue: str = QUEUE) -> int:
    """Queue again every job whose worker stopped sending heartbeats; how many."""
    stalled = await app.job_manager.get_stalled_jobs(queue=queue,
                                                     seconds_since_heartbeat=stalled_after)
    count = 0
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
            count += 1
            log.warning("job %s (%s) was left by a stopped worker; queued again",
                        job.id, job.task_kwargs)
        except Exception:  # another worker requeued it first
            log.debug("job %s already requeued", job.id)
    return count


def run_until_empty(pipe: Pipeline, queue: str = QUEUE) -> None:
    """Process everything queued, then return (tests; `worker --until-empty` is the CLI's)."""
    asyncio.run(run(pipe, wait=False, install_signal_handlers=False, queue=queue))
