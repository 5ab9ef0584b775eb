"""One processing job: decode a media into frames (the first step), then the steps that are
due (steps/runner.py), each storing its own results; docs/processing.md.

`metadata.processing` tells users where it stands: queued → processing → ready, or failed with
a readable `error`. A file that cannot be decoded fails at once (retrying cannot help); a step
that fails fails alone (the item is ready, `failedSteps` says which) and the job is retried
with backoff for it; a full disk or a database away is the server's trouble: the media stays
queued, says what it waits for, and is retried for as long as it takes (see transient.py); any
other error is retried by the queue and marked failed only on the last attempt.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from coreviz_studio import owners
from coreviz_studio.ai.registry import Models, models_for
from coreviz_studio.config import Settings
from coreviz_studio.db.rls import scope_session
from coreviz_studio.db.session import Database
from coreviz_studio.db.tables import Media
from coreviz_studio.pipeline import thumbnail, transient
from coreviz_studio.pipeline.analyze import Timings
from coreviz_studio.pipeline.decode import BadMedia, Limits
from coreviz_studio.pipeline.queue import now_iso, set_processing
from coreviz_studio.pipeline.sandbox import DecodeFailed, decode_isolated
from coreviz_studio.pipeline.steps import DECODE, NAMES, STEPS, runner
from coreviz_studio.pipeline.steps.base import Run
from coreviz_studio.pipeline.store import replace_frames
from coreviz_studio.storage.base import BlobStore, NotStored, put_file

log = logging.getLogger(__name__)
_SCRATCH = "frames-"  # + the owner's tag: see owners.py


@dataclass
class Pipeline:
    """What a job needs, built once per worker process."""

    db: Database
    store: BlobStore
    settings: Settings
    organization_id: uuid.UUID | None = None  # the job's, set by process()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction that sees only the job's organization (row-level security)."""
        if self.organization_id is None:
            raise RuntimeError("a pipeline session needs the job's organization")
        with self.db.sessions.begin() as session:
            scope_session(session, self.organization_id)
            yield session

    def models(self) -> Models:
        return models_for(self.settings)

    def limits(self) -> Limits:
        s = self.settings
        return Limits(frame_max_side=s.frame_max_side, thumbnail_max_side=s.thumbnail_max_side,
                      max_pixels=s.max_image_pixels, video_max_frames=s.video_max_frames,
                      video_interval=s.video_frame_interval_seconds,
                      video_max_seconds=s.video_max_seconds, pdf_max_pages=s.pdf_max_pages)


def process(pipe: Pipeline, media_id: uuid.UUID, run: int = 1,
            organization_id: uuid.UUID | None = None) -> str:
    """Run one job; returns "ready", "failed" or "skipped" (the media is gone). `run` counts
    the starts of this job, this one included; the runs that waited for disk space or the
    database are not attempts. Raises RetryLater or Waiting for the queue to run it again,
    the error itself on the last attempt. The job's sessions see only the media's organization
    (row-level security); jobs queued before they carried it look it up."""
    started = time.perf_counter()
    attempt = run
    org = organization_id or _organization_of(pipe, media_id)
    if org is None:
        return "skipped"
    pipe = replace(pipe, organization_id=org)
    try:
        try:
            with pipe.session() as session:
                media = _locked(session, media_id)
                if media is None:
                    return "skipped"
                kept = _kept(media)
                attempt = max(1, run - int(kept.get("waits", 0)))
                set_processing(media, {**kept, "status": "processing",
                                       "startedAt": now_iso(), "attempt": attempt})
                kind, blob_key = media.type, media.blob_key
                records = dict(kept.get("steps") or {})
            return _run(pipe, media_id, kind, blob_key, attempt, started, records)
        except (BadMedia, DecodeFailed) as exc:
            _finish(pipe, media_id, {"status": "failed", "error": str(exc), "attempt": attempt})
            log.info("media %s failed: %s", media_id, exc)
            return "failed"
    except transient.RetryLater:  # a step failed; its state and the media's are written
        raise
    except Exception as exc:
        what = transient.waits_for(exc)
        if what is not None:
            raise _wait(pipe, media_id, what, exc) from exc
        _failed(pipe, media_id, attempt, exc)


def _failed(pipe: Pipeline, media_id: uuid.UUID, attempt: int, exc: Exception) -> NoReturn:
    """An unexpected error: retried with backoff until the last attempt, which fails."""
    last = attempt >= pipe.settings.job_attempts
    error = f"processing error: {type(exc).__name__}: {str(exc)[:300]}"
    state = {"status": "failed", "error": error, "attempt": attempt}
    if not last:
        state = {**state, "status": "queued", "willRetry": True}
    try:
        _finish(pipe, media_id, state)
    except Exception:
        log.exception("could not record the failure of media %s", media_id)
    if last:
        raise exc
    raise transient.RetryLater(pipe.settings.job_retry_backoff_seconds ** attempt) from exc


