"""What only the S3 store has, against a real moto_server: multipart uploads, their abort on
failure and reaping after a crash, its own check of the stored bytes (with a proxy that damages
them on the way), prefixes, settings and outages (503, never a 500)."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from coreviz_studio.app import create_app
from coreviz_studio.config import Settings
from coreviz_studio.storage.base import StorageUnavailable, put_stream, resumable_append
from coreviz_studio.storage.factory import build_store
from coreviz_studio.storage.s3 import PART, PENDING, S3BlobStore
from coreviz_studio.storage.s3_client import S3SettingsError
from coreviz_studio.storage.s3_verify import StoredOtherBytes
from tests import media_files
from tests.library import Library
from tests.processes import free_port, poll
from tests.s3_proxy import CorruptingProxy
from tests.s3_server import BUCKET, MotoServer

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(s3_server: MotoServer, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore.from_settings(s3_server.settings(tmp_path / "data"))


@pytest.fixture
def proxy(s3_server: MotoServer) -> Iterator[CorruptingProxy]:
    p = CorruptingProxy(int(s3_server.url.rsplit(":", 1)[1]))
    yield p
    p.close()


@pytest.fixture
def proxied(s3_server: MotoServer, proxy: CorruptingProxy, tmp_path: Path) -> S3BlobStore:
    return S3BlobStore.from_settings(s3_server.settings(tmp_path / "data", url=proxy.url))


def _objects(store: S3BlobStore) -> list[str]:
    found = store.client.list_objects_v2(Bucket=BUCKET, Prefix=store.prefix)
    return [o["Key"] for o in found.get("Contents", [])]


def _uploads(store: S3BlobStore) -> list[dict[str, Any]]:
    found = store.client.list_multipart_uploads(Bucket=BUCKET, Prefix=store.prefix)
    return list(found.get("Uploads", []))


def test_a_big_blob_goes_up_in_parts_and_leaves_nothing_pending(store: S3BlobStore) -> None:
    data = os.urandom(PART + 1234)
    key = put_stream(store, iter([data[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]),
                     "bin")
    head = store.client.head_object(Bucket=BUCKET, Key=store.prefix + key)
    assert head["ETag"].endswith('-2"')  # two parts: 16 MiB and the rest
    assert b"".join(store.read(key, PART - 10, PART + 10)) == data[PART - 10:PART + 10]
    assert hashlib.sha256(b"".join(store.read(key))).hexdigest() == hashlib.sha256(
        data).hexdigest()
    assert _uploads(store) == [] and _objects(store) == [store.prefix + key]  # no marker left
    assert list(store.spool_dir.iterdir()) == []


@pytest.mark.parametrize("size", [1000, PART + 1000], ids=["put", "multipart"])
def test_bytes_damaged_on_the_way_are_refused_and_nothing_stays(
        proxied: S3BlobStore, proxy: CorruptingProxy, size: int) -> None:
    data = os.urandom(size)
    proxy.corrupt = True  # moto stores what it gets: no checksum of its own catches this
    with pytest.raises(StoredOtherBytes) as caught:
        put_stream(proxied, iter([data]), "bin")
    assert proxy.flipped >= 1 and isinstance(caught.value, StorageUnavailable)
    assert _objects(proxied) == [] and _uploads(proxied) == []
    assert list(proxied.list_blobs()) == [] and list(proxied.spool_dir.iterdir()) == []
    proxy.corrupt = False
    key = put_stream(proxied, iter([data]), "bin")  # the same bytes, undamaged: stored
    assert b"".join(proxied.read(key)) == data


def test_a_multipart_upload_that_fails_is_aborted(proxied: S3BlobStore,
                                                  proxy: CorruptingProxy) -> None:
    proxy.drop_puts_after = proxy.puts + 2  # the owner marker and the first part get through
    with pytest.raises(StorageUnavailable):
        put_stream(proxied, iter([os.urandom(2 * PART + 1)]), "bin")
    assert _uploads(proxied) == [] and _objects(proxied) == []
    assert list(proxied.spool_dir.iterdir()) == []


_CHILD = """
import sys
from pathlib import Path
from coreviz_studio.storage.s3 import S3BlobStore
from tests.s3_server import MotoServer
server = MotoServer(sys.argv[1], None, None)
store = S3BlobStore.from_settings(server.settings(Path(sys.argv[2]), prefix=sys.argv[3]))
store.begin().write(b"spooled")  # a spool file, left behind too
store.put_multipart("ab/" + "c" * 32 + ".bin", sys.stdin.buffer, 1 << 30, "0" * 64)
"""


def test_a_dead_process_upload_is_aborted_by_the_next_start(store: S3BlobStore,
                                                            s3_server: MotoServer,
                                                            tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, s3_server.url, str(tmp_path / "data"), store.prefix],
        stdin=subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.stdin is not None
    try:
        child.stdin.write(os.urandom(PART))  # one part; then it waits for more that never come

        def one_part_stored() -> bool:
            return any(store.client.list_parts(Bucket=BUCKET, Key=u["Key"],
                                               UploadId=u["UploadId"]).get("Parts")
                       for u in _uploads(store))

        poll(one_part_stored, 60, "the child's first part")
        assert store.reap_pending() == 0  # its owner lives: its upload and spool stay
        assert len(_uploads(store)) == 1
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    assert store.reap_pending() == 2  # the upload and the spool file
    assert _uploads(store) == [] and _objects(store) == []
    assert list(store.spool_dir.iterdir()) == []


_COPY_CHILD = """
import io, os, signal, sys
from pathlib import Path
from coreviz_studio.storage.base import resumable_append
from coreviz_studio.storage.s3 import S3BlobStore
from tests.s3_server import MotoServer
server = MotoServer(sys.argv[1], None, None)
store = S3BlobStore.from_settings(server.settings(Path(sys.argv[2]), prefix=sys.argv[3]))
state = resumable_append(store, store.resumable_create(), 0, io.BytesIO(os.urandom(9 << 20)))
print(state, flush=True)
# Killed in the middle of the finish's copy (a multipart copy past 8 MiB): at its first part.
store.client.meta.events.register("before-call.s3.UploadPartCopy",
                                  lambda **_: os.kill(os.getpid(), signal.SIGKILL))
