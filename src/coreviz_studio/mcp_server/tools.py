"""The tools. Names and argument shapes are the official CoreViz MCP server's
(@coreviz/cli lib/mcp-tools.js: camelCase arguments), so a host configured for it works here;
ours follow. Every tool goes through a `coreviz_studio.client.AsyncClient` that a `Connector`
hands it (one per process over stdio; one per call over HTTP, carrying the caller's credential).

Results are compact JSON text: ids, names, paths, URLs (never bytes), tags, detected objects
without their embeddings. A client error becomes a ToolError, which the SDK answers as a tool
result with isError=true and the server's message: the model reads it, the session goes on."""

import functools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from coreviz_studio.client import AsyncClient, CoreVizError
from coreviz_studio.client import models as m
from coreviz_studio.client.errors import APIError

Connector = Callable[[Context], AbstractAsyncContextManager[AsyncClient]]

OFFICIAL_TOOLS = (
    "list_collections", "get_collection", "create_collection", "update_collection",
    "browse_media", "search_media", "get_media", "get_tags", "find_similar", "analyze_image",
    "create_folder", "get_folder", "update_folder", "delete_folder", "move_item", "rename_item",
    "add_tag", "remove_tag", "remove_tag_group", "rename_tag_group", "list_versions",
    "select_version", "delete_version", "delete_media", "upload_media",
)
OUR_TOOLS = (
    "search_organization", "list_people", "list_clusters", "name_cluster", "list_trash",
    "restore_media", "whoami",
)

INSTRUCTIONS = """\
CoreViz Studio, a self-hosted visual library: collections hold folders and media (images,
videos, PDFs). Start with list_collections; browse_media lists a folder (by its ltree `path`,
from earlier results: never build paths by hand); search_media or search_organization find by
meaning; get_media gives one item's tags, detected objects (their ids feed find_similar) and
versions. delete_media moves to the trash (list_trash / restore_media bring it back)."""

READ = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
WRITE = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
IDEMPOTENT = ToolAnnotations(read_only_hint=False, destructive_hint=False,
                             idempotent_hint=True, open_world_hint=False)
DESTRUCTIVE = ToolAnnotations(read_only_hint=False, destructive_hint=True,
                              open_world_hint=False)

MAX_OBJECTS = 20  # per media in a listing; get_media gives them all


# --- compact results ---------------------------------------------------------------------------

def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in (None, "", [], {})}


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _object(o: m.DetectedObject) -> dict[str, Any]:
    return _drop_empty({"id": o.id, "type": o.type, "label": o.label,
                        "confidence": round(o.confidence, 3) if o.confidence is not None
                        else None, "clusterId": o.cluster_id, "frameId": o.frame_id})


def media_out(media: m.Media, *, full: bool = False) -> dict[str, Any]:
    """One media (or folder) as the model needs it: no embeddings, no EXIF dump."""
    objects = [o for f in media.frames for o in f.objects]
    out: dict[str, Any] = {
        "id": media.id, "name": media.name, "type": media.type, "path": media.path,
        "collectionId": media.collection_id or media.dataset_id,
        "blob": media.blob, "thumbnail": media.thumbnail,
        "width": media.width, "height": media.height, "duration": media.duration,
        "pageCount": media.page_count, "mimeType": media.mime_type,
        "sizeBytes": media.size_bytes, "status": media.status,
        "tags": media.tags, "score": media.score,
        "createdAt": _when(media.created_at),
        "objects": [_object(o) for o in (objects if full else objects[:MAX_OBJECTS])],
    }
    if len(objects) > MAX_OBJECTS and not full:
        out["moreObjects"] = len(objects) - MAX_OBJECTS
    captions = [c.text for f in media.frames for c in f.captions]
    if captions:
        out["captions"] = captions if full else captions[:3]
    if media.root_id or media.version_number:
        out.update(rootId=media.root_id, versionNumber=media.version_number,
                   isActiveVersion=media.is_active_version)
    if full:
        out["sha256"] = media.sha256
        out["metadata"] = {k: v for k, v in media.metadata.items() if k != "tags"}
        if media.frames and media.type != "image":
            out["frames"] = [_drop_empty({"id": f.id, "timestamp": f.timestamp,
                                          "pageNumber": f.page_number, "blob": f.blob,
                                          "thumbnail": f.thumbnail_blob,
                                          "text": (f.text or "")[:500]})
                             for f in media.frames[:50]]
    return _drop_empty(out)


