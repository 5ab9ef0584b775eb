"""How the commands of the official CLI's tree answer: a short line for a person by default,
`--json` the server's answer as one JSON line, `--quiet` what the official CLI prints with it
(one JSON line of its result, or one word such as `deleted` where its result is empty)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import typer
from pydantic import BaseModel

from coreviz_studio.commands import common

Quiet = common.Quiet  # one flag and one help text for every command


def wire(value: Any) -> Any:
    """A client model (or a list of them) as the server wrote it: camelCase, JSON types."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True, mode="json")
    if isinstance(value, list):
        return [wire(x) for x in value]
    return value


def show(data: Any, *, quiet: bool, as_json: bool,
         human: Callable[[], str | Iterable[str]]) -> None:
    """A command whose official result is data: --quiet and --json print it as one JSON line,
    a person gets `human()`'s line(s)."""
    if quiet or as_json:
        common.emit(data)
        return
    said = human()
    for line in [said] if isinstance(said, str) else said:
        typer.echo(line)


def done(word: str, data: Any, *, quiet: bool, as_json: bool, human: str) -> None:
    """A command whose official result is empty: --quiet prints the official CLI's word, --json
    the server's answer, a person `human`."""
    if quiet:
        typer.echo(word)
    elif as_json:
        common.emit(data)
    else:
        typer.echo(human)