def _wait(pipe: Pipeline, media_id: uuid.UUID, what: str, exc: Exception) -> transient.Waiting:
    """Say that the media waits for `what`, once that can be written; the job runs again."""
    log.warning("media %s waits for %s (%s: %s); it is processed again in %g s", media_id,
                what, type(exc).__name__, str(exc)[:300], pipe.settings.wait_retry_seconds)
    if what != transient.DISK:
        _database_back(pipe)
    try:
        with pipe.session() as session:
            media = _locked(session, media_id)
            if media is not None:
                kept = _kept(media)
                set_processing(media, {
                    **kept, "status": "queued", "waitingFor": what,
                    "waits": int(kept.get("waits", 0)) + 1, "since": now_iso(),
                    "message": f"Waiting for {what} on the server; processing resumes by itself",
                })
    except Exception as again:  # still away: the queue's stalled-job recovery takes it up
        log.warning("could not record that media %s waits for %s: %s", media_id, what, again)
    return transient.Waiting(what, pipe.settings.wait_retry_seconds)


def _database_back(pipe: Pipeline, patience: float = 60.0) -> None:
    """Wait (a bounded time) for the database to answer, so that the job's state and its
    retry can be written instead of the job being left for stalled-job recovery."""
    deadline = time.monotonic() + patience
    while True:
        try:
            with pipe.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return
        except Exception:
            if time.monotonic() > deadline:
                return
            time.sleep(1.0)


def _run(pipe: Pipeline, media_id: uuid.UUID, kind: str, blob_key: str | None, attempt: int,
         started: float, records: dict[str, Any]) -> str:
    if not blob_key:
        raise BadMedia("the uploaded file is missing from storage")
    models = pipe.models()
    timings = Timings()
    stale: list[str] = []
    with scratch_folder(pipe.settings) as out:
        run = Run(pipe, media_id, kind, blob_key, models, timings, out)
        try:
            if runner.needs_decode(records):
                stale = _decode(run, attempt)
                steps = list(STEPS)
            else:
                steps = runner.plan(records, models)
            failed = runner.run_steps(run, steps, attempt)
        except runner.Gone:
            return "skipped"
        finally:
            _delete(pipe.store, stale)  # the replaced frames' files (their rows are gone)
    last = attempt >= pipe.settings.job_attempts
    with pipe.session() as session:
        media = _locked(session, media_id)
        if media is None or media.blob_key != blob_key:
            return "skipped"
        _ready(media, models, attempt, started, timings, failed, last)
    log.info("media %s ready in %.2f s (steps run: %s%s)", media_id,
             time.perf_counter() - started, ", ".join(s.name for s in steps) or "none",
             f"; failed: {', '.join(failed)}" if failed else "")
    if failed and not last:
        raise transient.RetryLater(pipe.settings.job_retry_backoff_seconds ** attempt)
    return "ready"


def _ready(media: Media, models: Models, attempt: int, started: float, timings: Timings,
           failed_now: list[str], last: bool) -> None:
    """The overall state once the steps ran: `ready` (the item is usable) even when a step
    failed; `failedSteps` and `note` say which and what happens next."""
    records = runner.steps_of(media)
    for name in failed_now:  # whether the queue tries it again
        records[name] = {**records[name], "willRetry": not last}
    decode = records.get(DECODE) or {}
    state: dict[str, Any] = {
        **_kept(media), "status": "ready", "finishedAt": now_iso(), "attempt": attempt,
        "frames": decode.get("frames", 0), "models": models.names(),
        "seconds": round(time.perf_counter() - started, 3),
        "stages": {k: round(v, 3) for k, v in timings.seconds.items()}, "steps": records,
    }
    notes = [n for name in NAMES for n in (records.get(name) or {}).get("notes", [])]
    if notes:
        state["notes"] = list(dict.fromkeys(notes))
    failed = [name for name in NAMES if (records.get(name) or {}).get("status") == "failed"]
    if failed:
        state["failedSteps"] = failed
        again = ("it is retried by itself" if failed_now and not last else
                 f"`coreviz-studio reprocess --step {failed[0]}` runs it again")
        state["note"] = (f"Usable, but the {', '.join(failed)} step"
                         f"{'s' if len(failed) > 1 else ''} failed; {again}")
        if failed_now and not last:
            state["willRetry"] = True
    set_processing(media, state)


