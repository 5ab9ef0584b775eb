"""Which steps a job runs, and running each one so that its failure stays its own.

- No usable decode (a new upload, a full reprocess, a decode of an older revision): decode and
  every step.
- Otherwise the steps not ready and current: failed ones, ones asked for (`reprocess --step`,
  recorded as "queued"), and ones whose model, version or revision differs from the recorded
  (a new or changed model); plus, after each, the steps that read what it writes (`needs`).
  A ready step whose model is no longer configured is left as it is (its rows stay).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models
from coreviz_studio.db.tables import Media
from coreviz_studio.pipeline import transient
from coreviz_studio.pipeline.queue import now_iso, set_processing
from coreviz_studio.pipeline.steps import DECODE, STEPS
from coreviz_studio.pipeline.steps.base import FrameView, Run, Step, is_current, load_frames

log = logging.getLogger(__name__)

DECODE_REVISION = 1  # bump when decode writes frames differently: every media decodes again
READY, FAILED, SKIPPED, QUEUED = "ready", "failed", "skipped", "queued"
CHUNK = 16  # frames whose images a run holds at once


class Gone(Exception):
    """The media was deleted or replaced while it was being processed."""


def decode_key() -> dict[str, Any]:
    return {"model": DECODE, "version": "", "revision": DECODE_REVISION}


def needs_decode(records: dict[str, Any]) -> bool:
    record = records.get(DECODE)
    return not (record and record.get("status") == READY and is_current(record, decode_key()))


def plan(records: dict[str, Any], models: Models) -> list[Step]:
    """The steps to run after a decode that is already stored, in order."""
    chosen: set[str] = set()
    for step in STEPS:
        record = records.get(step.name)
        status = (record or {}).get("status")
        if status in (FAILED, QUEUED) or (record is not None and status is None):
            chosen.add(step.name)
        elif step.configured(models) and not is_current(record, step.key(models)):
            chosen.add(step.name)  # never run, or its model is new or changed
        elif any(n in chosen for n in step.needs):
            chosen.add(step.name)
    return [s for s in STEPS if s.name in chosen]


def changed_steps(records: dict[str, Any], models: Models) -> list[str]:
    """The steps a media would run now without being asked (`reprocess --changed`)."""
    if needs_decode(records):
        return [DECODE]
    return [s.name for s in plan(records, models)]


def run_steps(run: Run, steps: list[Step], attempt: int) -> list[str]:
    """Run `steps` in order; the names of those that failed (each recorded with its reason).
    Raises what a job must not swallow: the server's trouble (transient) and Gone.

    The per-frame steps go first, together, a chunk of frames at a time: each frame image is
    loaded once, given to each of them (and to the later steps' `prepare`), then let go, so a
    long video never holds all its frames in memory. Then the later steps, one after another,
    each reading what the ones before it stored."""
    per_frame = [s for s in steps if s.per_frame]
    later = [s for s in steps if not s.per_frame]
    failed = _run_per_frame(run, per_frame, later, attempt) if per_frame or later else []
    for step in later:
        started = time.perf_counter()
        result: Any = None
        error: Exception | None = None
        frames: list[FrameView] = []
        if step.reads_frames:
            with run.pipe.session() as session:
                frames = load_frames(session, run.media_id)
        try:
            if step.configured(run.models):
                with run.timings.stage(step.name):
                    result = step.compute(run, frames)
        except Exception as exc:
            error = _own(exc)
        failed += _finish(run, frames, [(step, result, error, time.perf_counter() - started)],
                          attempt)
    return failed


def _run_per_frame(run: Run, steps: list[Step], later: list[Step], attempt: int) -> list[str]:
    with run.pipe.session() as session:
        frames = load_frames(session, run.media_id)
    results: dict[str, dict[Any, Any]] = {s.name: {} for s in steps}
    errors: dict[str, Exception] = {}
    seconds: dict[str, float] = {s.name: 0.0 for s in steps}
    due = [s for s in steps if s.configured(run.models)]
    for start in range(0, len(frames), CHUNK):
        chunk = frames[start:start + CHUNK]
        for step in due:
            if step.name in errors:
                continue
            began = time.perf_counter()
            try:
                with run.timings.stage(step.name):
                    results[step.name].update(step.compute(run, chunk))
            except Exception as exc:
                errors[step.name] = _own(exc)
            seconds[step.name] += time.perf_counter() - began
        for step in later:
            try:
                step.prepare(run, chunk)
            except Exception as exc:  # its own compute tries again, and reports
                _own(exc)
        run.release(chunk)
    return _finish(run, frames, [(step, results[step.name] if step in due else None,
                                  errors.get(step.name), seconds[step.name]) for step in steps],
                   attempt)


def _own(exc: Exception) -> Exception:
    """`exc` if it is the step's own failure; the server's trouble is raised for the job."""
    if isinstance(exc, Gone) or transient.waits_for(exc) is not None:
        raise exc
    return exc


Outcome = tuple[Step, Any, Exception | None, float]  # step, result, its error, seconds


def _finish(run: Run, frames: list[FrameView], outcomes: list[Outcome],
            job_attempt: int) -> list[str]:
    """Write each step's rows, each in its own savepoint, and then all their states (or
    failures), in one transaction: a write that fails is undone alone and recorded as its
    step's failure. One transaction for the per-frame steps together, not one each. The names
    of the steps that failed."""
    failed: list[str] = []
    with run.pipe.session() as session:
        media = locked(session, run)
        records: dict[str, dict[str, Any]] = {}
        for step, result, error, seconds in outcomes:
            key = step.key(run.models)
            if error is None:
                started = time.perf_counter()
                try:
                    with session.begin_nested():
                        notes = step.write(session, media, frames, result)
                    status = READY if step.configured(run.models) else SKIPPED
                    records[step.name] = {"status": status, **key, **_timing(
                        media, step.name, seconds + time.perf_counter() - started, job_attempt)}
                    if notes:
                        records[step.name]["notes"] = notes
                    continue
                except Exception as exc:
                    error = _own(exc)
            message = f"{type(error).__name__}: {str(error)[:300]}"
            log.warning("media %s: step %s failed: %s", run.media_id, step.name, message)
            records[step.name] = {"status": FAILED, **key, "error": message,
                                  **_timing(media, step.name, seconds, job_attempt)}
            failed.append(step.name)
        record_steps(media, records)
    return failed


def _timing(media: Media, name: str, seconds: float, job_attempt: int) -> dict[str, Any]:
    """attempt: this step's tries in a row (1 after a success), seconds, when it ended."""
    before = steps_of(media).get(name) or {}
    attempt = int(before.get("attempt") or 0) + 1 if before.get("status") == FAILED else 1
    return {"attempt": attempt, "jobAttempt": job_attempt, "seconds": round(seconds, 3),
            "finishedAt": now_iso()}


def steps_of(media: Media) -> dict[str, Any]:
    return dict((media.metadata_.get("processing") or {}).get("steps") or {})


def record_steps(media: Media, records: dict[str, dict[str, Any]]) -> None:
    """Set these steps' states (one write of the media's metadata for them all)."""
    state = dict(media.metadata_.get("processing") or {})
    set_processing(media, {**state, "steps": {**steps_of(media), **records}})


def locked(session: Session, run: Run) -> Media:
    """The media row, locked, while it is still the one this run works on."""
    media = session.scalar(select(Media).where(Media.id == run.media_id).with_for_update())
    if media is None or media.status != "active" or media.blob_key != run.blob_key:
        raise Gone
    return media
