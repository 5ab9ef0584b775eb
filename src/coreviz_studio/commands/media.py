"""`media ...`: the official CLI's media commands, extended (`media upload` takes trees)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coreviz_studio.commands import common, profile
from coreviz_studio.commands import upload as uploading

media_app = typer.Typer(help="Media items: upload (files and trees), ...", no_args_is_help=True)


@media_app.command("upload")
def upload_command(
    paths: Annotated[list[Path], typer.Argument(
        help="Files and directories (a directory becomes a folder of its name).",
        show_default=False)],
    collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                 show_default=False)],
    path: Annotated[str | None, typer.Option(
        "--path", help="Destination folder path (ltree, as browse gives it; default the "
        "collection's root).")] = None,
    folder: Annotated[str | None, typer.Option(
        "--folder", help="Folders by name under the destination, A/B (made if missing).")
    ] = None,
    parallel: Annotated[int, typer.Option(
        "--parallel", "-j", min=1, max=32, help="Files sent at the same time.")] = 4,
    chunk_size: Annotated[int, typer.Option(
        "--chunk-size", min=64 * 1024, help="Bytes per resumable (tus) request.")
    ] = 8 * 1024 * 1024,
    multipart_below: Annotated[int, typer.Option(
        "--multipart-below", min=0, help="Files under this many bytes go in one request "
        "(not resumable within the file); the others through tus.")] = 1024 * 1024,
    server: common.Server = None,
    api_key: common.ApiKey = None,
    as_json: common.AsJson = False,
    quiet: common.Quiet = False,
) -> None:
    """Upload files and directory trees: a few at once, resumable (run it again after an
    interruption: only what is missing goes), skipping files already in their folder (same
    sha256). Exit 5 when some files failed."""
    with common.connect(server, api_key) as client:
        summary = uploading.upload(client, paths, collection_id, base_path=path,
                                   folder=folder, parallel=parallel,
                                   as_json=as_json or quiet, chunk_size=chunk_size,
                                   multipart_below=multipart_below)
    if summary.failed:
        raise typer.Exit(profile.PARTIAL)
