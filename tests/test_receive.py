"""The byte path of an upload below HTTP: a multipart body and a tus body, split into chunks at
awkward places, arrive whole and hashed right through the batches (uploads/batches.py) and the
file writer (storage/filewrite.py: whole blocks past the page cache, the rest through it); and
a body that fails midway leaves nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import pytest
from starlette.requests import ClientDisconnect

from coreviz_studio.errors import TooLarge
from coreviz_studio.storage.filewrite import BLOCK, FileWriter, block_buffer
from coreviz_studio.storage.local import LocalBlobStore
from coreviz_studio.uploads.batches import BATCH
from coreviz_studio.uploads.receive import receive
from coreviz_studio.uploads.tus_receive import receive_chunk

BOUNDARY = b"----cvs-test-boundary-7f3a"
CONTENT_TYPE = "multipart/form-data; boundary=" + BOUNDARY.decode()


def _form(file: bytes) -> bytes:
    return (b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="datasetId"\r\n\r\n'
            b"ds1\r\n--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; '
            b'filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
            + file + b"\r\n--" + BOUNDARY + b"--\r\n")


def _cuts(body: bytes, file_at: int) -> list[int]:
    """Places to cut the body: single bytes, inside the boundaries, and just around block
    and batch edges of the file's bytes."""
    places = {1, 2, 7, file_at - 3, file_at, file_at + 1}
    for edge in (BLOCK, BATCH, 2 * BATCH, 3 * BATCH):
        places.update(file_at + edge + d for d in (-1, 0, 1))
    end = body.rindex(b"\r\n--" + BOUNDARY)
    places.update(range(end - 2, end + len(BOUNDARY) + 6))  # the closing boundary, byte by byte
    return sorted(p for p in places if 0 < p < len(body))


async def _chunks(body: bytes, cuts: Iterable[int], fail: BaseException | None = None
                  ) -> AsyncIterator[bytes]:
    start = 0
    for cut in [*cuts, len(body)]:
        yield body[start:cut]
        start = cut
        if fail is not None and start > len(body) // 2:
            raise fail


@pytest.mark.parametrize("size", [0, 1, BLOCK - 1, BLOCK, 3 * BATCH + 4097])
def test_a_form_cut_anywhere_is_stored_whole_and_hashed_right(tmp_path: Path, size: int) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    data = os.urandom(size)
    body = _form(data)
    cuts = _cuts(body, body.index(b"\r\n\r\n", body.index(b'name="file"')) + 4)
    digest = hashlib.sha256(body).digest()

    received = asyncio.run(receive(_chunks(body, cuts), CONTENT_TYPE, store, 1 << 30, digest))
    blob = received.blob
    assert blob is not None and received.fields == {"datasetId": "ds1"}
    assert (blob.size, blob.sha256) == (size, hashlib.sha256(data).hexdigest())
    with blob.open() as f:
        assert f.read() == data
    blob.discard()
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("fail", [ClientDisconnect(), asyncio.CancelledError(),
                                  OSError(28, "No space left on device")])
def test_a_form_that_fails_midway_leaves_no_file(tmp_path: Path, fail: BaseException) -> None:
    from coreviz_studio.errors import InsufficientStorage

    store = LocalBlobStore(tmp_path / "blobs")
    body = _form(os.urandom(3 * BATCH))
    expected: type[BaseException] = (InsufficientStorage if isinstance(fail, OSError)
                                     else type(fail))
    with pytest.raises(expected):
        asyncio.run(receive(_chunks(body, range(65536, len(body), 65536), fail), CONTENT_TYPE,
                            store, 1 << 30))
    assert list(store.tmp_dir.iterdir()) == []


