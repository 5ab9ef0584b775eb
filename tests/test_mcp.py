"""The MCP server (docs/mcp.md) driven by the official `mcp` package's client, over stdio
(`python -m coreviz_studio mcp` spawned against a live server) and over streamable HTTP at
/mcp of a live server: every tool listed with a valid JSON Schema, every tool called with
real arguments on real data (a real photo uploaded, browsed, tagged, moved, versioned,
searched, trashed, restored, deleted), errors as MCP error results with the server's message,
and an HTTP session without a credential refused."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import jsonschema
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from coreviz_studio.client import Client
from coreviz_studio.mcp_server import OFFICIAL_TOOLS, OUR_TOOLS
from tests import media_files
from tests.conftest import private_tmpdir
from tests.processes import Server, cli, server_on

pytestmark = pytest.mark.slow

SRC = str(Path(__file__).resolve().parents[1] / "src")
ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def upload_dir() -> Iterator[Path]:
    d = private_tmpdir("cvs-mcp-files-")
    (d / "astronaut.jpg").write_bytes(media_files.photo("astronaut"))
    import io

    from PIL import Image

    big = io.BytesIO()  # a real photo over 1 MiB: uploaded through tus, not one POST
    Image.open(io.BytesIO(media_files.photo("coffee"))).resize((1800, 1200)).save(big, "PNG")
    assert big.tell() > 1024 * 1024
    (d / "coffee.png").write_bytes(big.getvalue())
    yield d


@pytest.fixture(scope="module")
def server(pg_url: str, upload_dir: Path) -> Iterator[Server]:
    with server_on(pg_url, "cvs-mcp-", COREVIZ_MCP_UPLOAD_DIRS=str(upload_dir)) as srv:
        yield srv


@pytest.fixture(scope="module")
def member(make_member_module):  # type: ignore[no-untyped-def]
    return make_member_module()


def stdio_session(server: Server, key: str) -> AbstractAsyncContextManager[Any]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "coreviz_studio", "mcp", "--api-url", server.url],
        env={"COREVIZ_API_KEY": key, "PYTHONPATH": os.pathsep.join([SRC, ROOT])})
    return stdio_client(params)


def http_session(server: Server, headers: dict[str, str]) -> AbstractAsyncContextManager[Any]:
    client = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300))
    return streamable_http_client(f"{server.url}/mcp", http_client=client)


def result(r: Any) -> Any:
    """A successful call's JSON."""
    assert not r.is_error, r.content[0].text
    return json.loads(r.content[0].text)


def error(r: Any) -> str:
    assert r.is_error, r.content
    return str(r.content[0].text)