store.resumable_finish(state, "jpg")
"""


def test_a_finish_killed_during_its_copy_leaves_no_upload_behind(store: S3BlobStore,
                                                                 s3_server: MotoServer,
                                                                 tmp_path: Path) -> None:
    from coreviz_studio.storage import s3_resumable
    from coreviz_studio.storage.base import resumable_key

    child = subprocess.run(
        [sys.executable, "-c", _COPY_CHILD, s3_server.url, str(tmp_path / "data"), store.prefix],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert child.returncode == -signal.SIGKILL, child.stderr
    state = child.stdout.strip()
    key = resumable_key(s3_resumable._load(state)["id"], "jpg")
    assert [u["Key"] for u in _uploads(store)] == [store.prefix + key]  # the copy's, cut off
    assert store.reap_pending() == 1  # its owner is dead: aborted at the next start
    assert _uploads(store) == []
    assert store.resumable_finish(state, "jpg") == key  # and the upload still finishes
    assert store.stat(key) is not None and _uploads(store) == []
    assert _objects(store) == [store.prefix + key]


def test_a_prefix_keeps_to_itself(s3_server: MotoServer, tmp_path: Path) -> None:
    a = S3BlobStore.from_settings(s3_server.settings(tmp_path / "a"))
    b = S3BlobStore.from_settings(s3_server.settings(tmp_path / "b"))
    key_a = put_stream(a, iter([b"in a"]), "txt")
    key_b = put_stream(b, iter([b"in b"]), "txt")
    assert [x.key for x in a.list_blobs()] == [key_a]
    assert [x.key for x in b.list_blobs()] == [key_b]
    assert a.stat(key_b) is None and b.stat(key_a) is None
    state = b.resumable_create()  # a resumable upload is nobody's leftover
    assert a.reap_pending() == 0 and b.reap_pending() == 0
    b.resumable_abort(state)
    assert _objects(b) == [b.prefix + key_b] and _uploads(b) == []
    assert not any(k.startswith(a.prefix + PENDING) for k in _objects(a))


@pytest.mark.parametrize("size", [6 * 1024 * 1024 + 7, 2 * PART + 7], ids=["6MiB", "32MiB"])
def test_a_resumable_upload_spans_parts_and_a_tail(store: S3BlobStore, size: int) -> None:
    import io

    data = os.urandom(size)  # whole parts and a tail, over three appends
    cuts = [0, 1000, 5 * 1024 * 1024 + 3, len(data)]
    state = store.resumable_create()
    for start, end in itertools.pairwise(cuts):
        state = resumable_append(store, state, start, io.BytesIO(data[start:end]))
    stale = state
    with pytest.raises(ValueError):
        store.resumable_appender(state, 5)
    key = store.resumable_finish(state, "jpg")
    assert b"".join(store.read(key)) == data
    head = store.client.head_object(Bucket=BUCKET, Key=store.prefix + key)
    assert head["ContentType"] == "image/jpeg"  # a copy (multipart past 8 MiB) with its type
    assert _objects(store) == [store.prefix + key] and _uploads(store) == []
    store.resumable_abort(stale)  # finished already: nothing happens


@pytest.mark.parametrize("cut", ["completed", "copied", "finished", "small-put"])
def test_a_resumable_finish_cut_off_midway_is_completed_by_the_next(store: S3BlobStore,
                                                                    cut: str) -> None:
    """The server killed at any step of a finish (before the media row committed): the next
    finish (tus HEAD does one) ends with the same key and every byte, and nothing left over."""
    import io

    from coreviz_studio.storage import s3_resumable
    from coreviz_studio.storage.base import resumable_key

    data = os.urandom(1000 if cut == "small-put" else 6 * 1024 * 1024 + 7)
    state = store.resumable_create()
    cuts = [0, len(data)] if cut == "small-put" else [0, 5 * 1024 * 1024 + 3, len(data)]
    for start, end in itertools.pairwise(cuts):  # a big one: a part and a tail
        state = resumable_append(store, state, start, io.BytesIO(data[start:end]))
    s = s3_resumable._load(state)
    key, obj = resumable_key(s["id"], "jpg"), f"{store.prefix}tus/{s['id']}"
    if cut == "small-put":  # the PUT of the whole (small) file was made, its leftovers not gone
        store.put_verified(key, data, hashlib.sha256(data).hexdigest())
    elif cut == "finished":
        assert store.resumable_finish(state, "jpg") == key
    else:  # what the first steps of a finish did (tail as the last part, complete, maybe copy)
        if tail := s3_resumable._tail(store, s):
            s3_resumable._put_part(store, s, tail, state)
        store.client.complete_multipart_upload(Bucket=BUCKET, Key=obj, UploadId=s["upload"],
                                               MultipartUpload={"Parts": s["parts"]})
        if cut == "copied":
            store.client.copy_object(Bucket=BUCKET, Key=store.prefix + key,
                                     CopySource={"Bucket": BUCKET, "Key": obj})
    assert store.resumable_finish(state, "jpg") == key
    assert b"".join(store.read(key)) == data
    assert _objects(store) == [store.prefix + key] and _uploads(store) == []


def test_the_settings_are_checked_and_name_the_setting(tmp_path: Path) -> None:
    cases = [({}, "COREVIZ_S3_BUCKET"),
             ({"s3_bucket": "b", "s3_access_key_id": "k"}, "COREVIZ_S3_SECRET_ACCESS_KEY"),
             ({"s3_bucket": "b", "s3_endpoint_url": "localhost:9000"},
              "COREVIZ_S3_ENDPOINT_URL"),
             ({"s3_bucket": "b", "s3_prefix": "/abs"}, "COREVIZ_S3_PREFIX")]
    for values, named in cases:
        with pytest.raises(S3SettingsError, match=named):
            build_store(Settings(data_dir=tmp_path, storage="s3", **values))


def test_an_unreachable_service_is_a_503_with_retry_after(tmp_path: Path, database: Any,
                                                         make_member: Any) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    settings = Settings(data_dir=tmp_path, storage="s3", s3_bucket=BUCKET, s3_endpoint_url=dead,
                        s3_region="us-east-1", s3_access_key_id="t", s3_secret_access_key="t",
                        workers=0)
    store = build_store(settings)
    with pytest.raises(StorageUnavailable):
        store.stat("ab/" + "0" * 32 + ".jpg")
    app = create_app(settings, database)
    app.state.db = database  # what the start-up would do; it can't start: its reap needs S3
    client = TestClient(app, raise_server_exceptions=False)
    # A key no item holds is not found before the store is asked (nothing to be unavailable).
    assert client.get("/blobs/ab/" + "0" * 32 + ".jpg").status_code == 404
    library = Library(client, make_member())
    r = library.upload_raw(media_files.image("JPEG"), "photo.jpg")  # received, then not stored
    assert r.status_code == 503 and r.json()["code"] == "storage_unavailable", r.text
    assert library.names() == []  # no row without a blob
    assert list((tmp_path / "s3-spool").iterdir()) == []  # the spooled bytes went too


@pytest.mark.parametrize("redirect", [False, True], ids=["streamed", "redirected"])
def test_a_blob_is_served_streamed_or_by_a_presigned_redirect(
        s3_server: MotoServer, tmp_path: Path, database: Any, make_member: Any,
        redirect: bool) -> None:
    settings = s3_server.settings(tmp_path / "data", blob_redirect=redirect)
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as client:
        photo = media_files.image("JPEG")
        media = Library(client, make_member()).upload(photo, "photo.jpg")
        path = "/" + media["blob"].split("/", 3)[3]
        r = client.get(path, follow_redirects=False)
        if redirect:
            assert r.status_code == 307 and r.headers["cache-control"] == "no-store"
            r = httpx.get(r.headers["location"])  # straight from the S3 service, presigned
            assert r.headers["content-type"] == "image/jpeg"
            assert client.head(path).status_code == 200  # HEAD stays here
        assert r.status_code == 200 and r.content == photo
        assert client.get("/blobs/ab/" + "0" * 32 + ".jpg", follow_redirects=False
                          ).status_code == 404  # no redirect for what isn't there


def test_a_command_with_s3_settings_missing_says_which(tmp_path: Path) -> None:
    from tests.processes import cli

    done = cli("worker", "--until-empty", "--data-dir", str(tmp_path / "data"), check=False,
               env={"COREVIZ_STORAGE": "s3", "COREVIZ_MODELS": "none"})
    assert done.returncode == 2, done.stderr
    assert "error: COREVIZ_STORAGE=s3 needs a bucket: set COREVIZ_S3_BUCKET" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_etag_that_is_no_md5_means_reading_the_bytes_back(store: S3BlobStore) -> None:
    from coreviz_studio.storage import s3_verify

    data = b"some bytes"
    key = put_stream(store, iter([data]), "txt")
    # As a service with opaque ETags (SSE-KMS, some S3-compatibles) would answer:
    s3_verify.check(store, key, '"opaque"', '"the md5"', hashlib.sha256(data).hexdigest())
    assert b"".join(store.read(key)) == data  # read back, hashed, found right: kept
    with pytest.raises(StoredOtherBytes):
        s3_verify.check(store, key, '"opaque"', '"the md5"', hashlib.sha256(b"x").hexdigest())
    assert store.stat(key) is None  # found wrong: deleted


def test_a_tus_upload_on_s3_becomes_media_with_every_byte(
        s3_server: MotoServer, tmp_path: Path, database: Any, make_member: Any) -> None:
    from tests.tus_client import Tus

    settings = s3_server.settings(tmp_path / "data")
    with TestClient(create_app(settings, database), raise_server_exceptions=False) as client:
        store = client.app.state.blobs  # type: ignore[attr-defined]
        lib = Library(client, make_member())
        photo = media_files.image("PNG", size=(1800, 1400), noise=True)
        assert len(photo) > 6 * 1024 * 1024  # more than one S3 part
        # Chunks smaller than a part: the store keeps the short tail and carries it on.
        r = Tus(client, lib).upload(photo, chunk=3 * 1024 * 1024 + 17)
        media = lib.media(r.headers["coreviz-media-id"])
        assert media["sizeBytes"] == len(photo)
        assert media["sha256"] == hashlib.sha256(photo).hexdigest()
        served = client.get("/" + media["blob"].split("/", 3)[3])
        assert served.status_code == 200 and served.content == photo
        assert _uploads(store) == []  # the multipart upload completed, no tail left
        assert [k for k in _objects(store) if "tus/" in k or ".tail-" in k] == []


def test_studio_pages_allow_the_bucket_only_where_blobs_redirect_there(
        s3_server: MotoServer, store: S3BlobStore, tmp_path: Path) -> None:
    from coreviz_studio.storage.local import LocalBlobStore
    from coreviz_studio.web.templating import POLICY, page_policy

    settings = s3_server.settings(tmp_path / "data")
    assert page_policy(settings, store) == POLICY  # streamed: this origin only
    redirecting = settings.model_copy(update={"blob_redirect": True})
    policy = page_policy(redirecting, store)
    assert f"img-src 'self' data: {s3_server.url};" in policy
    assert f"media-src 'self' {s3_server.url};" in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert page_policy(redirecting, LocalBlobStore(tmp_path / "local")) == POLICY
