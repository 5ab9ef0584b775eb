"""What every client command shares: the --server/--api-key options, errors turned into the
server's message and a documented exit code (docs/cli.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from coreviz_studio.client import APIError, Client, ConnectionFailed, CoreVizError, Unauthorized
from coreviz_studio.commands import profile

Server = Annotated[str | None, typer.Option(
    "--server", "--api-url", help="The server (default $COREVIZ_API_URL, else the one `login` "
    "saved, else http://127.0.0.1:8000).", show_default=False)]
ApiKey = Annotated[str | None, typer.Option(
    "--api-key", help="An API key (default $COREVIZ_API_KEY, else the token `login` saved).",
    show_default=False)]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON (one line per item/event).")]
Quiet = Annotated[bool, typer.Option("--quiet", help="For scripts: print only what the official "
                                     "CLI prints with --quiet (JSON on one line, a word, or "
                                     "the text asked for; docs/cli.md).")]
# Where `media upload` and `sync` put files, and how they send them.
DestPath = Annotated[str | None, typer.Option(
    "--path", help="Destination folder path (ltree, as browse gives it; default the "
    "collection's root).")]
DestFolder = Annotated[str | None, typer.Option(
    "--folder", help="Folders by name under the destination, A/B (made if missing).")]
ChunkSize = Annotated[int, typer.Option(
    "--chunk-size", min=64 * 1024, help="Bytes per resumable (tus) request.")]
MultipartBelow = Annotated[int, typer.Option(
    "--multipart-below", min=0, help="Files under this many bytes go in one request "
    "(not resumable within the file); the others through tus.")]


def fail(message: str, code: int = profile.FAILED) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def exit_code_of(exc: BaseException) -> int:
    if isinstance(exc, Unauthorized):
        return profile.UNAUTHENTICATED
    if isinstance(exc, ConnectionFailed):
        return profile.UNREACHABLE
    return profile.FAILED


def describe(exc: BaseException) -> str:
    if isinstance(exc, APIError):
        return f"{exc.message} ({exc.status}{', ' + exc.code if exc.code else ''})"
    if isinstance(exc, ConnectionFailed):
        return f"could not reach the server: {exc}"
    return str(exc)


@contextmanager
def errors() -> Iterator[None]:
    """Client errors become `error: <the server's message>` and their exit code."""
    try:
        yield
    except CoreVizError as exc:
        hint = ""
        if isinstance(exc, Unauthorized):
            hint = " (run `coreviz-studio login`, or pass --api-key / set COREVIZ_API_KEY)"
        fail(describe(exc) + hint, exit_code_of(exc))


@contextmanager
def connect(server: str | None, api_key: str | None, *, need_credential: bool = True
            ) -> Iterator[Client]:
    target = profile.resolve(server, api_key)
    if need_credential and target.source == "none":
        fail(f"not logged in to {target.server}: run `coreviz-studio login`, or pass "
             "--api-key / set COREVIZ_API_KEY", profile.UNAUTHENTICATED)
    with errors(), target.client() as client:
        yield client


def emit(data: Any) -> None:
    """One JSON line on stdout."""
    sys.stdout.write(json.dumps(data, default=str, separators=(",", ":")) + "\n")
    sys.stdout.flush()
