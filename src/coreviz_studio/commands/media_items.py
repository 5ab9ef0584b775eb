"""`media rename|move|search|find-similar`: the rest of the official CLI's media commands
(media.py has upload, browse, get and delete)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coreviz_studio.client.models import Media, SearchHit
from coreviz_studio.commands import common
from coreviz_studio.commands.answers import Quiet, show, wire

MediaId = Annotated[str, typer.Argument(help="The media item's id.", show_default=False)]


def _row(x: Media) -> str:
    score = f"{x.score:.3f}  " if x.score is not None else ""
    return f"{score}{x.type:6} {x.id}  {x.name}"


def official_hit(hit: SearchHit) -> dict[str, Any]:
    """A search result as the official SDK hands it to its CLI (media.search maps the wire's
    results to these names), so that `media search --quiet` prints the same JSON."""
    return {"mediaId": hit.media.id, "mediaName": hit.media.name, "mediaType": hit.media.type,
            "blobUrl": hit.blob,
            "objects": [{"id": o.get("id"), "type": o.get("type"), "label": o.get("label")}
                        for o in hit.objects],
            "rank": hit.rank,
            "caption": hit.captions[0].get("text") if hit.captions else None}


def register(media_app: typer.Typer) -> None:
    @media_app.command("rename")
    def rename(media_id: MediaId,
               name: Annotated[str, typer.Argument(help="The new name.", show_default=False)],
               server: common.Server = None, api_key: common.ApiKey = None,
               as_json: common.AsJson = False, quiet: Quiet = False) -> None:
        """Rename a media item (or a folder)."""
        with common.connect(server, api_key) as c:
            media = c.rename_item(media_id, name)
        show(wire(media), quiet=quiet, as_json=as_json,
             human=lambda: f"renamed {media.id} to {media.name}")

    @media_app.command("move")
    def move(media_id: MediaId,
             destination_path: Annotated[str, typer.Argument(
                 help="The destination folder's path (as ls and browse show it; a "
                 "collection's root is its id without dashes).", show_default=False)],
             server: common.Server = None, api_key: common.ApiKey = None,
             as_json: common.AsJson = False, quiet: Quiet = False) -> None:
        """Move a media item (or a folder, with what it holds) to another folder."""
        with common.connect(server, api_key) as c:
            moved = c.move_item(media_id, destination_path)
        show(wire(moved), quiet=quiet, as_json=as_json,
             human=lambda: f"moved {moved.id} to {moved.new_path} ({moved.moved_count} items)")

    @media_app.command("search")
    def search(query: Annotated[str, typer.Argument(help="What to look for, in words.",
                                                    show_default=False)],
               limit: Annotated[int, typer.Option("--limit", min=1, help="Max results.")
                                ] = 10,
               server: common.Server = None, api_key: common.ApiKey = None,
               as_json: common.AsJson = False, quiet: Quiet = False) -> None:
        """Search every collection of your organization by meaning, best first."""
        with common.connect(server, api_key) as c:
            hits = [official_hit(h) for h in c.search(query, limit=limit)]
        show(hits, quiet=quiet, as_json=as_json,
             human=lambda: [f"{h['rank']:.3f}  {h['mediaType']:6} {h['mediaId']}  "
                            f"{h['mediaName']}" for h in hits] or ["(nothing found)"])

    @media_app.command("find-similar")
    def find_similar(
        collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                     show_default=False)],
        object_id: Annotated[str, typer.Argument(help="A detected object's id (a face, a "
                                                 "thing: get shows them).", show_default=False)],
        model: Annotated[str | None, typer.Option(
            "--model", help="Which likeness: faces, objects, shoeprints.")] = None,
        limit: Annotated[int, typer.Option("--limit", min=1, help="Max results.")] = 10,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False, quiet: Quiet = False,
    ) -> None:
        """Media that look like a detected object, most alike first."""
        with common.connect(server, api_key) as c:
            page = c.find_similar(collection_id, object_id, model, limit=limit)
        show(wire(page), quiet=quiet, as_json=as_json,
             human=lambda: [_row(x) for x in page.media] or ["(nothing similar)"])
