"""Every command of the official CLI (@coreviz/cli 1.5.3, bin/cli.js at commit 8400a45 of
github.com/coreviz/cli) exists in ours with the same path, the same required positional
arguments (ours may take optional ones after them) and the same flags, each taking a value
where the official one does and none where it is a switch: its users' scripts carry over by
changing the server address. No option of ours is required where the official CLI has none."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from coreviz_studio.cli import app

# (command path): (its positional arguments, its options: "--x=" takes a value, "--x" is a
# switch), as bin/cli.js declares them with commander.
OFFICIAL: dict[str, tuple[list[str], list[str]]] = {
    "login": ([], []),
    "logout": ([], []),
    "whoami": ([], []),
    "edit": (["image-path", "prompt"], ["--quiet"]),
    "describe": (["image-path"], ["--quiet"]),
    "tag": (["image-path", "prompt"], ["--choices=", "--single", "-m=", "--mode=", "--quiet"]),
    "search": (["query"], ["-m=", "--mode=", "--quiet"]),
    "collections list": ([], ["--quiet"]),
    "collections get": (["collectionId"], ["--quiet"]),
    "collections create": (["name"], ["--icon=", "--quiet"]),
    "collections update": (["collectionId"], ["--name=", "--icon=", "--quiet"]),
    "media browse": (["collectionId"], ["--path=", "--limit=", "--offset=", "--type=", "--q=",
                                        "--tags=", "--recursive", "--quiet"]),
    "media search": (["query"], ["--limit=", "--quiet"]),
    "media get": (["mediaId"], ["--quiet"]),
    "media upload": (["filePath", "collectionId"], ["--path=", "--name=", "--quiet"]),
    "media rename": (["mediaId", "name"], ["--quiet"]),
    "media move": (["mediaId", "destinationPath"], ["--quiet"]),
    "media delete": (["mediaId"], ["--quiet"]),
    "media find-similar": (["collectionId", "objectId"], ["--model=", "--limit=", "--quiet"]),
    "media versions list": (["mediaId"], ["--quiet"]),
    "media versions select": (["versionId"], ["--quiet"]),
    "media versions delete": (["rootMediaId", "versionId"], ["--quiet"]),
    "media tags add": (["mediaId", "label", "value"], ["--quiet"]),
    "media tags remove": (["mediaId", "label", "value"], ["--quiet"]),
    "media tags remove-group": (["mediaId", "label"], ["--quiet"]),
    "media tags rename-group": (["mediaId", "oldLabel", "newLabel"], ["--quiet"]),
    "folders create": (["collectionId", "name"], ["--path=", "--reuse", "--quiet"]),
    "folders get": (["folderId"], ["--quiet"]),
    "folders update": (["folderId"], ["--name=", "--quiet"]),
    "folders delete": (["folderId"], ["--quiet"]),
    "tags list": (["collectionId"], ["--quiet"]),
}

# Where ours differs on purpose (docs/cli.md says why).
DIFFERENT = {
    # The official `search` indexes the image files of the current directory into a local
    # SQLite file and ranks them; ours searches the server's library (a collection's or the
    # organization's, --org, with scores), so its --mode (local or hosted embedding model)
    # and its --quiet (the top five local file names) have nothing to stand for.
    "search": {"-m=", "--mode=", "--quiet"},
}


def _command(path: str) -> Any:
    """The click command Typer builds (Typer carries its own copy of click: duck-typed)."""
    command: Any = typer.main.get_command(app)
    for name in path.split():
        assert hasattr(command, "commands"), f"{path}: {command.name} has no subcommands"
        sub = command.commands.get(name)
        assert sub is not None, f"`{path}`: no `{name}` under `{command.name}`"
        command = sub
    return command


@pytest.mark.parametrize("path", sorted(OFFICIAL))
def test_the_official_command_is_here_with_its_flags(path: str) -> None:
    arguments, options = OFFICIAL[path]
    command = _command(path)
    ours = [p for p in command.params if p.param_type_name == "argument"]
    # the same required positionals (ours may take more, optional, after them)
    assert len([p for p in ours if p.required]) == len(arguments) <= len(ours), (
        path, [p.name for p in ours])
    takes_value = {opt: not p.is_flag for p in command.params if p.param_type_name == "option"
                   for opt in p.opts}
    for option in options:
        flag, wants_value = option.rstrip("="), option.endswith("=")
        if option in DIFFERENT.get(path, set()):
            continue
        assert flag in takes_value, f"`{path}` lacks {flag}"
        assert takes_value[flag] == wants_value, (
            f"`{path} {flag}` {'takes' if takes_value[flag] else 'takes no'} value, the "
            "official one the other way")
    required = [p.opts for p in command.params if p.param_type_name == "option" and p.required]
    assert required == [], f"`{path}` requires {required}, the official command nothing"


def test_the_differences_are_still_differences() -> None:
    """A difference that ours no longer has is dropped from DIFFERENT (and docs/cli.md)."""
    for path, options in DIFFERENT.items():
        have = {o for p in _command(path).params if p.param_type_name == "option" for o in p.opts}
        assert {o.rstrip("=") for o in options} - have, path
