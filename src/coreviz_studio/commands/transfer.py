"""`sync DIR COLLECTION_ID [--watch]` and `download ID DEST`: trees to and from the server
(commands/sync.py, commands/download.py do the work)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coreviz_studio.commands import common, profile
from coreviz_studio.commands import download as downloading
from coreviz_studio.commands import sync as syncing
from coreviz_studio.commands.media import _interrupted

Parallel = Annotated[int, typer.Option("--parallel", "-j", min=1, max=32,
                                       help="Files sent or fetched at the same time.")]


def register(app: typer.Typer) -> None:
    @app.command("sync")
    def sync_command(
        directory: Annotated[Path, typer.Argument(
            help="The local directory to mirror.", exists=True, file_okay=False,
            show_default=False)],
        collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                     show_default=False)],
        path: common.DestPath = None,
        folder: common.DestFolder = None,
        watch: Annotated[bool, typer.Option(
            "--watch", help="Keep running: send files as they appear or change.")] = False,
        delete: Annotated[bool, typer.Option(
            "--delete", help="Move items whose local file is gone (and folders whose "
            "directory is gone) to the trash. Without it nothing is removed.")] = False,
        settle: Annotated[float, typer.Option(
            "--settle", min=0.0, help="--watch: seconds a file must stay unchanged (size and "
            "mtime) before it is sent.")] = 1.0,
        parallel: Parallel = 4,
        chunk_size: common.ChunkSize = 8 * 1024 * 1024,
        multipart_below: common.MultipartBelow = 1024 * 1024,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Make a folder of the collection mirror DIR: new files are uploaded, changed ones
        become new versions of their items, unchanged ones are left. Exit 5 when some files
        failed."""
        with common.connect(server, api_key) as client, _interrupted():
            failed = syncing.sync(client, directory, collection_id, base_path=path,
                                  folder=folder, parallel=parallel, as_json=as_json,
                                  chunk_size=chunk_size, multipart_below=multipart_below,
                                  delete=delete, keep_watching=watch, settle=settle)
        if failed:
            raise typer.Exit(profile.PARTIAL)

    @app.command("download")
    def download_command(
        ident: Annotated[str, typer.Argument(
            metavar="ID", help="A folder, a collection (with --path: its folder at that path; "
            "with --search: the collection searched) or one media item.",
            show_default=False)],
        dest: Annotated[Path, typer.Argument(help="The local directory to write into.",
                                             file_okay=False, show_default=False)],
        path: Annotated[str | None, typer.Option(
            "--path", help="With a collection: the folder at this path (as ls shows it).")
        ] = None,
        search: Annotated[str | None, typer.Option(
            "--search", help="Download this search's results in the collection instead.")
        ] = None,
        min_score: Annotated[float | None, typer.Option(
            "--min-score", help="--search: only results scoring at least this.")] = None,
        limit: Annotated[int, typer.Option(
            "--limit", min=1, help="--search: at most this many results.")] = 50,
        parallel: Parallel = 4,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False,
    ) -> None:
        """Download originals: folders recreated by name (names made safe for the disk),
        files already there with the same size and sha256 skipped, a partial file resumed.
        Exit 5 when some files failed."""
        with common.connect(server, api_key) as client, _interrupted():
            summary = downloading.download(client, ident, dest, path=path, search=search,
                                           min_score=min_score, limit=limit,
                                           parallel=parallel, as_json=as_json)
        if summary.failed:
            raise typer.Exit(profile.PARTIAL)
