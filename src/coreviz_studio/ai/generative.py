"""/api/ai/edit and /api/ai/generate: a picture made by the configured images endpoint.

The inputs are read as /api/ai reads any image (ai/fetch.py's SSRF rules, or our own blob URLs
from the store) and decoded in the sandbox; the endpoint is sent clean PNGs. Its answer is
decoded the same way (an endpoint's bytes are no more trusted than a client's), cropped to the
aspect ratio asked for when the endpoint's sizes do not have it, and written as JPEG or PNG.
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass

from PIL import Image, ImageOps

from coreviz_studio.ai import service
from coreviz_studio.ai.fetch import load_image_bytes
from coreviz_studio.ai.images_api import ImagesApi, ImagesApiError, Picture
from coreviz_studio.config import Settings
from coreviz_studio.errors import AppError, BadGateway, Invalid, NotImplementedYet

log = logging.getLogger(__name__)

# The ratios the official SDK offers (EditOptions and GenerateOptions together).
ASPECT_RATIOS = ("match_input_image", "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16",
                 "16:9", "21:9")
# The sizes every OpenAI-compatible images model takes (gpt-image-1's three); others are cut.
_SQUARE, _WIDE, _TALL = "1024x1024", "1536x1024", "1024x1536"
_FORMATS = {"jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}


@dataclass(frozen=True)
class Made:
    data: bytes
    mime: str
    ext: str
    model: str  # the model that made it (the configured one, whatever the client named)

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{base64.b64encode(self.data).decode()}"


def images_api(settings: Settings) -> ImagesApi | None:
    if not settings.image_api_base:
        return None
    return ImagesApi(settings.image_api_base, settings.image_api_model, settings.image_api_key,
                     timeout_s=settings.image_api_timeout_seconds,
                     max_bytes=settings.image_api_max_bytes)


def unavailable(what: str) -> AppError:
    return NotImplementedYet(
        f"Image {what} needs an image model, and none is configured on this server. Its "
        "operator can set COREVIZ_IMAGE_API_BASE to an OpenAI-compatible images endpoint (with "
        "its /v1, e.g. https://api.openai.com/v1), plus COREVIZ_IMAGE_API_KEY and "
        "COREVIZ_IMAGE_API_MODEL where it needs them, and restart. Nothing was changed.")


def ratio_of(aspect_ratio: str | None, inputs: list[Image.Image]) -> float | None:
    """Width / height asked for; None: whatever the endpoint makes."""
    if aspect_ratio in (None, "match_input_image"):
        return inputs[0].width / inputs[0].height if inputs else None
    width, height = aspect_ratio.split(":")
    return int(width) / int(height)


def size_for(ratio: float | None) -> str | None:
    if ratio is None:
        return None
    return _SQUARE if 0.9 <= ratio <= 1.1 else _WIDE if ratio > 1 else _TALL


async def make(settings: Settings, prompt: str, inputs: list[Image.Image],
               aspect_ratio: str | None, output_format: str) -> Made:
    """Edit `inputs` (or make a new picture when there are none) as `prompt` says."""
    api = images_api(settings)
    if api is None:
        raise unavailable("editing" if inputs else "generation")
    ratio = ratio_of(aspect_ratio, inputs)
    try:
        if inputs:
            picture = await api.edit([_png(i) for i in inputs], prompt, size_for(ratio))
        else:
            picture = await api.generate(prompt, size_for(ratio))
        image = await _decoded(settings, api, picture)
    except ImagesApiError as exc:
        log.warning("image endpoint: %s", exc)  # its address is the operator's, not callers'
        raise BadGateway("the image endpoint configured on this server failed; the server "
                         "log has the details") from exc
    return _encoded(_fitted(image, ratio), output_format, api.model)


async def _decoded(settings: Settings, api: ImagesApi, picture: Picture) -> Image.Image:
    try:
        data = picture.data
        if data is None and picture.url is not None and api.is_own(picture.url):
            data = await api.download(picture.url)
        elif data is None:
            assert picture.url is not None
            data = await load_image_bytes(picture.url, max_bytes=settings.fetch_max_bytes,
                                          timeout_s=settings.fetch_timeout_seconds)
        return await service.load(settings, "", data)
    except AppError as exc:
        log.warning("image endpoint answered an unusable image: %s", exc.message)
        raise BadGateway("the image endpoint configured on this server answered an image "
                         "this server cannot use; the server log has the details") from exc


def _fitted(image: Image.Image, ratio: float | None) -> Image.Image:
    """The image cut to `ratio` around its centre, where it is more than 1% off."""
    if ratio is None or abs(image.width / image.height - ratio) <= 0.01 * ratio:
        return image
    if image.width / image.height > ratio:
        size = (max(1, round(image.height * ratio)), image.height)
    else:
        size = (image.width, max(1, round(image.width / ratio)))
    return ImageOps.fit(image, size)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _encoded(image: Image.Image, output_format: str, model: str) -> Made:
    if output_format not in _FORMATS:
        raise Invalid(f"outputFormat must be one of {', '.join(_FORMATS)}")
    pil_format, mime = _FORMATS[output_format]
    out = io.BytesIO()
    image.save(out, pil_format, **({"quality": 92} if pil_format == "JPEG" else {}))
    return Made(out.getvalue(), mime, output_format, model)