def page_out(page: m.MediaPage) -> dict[str, Any]:
    p = page.pagination
    return {"items": [media_out(x) for x in page.media],
            "pagination": {"total": p.total, "limit": p.limit, "offset": p.offset,
                           "hasMore": p.has_more}}


def collection_out(c: m.Collection) -> dict[str, Any]:
    return _drop_empty({"id": c.id, "name": c.name, "icon": c.icon, "type": c.type,
                        "organizationId": c.organization_id, "status": c.status,
                        "createdAt": _when(c.created_at), "metadata": c.metadata})


def folder_out(f: m.Folder) -> dict[str, Any]:
    return _drop_empty({"id": f.id, "name": f.name, "type": "folder", "path": f.path,
                        "parentPath": f.parent_path,
                        "collectionId": f.collection_id or f.dataset_id,
                        "metadata": f.metadata, "createdAt": _when(f.created_at)})


def hit_out(h: m.SearchHit) -> dict[str, Any]:
    return _drop_empty({
        "mediaId": h.media.id, "name": h.media.name, "type": h.media.type,
        "score": round(h.rank, 4), "blob": h.blob, "thumbnail": h.thumbnail,
        "frameId": h.frame_id,
        "objects": [_drop_empty({k: o.get(k) for k in ("id", "type", "label", "clusterId")})
                    for o in h.objects[:MAX_OBJECTS]],
        "captions": [c.get("text") for c in h.captions[:3]]})


def cluster_out(c: m.Cluster) -> dict[str, Any]:
    cover = c.cover
    return _drop_empty({"id": c.id, "kind": c.kind, "name": c.name, "label": c.label,
                        "memberCount": c.member_count,
                        "cover": _drop_empty({"mediaId": cover.media_id,
                                              "objectId": cover.object_id,
                                              "thumbnail": cover.thumbnail_blob})
                        if cover else None})


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def error_text(exc: CoreVizError) -> str:
    """The server's sentence first (the SDK prefixes "Error executing tool <name>: ")."""
    if isinstance(exc, APIError):
        code = f", {exc.code}" if exc.code else ""
        return f"{exc.message} (HTTP {exc.status}{code})"
    return str(exc)


# --- the server --------------------------------------------------------------------------------

Id = Annotated[str, Field(min_length=1)]


