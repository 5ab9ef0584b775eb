"""`tags list` (a collection's tag groups and values) and `media tags add|remove|remove-group|
rename-group` (one item's): the official CLI's tag commands."""

from __future__ import annotations

from typing import Annotated

import typer

from coreviz_studio.client.models import MediaTags
from coreviz_studio.commands import common
from coreviz_studio.commands.answers import Quiet, done, show, wire

tags_app = typer.Typer(help="A collection's tags.", no_args_is_help=True)
media_tags_app = typer.Typer(help="One media item's tags: add, remove, remove-group, "
                             "rename-group.", no_args_is_help=True)

MediaId = Annotated[str, typer.Argument(help="The media item's id.", show_default=False)]
Label = Annotated[str, typer.Argument(help="The tag group (label), e.g. color.",
                                      show_default=False)]
Value = Annotated[str, typer.Argument(help="The tag's value, e.g. red.", show_default=False)]


def _groups(tags: dict[str, list[str]]) -> list[str]:
    return [f"{label}: {', '.join(values)}" for label, values in sorted(tags.items())] or [
        "(no tags)"]


@tags_app.command("list")
def tags_list(
    collection_id: Annotated[str, typer.Argument(help="The collection's id.",
                                                 show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Every tag group of a collection and its values."""
    with common.connect(server, api_key) as c:
        tags = c.get_tags(collection_id)
    show(tags, quiet=quiet, as_json=as_json, human=lambda: _groups(tags))


def _after(word: str, answer: MediaTags, quiet: bool, as_json: bool, human: str) -> None:
    done(word, wire(answer), quiet=quiet, as_json=as_json,
         human=f"{human}; {answer.media_id} now: "
         + ("; ".join(_groups(answer.tags)) if answer.tags else "no tags"))


@media_tags_app.command("add")
def add(media_id: MediaId, label: Label, value: Value,
        server: common.Server = None, api_key: common.ApiKey = None,
        as_json: common.AsJson = False, quiet: Quiet = False) -> None:
    """Add a tag (label=value) to a media item."""
    with common.connect(server, api_key) as c:
        answer = c.add_tag(media_id, label, value)
    _after("added", answer, quiet, as_json, f"added {label}={value}")


@media_tags_app.command("remove")
def remove(media_id: MediaId, label: Label, value: Value,
           server: common.Server = None, api_key: common.ApiKey = None,
           as_json: common.AsJson = False, quiet: Quiet = False) -> None:
    """Remove one value of a tag group from a media item."""
    with common.connect(server, api_key) as c:
        answer = c.remove_tag(media_id, label, value)
    _after("removed", answer, quiet, as_json, f"removed {label}={value}")


@media_tags_app.command("remove-group")
def remove_group(media_id: MediaId, label: Label,
                 server: common.Server = None, api_key: common.ApiKey = None,
                 as_json: common.AsJson = False, quiet: Quiet = False) -> None:
    """Remove a whole tag group (every value of the label) from a media item."""
    with common.connect(server, api_key) as c:
        answer = c.remove_tag_group(media_id, label)
    _after("removed", answer, quiet, as_json, f"removed the group {label}")


@media_tags_app.command("rename-group")
def rename_group(
    media_id: MediaId,
    old_label: Annotated[str, typer.Argument(help="The group's label now.",
                                             show_default=False)],
    new_label: Annotated[str, typer.Argument(help="Its new label.", show_default=False)],
    server: common.Server = None, api_key: common.ApiKey = None,
    as_json: common.AsJson = False, quiet: Quiet = False,
) -> None:
    """Rename a tag group of a media item, keeping its values."""
    with common.connect(server, api_key) as c:
        answer = c.rename_tag_group(media_id, old_label, new_label)
    _after("renamed", answer, quiet, as_json, f"renamed the group {old_label} to {new_label}")


def register(app: typer.Typer, media_app: typer.Typer) -> None:
    app.add_typer(tags_app, name="tags")
    media_app.add_typer(media_tags_app, name="tags")
