"""The typed client (coreviz_studio.client) against a real `coreviz-studio serve` on the test
database: every route through a client method, paging over several pages, the error kinds
from real answers, a retry on a real 429, and tus uploads cut off and resumed."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from coreviz_studio.client import (
    BadRequest,
    ChecksumMismatch,
    Client,
    Conflict,
    ConnectionFailed,
    Forbidden,
    NotFound,
    NotImplementedByServer,
    RateLimited,
    Retry,
    ServiceUnavailable,
    TooLarge,
    Unauthorized,
    Unprocessable,
    UnsupportedMediaType,
)
from coreviz_studio.client.models import Media
from coreviz_studio.client.route_map import ROUTES
from coreviz_studio.deps import api_routes
from tests import media_files
from tests.conftest import PASSWORD
from tests.processes import QUIET, Server, server_on

pytestmark = pytest.mark.slow

MAX_UPLOAD = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-client-", COREVIZ_MAX_UPLOAD_BYTES=str(MAX_UPLOAD),
                   COREVIZ_SIGN_IN_FREE_FAILURES="1",
                   COREVIZ_SIGN_IN_FIRST_DELAY_SECONDS="1",
                   COREVIZ_DEVICE_CODES_PER_SOURCE="6") as srv:
        yield srv


class Recorder:
    """Every request the client sends (method, path), for the route coverage check."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, request: httpx.Request) -> None:
        self.seen.append((request.method, request.url.path))


def _client(server: Server, recorder: Recorder | None = None, **kw: Any) -> Client:
    c = Client(server.url, **kw)
    if recorder is not None:
        c._http.event_hooks["request"].append(recorder)
    return c


def _route_regex(path: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{[^}:]+:path\}", ".+", path)
    return re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", pattern) + "$")


def test_every_api_route_has_a_client_method(client) -> None:  # type: ignore[no-untyped-def]
    """Walks the server's routes: a new API route without a client method fails here."""
    routes = {(method, r.path) for r in api_routes(client.app.routes)
              if r.original_route.endpoint.__module__ != "coreviz_studio.web.routes"
              for method in r.methods or ()}
    assert len(routes) > 60
    missing = routes - ROUTES.keys()
    assert not missing, f"routes without a client method (route_map.ROUTES): {sorted(missing)}"
    assert not ROUTES.keys() - routes, "route_map.ROUTES names routes the server does not have"
    from coreviz_studio.client import AsyncClient
    for name in set(ROUTES.values()):
        assert callable(getattr(Client, name)) and callable(getattr(AsyncClient, name)), name


def _jpeg(seed: int) -> bytes:
    return media_files.image("JPEG", size=(64 + seed, 48))


