"""`media ...`: the official CLI's media commands, extended (`media upload` takes trees)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from coreviz_studio.commands import common, profile
from coreviz_studio.commands import upload as uploading

media_app = typer.Typer(help="Media items: upload (files and trees), browse, get, delete, rename, "
                        "move, search, find-similar, tags, versions.",
                        no_args_is_help=True)


@contextmanager
def _interrupted() -> Iterator[None]:
    try:
        yield
    except KeyboardInterrupt:
        typer.echo("interrupted: run the same command again to go on where it stopped",
                   err=True)
        raise typer.Exit(profile.INTERRUPTED) from None


@media_app.command("upload")
def upload_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Files and directories (a directory becomes a folder of its name).",
        show_default=False)],
    collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                 show_default=False)],
    path: common.DestPath = None,
    folder: common.DestFolder = None,
    name: Annotated[str | None, typer.Option(
        "--name", help="The name in CoreViz (one file only; the official flag).")] = None,
    parallel: Annotated[int, typer.Option(
        "--parallel", "-j", min=1, max=32, help="Files sent at the same time.")] = 4,
    chunk_size: common.ChunkSize = 8 * 1024 * 1024,
    multipart_below: common.MultipartBelow = 1024 * 1024,
    server: common.Server = None,
    api_key: common.ApiKey = None,
    as_json: common.AsJson = False,
    quiet: common.Quiet = False,
) -> None:
    """Upload files and directory trees: a few at once, resumable (run it again after an
    interruption: only what is missing goes), skipping files already in their folder (same
    sha256). Exit 5 when some files failed."""
    with common.connect(server, api_key) as client, _interrupted():
        summary = uploading.upload(client, paths, collection_id, base_path=path,
                                   folder=folder, parallel=parallel, name=name,
                                   as_json=as_json, chunk_size=chunk_size,
                                   multipart_below=multipart_below, quiet=quiet)
    if summary.failed:
        raise typer.Exit(profile.PARTIAL)


@media_app.command("browse")
def browse(
    collection_id: str,
    path: Annotated[str | None, typer.Option("--path", help="A folder's path.")] = None,
    limit: Annotated[int, typer.Option(help="Max items.")] = 50,
    offset: Annotated[int, typer.Option(help="Pagination offset.")] = 0,
    type_: Annotated[str | None, typer.Option(
        "--type", help="image, video, folder or all.")] = None,
    q: Annotated[str | None, typer.Option("--q", help="A text/semantic query.")] = None,
    tags: Annotated[str | None, typer.Option(help="Comma-separated tag labels.")] = None,
    recursive: Annotated[bool, typer.Option("--recursive", help="Everything below too.")
                         ] = False,
    server: common.Server = None, api_key: common.ApiKey = None, quiet: common.Quiet = False,
) -> None:
    """One page of a collection, as JSON (the official command and flags)."""
    with common.connect(server, api_key) as c:
        page = c.browse_media(collection_id, path=path, limit=limit, offset=offset,
                              type=type_, q=q, tags=tags, recursive=recursive or None)
    _print(page.model_dump(by_alias=True, mode="json"), quiet)


@media_app.command("get")
def get(media_id: str, server: common.Server = None, api_key: common.ApiKey = None,
        quiet: common.Quiet = False) -> None:
    """One media item, as JSON."""
    with common.connect(server, api_key) as c:
        _print(c.get_media(media_id).model_dump(by_alias=True, mode="json"), quiet)


@media_app.command("delete")
def delete(media_id: str, server: common.Server = None, api_key: common.ApiKey = None,
           quiet: common.Quiet = False) -> None:
    """Move a media item (or a folder) to the trash (`restore` brings it back)."""
    with common.connect(server, api_key) as c:
        done = c.delete_media(media_id)
    if quiet:
        typer.echo("deleted")  # what the official CLI prints with --quiet
    else:
        typer.echo(f"moved to the trash: {media_id} ({done.deleted_count} items)")


def _print(data: Any, quiet: bool) -> None:
    """The official CLI's output: indented JSON, or one line with --quiet."""
    if quiet:
        common.emit(data)
    else:
        import json

        typer.echo(json.dumps(data, indent=2, default=str))
