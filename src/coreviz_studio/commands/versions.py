"""`media versions list|select|delete`: the official CLI's version commands (a version is
uploaded with `version_of`; one of a media item's versions is the active one)."""

from __future__ import annotations

from typing import Annotated

import typer

from coreviz_studio.client.models import Media
from coreviz_studio.commands import common
from coreviz_studio.commands.answers import Quiet, done, show, wire

versions_app = typer.Typer(help="A media item's versions: list, select, delete.",
                           no_args_is_help=True)


def _line(v: Media) -> str:
    active = "active" if v.is_active_version else "      "
    return f"v{v.version_number or '?':<3} {active}  {v.id}  {v.name}"


@versions_app.command("list")
def versions_list(
    media_id: Annotated[str, typer.Argument(help="Any version's id.", show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Every version of a media item, oldest first, and which is active."""
    with common.connect(server, api_key) as c:
        versions = c.list_versions(media_id)
    show(wire(versions), quiet=quiet, as_json=as_json,
         human=lambda: [_line(v) for v in versions])


@versions_app.command("select")
def select(
    version_id: Annotated[str, typer.Argument(help="The version to make active.",
                                              show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Make a version the active one."""
    with common.connect(server, api_key) as c:
        media = c.select_version(version_id)
    done("selected", wire(media), quiet=quiet, as_json=as_json,
         human=f"version {version_id} is now active")


@versions_app.command("delete")
def delete(
    root_media_id: Annotated[str, typer.Argument(help="The media item (its first version's "
                                                 "id).", show_default=False)],
    version_id: Annotated[str, typer.Argument(help="The version to delete.",
                                              show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Delete one version; when it was the active one, another is promoted."""
    with common.connect(server, api_key) as c:
        gone = c.delete_version(root_media_id, version_id)
    promoted = f"; promoted {gone.promoted_id}" if gone.promoted_id else ""
    show(wire(gone), quiet=quiet, as_json=as_json,
         human=lambda: f"deleted version {gone.deleted_id}{promoted}")


def register(media_app: typer.Typer) -> None:
    media_app.add_typer(versions_app, name="versions")