def test_every_route_through_the_client(server: Server, make_member, person,  # type: ignore[no-untyped-def]
                                        make_session_token) -> None:
    rec = Recorder()
    owner = _client(server, rec, api_key=person.key)
    c = owner
    assert c.health().status in ("ok", "degraded")
    me = c.me()
    assert me.email == person.email and c.organization_id == me.organization_id
    assert me.organization_id in {o.id for o in c.list_organizations()}

    # sign-in, session, set-active, sign-out with a bearer token
    signed = c.sign_in(person.email, PASSWORD)
    user = _client(server, rec, token=signed.token)
    session = user.get_session()
    assert session is not None and session.user.email == person.email
    assert user.set_active_organization(me.organization_id).id == me.organization_id

    # the device flow: a code, seen and approved by the signed-in user, then the token
    code = c.device_code(scope="openid")
    assert user.device_verify(code.user_code).status == "pending"
    assert user.device_approve(code.user_code).success
    token = c.device_token(code.device_code)
    assert _client(server, rec, token=token.access_token).me().user_id == me.user_id
    other = c.device_code()
    with pytest.raises(BadRequest) as pending:
        c.device_token(other.device_code)
    assert pending.value.code == "authorization_pending" and pending.value.message
    assert user.device_deny(other.user_code).success
    shown: list[str] = []

    def approve(shown_code: Any) -> None:  # the person opens the page and approves
        shown.append(shown_code.verification_uri)
        user.device_approve(shown_code.user_code)

    logged_in = c.device_login(approve)
    assert shown and _client(server, token=logged_in.access_token).me().email == person.email

    # collections
    col = c.create_collection("Client photos")
    assert col.id in {x.id for x in c.list_collections()}
    assert c.get_collection(col.id).name == "Client photos"
    assert c.update_collection(col.id, name="Renamed", icon="📷").icon == "📷"

    # folders, uploads
    folder = c.create_folder(col.id, "trip")
    assert c.create_folder(col.id, "trip", reuse=True).id == folder.id
    assert c.get_folder(folder.id).path == folder.path
    assert c.update_folder(folder.id, name="Trip").name == "Trip"
    first = c.upload_multipart(_jpeg(1), col.id, path=folder.path, name="one.jpg")
    progress: list[tuple[int, int]] = []
    second_bytes = _jpeg(2)
    second = c.upload(second_bytes, col.id, path=folder.path, name="two.jpg",
                      chunk_size=200, multipart_below=0,
                      on_progress=lambda sent, total: progress.append((sent, total)))
    assert progress[-1] == (len(second_bytes), len(second_bytes)) and len(progress) > 2
    third = c.upload(_jpeg(3), col.id, path=folder.path, name="three.jpg")  # multipart
    opts = c.tus_options()
    assert "checksum" in opts.extensions and "sha256" in opts.checksum_algorithms
    up = c.start_upload(_jpeg(4), col.id, name="four.jpg", chunk_size=100)
    url = up.create()
    assert c.upload_status(url).offset == 0
    up.send(stop_at=300)
    assert c.upload_status(url).offset == 300
    c.cancel_upload(url)
    with pytest.raises(NotFound):
        c.upload_status(url)
    done = c.start_upload(_jpeg(5), col.id, name="five.jpg")
    done.send()
    assert done.url and c.get_upload_result(done.url).media_id == (done.result
                                                                   and done.result.media_id)

    # browse, pages, search
    names = [x.name for x in c.iter_media(col.id, path=folder.path, page_size=1)]
    assert sorted(names) == ["one.jpg", "three.jpg", "two.jpg"]
    pages = list(c.pages(col.id, path=folder.path, page_size=2, sort_by="name"))
    assert [len(p.media) for p in pages] == [2, 1]
    assert sorted(x.name for x in c.iter_folder(folder.id, page_size=2)) == sorted(names)
    assert c.browse_media(col.id, recursive=True, type="image", limit=10).pagination.total == 4
    assert isinstance(c.search_media(col.id, "one").media, list)
    assert isinstance(c.search("one"), list)

    # media, tags, blobs
    media = c.get_media(first.media_id)
    assert isinstance(media, Media) and media.name == "one.jpg"
    assert c.read_blob(media.blob or "")[:2] == b"\xff\xd8"
    assert c.blob_info(media.blob or "").size == media.size_bytes
    assert c.rename_item(media.id, "uno.jpg").name == "uno.jpg"
    assert c.add_tag(media.id, "color", "red").tags == {"color": ["red"]}
    c.add_tag(media.id, "color", "blue")
    assert c.remove_tag(media.id, "color", "blue").tags == {"color": ["red"]}
    assert c.rename_tag_group(media.id, "color", "colour").tags == {"colour": ["red"]}
    assert c.get_tags(col.id) == {"colour": ["red"]}
    duplicates = c.list_duplicates(col.id, limit=5)
    assert duplicates.pagination.limit == 5 and duplicates.pagination.offset == 0
    assert c.remove_tag_group(media.id, "colour").tags == {}
    assert c.reprocess_media(media.id).media_id == media.id
    assert c.reprocess_collection(col.id).queued >= 0
    here = c.queue_status(col.id)  # both items are in one state or another
    assert here.queued + here.processing + here.ready + here.failed >= 2
    whole = c.queue_status()
    assert whole.queued + whole.processing + whole.ready + whole.failed >= 2

    # versions
    v2 = c.upload(_jpeg(6), col.id, version_of=second.media_id)
    versions = c.list_versions(second.media_id)
    assert {v.id for v in versions} == {second.media_id, v2.media_id}
    assert c.select_version(second.media_id).id == second.media_id
    assert c.delete_version(second.media_id, v2.media_id).deleted_id == v2.media_id

    # move, trash, restore, delete for good
    root = col.id.replace("-", "")
    assert c.move_item(third.media_id, root).new_path.startswith(root + ".")
    assert c.delete_media(third.media_id).deleted
    assert [x.id for x in c.list_trash(col.id).media] == [third.media_id]
    assert c.restore_media(third.media_id).id == third.media_id
    assert c.delete_media(third.media_id, permanent=True).deleted
    assert c.delete_folder(folder.id).deleted

    # AI without models, clusters
    image = "data:image/jpeg;base64,"
    ai = _client(server, rec, api_key=person.key, retry=Retry(attempts=1))
    for call in (lambda: ai.describe(image), lambda: ai.tag(image, "what?"),
                 lambda: ai.embed(text="a cat")):
        with pytest.raises((ServiceUnavailable, BadRequest, Unprocessable)) as refused:
            call()  # no models on this server
        assert refused.value.message
    for call in (lambda: ai.edit("x"), lambda: ai.generate("x")):
        with pytest.raises(NotImplementedByServer):
            call()
    assert c.list_clusters(collection_id=col.id).clusters == []
    nobody = str(uuid.uuid4())
    for call in (lambda: c.get_cluster(nobody), lambda: c.name_cluster(nobody, "x"),
                 lambda: c.cluster_media(nobody)):
        with pytest.raises(NotFound):
            call()

    # keys
    key = c.create_api_key("script", read_only=True)
    assert key.key.startswith("cvz_") and key.key not in repr(key)
    assert key.id in {k.id for k in c.list_api_keys()}
    assert _client(server, api_key=key.key).me().user_id == me.user_id
    assert c.delete_api_key(key.id).success

    # members and invitations
    joiner = make_member()
    inv = c.invite_member(joiner.email, "viewer")
    assert inv.id in {i.id for i in c.list_invitations()}
    j = _client(server, rec, token=make_session_token(joiner))  # invitees sign in
    assert j.get_invitation(inv.id).organization_name == me.organization_name
    assert inv.id in {i.id for i in j.list_user_invitations()}
    answer = j.accept_invitation(inv.id)
    assert answer.member is not None and answer.member.role == "viewer"
    members = c.list_members()
    assert joiner.email in {x.user.email for x in members.members}
    assert c.update_member_role(answer.member.id, "member").role == "member"
    assert c.remove_member(joiner.email).member.user.email == joiner.email
    second_inv = c.invite_member(make_member().email)
    assert c.cancel_invitation(second_inv.id).status == "canceled"
    third_inv = c.invite_member(joiner.email)
    assert j.reject_invitation(third_inv.id).invitation.status == "rejected"

    assert user.sign_out().success
    with pytest.raises(Unauthorized):
        user.me()

    # every route of the map was called at least once
    called = set(rec.seen)
    uncalled = [(method, path) for (method, path) in ROUTES
                if not any(m == method and _route_regex(path).match(p) for m, p in called)]
    assert uncalled == [], uncalled
    for x in (owner, user, j, ai):
        x.close()


