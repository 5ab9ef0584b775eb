"""`folders create|get|update|delete`: the official CLI's folder commands."""

from __future__ import annotations

from typing import Annotated

import typer

from coreviz_studio.client.models import Folder
from coreviz_studio.commands import common
from coreviz_studio.commands.answers import Quiet, done, show, wire

folders_app = typer.Typer(help="Folders: create, get, update (rename), delete.",
                          no_args_is_help=True)


def _line(folder: Folder) -> str:
    return f"folder {folder.id}  {folder.name}/  (path {folder.path})"


@folders_app.command("create")
def create(
    collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                 show_default=False)],
    name: Annotated[str, typer.Argument(help="The folder's name.", show_default=False)],
    path: Annotated[str | None, typer.Option(
        "--path", help="The parent folder's path (as ls and browse show it; default the "
        "collection's root).")] = None,
    reuse: Annotated[bool, typer.Option(
        "--reuse", help="Answer the folder of that name if there is one already (upsert).")
    ] = False,
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Create a folder in a collection (or in a folder, with --path)."""
    with common.connect(server, api_key) as c:
        folder = c.create_folder(collection_id, name, path, reuse=reuse)
    show(wire(folder), quiet=quiet, as_json=as_json, human=lambda: _line(folder))


@folders_app.command("get")
def get(
    folder_id: Annotated[str, typer.Argument(help="The folder's id.", show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """One folder."""
    with common.connect(server, api_key) as c:
        folder = c.get_folder(folder_id)
    show(wire(folder), quiet=quiet, as_json=as_json, human=lambda: _line(folder))


@folders_app.command("update")
def update(
    folder_id: Annotated[str, typer.Argument(help="The folder's id.", show_default=False)],
    name: Annotated[str | None, typer.Option("--name", help="The new name.")] = None,
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Rename a folder (its path, and what it holds, stay)."""
    with common.connect(server, api_key) as c:
        folder = c.update_folder(folder_id, name=name)
    show(wire(folder), quiet=quiet, as_json=as_json, human=lambda: "updated " + _line(folder))


@folders_app.command("delete")
def delete(
    folder_id: Annotated[str, typer.Argument(help="The folder's id.", show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Delete a folder and everything in it (to the trash: `restore` brings them back)."""
    with common.connect(server, api_key) as c:
        gone = c.delete_folder(folder_id)
    done("deleted", wire(gone), quiet=quiet, as_json=as_json,
         human=f"moved to the trash: folder {folder_id} ({gone.deleted_count} items)")


def register(app: typer.Typer) -> None:
    app.add_typer(folders_app, name="folders")