async def drive(session: ClientSession, server: Server, key: str, upload_dir: Path,
                label: str) -> set[str]:
    """Every tool, called with real arguments on real data; returns the names called."""
    called: set[str] = set()

    async def call(tool: str, /, **arguments: Any) -> Any:
        called.add(tool)
        return await session.call_tool(tool, arguments)

    await session.initialize()
    listed = (await session.list_tools()).tools
    names = {t.name for t in listed}
    assert set(OFFICIAL_TOOLS) | set(OUR_TOOLS) == names
    for t in listed:
        jsonschema.Draft202012Validator.check_schema(t.input_schema)
        assert t.input_schema["type"] == "object"
        assert t.description and len(t.description) > 20
    shapes = {t.name: t.input_schema for t in listed}
    assert shapes["upload_media"]["required"] == ["filePath", "collectionId"]
    assert set(shapes["browse_media"]["properties"]) >= {
        "collectionId", "path", "limit", "offset", "type", "dateFrom", "dateTo", "sortBy",
        "sortDirection", "q", "similarToObjectId", "similarToObjectModel", "tags", "mediaId",
        "clusterId", "recursive"}
    assert shapes["delete_version"]["required"] == ["rootMediaId", "versionId"]

    me = result(await call("whoami"))
    assert me["organizationId"]

    # collections
    col = result(await call("create_collection", name=f"MCP {label}", icon="📷"))
    assert col["name"] == f"MCP {label}"
    cid = col["id"]
    assert cid in {c["id"] for c in result(await call("list_collections"))}
    assert cid in {c["id"] for c in result(await call(
        "list_collections", organizationId=me["organizationId"]))}
    assert result(await call("get_collection", collectionId=cid))["icon"] == "📷"
    assert result(await call("update_collection", collectionId=cid,
                             name=f"MCP {label} renamed"))["name"] == f"MCP {label} renamed"

    # folders
    folder = result(await call("create_folder", collectionId=cid, name="Trips"))
    assert folder["path"].count(".") == 1, folder
    again = result(await call("create_folder", collectionId=cid, name="Trips", reuse=True))
    assert again["id"] == folder["id"]
    assert result(await call("get_folder", folderId=folder["id"]))["name"] == "Trips"
    updated = result(await call("update_folder", folderId=folder["id"], name="Trips 2026",
                                metadata={"season": "summer"}))
    assert updated["name"] == "Trips 2026" and updated["metadata"]["season"] == "summer"
    doomed = result(await call("create_folder", collectionId=cid, name="Empty",
                               path=folder["path"]))

    # upload a real photo, browse it, get it
    up = result(await call("upload_media", filePath=str(upload_dir / "astronaut.jpg"),
                           collectionId=cid))
    mid = up["mediaId"]
    page = result(await call("browse_media", collectionId=cid, type="image"))
    item = next(x for x in page["items"] if x["id"] == mid)
    assert item["name"] == "astronaut.jpg" and item["blob"].startswith("http")
    assert "embedding" not in json.dumps(page)
    assert page["pagination"]["total"] >= 1
    folders = result(await call("browse_media", collectionId=cid, type="folder"))
    assert folder["id"] in {x["id"] for x in folders["items"]}
    assert mid not in {x["id"] for x in folders["items"]}
    everything = result(await call("browse_media", collectionId=cid, type="all",
                                   sortBy="name", sortDirection="asc", limit=10, offset=0))
    assert {mid, folder["id"]} <= {x["id"] for x in everything["items"]}
    media = result(await call("get_media", mediaId=mid))
    assert media["width"] == 512 and media["mimeType"] == "image/jpeg"
    assert len(json.dumps(media)) < 5000  # compact: URLs, not bytes
    blob = httpx.get(media["blob"], timeout=30)
    assert blob.status_code == 200 and blob.content[:2] == b"\xff\xd8"

    # tags
    assert result(await call("add_tag", mediaId=mid, label="colour", value="white"))[
        "tags"] == {"colour": ["white"]}
    result(await call("add_tag", mediaId=mid, label="colour", value="blue"))
    assert sorted(result(await call("get_tags", collectionId=cid))["colour"]) == ["blue", "white"]
    renamed = result(await call("rename_tag_group", mediaId=mid, oldLabel="colour",
                                newLabel="color"))
    assert set(renamed["tags"]) == {"color"}
    assert result(await call("remove_tag", mediaId=mid, label="color", value="blue"))[
        "tags"] == {"color": ["white"]}
    result(await call("add_tag", mediaId=mid, label="subject", value="astronaut"))
    assert "color" not in result(await call("remove_tag_group", mediaId=mid,
                                            label="color"))["tags"]
    tagged = result(await call("browse_media", collectionId=cid, tags="subject",
                               recursive=True))
    assert [x["id"] for x in tagged["items"]] == [mid]

    # move and rename
    moved = result(await call("move_item", mediaId=mid, destinationPath=folder["path"]))
    assert moved["newPath"].startswith(folder["path"])
    inside = result(await call("browse_media", collectionId=cid, path=folder["path"],
                               type="image"))
    assert mid in {x["id"] for x in inside["items"]}
    assert result(await call("rename_item", mediaId=mid, name="Astronaut"))["name"] == \
        "Astronaut"

    # versions: a second one made through the typed client (the official tools make versions
    # only by AI edits), then listed, selected, deleted through MCP
    with Client(server.url, api_key=key) as c:
        v2 = c.upload(media_files.photo("chelsea"), cid, name="Astronaut v2",
                      version_of=mid).media_id
    versions = result(await call("list_versions", mediaId=mid))
    assert {v["id"] for v in versions} == {mid, v2}
    assert result(await call("select_version", versionId=mid))["activeVersion"] == mid
    deleted_version = result(await call("delete_version", rootMediaId=mid, versionId=v2))
    assert deleted_version["deletedId"] == v2
    assert [v["id"] for v in result(await call("list_versions", mediaId=mid))] == [mid]

    # search: across the organization, and with scores; similar; analyze (no models on this
    # quiet server: whatever the server says comes back as the tool's answer, never a crash)
    for name, args in (("search_media", {"query": "astronaut", "limit": 5}),
                       ("search_organization", {"query": "astronaut", "minScore": 0.0}),
                       ("analyze_image", {"imageUrl": media["blob"]})):
        r = await call(name, **args)
        if r.is_error:
            assert error(r).startswith("Error") and len(error(r)) > 10
        else:
            result(r)
    # a media id is not an object id: the server's 404, as an error result
    assert "Object not found" in error(await call("find_similar", collectionId=cid,
                                                  objectId=mid, limit=5))
    scored = await call("search_organization", query="astronaut", limit=3)
    if not scored.is_error:
        assert all("score" in h for h in result(scored)["results"])

    # people and clusters
    people = result(await call("list_people", collectionId=cid))
    assert people["people"] == []
    assert result(await call("list_clusters", kind="object"))["clusters"] is not None
    assert "not found" in error(await call(
        "name_cluster", clusterId="00000000-0000-0000-0000-000000000000",
        name="Alice")).lower()

    # trash and restore, then delete for good
    assert result(await call("delete_media", mediaId=mid))["where"] == "trash"
    trash = result(await call("list_trash", collectionId=cid))
    assert mid in {x["id"] for x in trash["items"]}
    assert result(await call("restore_media", mediaId=mid))["id"] == mid
    assert result(await call("delete_media", mediaId=mid, permanent=True))["where"] == "gone"
    assert result(await call("delete_folder", folderId=doomed["id"]))["success"]

    # errors: the server's own message, as an error result; the session goes on
    assert error(await call("get_media", mediaId=mid)) == \
        "Error executing tool get_media: Media not found (HTTP 404)"
    assert "no such file" in error(await call(
        "upload_media", filePath=str(upload_dir / "missing.jpg"), collectionId=cid))
    bad = await session.call_tool("browse_media", {"collectionId": cid, "limit": 0})
    assert bad.is_error
    assert result(await call("get_collection", collectionId=cid))["id"] == cid
    return called


