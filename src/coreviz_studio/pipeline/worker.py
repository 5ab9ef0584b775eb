"""Workers: procrastinate runs the jobs; we add the recovery of stalled ones.

The same code runs inside `serve` (by default) and as `coreviz-studio worker`, on this machine
or any other that reaches the database. A worker sends a heartbeat; when one dies mid-job (a
kill, a crash, a lost machine), any other worker notices the silent heartbeat after
`stalled_after_seconds` and queues that job again (procrastinate reports stalled jobs but
leaves retrying them to us).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

import procrastinate

from coreviz_studio.pipeline.process import Pipeline, process, sweep_scratch
from coreviz_studio.pipeline.queue import QUEUE, TASK

log = logging.getLogger(__name__)


def make_app(pipe: Pipeline) -> procrastinate.App:
    settings = pipe.settings
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=pipe.db.url, min_size=1, max_size=4))
    # max_attempts counts retries; procrastinate reads 0 as "no limit", hence `False` for none.
    retries: procrastinate.RetryStrategy | bool = False
    if settings.job_attempts > 1:
        retries = procrastinate.RetryStrategy(
            max_attempts=settings.job_attempts - 1,
            exponential_wait=settings.job_retry_backoff_seconds)

    @app.task(name=TASK, queue=QUEUE, pass_context=True, retry=retries)
    def process_media(context: procrastinate.JobContext, media_id: str) -> str:
        job = context.job
        attempt = job.attempts + 1
        return process(pipe, uuid.UUID(media_id), attempt=attempt,
                       last_attempt=attempt >= settings.job_attempts)

    return app


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run(pipe: Pipeline, *, wait: bool = True, install_signal_handlers: bool = False,
              concurrency: int | None = None, queue: str = QUEUE) -> None:
    """Work through the queue: forever (`wait`), or until it is empty (tests, one-shot runs).

    `queue` is the processing queue unless a caller parked some jobs in a queue of their own
    (the tests do, to run only theirs)."""
    settings = pipe.settings
    app = make_app(pipe)
    options: dict[str, Any] = {
        "queues": [queue], "wait": wait, "name": worker_name(),
        "concurrency": concurrency or settings.worker_concurrency,
        "install_signal_handlers": install_signal_handlers,
        "update_heartbeat_interval": settings.worker_heartbeat_seconds,
        "stalled_worker_timeout": settings.stalled_after_seconds,
        "delete_jobs": "successful",
    }
    if swept := sweep_scratch(settings):
        log.info("removed %d folders left by stopped workers", swept)
    async with app.open_async():
        await recover_stalled(app, settings.stalled_after_seconds, queue)
        watcher = asyncio.create_task(_watch_stalled(app, settings.stalled_after_seconds, queue))
        try:
            await app.run_worker_async(**options)
        finally:
            watcher.cancel()


async def _watch_stalled(app: procrastinate.App, stalled_after: float, queue: str) -> None:
    while True:
        await asyncio.sleep(max(stalled_after / 3, 0.5))
        try:
            await recover_stalled(app, stalled_after, queue)
        except Exception:  # the database may be briefly away; try again next round
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
