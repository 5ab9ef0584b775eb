"""HTTP for /api/ai: describe, tag and embed an image, or embed a text (see ai/service.py); edit
and generate a picture through a configured images endpoint (ai/generative.py, ai/saving.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from PIL import Image
from pydantic import ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema
from starlette.concurrency import run_in_threadpool

from coreviz_studio.ai import generative, saving, service
from coreviz_studio.auth.principal import Principal
from coreviz_studio.blobs import service as blobs
from coreviz_studio.deps import AppDatabase, Blobs, Config, Urls, ViewerNoDb, request_credential
from coreviz_studio.errors import Invalid
from coreviz_studio.ids import Id
from coreviz_studio.media.paths import QUERY_PATTERN
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


ImageSources = Annotated[list[ImageSource], Field(min_length=1, max_length=8)]
AspectRatio = Literal[generative.ASPECT_RATIOS]  # type: ignore[valid-type]
MadePrompt = Annotated[str, Field(min_length=1, max_length=4000,
                                  description="What to make, or how to change the image")]
ModelName = Annotated[str, Field(max_length=200, description=(
    "The model the official SDK names (flux-kontext-max, google/nano-banana...): recorded; "
    "the server's own COREVIZ_IMAGE_API_MODEL does the work"))]


class EditBody(InputModel):
    """The official SDK's `edit` body, plus `mediaId` (keep the result as that item's new
    active version; without `image`, the item's own picture is edited)."""

    image: ImageSource | ImageSources | None = None
    prompt: MadePrompt
    aspect_ratio: AspectRatio | None = None
    output_format: Literal["jpg", "png"] = "jpg"
    model: ModelName | None = None
    media_id: Id | None = Field(None, description="Keep the edit as a new active version of "
                                                  "this image item")


class GenerateBody(InputModel):
    """The official SDK's `generate` body (`image`: reference pictures), plus `datasetId` (and
    `path`, `name`) to keep the picture as a new item of that collection."""

    prompt: MadePrompt
    image: ImageSource | ImageSources | None = None
    aspect_ratio: AspectRatio | None = None
    output_format: Literal["jpg", "png"] = "jpg"
    model: ModelName | None = None
    dataset_id: Id | None = Field(None, description="Keep the picture as a new item of this "
                                                    "collection (processed like an upload)")
    path: Annotated[str, Field(pattern=QUERY_PATTERN, max_length=2000,
                               description="Folder path in datasetId (default: its root)")] \
        | None = None
    name: Annotated[str, Field(min_length=1, max_length=255)] | None = None


class Generated(WireModel):
    result: str = Field(description="The picture, as a data URL (what the official SDK and "
                                    "CLI read)")
    model: str = Field(description="The model that made it (COREVIZ_IMAGE_API_MODEL)")
    media_id: str | None = Field(None, description="The item it was kept as (mediaId or "
                                                   "datasetId given)")
    url: str | None = Field(None, description="That item's blob URL")


class Described(WireModel):
    description: str
    model: str
    note: str | None = Field(None, description="Set when a prompt could not be answered: "
                                               "what the offline models can and cannot say")


class Tagged(WireModel):
    tags: list[str]
    model: str
    confidence: float | None = Field(None, description="Options chosen by the offline models: "
                                                       "how sure the first choice is, 0..1")
    evidence: str | None = Field(None, description="What that choice rests on, in words")


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


_MADE_ANSWERS: dict[int | str, dict[str, str]] = {
    **_IMAGE_ANSWERS,
    403: {"description": "Keeping the picture (mediaId, datasetId) needs the member role"},
    404: {"description": "No such media item or collection"},
    501: {"description": "No images endpoint is configured (COREVIZ_IMAGE_API_BASE)"},
    502: {"description": "The configured images endpoint failed"}}


@router.post("/describe", response_model=Described, responses=_IMAGE_ANSWERS,
             response_model_exclude_none=True)
async def describe(body: DescribeBody, settings: Config, _: ViewerNoDb, own: Own) -> Described:
    """A sentence about the image; `prompt` goes to the vision endpoint where one is set
    (without one, `note` says the prompt could not be answered, and why)."""
    found = await service.describe(settings, body.image, body.prompt,
                                   await own.bytes_of(body.image))
    return Described(description=found.text, model=found.model, note=found.note)


@router.post("/tag", response_model=Tagged, responses=_IMAGE_ANSWERS,
             response_model_exclude_none=True)