def test_a_form_over_the_limit_stores_at_most_the_limit(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    body = _form(os.urandom(2 * BATCH))
    with pytest.raises(TooLarge):
        asyncio.run(receive(_chunks(body, range(1000, len(body), 1000)), CONTENT_TYPE, store,
                            BATCH + 5))
    assert list(store.tmp_dir.iterdir()) == []


@pytest.mark.parametrize("offset", [0, 5, BLOCK])
def test_a_tus_body_cut_anywhere_lands_at_its_offset_with_both_hashes(tmp_path: Path,
                                                                      offset: int) -> None:
    """In place at the offset (an unaligned one goes through the page cache), counted, and
    hashed both as the chunk (Upload-Checksum) and as the file's running hash."""
    store = LocalBlobStore(tmp_path / "blobs")
    state = store.resumable_create()
    before = os.urandom(offset)
    with store.resumable_appender(state, 0) as append:
        append.write(before)
        append.commit()
    data = os.urandom(2 * BATCH + 3)
    whole = hashlib.sha256(before)
    cuts = [1, 4095, 4097, BATCH - 1, BATCH + 1, BATCH + 4096, 2 * BATCH]

    async def go() -> None:
        with store.resumable_appender(state, offset) as append:
            body = await receive_chunk(_chunks(data, cuts), len(data), append, check=True,
                                       whole=whole)
            assert body.size == len(data) and append.size == len(data)
            assert body.checked is not None
            assert body.checked.digest() == hashlib.sha256(data).digest()
            append.commit()

    asyncio.run(go())
    assert whole.digest() == hashlib.sha256(before + data).digest()
    key = store.resumable_finish(state, "bin")
    assert b"".join(store.read(key)) == before + data


def test_a_tus_body_cut_off_keeps_what_arrived_and_abort_cuts_it_back(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    state = store.resumable_create()
    data = os.urandom(3 * BATCH)

    async def go() -> None:
        with store.resumable_appender(state, 0) as append:
            body = await receive_chunk(
                _chunks(data, range(70000, len(data), 70000), ClientDisconnect()), len(data),
                append, check=False, whole=None)
            assert isinstance(body.cut, ClientDisconnect)
            assert 0 < body.size < len(data) and append.size == body.size
            assert (tmp_path / "blobs" / "tus" / f"{state}.part").read_bytes() == \
                data[:body.size]
            append.abort()

    asyncio.run(go())
    assert (tmp_path / "blobs" / "tus" / f"{state}.part").read_bytes() == b""


def test_the_file_writer_keeps_every_byte_whatever_the_pieces(tmp_path: Path) -> None:
    """Whole blocks from aligned memory, pieces that are not whole blocks, memory that is not
    aligned, a cut back: the file holds exactly what was written, in order."""
    path = tmp_path / "f"
    expected = bytearray()
    writer = FileWriter(path, create=True)
    aligned = block_buffer(2 * BLOCK)
    aligned[:] = os.urandom(len(aligned))
    odd = os.urandom(BLOCK + 13)
    writer.write(aligned)  # whole blocks: past the page cache where the file system allows
    expected += aligned
    writer.write(memoryview(odd)[1:BLOCK + 1])  # a whole block of memory not aligned
    expected += odd[1:BLOCK + 1]
    writer.write(odd[:13])  # not a whole block: the page cache from here on
    expected += odd[:13]
    assert not writer.direct
    writer.write(aligned)
    expected += aligned
    assert writer.position == len(expected)
    writer.truncate(BLOCK + 3)
    del expected[BLOCK + 3:]
    writer.write(b"tail")
    expected += b"tail"
    writer.sync()
    writer.close()
    assert path.read_bytes() == bytes(expected)

    appending = FileWriter(path, create=False, start=len(expected))
    assert not appending.direct  # not at a block boundary: the page cache
    appending.write(aligned)
    appending.close()
    assert path.read_bytes() == bytes(expected) + aligned


def test_a_block_buffer_is_not_shared_with_a_forked_child() -> None:
    """The pooled batches outlive requests; a process forked meanwhile (a decoder child) must
    not write into the server's (anonymous mmap is shared unless asked otherwise)."""
    buffer = block_buffer(BLOCK)
    buffer[:4] = b"mine"
    pid = os.fork()
    if pid == 0:  # the child
        buffer[:4] = b"kids"
        os._exit(0)
    os.waitpid(pid, 0)
    assert buffer[:4] == b"mine"
