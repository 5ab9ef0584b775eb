"""`queue [COLLECTION_ID]`: how many of your organization's items wait, are being processed,
failed or are ready, and the one that has waited longest (GET /api/queue, docs/queue.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from coreviz_studio.client.models import QueueStatus
from coreviz_studio.commands import common


def describe(status: QueueStatus) -> str:
    """The lines a person reads."""
    lines = [f"queued      {status.queued}", f"processing  {status.processing}",
             f"failed      {status.failed}", f"ready       {status.ready}"]
    if status.with_failed_step:
        lines.append(f"  of which {status.with_failed_step} with a failed step "
                     "(metadata.processing.failedSteps)")
    oldest = status.oldest_waiting
    if oldest is not None:
        since = f" since {oldest.queued_at}" if oldest.queued_at else ""
        lines.append(f"oldest waiting: {oldest.name} ({oldest.id}){since}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("queue")
    def queue(
        collection_id: Annotated[str | None, typer.Argument(
            help="Only this collection (without it: the whole organization).",
            show_default=False)] = None,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Processing: items queued, being processed, failed and ready, and the oldest
        waiting one."""
        with common.connect(server, api_key) as c:
            status = c.queue_status(collection_id)
        if as_json:
            common.emit(status.model_dump(by_alias=True, mode="json"))
        else:
            typer.echo(describe(status))
