"""`describe`, `tag`, `edit`: the official CLI's AI commands, sent to the configured server's
/api/ai routes (the official CLI has the hosted address written in for these)."""

from __future__ import annotations

import base64
import io
import mimetypes
import time
from pathlib import Path
from typing import Annotated

import typer
from PIL import Image, ImageOps, UnidentifiedImageError

from coreviz_studio.commands import common, profile
from coreviz_studio.commands.answers import Quiet, wire

ImagePath = Annotated[Path, typer.Argument(help="An image file.", show_default=False)]

# The official SDK shrinks the image to fit these boxes before sending it; so do we (a phone
# photo is 5-10 MB, a third more as base64, and the models look at far fewer pixels).
DESCRIBE_BOX = 512
EDIT_BOX = 1024


def data_url(path: Path, box: int) -> str:
    """The file as a data URL, shrunk to fit box x box when it is a larger image; a file that
    is no image goes as it is, for the server to say what it makes of it."""
    if not path.is_file():
        common.fail(f"file not found: {path}", profile.USAGE)
    raw = path.read_bytes()
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        with Image.open(io.BytesIO(raw)) as image:
            if max(image.size) > box:
                # turned upright first: the copy sent has no EXIF to say which way is up
                upright = ImageOps.exif_transpose(image)
                upright.thumbnail((box, box))
                out = io.BytesIO()
                upright.convert("RGB").save(out, "JPEG", quality=90)
                raw, mime = out.getvalue(), "image/jpeg"
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        pass
    return f"data:{mime};base64,{base64.b64encode(raw).decode()}"


def edited_bytes(result: str) -> bytes:
    """The image of an edit's `result`: a data URL or bare base64 (the official CLI takes
    either; an http(s) URL is read as a blob instead)."""
    return base64.b64decode(result.split(",", 1)[1] if result.startswith("data:") else result)


def register(app: typer.Typer) -> None:
    @app.command("describe")
    def describe(image_path: ImagePath,
                 server: common.Server = None, api_key: common.ApiKey = None,
                 as_json: common.AsJson = False, quiet: Quiet = False) -> None:
        """Describe an image in a sentence (the server's vision endpoint, or its offline
        models)."""
        image = data_url(image_path, DESCRIBE_BOX)
        with common.connect(server, api_key) as c:
            said = c.describe(image)
        if as_json:
            common.emit(wire(said))
        else:
            typer.echo(said.description)

    @app.command("tag")
    def tag(image_path: ImagePath,
            prompt: Annotated[str, typer.Argument(
                help="What to tag, e.g. \"color of the car\" (may be empty with --choices).",
                show_default=False)],
            choices: Annotated[str, typer.Option(
                "--choices", help="Comma-separated tags to choose from.")] = "",
            single: Annotated[bool, typer.Option("--single", help="Only one tag.")] = False,
            mode: Annotated[str, typer.Option(
                "--mode", "-m", help="api or local (the official flag; here the server runs "
                "the models either way).")] = "api",
            server: common.Server = None, api_key: common.ApiKey = None,
            as_json: common.AsJson = False, quiet: Quiet = False) -> None:
        """Tags for an image: free ones, or the best of --choices."""
        if mode not in ("api", "local"):
            common.fail(f"--mode is api or local, not {mode!r}", profile.USAGE)
        options = [s.strip() for s in choices.split(",") if s.strip()] or None
        if not prompt and options:
            prompt = "Select the best matching tags"  # what the official CLI asks then
        image = data_url(image_path, DESCRIBE_BOX)
        with common.connect(server, api_key) as c:
            said = c.tag(image, prompt, options=options, multiple=not single)
        if as_json:
            common.emit(wire(said))
        elif quiet:
            if said.tags:
                typer.echo("\n".join(said.tags))
        else:
            typer.echo("\n".join(f"• {t}" for t in said.tags) if said.tags else "no tags")

    @app.command("edit")
    def edit(image_path: ImagePath,
             prompt: Annotated[str, typer.Argument(help="What to change in the image.",
                                                   show_default=False)],
             server: common.Server = None, api_key: common.ApiKey = None,
             quiet: Quiet = False) -> None:
        """Edit an image as the prompt says; saves edited-<time>-<name> here (a server
        without an image-editing endpoint says so, and the command exits 1)."""
        image = data_url(image_path, EDIT_BOX)
        with common.connect(server, api_key) as c:
            result = c.edit(prompt, image).result
            data = (c.read_blob(result) if result.startswith(("http://", "https://"))
                    else edited_bytes(result))
        out = Path(f"edited-{int(time.time() * 1000)}-{image_path.name}")
        out.write_bytes(data)
        typer.echo(str(out) if quiet else f"edited image saved as {out}")