def build_server(connect: Connector, *, upload_dirs: list[Path] | None = None,
                 name: str = "coreviz-studio") -> MCPServer[Any]:
    """The MCP server with every tool. `connect(ctx)` yields the client a call uses.
    `upload_dirs`: where upload_media may read files; None means anywhere (stdio: the files
    are the user's own), [] means nowhere (HTTP without COREVIZ_MCP_UPLOAD_DIRS)."""
    from coreviz_studio import __version__

    server: MCPServer[Any] = MCPServer(name, version=__version__, instructions=INSTRUCTIONS,
                                        log_level="WARNING")

    def tool(annotations: ToolAnnotations, description: str
             ) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[str]]]:
        def register(fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[str]]:
            @functools.wraps(fn)
            async def wrapped(*args: Any, **kwargs: Any) -> str:
                try:
                    result = await fn(*args, **kwargs)
                except CoreVizError as exc:
                    raise ToolError(error_text(exc)) from exc
                return result if isinstance(result, str) else _text(result)

            wrapped.__annotations__ = {**fn.__annotations__, "return": str}
            server.add_tool(wrapped, name=fn.__name__, description=description,
                            annotations=annotations, structured_output=False)
            return wrapped
        return register

    # --- collections (official) ---

    @tool(READ, "List the collections of the caller's organization (ids, names, icons). "
          "Start here: every other tool needs a collectionId or an id found from one.")
    async def list_collections(
        ctx: Context,
        organizationId: Annotated[str | None, Field(
            description="Organization ID (optional; defaults to the caller's own)")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return [collection_out(x) for x in await c.list_collections(organizationId)]

    @tool(READ, "Get one collection's details by its ID.")
    async def get_collection(ctx: Context, collectionId: Annotated[Id, Field(
            description="The collection ID (from list_collections)")]) -> Any:
        async with connect(ctx) as c:
            return collection_out(await c.get_collection(collectionId))

    @tool(WRITE, "Create a new collection in the caller's organization.")
    async def create_collection(
        ctx: Context,
        name: Annotated[str, Field(min_length=1, description="Name for the new collection")],
        icon: Annotated[str | None, Field(
            description="Optional icon (emoji or icon name)")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return collection_out(await c.create_collection(name, icon))

    @tool(IDEMPOTENT, "Rename a collection or change its icon.")
    async def update_collection(
        ctx: Context,
        collectionId: Annotated[Id, Field(description="The collection ID to update")],
        name: Annotated[str | None, Field(description="New name for the collection")] = None,
        icon: Annotated[str | None, Field(description="New icon (emoji or icon name)")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            if icon is None:
                return collection_out(await c.update_collection(collectionId, name))
            return collection_out(await c.update_collection(collectionId, name, icon))

    # --- media (official) ---

    @tool(READ, "List the media and folders of one folder of a collection (the root by "
          "default), page by page, with filters; or search inside that collection with `q`. "
          "Each item has its id, name, type, ltree `path` (pass a folder's path back as `path` "
          "to open it, or as destinationPath to move_item), blob and thumbnail URLs, tags and "
          "detected objects.")
    async def browse_media(
        ctx: Context,
        collectionId: Annotated[Id, Field(
            description="The collection ID to browse (from list_collections)")],
        path: Annotated[str | None, Field(description=(
            'ltree path to list ("collectionId" for the root, "collectionId.folderId" for a '
            "subfolder, from earlier results). Defaults to the collection root."))] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Max items (default 50)")] = 50,
        offset: Annotated[int, Field(ge=0, description="Pagination offset")] = 0,
        type: Annotated[Literal["image", "video", "folder", "all"] | None, Field(
            description="Only this type of item")] = None,
        dateFrom: Annotated[str | None, Field(
            description="Created on or after (YYYY-MM-DD)")] = None,
        dateTo: Annotated[str | None, Field(
            description="Created on or before (YYYY-MM-DD)")] = None,
        sortBy: Annotated[str | None, Field(
            description="Sort field: name, createdAt, type")] = None,
        sortDirection: Annotated[Literal["asc", "desc"] | None, Field(
            description="Sort direction")] = None,
        q: Annotated[str | None, Field(description=(
            "Text or semantic search query inside this collection: results get a score"))] = None,
        similarToObjectId: Annotated[str | None, Field(
            description="Object ID: rank by visual similarity to it")] = None,
        similarToObjectModel: Annotated[str | None, Field(
            description='Similarity model ("faces", "objects")')] = None,
        tags: Annotated[str | None, Field(description="Comma-separated tag filter")] = None,
        mediaId: Annotated[str | None, Field(
            description="Only this media item")] = None,
        clusterId: Annotated[str | None, Field(
            description="Only media with an object in this cluster (a person)")] = None,
        recursive: Annotated[bool | None, Field(
            description="List every descendant, not just the folder's own items")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return page_out(await c.browse_media(
                collectionId, path=path, limit=limit, offset=offset,
                type=None if type == "all" else type, date_from=dateFrom, date_to=dateTo,
                sort_by=sortBy, sort_direction=sortDirection, q=q,
                similar_to_object_id=similarToObjectId,
                similar_to_object_model=similarToObjectModel, tags=tags, media_id=mediaId,
                cluster_id=clusterId, recursive=recursive))

    @tool(READ, "Search every collection of the organization by meaning, in natural language "
          '(e.g. "red shoes", "sunset over mountains", "a receipt"). Best first, with a score, '
          "blob and thumbnail URLs and detected objects. For one collection use browse_media "
          "with q.")
    async def search_media(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, description="Natural language query")],
        limit: Annotated[int, Field(ge=1, le=50, description="Max results (default 10)")] = 10,
    ) -> Any:
        async with connect(ctx) as c:
            return [hit_out(h) for h in await c.search(query, limit=limit)]

    @tool(READ, "Get everything about one media item: blob URL, dimensions, tags, captions, "
          "every detected object (their ids feed find_similar), version fields, metadata.")
    async def get_media(ctx: Context, mediaId: Annotated[Id, Field(
            description="The media item ID (from browse_media or search results)")]) -> Any:
        async with connect(ctx) as c:
            return media_out(await c.get_media(mediaId), full=True)

    @tool(READ, "Every tag group of a collection with its values ({label: [values]}): how the "
          "collection is categorised.")
    async def get_tags(ctx: Context, collectionId: Annotated[Id, Field(
            description="The collection ID (from list_collections)")]) -> Any:
        async with connect(ctx) as c:
            return await c.get_tags(collectionId)

    @tool(READ, "Media visually similar to one detected object (a face, a product...): give "
          "an object ID from get_media objects[].id or search results. Best first.")
    async def find_similar(
        ctx: Context,
        collectionId: Annotated[Id, Field(
            description="The collection to search within")],
        objectId: Annotated[Id, Field(
            description="A detected object's ID (get_media objects[].id)")],
        limit: Annotated[int, Field(ge=1, le=200, description="Max results (default 10)")] = 10,
        model: Annotated[str | None, Field(
            description='Similarity model: "faces" or "objects"')] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return page_out(await c.find_similar(collectionId, objectId, model, limit=limit))

    @tool(READ, "Describe an image with the vision model, or answer a question about it. Give "
          "a blob URL from browse_media, get_media or search results (never a guessed one).")
    async def analyze_image(
        ctx: Context,
        imageUrl: Annotated[str, Field(min_length=1,
                                       description="The image's blob URL")],
        prompt: Annotated[str, Field(description="Question or instruction about the image")]
        = "Describe this image in detail.",
    ) -> Any:
        async with connect(ctx) as c:
            d = await c.describe(imageUrl, prompt)
            # note: set when no vision endpoint could read the prompt (say so to the agent)
            return _drop_empty({"description": d.description, "model": d.model,
                                "note": d.note})

    # --- folders (official) ---

    @tool(WRITE, "Create a folder in a collection (at the root, or under `path`). reuse=true "
          "returns the existing folder of that name there instead of failing.")
    async def create_folder(
        ctx: Context,
        collectionId: Annotated[Id, Field(description="The collection ID")],
        name: Annotated[str, Field(min_length=1, description="Name of the new folder")],
        path: Annotated[str | None, Field(description=(
            'Parent ltree path ("collectionId" for the root, "collectionId.folderId" for a '
            "subfolder). Defaults to the root."))] = None,
        reuse: Annotated[bool | None, Field(
            description="Return the existing folder of that name instead of failing")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return folder_out(await c.create_folder(collectionId, name, path,
                                                    reuse=bool(reuse)))

    @tool(READ, "Get one folder (its path, name, metadata) by ID.")
    async def get_folder(ctx: Context, folderId: Annotated[Id, Field(
            description="The folder ID (from browse_media)")]) -> Any:
        async with connect(ctx) as c:
            return folder_out(await c.get_folder(folderId))

    @tool(IDEMPOTENT, "Rename a folder or set metadata on it.")
    async def update_folder(
        ctx: Context,
        folderId: Annotated[Id, Field(description="The folder ID to update")],
        name: Annotated[str | None, Field(description="New name")] = None,
        metadata: Annotated[dict[str, Any] | None, Field(
            description="Metadata key-value pairs to set")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            return folder_out(await c.update_folder(folderId, name=name, metadata=metadata))

    @tool(DESTRUCTIVE, "Delete a folder and everything in it (the media go to the trash).")
    async def delete_folder(ctx: Context, folderId: Annotated[Id, Field(
            description="The folder ID to delete")]) -> Any:
        async with connect(ctx) as c:
            d = await c.delete_folder(folderId)
            return {"success": True, "deleted": folderId, "deletedCount": d.deleted_count}

    @tool(IDEMPOTENT, "Move a media item or folder to another folder of the same collection. "
          "destinationPath must be a folder's `path` from earlier results (never built by "
          "hand); the collection's ID is its root.")
    async def move_item(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item or folder to move")],
        destinationPath: Annotated[str, Field(min_length=1,
                                              description="The destination folder's ltree path")],
    ) -> Any:
        async with connect(ctx) as c:
            r = await c.move_item(mediaId, destinationPath)
            return {"id": r.id, "newPath": r.new_path, "movedCount": r.moved_count}

    @tool(IDEMPOTENT, "Rename a media item or folder.")
    async def rename_item(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The item to rename")],
        name: Annotated[str, Field(min_length=1, description="The new name")],
    ) -> Any:
        async with connect(ctx) as c:
            return media_out(await c.rename_item(mediaId, name))

    # --- tags (official) ---

    @tool(IDEMPOTENT, 'Add a tag to a media item: a group label and a value, e.g. label="color", '
          'value="red". Returns the item\'s tags.')
    async def add_tag(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item ID")],
        label: Annotated[str, Field(min_length=1, description='Tag group, e.g. "color"')],
        value: Annotated[str, Field(min_length=1, description='Tag value, e.g. "red"')],
    ) -> Any:
        async with connect(ctx) as c:
            t = await c.add_tag(mediaId, label, value)
            return {"success": True, "mediaId": t.media_id, "tags": t.tags}

    @tool(IDEMPOTENT, "Remove one tag (label and value) from a media item.")
    async def remove_tag(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item ID")],
        label: Annotated[str, Field(min_length=1, description="Tag group of the tag")],
        value: Annotated[str, Field(min_length=1, description="Tag value to remove")],
    ) -> Any:
        async with connect(ctx) as c:
            t = await c.remove_tag(mediaId, label, value)
            return {"success": True, "mediaId": t.media_id, "tags": t.tags}

    @tool(IDEMPOTENT, "Remove a whole tag group (every value under a label) from a media item.")
    async def remove_tag_group(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item ID")],
        label: Annotated[str, Field(min_length=1, description="Tag group to remove")],
    ) -> Any:
        async with connect(ctx) as c:
            t = await c.remove_tag_group(mediaId, label)
            return {"success": True, "mediaId": t.media_id, "tags": t.tags}

    @tool(IDEMPOTENT, "Rename a tag group on a media item, keeping its values.")
    async def rename_tag_group(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item ID")],
        oldLabel: Annotated[str, Field(min_length=1,
                                       description='Current label, e.g. "colour"')],
        newLabel: Annotated[str, Field(min_length=1,
                                       description='New label, e.g. "color"')],
    ) -> Any:
        async with connect(ctx) as c:
            t = await c.rename_tag_group(mediaId, oldLabel, newLabel)
            return {"success": True, "mediaId": t.media_id, "tags": t.tags}

    # --- versions (official) ---

    @tool(READ, "List every version of a media item (the original and its edits), with which "
          "one is active.")
    async def list_versions(ctx: Context, mediaId: Annotated[Id, Field(
            description="Any version's media ID")]) -> Any:
        async with connect(ctx) as c:
            return [media_out(v) for v in await c.list_versions(mediaId)]

    @tool(IDEMPOTENT, "Make a version the active one of its media item.")
    async def select_version(ctx: Context, versionId: Annotated[Id, Field(
            description="The version ID (from list_versions)")]) -> Any:
        async with connect(ctx) as c:
            v = await c.select_version(versionId)
            return {"success": True, "activeVersion": v.id, "versionNumber": v.version_number}

    @tool(DESTRUCTIVE, "Delete one version of a media item; if it was active, another is "
          "promoted.")
    async def delete_version(
        ctx: Context,
        rootMediaId: Annotated[Id, Field(description="The original media item's ID")],
        versionId: Annotated[Id, Field(
            description="The version ID to delete (from list_versions)")],
    ) -> Any:
        async with connect(ctx) as c:
            d = await c.delete_version(rootMediaId, versionId)
            return _drop_empty({"success": True, "deletedId": d.deleted_id,
                                "promotedId": d.promoted_id})

    @tool(DESTRUCTIVE, "Delete a media item: to the trash (restore_media brings it back), or "
          "for good with permanent=true.")
    async def delete_media(
        ctx: Context,
        mediaId: Annotated[Id, Field(description="The media item ID to delete")],
        permanent: Annotated[bool, Field(
            description="Delete for good instead of moving to the trash")] = False,
    ) -> Any:
        async with connect(ctx) as c:
            await c.delete_media(mediaId, permanent=permanent)
            return {"success": True, "deleted": mediaId,
                    "where": "gone" if permanent else "trash"}

    @tool(WRITE, "Upload a local photo, video or PDF file into a collection (resumable for "
          "large files). Give its absolute path; optionally a folder path and a name.")
    async def upload_media(
        ctx: Context,
        filePath: Annotated[str, Field(min_length=1, description=(
            "Absolute path of the file to upload (e.g. /Users/you/photo.jpg)"))],
        collectionId: Annotated[Id, Field(description="The collection to upload into")],
        path: Annotated[str | None, Field(description=(
            'ltree folder path to upload into ("collectionId.folderId"); the root by '
            "default"))] = None,
        name: Annotated[str | None, Field(description="Name in the library (default: the "
                                                       "file's name)")] = None,
    ) -> Any:
        file = _readable(filePath, upload_dirs)
        async with connect(ctx) as c:
            r = await c.upload(file, collectionId, path=path, name=name or file.name)
            return {"success": True, "mediaId": r.media_id, "url": r.url, "name": name or
                    file.name, "message": r.message or "uploaded; processing follows"}

    # --- ours ---

    @tool(READ, "Search the whole organization by meaning and get each hit's relevance score "
          "(higher is closer); minScore drops weak matches. Like search_media, with scores "
          "filtered and up to 200 results.")
    async def search_organization(
        ctx: Context,
        query: Annotated[str, Field(min_length=1, description="Natural language query")],
        limit: Annotated[int, Field(ge=1, le=200, description="Max results (default 20)")] = 20,
        minScore: Annotated[float | None, Field(
            description="Only hits scoring at least this")] = None,
    ) -> Any:
        async with connect(ctx) as c:
            hits = [hit_out(h) for h in await c.search(query, limit=limit)
                    if minScore is None or h.rank >= minScore]
            return {"query": query, "results": hits}

    @tool(READ, "The people recognised in the library: face clusters, named or not, with how "
          "many faces each holds. Pass a cluster's id as clusterId to browse_media to see its "
          "photos; name_cluster names one.")
    async def list_people(
        ctx: Context,
        collectionId: Annotated[str | None, Field(
            description="Only people seen in this collection")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Max (default 50)")] = 50,
        offset: Annotated[int, Field(ge=0, description="Pagination offset")] = 0,
    ) -> Any:
        async with connect(ctx) as c:
            page = await c.list_clusters(kind="face", collection_id=collectionId, limit=limit,
                                         offset=offset)
            return {"people": [cluster_out(x) for x in page.clusters],
                    "pagination": page.pagination}

    @tool(READ, "Clusters of similar detected objects (kind face = people, object = things), "
          "largest first.")
    async def list_clusters(
        ctx: Context,
        kind: Annotated[Literal["face", "object"] | None, Field(
            description="face or object (default both)")] = None,
        collectionId: Annotated[str | None, Field(
            description="Only clusters seen in this collection")] = None,
        limit: Annotated[int, Field(ge=1, le=200, description="Max (default 50)")] = 50,
        offset: Annotated[int, Field(ge=0, description="Pagination offset")] = 0,
    ) -> Any:
        async with connect(ctx) as c:
            page = await c.list_clusters(kind=kind, collection_id=collectionId, limit=limit,
                                         offset=offset)
            return {"clusters": [cluster_out(x) for x in page.clusters],
                    "pagination": page.pagination}

    @tool(IDEMPOTENT, "Name a person (a face cluster) or an object cluster; an empty name "
          "clears it.")
    async def name_cluster(
        ctx: Context,
        clusterId: Annotated[Id, Field(description="The cluster ID (from list_people)")],
        name: Annotated[str, Field(description="The name, e.g. \"Alice\"; empty to clear")],
    ) -> Any:
        async with connect(ctx) as c:
            return cluster_out(await c.name_cluster(clusterId, name or None))

    @tool(READ, "The media in a collection's trash (deleted with delete_media, restorable).")
    async def list_trash(
        ctx: Context,
        collectionId: Annotated[Id, Field(description="The collection ID")],
        limit: Annotated[int, Field(ge=1, le=200, description="Max (default 50)")] = 50,
        offset: Annotated[int, Field(ge=0, description="Pagination offset")] = 0,
    ) -> Any:
        async with connect(ctx) as c:
            return page_out(await c.list_trash(collectionId, limit=limit, offset=offset))

    @tool(IDEMPOTENT, "Bring a media item back from the trash to where it was.")
    async def restore_media(ctx: Context, mediaId: Annotated[Id, Field(
            description="The trashed media item's ID (from list_trash)")]) -> Any:
        async with connect(ctx) as c:
            r = await c.restore_media(mediaId)
            return {"success": True, "id": r.id, "newPath": r.new_path,
                    "restoredCount": r.restored_count}

    @tool(READ, "Who the tools act as: the user, organization and role of the credential.")
    async def whoami(ctx: Context) -> Any:
        async with connect(ctx) as c:
            me = await c.me()
            return _drop_empty(me.model_dump(mode="json", by_alias=True))

    return server


def _readable(file_path: str, upload_dirs: list[Path] | None) -> Path:
    path = Path(os.path.expanduser(file_path))
    if not path.is_absolute():
        raise ToolError(f"filePath must be absolute, got {file_path!r}")
    path = path.resolve()
    if upload_dirs is not None:
        allowed = [d.resolve() for d in upload_dirs]
        if not any(path.is_relative_to(d) for d in allowed):
            where = ", ".join(map(str, allowed)) or "nowhere (COREVIZ_MCP_UPLOAD_DIRS is unset)"
            raise ToolError("over HTTP upload_media reads only files under the server's "
                            f"COREVIZ_MCP_UPLOAD_DIRS: {where}")
    if not path.is_file():
        raise ToolError(f"no such file: {path}")
    return path


def single_client(client: AsyncClient) -> Connector:
    """One client for every call (stdio: one user, one credential)."""
    @asynccontextmanager
    async def connect(_: Context) -> AsyncIterator[AsyncClient]:
        yield client
    return connect