async def tag(body: TagBody, settings: Config, _: ViewerNoDb, own: Own) -> Tagged:
    """Tags for the image; with `options`, the option(s) that fit it best (chosen offline:
    with `confidence` and `evidence`)."""
    found = await service.tag(settings, body.image, body.prompt, body.options,
                              body.multiple, await own.bytes_of(body.image))
    return Tagged(tags=found.tags, model=found.model, confidence=found.confidence,
                  evidence=found.evidence)


@router.post("/embed", response_model=Embedded, responses=_IMAGE_ANSWERS)
async def embed(body: EmbedBody, settings: Config, _: ViewerNoDb, own: Own) -> Embedded:
    """A unit-length vector of the image or the text, in one space shared by both."""
    vector, model = await service.embed(settings, body.image, body.text,
                                        await own.bytes_of(body.image))
    return Embedded(embedding=vector, model=model, dim=len(vector))


def _sources(image: str | list[str] | None) -> list[str]:
    return [] if image is None else [image] if isinstance(image, str) else image


async def _pictures(settings: Config, own: OwnBlobs, sources: list[str]) -> list[Image.Image]:
    return [await service.load(settings, s, await own.bytes_of(s)) for s in sources]


@router.post("/edit", response_model=Generated, responses=_MADE_ANSWERS,
             response_model_exclude_none=True)
async def edit(body: EditBody, settings: Config, principal: ViewerNoDb, own: Own,
               db: AppDatabase, store: Blobs, urls: Urls) -> Generated:
    """The image changed as `prompt` says, by the configured images endpoint (POST
    {COREVIZ_IMAGE_API_BASE}/images/edits); 501 where none is configured. With `mediaId`,
    the result becomes that item's new active version (`metadata.ai` says how it was made)."""
    sources = _sources(body.image)
    target = saving.Target(version_of=str(body.media_id)) if body.media_id else None
    own_picture = None
    if target is not None:
        own_picture = await run_in_threadpool(saving.check, db, store, settings, principal,
                                              target, not sources)
    if generative.images_api(settings) is None:
        raise generative.unavailable("editing")
    if not sources and own_picture is None:
        raise Invalid("edit needs an image (a data URL or an http(s) URL) or a mediaId of "
                      "an image item to edit")
    pictures = await _pictures(settings, own, sources)
    if own_picture is not None:
        pictures = [await service.load(settings, "", own_picture)]
    made = await generative.make(settings, body.prompt, pictures, body.aspect_ratio,
                                 body.output_format)
    return await _answer(made, target, body.model, body.prompt, body.aspect_ratio, "edit",
                         principal, db, store, settings, urls)


@router.post("/generate", response_model=Generated, responses=_MADE_ANSWERS,
             response_model_exclude_none=True)
async def generate(body: GenerateBody, settings: Config, principal: ViewerNoDb, own: Own,
                   db: AppDatabase, store: Blobs, urls: Urls) -> Generated:
    """A new picture as `prompt` says, by the configured images endpoint (POST
    {COREVIZ_IMAGE_API_BASE}/images/generations, or /images/edits with the reference
    `image`s); 501 where none is configured. With `datasetId`, it is kept as a new item."""
    target = None
    if body.dataset_id is None and (body.path or body.name):
        raise Invalid("path and name say where to keep the picture: give datasetId too")
    if body.dataset_id is not None:
        target = saving.Target(dataset_id=str(body.dataset_id), path=body.path,
                               name=body.name)
        await run_in_threadpool(saving.check, db, store, settings, principal, target, False)
    if generative.images_api(settings) is None:
        raise generative.unavailable("generation")
    pictures = await _pictures(settings, own, _sources(body.image))
    made = await generative.make(settings, body.prompt, pictures, body.aspect_ratio,
                                 body.output_format)
    return await _answer(made, target, body.model, body.prompt, body.aspect_ratio, "generate",
                         principal, db, store, settings, urls)


async def _answer(made: generative.Made, target: saving.Target | None, asked: str | None,
                  prompt: str, aspect_ratio: str | None, operation: str,
                  principal: Principal, db: AppDatabase, store: Blobs, settings: Config,
                  urls: Urls) -> Generated:
    answer = Generated(result=made.data_url(), model=made.model)
    if target is not None:
        how = {"operation": operation, "model": made.model, "prompt": prompt,
               "requestedModel": asked, "aspectRatio": aspect_ratio}
        saved = await run_in_threadpool(saving.save, db, store, settings, urls, principal,
                                        target, made, {k: v for k, v in how.items() if v})
        answer.media_id, answer.url = saved.media_id, saved.url
    return answer
