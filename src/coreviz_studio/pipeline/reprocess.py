"""Queue processing again: one media, a collection, or everything; in full or only some steps.

In full, the next job decodes again and runs every step. With steps (`reprocess --step NAME`,
`--changed`, `--failed` for an item whose decode is fine), the named steps are marked "queued"
in `metadata.processing.steps` and the job runs them (and the steps that read what they write,
docs/processing.md) on the stored frames; the rest of the media is left as it is.
"""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from coreviz_studio.ai.registry import Models
from coreviz_studio.auth.principal import Principal
from coreviz_studio.datasets.service import get_dataset
from coreviz_studio.db.tables import Media
from coreviz_studio.errors import Invalid
from coreviz_studio.ids import IdRef, parse_id
from coreviz_studio.media.service import get_row
from coreviz_studio.pipeline.queue import enqueue, set_processing
from coreviz_studio.pipeline.steps import DECODE, NAMES
from coreviz_studio.pipeline.steps.runner import QUEUED, changed_steps, needs_decode, steps_of

_BATCH = 500


def reprocess_media(session: Session, principal: Principal, media_id: IdRef) -> tuple[Media, bool]:
    """The media and whether a new job was queued (False: one was already waiting)."""
    media = get_row(session, principal, media_id, lock=True)
    if media.type == "folder":
        raise Invalid("A folder has nothing to process; reprocess its collection instead")
    return media, queue_steps(session, media, None, by=principal.credential_id, bulk=False)


def reprocess_collection(session: Session, principal: Principal, dataset_id: IdRef,
                         failed_only: bool) -> tuple[int, int]:
    dataset = get_dataset(session, principal, dataset_id)
    return requeue_where(session, dataset_id=str(dataset.id), failed_only=failed_only)


def check_steps(names: list[str]) -> list[str]:
    """The step names, checked (an Invalid error names the known ones)."""
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise Invalid(f"unknown step {', '.join(unknown)} (steps: {', '.join(NAMES)})")
    return list(dict.fromkeys(names))


def requeue_where(session: Session, *, media_ids: list[str] | None = None,
                  dataset_id: IdRef | None = None, failed_only: bool = False,
                  steps: list[str] | None = None, changed: Models | None = None
                  ) -> tuple[int, int]:
    """(queued, already waiting) for the active, non-folder media matching the filters. No
    organization check: callers have done it (the routes) or are the operator (the CLI).

    `steps`: only these steps. `changed`: only the steps whose model or version differs from
    what these models are now (or that never ran), only for the media that have some.
    `failed_only`: media whose processing failed, and those with a failed step (only those
    steps run again)."""
    names = check_steps(steps) if steps else None
    stmt = select(Media).where(Media.status == "active", Media.type != "folder")
    if media_ids:
        stmt = stmt.where(Media.id.in_([parse_id(m, "media") for m in media_ids]))
    if dataset_id:
        stmt = stmt.where(Media.dataset_id == parse_id(dataset_id, "dataset"))
    if failed_only:
        state = Media.metadata_["processing"]
        stmt = stmt.where(or_(state["status"].astext == "failed",
                              state["failedSteps"].is_not(None)))
    queued = waiting = 0
    for media in session.scalars(stmt.order_by(Media.id).execution_options(yield_per=_BATCH)):
        wanted = names
        if changed is not None:
            wanted = [n for n in changed_steps(steps_of(media), changed)
                      if names is None or n in names or n == DECODE]
            if not wanted:
                continue
        elif failed_only and wanted is None:
            wanted = (media.metadata_.get("processing") or {}).get("failedSteps") or None
        if queue_steps(session, media, wanted, bulk=True):
            queued += 1
        else:
            waiting += 1
    return queued, waiting


def queue_steps(session: Session, media: Media, names: list[str] | None, *,
                by: uuid.UUID | None = None, bulk: bool) -> bool:
    """Queue `media` in full (`names` None, or decode among them, or no usable decode yet) or
    for these steps; whether a new job was queued (False: one waits, and will do this too)."""
    records = steps_of(media)
    partial = bool(names) and DECODE not in (names or []) and not needs_decode(records)
    had_steps = bool(records)
    queued = enqueue(session, media, reason="reprocess", bulk=bulk, by=by)
    state = dict(media.metadata_.get("processing") or {})
    if partial and (queued or had_steps):
        marks = {n: {**(records.get(n) or {}), "status": QUEUED} for n in names or []}
        set_processing(media, {**state, "steps": {**records, **marks}})
    elif not partial and not queued and "steps" in state:
        # The waiting job would run only some steps: make it a full run.
        set_processing(media, {k: v for k, v in state.items() if k != "steps"})
    return queued