def _decode(run: Run, attempt: int) -> list[str]:
    """The first step: fetch, decode in the sandbox, store frames and thumbnail; the blob keys
    it replaced. BadMedia (and DecodeFailed) when the file cannot be decoded."""
    pipe, out, timings, started = run.pipe, run.scratch, run.timings, time.perf_counter()
    source = out / "source"
    with timings.stage("fetch"):
        try:
            pipe.store.fetch(run.blob_key, source)
        except NotStored:
            raise BadMedia("the uploaded file is missing from storage") from None
    with timings.stage("decode"):
        decoded = decode_isolated(run.kind, source, out, pipe.limits(),
                                  timeout=pipe.settings.decode_timeout_seconds,
                                  memory_mb=pipe.settings.decode_memory_mb)
    with timings.stage("thumbnail"):
        preview = thumbnail.make(run.kind, [out / spec.image for spec in decoded.frames],
                                 out / f"thumbnail.{thumbnail.EXT}")
    keys: list[tuple[str, str]] = []
    preview_key: str | None = None
    try:
        with timings.stage("store"):
            for spec in decoded.frames:
                keys.append((put_file(pipe.store, out / spec.image, "jpeg"),
                             put_file(pipe.store, out / spec.thumbnail, "jpeg")))
            if preview is not None:
                preview_key = put_file(pipe.store, preview, thumbnail.EXT)
            with pipe.session() as session:
                media = runner.locked(session, run)
                stale = replace_frames(session, media, decoded, keys, preview_key)
                record: dict[str, Any] = {
                    "status": "ready", **runner.decode_key(), "attempt": 1,
                    "jobAttempt": attempt, "frames": len(decoded.frames),
                    "seconds": round(time.perf_counter() - started, 3), "finishedAt": now_iso()}
                if decoded.notes:
                    record["notes"] = decoded.notes
                # A new decode: the steps' earlier states are about frames that are gone.
                state = dict(media.metadata_.get("processing") or {})
                set_processing(media, {**state, "steps": {DECODE: record}})
    except BaseException:
        _delete(pipe.store, _made(keys, preview_key))
        raise
    run.decoded = {spec.index: out / spec.image for spec in decoded.frames}
    return stale


def _organization_of(pipe: Pipeline, media_id: uuid.UUID) -> uuid.UUID | None:
    with pipe.db.system_sessions() as session:
        return session.scalar(select(Media.organization_id).where(Media.id == media_id))


def _made(keys: list[tuple[str, str]], preview_key: str | None) -> list[str]:
    """The blobs a run stored, to delete when its rows do not commit."""
    return [k for pair in keys for k in pair] + ([preview_key] if preview_key else [])


@contextmanager
def scratch_folder(settings: Settings) -> Iterator[Path]:
    """A job's own folder under scratch_dir, named for its owner (the sweep below removes those
    of dead workers); removed when the job ends."""
    with tempfile.TemporaryDirectory(prefix=f"{_SCRATCH}{owners.me()}.",
                                     dir=scratch_dir(settings)) as tmp:
        yield Path(tmp)


def scratch_dir(settings: Settings) -> Path:
    """Where jobs decode into (one folder per job, removed when it ends)."""
    path = settings.data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sweep_scratch(settings: Settings, older_than: float = 6 * 3600) -> int:
    """Remove job folders of dead workers (a finished job removes its own), whatever their
    age; folders whose owner can't be judged go once `older_than`. Returns how many."""
    return owners.remove_leftovers(scratch_dir(settings).glob(f"{_SCRATCH}*"), older_than,
                                   _SCRATCH)

def _locked(session: Session, media_id: uuid.UUID) -> Media | None:
    """The media row, locked, if it is still something to process."""
    media = session.scalar(select(Media).where(Media.id == media_id).with_for_update())
    if media is None or media.status != "active" or media.type == "folder":
        return None
    return media


def _finish(pipe: Pipeline, media_id: uuid.UUID, state: dict[str, Any]) -> None:
    with pipe.session() as session:
        media = _locked(session, media_id)
        if media is not None:
            set_processing(media, {**_kept(media), **state, "finishedAt": now_iso()})


def _kept(media: Media) -> dict[str, Any]:
    """What a job's later states repeat from the queued one: when and why it was queued, how
    many of its runs waited for the server (those are not attempts), and the steps' states."""
    current = media.metadata_.get("processing") or {}
    return {k: current[k] for k in ("queuedAt", "reason", "waits", "steps") if current.get(k)}


def _delete(store: BlobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            store.delete(key)
        except OSError:
            log.warning("could not delete blob %s", key)