# --- errors from real answers ------------------------------------------------------------------

def test_each_error_kind_from_the_server(server: Server, person, make_member) -> None:  # type: ignore[no-untyped-def]
    c = _client(server, api_key=person.key, retry=Retry(attempts=1))
    col = c.create_collection("Errors")
    with pytest.raises(Unauthorized) as no_key:
        _client(server, api_key="cvz_" + "x" * 30).me()
    assert no_key.value.status == 401 and no_key.value.message == "Invalid or missing API key"
    with pytest.raises(NotFound) as missing:
        c.get_media(str(uuid.uuid4()))
    assert missing.value.status == 404 and "not found" in missing.value.message.lower()
    viewer = make_member(org=c.me().organization_name, role="viewer")
    with pytest.raises(Forbidden):
        _client(server, api_key=viewer.key).create_collection("Nope")
    with pytest.raises(BadRequest):
        c.browse_media(col.id, type="nonsense")
    with pytest.raises(UnsupportedMediaType):
        c.upload_multipart(b"just some text, no picture", col.id, name="a.txt")
    with pytest.raises(TooLarge):
        c.start_upload(bytes(MAX_UPLOAD + 1), col.id).create()
    with pytest.raises(Unprocessable):
        c.start_upload(b"", col.id).create()
    url = c.start_upload(_jpeg(7), col.id).create()
    with pytest.raises(Conflict) as moved:  # a PATCH at an offset the server is not at
        c.request("PATCH", url, content=b"xx", headers={
            "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "5"})
    assert moved.value.status == 409
    with pytest.raises(ChecksumMismatch):  # a chunk whose sha256 is not the one sent
        c.request("PATCH", url, content=b"xx", headers={
            "Tus-Resumable": "1.0.0", "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0", "Upload-Checksum": "sha256 " + "A" * 43 + "="})
    waits: list[float] = []
    retrying = _client(server, api_key=person.key, retry=Retry(attempts=2, backoff=0.01),
                       sleep=waits.append)
    with pytest.raises(ServiceUnavailable) as unavailable:  # a real 503: no embedding model
        retrying.embed(text="a cat")
    assert retrying.retries == 1 and len(waits) == 1 and "model" in unavailable.value.message
    for _ in range(10):  # the server's device code limit per address: a 429 with Retry-After
        try:
            c.device_code()
        except RateLimited as limited:
            assert limited.retry_after is not None and limited.retry_after > 0
            break
    else:
        raise AssertionError("no 429")


def test_a_real_429_is_retried_after_retry_after(server: Server, person) -> None:  # type: ignore[no-untyped-def]
    """One wrong password, then the right one: the server says wait (429, Retry-After) and
    the client waits that long and signs in."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        import time
        waits.append(seconds)
        time.sleep(seconds)  # the server's own wait: the retry must come after it

    c = _client(server, sleep=sleep)
    with pytest.raises(Unauthorized):
        c.sign_in(person.email, "wrong password")
    assert c.sign_in(person.email, PASSWORD).user.email == person.email
    assert c.retries >= 1 and waits and waits[0] >= 1


# --- tus: cut off mid-chunk, and resumed by another process from the URL -----------------------

class CutOnce(httpx.BaseTransport):
    """A real HTTP transport that cuts the connection in the middle of one PATCH's body."""

    def __init__(self, cut_patch: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.cut_patch = cut_patch
        self.patches = 0
        self.log: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.append(request.method)
        if request.method == "PATCH":
            self.patches += 1
            if self.patches == self.cut_patch:
                body = request.read()

                def half() -> Iterator[bytes]:
                    yield body[: len(body) // 2]
                    raise httpx.WriteError("cut off mid-chunk")

                request = httpx.Request(request.method, request.url, headers=request.headers,
                                        content=half())
                self.log.append("cut")
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def test_a_tus_upload_cut_mid_chunk_resumes_from_the_servers_offset(  # type: ignore[no-untyped-def]
        server: Server, person, tmp_path) -> None:
    data = media_files.video(tmp_path / "v.mp4", "mp4", "libx264", seconds=2.0)
    cut = CutOnce(cut_patch=2)
    c = Client(server.url, api_key=person.key, transport=cut, sleep=lambda _: None)
    col = c.create_collection("Cut")
    chunk = len(data) // 5 + 1
    result = c.upload(data, col.id, name="clip.mp4", chunk_size=chunk, multipart_below=0)
    assert "cut" in cut.log and cut.log[cut.log.index("cut") + 1] == "HEAD"  # asked, resumed
    media = c.get_media(result.media_id)
    assert media.sha256 == hashlib.sha256(data).hexdigest() and media.size_bytes == len(data)


class Killed(Exception):
    pass


def test_a_killed_upload_goes_on_from_its_url_in_a_new_client(  # type: ignore[no-untyped-def]
        server: Server, person, tmp_path) -> None:
    data = media_files.video(tmp_path / "v.mp4", "mp4", "libx264", seconds=2.0)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    saved: dict[str, str] = {}

    def die_halfway(sent: int, total: int) -> None:
        if sent >= total // 2:
            raise Killed  # the process dies after the server has half the file

    with Client(server.url, api_key=person.key) as first:
        col = first.create_collection("Killed")
        with pytest.raises(Killed):
            first.upload(path, col.id, chunk_size=len(data) // 8, multipart_below=0,
                         on_created=lambda url: saved.update(url=url), on_progress=die_halfway)
    seen: list[int] = []
    with Client(server.url, api_key=person.key) as again:  # a new process: only the URL kept
        assert again.upload_status(saved["url"]).offset >= len(data) // 2
        result = again.upload(path, resume_url=saved["url"], chunk_size=len(data) // 8,
                              on_progress=lambda sent, total: seen.append(sent))
        assert seen[0] >= len(data) // 2 and seen[-1] == len(data)  # only the rest was sent
        media = again.get_media(result.media_id)
    assert media.name == "clip.mp4" and media.sha256 == hashlib.sha256(data).hexdigest()


class KillMidChunk(httpx.BaseTransport):
    """Sends half of one PATCH's body, then kills the server (SIGKILL) and cuts the line."""

    def __init__(self, server: Server, patch: int) -> None:
        self.inner = httpx.HTTPTransport()
        self.server, self.patch, self.patches = server, patch, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            self.patches += 1
            if self.patches == self.patch:
                body, server = request.read(), self.server

                def half_then_kill() -> Iterator[bytes]:
                    yield body[: len(body) // 2]
                    server.kill9()
                    raise httpx.WriteError("the server died mid-chunk")

                request = httpx.Request(request.method, request.url, headers=request.headers,
                                        content=half_then_kill())
        return self.inner.handle_request(request)


def test_an_upload_survives_a_server_killed_mid_chunk_and_restarted(  # type: ignore[no-untyped-def]
        pg_url: str, person, tmp_path, monkeypatch) -> None:
    from tests import processes
    data = media_files.video(tmp_path / "v.mp4", "mp4", "libx264", seconds=2.0)
    chunk = len(data) // 6 + 1
    saved: list[str] = []
    with server_on(pg_url, "cvs-client-kill-") as first:
        c = Client(first.url, api_key=person.key, transport=KillMidChunk(first, patch=3),
                   retry=Retry(attempts=2, backoff=0.01))
        col = c.create_collection("Killed server")
        with pytest.raises(ConnectionFailed):  # the server is gone: HEAD cannot answer
            c.upload(data, col.id, name="clip.mp4", chunk_size=chunk, multipart_below=0,
                     on_created=saved.append)
        # the same data dir (its upload bytes) on the same address: the saved URL is valid
        monkeypatch.setattr(processes, "free_port", lambda: first.port)
        again = Server(first.data_dir, env={"DATABASE_URL": pg_url, **QUIET})
        try:
            with Client(again.url, api_key=person.key) as resumed:
                status = resumed.upload_status(saved[0])
                assert 2 * chunk <= status.offset < len(data)  # two chunks in, the third lost
                result = resumed.upload(data, resume_url=saved[0], chunk_size=chunk)
                media = resumed.get_media(result.media_id)
        finally:
            again.terminate()
    assert media.name == "clip.mp4" and media.sha256 == hashlib.sha256(data).hexdigest()