def test_mcp_over_stdio(server: Server, member, upload_dir: Path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> set[str]:
        async with stdio_session(server, member.key) as (read, write), \
                ClientSession(read, write) as session:
            return await drive(session, server, member.key, upload_dir, "stdio")

    called = anyio.run(main)
    assert called == set(OFFICIAL_TOOLS) | set(OUR_TOOLS)


def test_mcp_over_http(server: Server, member, upload_dir: Path) -> None:  # type: ignore[no-untyped-def]
    async def main() -> set[str]:
        async with http_session(server, {"x-api-key": member.key}) as (read, write), \
                ClientSession(read, write) as session:
            return await drive(session, server, member.key, upload_dir, "http")

    called = anyio.run(main)
    assert called == set(OFFICIAL_TOOLS) | set(OUR_TOOLS)


def test_mcp_over_http_with_a_bearer_token(server: Server, member, make_session_token,  # type: ignore[no-untyped-def]
                                           upload_dir: Path) -> None:
    token = make_session_token(member)

    async def main() -> Any:
        async with http_session(server, {"Authorization": f"Bearer {token}"}) as (r, w), \
                ClientSession(r, w) as session:
            await session.initialize()
            me = result(await session.call_tool("whoami", {}))
            col = result(await session.call_tool("create_collection", {"name": "MCP big"}))
            up = result(await session.call_tool("upload_media", {
                "filePath": str(upload_dir / "coffee.png"), "collectionId": col["id"],
                "name": "Coffee"}))
            got = result(await session.call_tool("get_media", {"mediaId": up["mediaId"]}))
            assert got["name"] == "Coffee" and got["width"] == 1800
            assert got["sizeBytes"] == (upload_dir / "coffee.png").stat().st_size
            # outside COREVIZ_MCP_UPLOAD_DIRS: refused, the server's files stay its own
            refused = await session.call_tool("upload_media", {
                "filePath": "/etc/hostname", "collectionId": "x"})
            return me, refused

    me, refused = anyio.run(main)
    assert me["email"] == member.email
    assert "COREVIZ_MCP_UPLOAD_DIRS" in error(refused)


@pytest.mark.parametrize("headers", [{}, {"x-api-key": "cvz_not_a_key"},
                                     {"Authorization": "Bearer nope"}])
def test_http_without_a_valid_credential_is_refused(server: Server,
                                                    headers: dict[str, str]) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    r = httpx.post(f"{server.url}/mcp", json=init, timeout=30, headers={
        "accept": "application/json, text/event-stream", **headers})
    assert r.status_code == 401, r.text
    assert r.json()["message"]

    async def main() -> None:
        async with http_session(server, headers) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()

    with pytest.raises(Exception):  # noqa: B017 (whatever the SDK raises: no session)
        anyio.run(main)


def test_a_read_only_key_reads_but_cannot_write(server: Server, member) -> None:  # type: ignore[no-untyped-def]
    with Client(server.url, api_key=member.key) as c:
        read_only = c.create_api_key("mcp read-only", read_only=True).key

    async def main() -> tuple[Any, Any]:
        async with http_session(server, {"x-api-key": read_only}) as (r, w), \
                ClientSession(r, w) as session:
            await session.initialize()
            return (await session.call_tool("list_collections", {}),
                    await session.call_tool("create_collection", {"name": "nope"}))

    listed, refused = anyio.run(main)
    assert isinstance(result(listed), list)
    assert error(refused).endswith("(HTTP 403)")


def test_stdio_without_a_credential_says_so() -> None:
    done = cli("mcp", "--api-url", "http://127.0.0.1:9", check=False,
               env={"COREVIZ_API_KEY": "", "COREVIZ_TOKEN": ""})
    assert done.returncode == 2 and "COREVIZ_API_KEY" in done.stderr


def test_the_app_restarts_with_its_mcp_endpoint(settings, database, make_member) -> None:  # type: ignore[no-untyped-def]
    """A session manager runs once: a second lifespan of the same app gets a new one."""
    from fastapi.testclient import TestClient

    from coreviz_studio.app import create_app

    member = make_member()
    app = create_app(settings, database)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": "t", "version": "0"}}}
    accept = {"accept": "application/json, text/event-stream"}
    for _ in range(2):
        with TestClient(app) as c:
            assert c.post("/mcp", json=init, headers=accept).status_code == 401
            r = c.post("/mcp", json=init, headers={**accept, "x-api-key": member.key})
            assert r.status_code == 200, r.text
            assert r.json()["result"]["serverInfo"]["name"] == "coreviz-studio"
