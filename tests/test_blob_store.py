"""The blob store contract, for every store: bytes in by stream, out by range or into a
scratch file, by key only."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coreviz_studio.storage.base import (
    AppendBusy,
    BlobStore,
    NotStored,
    is_key,
    put_stream,
    resumable_append,
)
from coreviz_studio.storage.local import LocalBlobStore


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "s3":  # a prefix of its own on this process's moto_server
        from coreviz_studio.storage.s3 import S3BlobStore

        moto = request.getfixturevalue("s3_server")
        yield S3BlobStore.from_settings(moto.settings(tmp_path / "data"))
    else:
        yield LocalBlobStore(tmp_path / "blobs")


def test_a_blob_goes_in_by_stream_and_comes_out_by_range(store: BlobStore,
                                                         tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one chunk, not a round size
    pending = store.begin()
    for i in range(0, len(data), 65536):
        pending.write(data[i:i + 65536])
    pending.flush()
    assert (pending.size, pending.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert pending.head() == data[:len(pending.head())] and pending.head()
    with pending.open() as reader:
        reader.seek(1000)
        assert reader.read(10) == data[1000:1010]
    key = pending.commit("bin")
    pending.discard()  # after a commit: nothing happens
    assert is_key(key)
    stored = store.stat(key)
    assert stored is not None and stored.size == len(data)
    assert b"".join(store.read(key)) == data
    assert b"".join(store.read(key, 5, 25)) == data[5:25]
    assert b"".join(store.read(key, len(data) - 3)) == data[-3:]
    store.fetch(key, tmp_path / "scratch")
    assert (tmp_path / "scratch").read_bytes() == data
    assert key in {b.key for b in store.list_blobs()}
    store.delete(key)
    store.delete(key)  # twice: nothing happens
    assert store.stat(key) is None
    with pytest.raises(NotStored):
        store.read(key)
    with pytest.raises(NotStored):
        store.fetch(key, tmp_path / "again")
    assert key not in {b.key for b in store.list_blobs()}


def test_a_discarded_blob_leaves_nothing(store: BlobStore) -> None:
    before = {b.key for b in store.list_blobs()}
    pending = store.begin()
    pending.write(b"half an upload")
    pending.discard()
    assert {b.key for b in store.list_blobs()} == before
    assert store.reap_pending() == 0


def test_a_resumable_upload_appends_at_its_offset_only(store: BlobStore) -> None:
    import io

    state = store.resumable_create()
    state = resumable_append(store, state, 0, io.BytesIO(b"hello "))
    with pytest.raises(ValueError):
        store.resumable_appender(state, 9)  # past what is stored
    with store.resumable_appender(state, 6) as append:
        append.write(b"WORLD")
        append.abort()  # a checksum mismatch, say: as it was
    state = resumable_append(store, state, 6, io.BytesIO(b"world"))
    key = store.resumable_finish(state, "txt")
    assert b"".join(store.read(key)) == b"hello world"
    gone = store.resumable_create()
    store.resumable_abort(gone)
    store.resumable_abort(gone)  # twice: nothing happens
    with pytest.raises(NotStored):
        store.resumable_finish(gone, "txt")


def test_a_failed_append_leaves_a_tail_only_the_caller_may_drop(store: BlobStore) -> None:
    import io

    state = resumable_append(store, store.resumable_create(), 0, io.BytesIO(b"hello "))
    append = store.resumable_appender(state, 6)
    append.write(b"lost bytes")
    append.close()  # the request failed before its offset was recorded: no commit
    with store.resumable_appender(state, 6) as again:
        if store.resumable_trusted:  # bytes in place: the next request sees them
            assert again.stale_tail()
            with pytest.raises(ValueError):
                again.write(b"x")  # never after someone else's bytes
            again.abort()  # nothing of ours to undo: the tail stays for the caller to judge
            assert again.stale_tail()
            again.drop_stale_tail()
        assert not again.stale_tail()
        again.write(b"world")
        state = again.commit()
    assert b"".join(store.read(store.resumable_finish(state, "txt"))) == b"hello world"


def test_two_appends_to_one_local_upload_never_mix(tmp_path: Path) -> None:
    import io

    store = LocalBlobStore(tmp_path / "blobs")
    state = resumable_append(store, store.resumable_create(), 0, io.BytesIO(b"abc"))
    with store.resumable_appender(state, 3) as first:
        with pytest.raises(AppendBusy):
            store.resumable_appender(state, 3)  # another request, at the same moment
        first.write(b"def")
        state = first.commit()
    with store.resumable_appender(state, 6) as after:  # the lock went with the first
        after.write(b"!")
        state = after.commit()
    assert b"".join(store.read(store.resumable_finish(state, "txt"))) == b"abcdef!"


def test_keys_are_the_only_way_in(store: BlobStore) -> None:
    key = put_stream(store, iter([b"abc"]), "txt")
    for hostile in ("../" + key, "/etc/passwd", key + "/..", "tmp/x", "", key.upper()):
        assert store.stat(hostile) is None
        with pytest.raises(NotStored):
            store.read(hostile)
