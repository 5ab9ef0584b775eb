"""HTTP for /api/ai: describe, tag and embed an image, or embed a text (see ai/service.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from coreviz_studio.ai import service
from coreviz_studio.blobs import service as blobs
from coreviz_studio.deps import AppDatabase, Blobs, Config, Urls, ViewerNoDb, request_credential
from coreviz_studio.schemas import InputModel, NotNull, WireModel

router = APIRouter(prefix="/api/ai", tags=["ai"])
# Statuses only these routes answer (contract.py adds the ones every route can).
_IMAGE_ANSWERS: dict[int | str, dict[str, str]] = {
    413: {"description": "The image is too large"},
    415: {"description": "Not a supported image"},
    502: {"description": "The configured vision endpoint failed"}}

_SOURCE = "^(?:[dD][aA][tT][aA]|[hH][tT][tT][pP][sS]?):"  # the schemes ai/fetch.py takes
ImageSource = Annotated[str, Field(min_length=1, description="A data URL or an http(s) URL.",
                                   json_schema_extra={"pattern": _SOURCE})]
Prompt = Annotated[str, Field(max_length=4000)]


class DescribeBody(InputModel):
    image: ImageSource
    prompt: Prompt | None = None


class TagBody(InputModel):
    image: ImageSource
    prompt: Prompt = ""
    options: Annotated[list[Annotated[str, Field(min_length=1, max_length=200)]],
                       Field(max_length=200)] | None = None
    multiple: bool = False


class EmbedBody(InputModel):
    """Exactly one of image and text (null is refused, as leaving it out is the way)."""

    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": ["image"]},
                                                           {"required": ["text"]}]})
    image: Annotated[ImageSource | SkipJsonSchema[None], NotNull] = None
    text: Annotated[Annotated[str, Field(min_length=1)] | SkipJsonSchema[None], NotNull] = None


class GenerateBody(InputModel):
    image: str | None = None
    prompt: Prompt = ""


class Described(WireModel):
    description: str
    model: str


class Tagged(WireModel):
    tags: list[str]
    model: str


class Embedded(WireModel):
    embedding: list[float]
    model: str
    dim: int


class OwnBlobs:
    """Reads an image given as one of this server's blob URLs from the store (blobs/service.py
    says by which rules), instead of fetching it over HTTP."""

    def __init__(self, request: Request, settings: Config, db: AppDatabase, store: Blobs,
                 urls: Urls) -> None:
        self._credential = request_credential(request)
        self._settings, self._db, self._store, self._urls = settings, db, store, urls

    async def bytes_of(self, source: str | None) -> bytes | None:
        if source is None:
            return None
        return await run_in_threadpool(blobs.own_bytes, self._db, self._store, self._urls,
                                       source, self._credential, self._settings.fetch_max_bytes)


Own = Annotated[OwnBlobs, Depends()]


@router.post("/describe", response_model=Described, responses=_IMAGE_ANSWERS)
async def describe(body: DescribeBody, settings: Config, _: ViewerNoDb, own: Own) -> Described:
    """A sentence about the image."""
    text, model = await service.describe(settings, body.image, body.prompt,
                                         await own.bytes_of(body.image))
    return Described(description=text, model=model)


@router.post("/tag", response_model=Tagged, responses=_IMAGE_ANSWERS)
async def tag(body: TagBody, settings: Config, _: ViewerNoDb, own: Own) -> Tagged:
    """Tags for the image; with `options`, the option(s) that fit it best."""
    tags, model = await service.tag(settings, body.image, body.prompt, body.options,
                                    body.multiple, await own.bytes_of(body.image))
    return Tagged(tags=tags, model=model)


@router.post("/embed", response_model=Embedded, responses=_IMAGE_ANSWERS)
async def embed(body: EmbedBody, settings: Config, _: ViewerNoDb, own: Own) -> Embedded:
    """A unit-length vector of the image or the text, in one space shared by both."""
    vector, model = await service.embed(settings, body.image, body.text,
                                        await own.bytes_of(body.image))
    return Embedded(embedding=vector, model=model, dim=len(vector))


@router.post("/edit", status_code=501)
async def edit(body: GenerateBody, _: ViewerNoDb) -> None:
    raise service.generative_unavailable("editing")


@router.post("/generate", status_code=501)
async def generate(body: GenerateBody, _: ViewerNoDb) -> None:
    raise service.generative_unavailable("generation")
