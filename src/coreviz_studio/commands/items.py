"""`similar` (media like an object, a face or a media item) and `mv` (items and folders to
another folder)."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from coreviz_studio.client import Client, NotFound
from coreviz_studio.client.models import Media
from coreviz_studio.commands import common, profile

_ID = re.compile(r"^(?:-*[0-9a-fA-F]){32}-*$")


def source_object(media: Media, model: str | None) -> tuple[str, str]:
    """The object a media item is compared by: its first face (model faces), else its first
    detected object (objects), else any object of its first frame with whole frames (image)."""
    objects = [o for f in media.frames for o in f.objects]
    wants = {"faces": ("face",), "objects": ("object",)}.get(model or "", ("face", "object"))
    for kind in wants:
        if found := next((o for o in objects if o.type == kind), None):
            return found.id, model or ("faces" if kind == "face" else "objects")
    if model == "image" and objects:
        return objects[0].id, "image"
    common.fail(f"{media.name} has no {' or '.join(wants)} to compare by (is it processed? "
                "give an object's id instead)")
    raise AssertionError  # unreachable: fail exits


def _similar(c: Client, ident: str, collection_id: str | None, model: str | None,
             limit: int) -> list[dict[str, Any]]:
    try:
        media: Media | None = c.get_media(ident)
    except NotFound:
        media = None  # an object's (or a face's) id
    if media is not None:
        object_id, model = source_object(media, model)
        collection_id = collection_id or media.collection_id or media.dataset_id
    else:
        object_id = ident
    if not collection_id:
        common.fail(f"{ident} is not a media item: give the collection to search "
                    "(similar OBJECT_ID COLLECTION_ID)", profile.USAGE)
    page = c.find_similar(collection_id or "", object_id, model, limit=limit)
    return [{"id": m.id, "name": m.name, "type": m.type, "path": m.path, "score": m.score}
            for m in page.media if media is None or m.id != media.id]


def destination_path(c: Client, dest: str, first: str) -> str:
    """A folder's ltree path from what a person gives: `/` (the collection's root), an ltree
    path, or a folder's id."""
    if dest in ("/", ""):
        media = c.get_media(first)
        return (media.collection_id or media.dataset_id or "").replace("-", "").lower()
    if "." in dest or not _ID.match(dest):
        return dest  # a path as ls shows it (the server checks it)
    try:
        return c.get_folder(dest).path
    except NotFound:
        return dest  # one label: a collection's root path


def register(app: typer.Typer) -> None:
    @app.command("similar")
    def similar(
        ident: Annotated[str, typer.Argument(
            metavar="MEDIA_OR_OBJECT_ID", help="A media item (compared by its first face or "
            "object), or an object's or face's id (as `media get` lists them).",
            show_default=False)],
        collection_id: Annotated[str | None, typer.Argument(
            help="Where to look (default: the media item's collection; needed with an "
            "object's id).", show_default=False)] = None,
        model: Annotated[str | None, typer.Option(
            "--model", help="objects, faces or image (whole frames); default by the "
            "object's kind.")] = None,
        limit: Annotated[int, typer.Option(min=1, help="At most this many results.")] = 20,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Media that look like an object, a face or a media item, best first, with scores."""
        with common.connect(server, api_key) as c:
            rows = _similar(c, ident, collection_id, model, limit)
        for r in rows:
            if as_json:
                common.emit(r)
            else:
                typer.echo(f"{r['score'] or 0:.3f}  {r['id']}  {r['name']}")

    @app.command("mv")
    def mv(
        ids: Annotated[list[str], typer.Argument(
            metavar="ID... DEST", help="Media or folder ids, then the destination: a folder's "
            "id, its path (as ls shows it), or / for the collection's root.",
            show_default=False)],
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Move items and folders (with all they hold) into a folder of their collection."""
        if len(ids) < 2:
            common.fail("give at least one id and the destination", profile.USAGE)
        *items, dest = ids
        with common.connect(server, api_key) as c:
            target = destination_path(c, dest, items[0])
            for ident in items:
                moved = c.move_item(ident, target)
                if as_json:
                    common.emit(moved.model_dump(by_alias=True, mode="json"))
                else:
                    typer.echo(f"moved {ident} -> {moved.new_path} ({moved.moved_count} items)")
