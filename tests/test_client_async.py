"""The async client against a real `coreviz-studio serve`: collections, folders, multipart and
tus uploads with progress, lazy paging over several pages, errors, and an upload stopped and
resumed from its URL by another client."""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Iterator

import pytest

from coreviz_studio.client import AsyncClient, Forbidden, NotFound, Unauthorized
from tests import media_files
from tests.processes import Server, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-aclient-") as srv:
        yield srv


def test_the_async_client_end_to_end(server: Server, make_member, tmp_path) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    video = media_files.video(tmp_path / "v.mp4", "mp4", "libx264", seconds=2.0)

    async def scenario() -> None:
        async with AsyncClient(server.url, api_key=member.key) as c:
            me = await c.me()
            col = await c.create_collection("Async")
            assert col.id in {x.id for x in await c.list_collections()}
            folder = await c.create_folder(col.id, "inbox")
            uploads = await asyncio.gather(*(
                c.upload(media_files.image("JPEG", size=(40 + i, 30)), col.id,
                         path=folder.path, name=f"{i}.jpg") for i in range(5)))
            assert len({u.media_id for u in uploads}) == 5
            progress: list[int] = []
            up = c.start_upload(video, col.id, name="clip.mp4", chunk_size=len(video) // 6 + 1,
                                on_progress=lambda sent, total: progress.append(sent))
            url = await up.create()
            assert await up.send(stop_at=len(video) // 2) is None  # stopped halfway
            async with AsyncClient(server.url, api_key=member.key) as again:
                status = await again.upload_status(url)
                assert 0 < status.offset < len(video)
                result = await again.upload(video, resume_url=url, chunk_size=len(video) // 6 + 1)
                media = await again.get_media(result.media_id)
            assert media.sha256 == hashlib.sha256(video).hexdigest()
            # Streamed to a file, and resumed from where a first part stopped (Range).
            assert media.blob
            whole = io.BytesIO()
            assert await c.download_blob(media.blob, whole) == len(video)
            assert whole.getvalue() == video
            rest = io.BytesIO(video[:1000])
            rest.seek(1000)
            assert await c.download_blob(media.blob, rest, offset=1000) == len(video)
            assert rest.getvalue() == video
            assert progress and progress[-1] < len(video)
            names = [m.name async for m in c.iter_media(col.id, path=folder.path, page_size=2)]
            assert sorted(names) == [f"{i}.jpg" for i in range(5)]
            pages = [len(p.media) async for p in c.pages(col.id, path=folder.path, page_size=2)]
            assert pages == [2, 2, 1]
            folder_names = [m.name async for m in c.iter_folder(folder.id, page_size=3)]
            assert sorted(folder_names) == sorted(names)
            tagged = await c.add_tag(uploads[0].media_id, "who", "me")
            assert tagged.tags == {"who": ["me"]}
            assert (await c.get_tags(col.id)) == {"who": ["me"]}
            assert (await c.delete_media(uploads[1].media_id)).deleted
            assert (await c.restore_media(uploads[1].media_id)).id == uploads[1].media_id
            with pytest.raises(NotFound):
                await c.get_folder(me.user_id)
            viewer = make_member(org=me.organization_name, role="viewer")
            async with AsyncClient(server.url, api_key=viewer.key) as v:
                with pytest.raises(Forbidden):
                    await v.create_folder(col.id, "nope")
            async with AsyncClient(server.url, api_key="cvz_" + "n" * 30) as nobody:
                with pytest.raises(Unauthorized):
                    await nobody.me()

    asyncio.run(scenario())
