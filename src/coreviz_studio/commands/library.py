"""Browsing and managing the library: `collections list|get|create`, `ls`, `search` (a
collection's, or the organization's with --org), `rm`, `restore` (the official CLI's names
where it has them: `collections ...`, `media get|delete`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from coreviz_studio.client.models import Media
from coreviz_studio.commands import common

collections_app = typer.Typer(help="Collections: list, get, create, update.", no_args_is_help=True)


def _out(items: list[dict[str, Any]], as_json: bool, quiet: bool, line: Any) -> None:
    """--json: one JSON line per item; --quiet (the official flag): one JSON array; else
    aligned lines for a person."""
    if quiet:
        common.emit(items)
    elif as_json:
        for item in items:
            common.emit(item)
    else:
        for item in items:
            typer.echo(line(item))


@collections_app.command("list")
def collections_list(server: common.Server = None, api_key: common.ApiKey = None,
                     as_json: common.AsJson = False, quiet: common.Quiet = False) -> None:
    """The collections of your organization."""
    with common.connect(server, api_key) as c:
        rows = [x.model_dump(by_alias=True, mode="json") for x in c.list_collections()]
    _out(rows, as_json, quiet, lambda x: f"{x['id']}  {x['name']}")


@collections_app.command("get")
def collections_get(collection_id: str, server: common.Server = None,
                    api_key: common.ApiKey = None, quiet: common.Quiet = False) -> None:
    """One collection, as JSON (--quiet: the official flag, the same one line)."""
    with common.connect(server, api_key) as c:
        common.emit(c.get_collection(collection_id).model_dump(by_alias=True, mode="json"))


@collections_app.command("update")
def collections_update(
    collection_id: str,
    name: Annotated[str | None, typer.Option("--name", help="The new name.")] = None,
    icon: Annotated[str | None, typer.Option("--icon", help="The new icon (an emoji or icon "
                                             "name).")] = None,
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: common.Quiet = False,
) -> None:
    """Rename a collection or change its icon (the official command)."""
    with common.connect(server, api_key) as c:
        made = (c.update_collection(collection_id, name) if icon is None
                else c.update_collection(collection_id, name, icon))
    if as_json or quiet:
        common.emit(made.model_dump(by_alias=True, mode="json"))
    else:
        typer.echo(f"updated collection {made.id}  {made.name}"
                   + (f"  {made.icon}" if made.icon else ""))


@collections_app.command("create")
def collections_create(
    name: str,
    icon: Annotated[str | None, typer.Option(help="An emoji or icon name.")] = None,
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: common.Quiet = False,
) -> None:
    """Create a collection; prints its id."""
    with common.connect(server, api_key) as c:
        made = c.create_collection(name, icon)
    if as_json or quiet:
        common.emit(made.model_dump(by_alias=True, mode="json"))
    else:
        typer.echo(f"created collection {made.id}  {made.name}")


def _media_row(x: Media) -> dict[str, Any]:
    return {"id": x.id, "name": x.name, "type": x.type, "path": x.path,
            "sizeBytes": x.size_bytes, "score": x.score}


def register(app: typer.Typer) -> None:
    app.add_typer(collections_app, name="collections")

    @app.command("ls")
    def ls(
        collection_id: Annotated[str | None, typer.Argument(
            help="A collection (without it: the collections).", show_default=False)] = None,
        path: Annotated[str | None, typer.Option(
            "--path", help="A folder's path (as ls and browse show it).")] = None,
        recursive: Annotated[bool, typer.Option("--recursive", "-r",
                                                help="Everything below too.")] = False,
        limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """List the collections, or a collection's (or folder's) folders and media."""
        with common.connect(server, api_key) as c:
            if collection_id is None:
                rows = [{"id": x.id, "name": x.name, "type": "collection"}
                        for x in c.list_collections()]
            else:
                rows = [_media_row(x) for x in c.iter_media(
                    collection_id, path=path, recursive=recursive or None, limit=limit,
                    page_size=200)]
        _out(rows, as_json, False, lambda x: f"{x['type']:10} {x['id']}  {x['name']}"
             + ("/" if x["type"] == "folder" else "")
             + (f"  (path {x['path']})" if x["type"] == "folder" else ""))

    @app.command("search")
    def search(
        query: str,
        collection_id: Annotated[str | None, typer.Argument(
            help="Search this collection (without it, or with --org: the whole "
            "organization).", show_default=False)] = None,
        org: Annotated[bool, typer.Option(
            "--org", help="Search every collection of your organization.")] = False,
        min_score: Annotated[float | None, typer.Option(
            "--min-score", help="Only results scoring at least this.")] = None,
        limit: Annotated[int, typer.Option(help="At most this many results.")] = 20,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Search by meaning (captions, objects, names), best first, with scores."""
        rows: list[dict[str, Any]]
        with common.connect(server, api_key) as c:
            if org or collection_id is None:
                rows = [{"id": h.media.id, "name": h.media.name, "type": h.media.type,
                         "score": h.rank, "frameId": h.frame_id}
                        for h in c.search(query, limit=limit)]
            else:
                rows = [_media_row(x) for x in
                        c.search_media(collection_id, query, limit=limit).media]
        if min_score is not None:
            rows = [r for r in rows if r["score"] is not None and r["score"] >= min_score]
        _out(rows, as_json, False, lambda x: f"{x['score'] if x['score'] is not None else 0:.3f}"
             f"  {x['id']}  {x['name']}")

    @app.command("rm")
    def rm(
        media_ids: Annotated[list[str], typer.Argument(help="Media or folder ids.",
                                                       show_default=False)],
        permanent: Annotated[bool, typer.Option(
            "--permanent", help="Delete for good instead of moving to the trash.")] = False,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Move media (or folders, with what they hold) to the trash; `restore` brings them
        back. --permanent deletes for good."""
        with common.connect(server, api_key) as c:
            for media_id in media_ids:
                done = c.delete_media(media_id, permanent=permanent)
                if as_json:
                    common.emit(done.model_dump(by_alias=True, mode="json"))
                else:
                    typer.echo(f"{'deleted' if permanent else 'moved to the trash'} "
                               f"{media_id} ({done.deleted_count} items)")

    @app.command("restore")
    def restore(
        media_ids: Annotated[list[str], typer.Argument(help="Ids in the trash.",
                                                       show_default=False)],
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Bring media (or folders) back from the trash."""
        with common.connect(server, api_key) as c:
            for media_id in media_ids:
                done = c.restore_media(media_id)
                if as_json:
                    common.emit(done.model_dump(by_alias=True, mode="json"))
                else:
                    typer.echo(f"restored {media_id} ({done.restored_count} items)")
