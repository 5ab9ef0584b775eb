"""`sync` (a tree mirrored, a rerun sends nothing, changes become versions, --delete, --watch)
and `download` (a folder, a collection, a search's results: the tree by name, the right bytes,
reruns skip, partial files resume, hostile names made safe) as real processes against a real
server."""

from __future__ import annotations

import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coreviz_studio.client import Client
from tests import media_files
from tests.processes import ROOT, Server, cli, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-cli-transfer-") as srv:
        yield srv


@pytest.fixture
def home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cvs-cli-tr-") as tmp:
        yield Path(tmp)


@pytest.fixture
def user(server: Server, make_member) -> Client:  # type: ignore[no-untyped-def]
    return Client(server.url, api_key=make_member().key)


def _env(server: Server, user: Client, home: Path) -> dict[str, str]:
    return {"COREVIZ_CONFIG_DIR": str(home / "config"), "COREVIZ_API_URL": server.url,
            "COREVIZ_API_KEY": user._headers["x-api-key"]}


def _events(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _photo(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = media_files.image(noise=True)
    path.write_bytes(data)
    return data


def _remote(user: Client, collection_id: str) -> dict[str, tuple[str, str | None]]:
    """Every item below the collection as 'folder/name' -> (id, sha256)."""
    items = list(user.iter_media(collection_id, recursive=True))
    names = {m.id.replace("-", ""): m.name for m in items if m.type == "folder"}
    out = {}
    for m in items:
        inner = m.path.split(".")[1:-1]
        out["/".join([*(names[x] for x in inner), m.name])] = (m.id, m.sha256)
    return out


def test_sync_mirrors_a_tree_then_sends_only_what_changed(
        server: Server, user: Client, home: Path) -> None:
    col = user.create_collection("Mirror")
    root = home / "album"
    sent = {"a.jpg": _photo(root / "a.jpg"), "sub/b.jpg": _photo(root / "sub" / "b.jpg"),
            "sub/deep/c.jpg": _photo(root / "sub" / "deep" / "c.jpg")}
    _photo(root / ".hidden.jpg")
    env = _env(server, user, home)

    first = _events(cli("sync", str(root), col.id, "--json", env=env).stdout)
    assert first[-1]["event"] == "summary"
    assert (first[-1]["uploaded"], first[-1]["skipped"], first[-1]["failed"]) == (3, 0, 0)
    remote = _remote(user, col.id)
    # DIR's contents go into the destination; its directories become folders by name
    assert {k: v[1] for k, v in remote.items() if v[1]} == {k: _sha(v) for k, v in sent.items()}
    assert {"sub", "sub/deep"} <= set(remote)

    again = _events(cli("sync", str(root), col.id, "--json", env=env).stdout)[-1]
    assert (again["uploaded"], again["skipped"]) == (0, 3)

    changed = _photo(root / "a.jpg")
    added = _photo(root / "sub" / "new.jpg")
    third = _events(cli("sync", str(root), col.id, "--json", env=env).stdout)
    done = {Path(e["file"]).name: e for e in third if e["event"] == "uploaded"}
    assert set(done) == {"a.jpg", "new.jpg"} and third[-1]["skipped"] == 2
    assert done["a.jpg"].get("version") is True and "version" not in done["new.jpg"]
    after = _remote(user, col.id)
    assert after["a.jpg"][1] == _sha(changed) and after["sub/new.jpg"][1] == _sha(added)
    # the changed file is a new version of the same item, not a second item
    assert [m.name for m in user.browse_media(col.id).media if m.name == "a.jpg"] == ["a.jpg"]
    versions = user.list_versions(after["a.jpg"][0])
    assert sorted(v.sha256 or "" for v in versions) == sorted([_sha(sent["a.jpg"]),
                                                               _sha(changed)])

    # deleted locally: left alone by default, to the trash with --delete
    (root / "sub" / "deep" / "c.jpg").unlink()
    cli("sync", str(root), col.id, env=env)
    assert "sub/deep/c.jpg" in _remote(user, col.id)
    gone = _events(cli("sync", str(root), col.id, "--json", "--delete", env=env).stdout)
    assert [(e["name"], e["type"]) for e in gone if e["event"] == "trashed"] == [
        ("c.jpg", "image")]
    (root / "sub" / "deep").rmdir()
    gone = _events(cli("sync", str(root), col.id, "--json", "--delete", env=env).stdout)
    assert [(e["name"], e["type"]) for e in gone if e["event"] == "trashed"] == [
        ("deep", "folder")]
    assert set(_remote(user, col.id)) == {"a.jpg", "sub", "sub/b.jpg", "sub/new.jpg"}
    assert user.list_trash(col.id).pagination.total >= 1  # moved, not destroyed


def test_sync_watch_sends_files_as_they_appear(server: Server, user: Client,
                                               home: Path) -> None:
    col = user.create_collection("Watched")
    root = home / "inbox"
    _photo(root / "first.jpg")
    env = {**os.environ, **_env(server, user, home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "coreviz_studio", "sync", str(root), col.id, "--watch",
         "--json", "--settle", "0.2", "--folder", "Inbox"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[dict[str, Any] | None] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("{"):
                lines.put(json.loads(line))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()

    def until(wanted: Any) -> dict[str, Any]:
        while True:
            event = lines.get(timeout=120)
            assert event is not None, proc.stderr.read() if proc.stderr else "ended"
            if wanted(event):
                return event

    try:
        until(lambda e: e["event"] == "watching")
        assert set(_remote(user, col.id)) == {"Inbox", "Inbox/first.jpg"}
        late = _photo(root / "later" / "late.jpg")
        up = until(lambda e: e["event"] == "uploaded")
        assert up["file"] == str((root / "later" / "late.jpg").resolve())
        assert _remote(user, col.id)["Inbox/later/late.jpg"][1] == _sha(late)
        changed = _photo(root / "later" / "late.jpg")
        again = until(lambda e: e["event"] == "uploaded")
        assert again["file"] == up["file"] and again.get("version") is True
        assert _remote(user, col.id)["Inbox/later/late.jpg"][1] == _sha(changed)
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(30)
    assert code == 0


def _upload(user: Client, col: str, data: bytes, name: str, path: str | None = None) -> str:
    return user.upload_multipart(data, col, path=path, name=name).media_id


def test_download_a_folder_a_collection_and_a_search(server: Server, user: Client,
                                                      home: Path) -> None:
    col = user.create_collection("Fetch")
    trip = user.create_folder(col.id, "trip")
    inner = user.create_folder(col.id, "inner", trip.path)
    # the server keeps names clean of control characters, but a name may hold anything else
    files = {
        "sunset beach.jpg": media_files.image(noise=True),
        "../../evil.jpg": media_files.image(noise=True),
        "/etc/passwd": media_files.image(noise=True),
        "..": media_files.image(noise=True),
        "bidi\u202eexe.jpg": media_files.image(noise=True),
    }
    for name, data in files.items():
        user.rename_item(_upload(user, col.id, data, "photo.jpg", trip.path), name)
    up = user.create_folder(col.id, "x", trip.path)
    user.update_folder(up.id, name="../up")
    upper = media_files.image(noise=True)
    _upload(user, col.id, upper, "in-up.jpg", up.path)
    dup1, dup2 = media_files.image(noise=True), media_files.image(noise=True)
    _upload(user, col.id, dup1, "dup.jpg", trip.path)
    _upload(user, col.id, dup2, "DUP.jpg", trip.path)
    deep = media_files.image("PNG", size=(400, 300), noise=True)
    _upload(user, col.id, deep, "deep.png", inner.path)
    top = media_files.image(noise=True)
    _upload(user, col.id, top, "top.jpg")
    env = _env(server, user, home)
    dest = home / "out" / "here"

    done = _events(cli("download", trip.id, str(dest), "--json", "-j", "2", env=env).stdout)
    assert done[-1]["event"] == "summary"
    assert (done[-1]["downloaded"], done[-1]["failed"]) == (9, 0)
    got = {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()}
    assert sorted(got) == sorted(want := {
        "trip/sunset beach.jpg": files["sunset beach.jpg"],
        "trip/.._.._evil.jpg": files["../../evil.jpg"],  # separators made harmless
        "trip/_etc_passwd": files["/etc/passwd"],  # never absolute
        "trip/__": files[".."],
        "trip/bidiexe.jpg": files["bidi\u202eexe.jpg"],  # no bidi override
        "trip/.._up/in-up.jpg": upper,  # a folder's name too
        "trip/DUP.jpg": dup2, "trip/dup (2).jpg": dup1,  # a clash (case-insensitive) suffixed
        "trip/inner/deep.png": deep,
    }), sorted(got)
    assert got == want
    assert not (home / "out" / "evil.jpg").exists() and not (home / "evil.jpg").exists()

    # a rerun skips what is there; a partial file goes on from where it stopped
    target = dest / "trip" / "inner" / "deep.png"
    target.unlink()
    (target.parent / ".deep.png.part").write_bytes(deep[: len(deep) // 2])
    rerun = _events(cli("download", trip.id, str(dest), "--json", env=env).stdout)
    assert (rerun[-1]["downloaded"], rerun[-1]["skipped"], rerun[-1]["resumed"]) == (1, 8, 1)
    assert rerun[-1]["bytes"] == len(deep) - len(deep) // 2  # only the missing half came
    assert target.read_bytes() == deep and not (target.parent / ".deep.png.part").exists()
    (dest / "trip" / "dup (2).jpg").write_bytes(b"changed here")
    fixed = _events(cli("download", trip.id, str(dest), "--json", env=env).stdout)[-1]
    assert (fixed["downloaded"], fixed["skipped"]) == (1, 8)
    assert (dest / "trip" / "dup (2).jpg").read_bytes() == dup1

    # the whole collection: its root is DEST
    whole = home / "whole"
    cli("download", col.id, str(whole), env=env)
    assert (whole / "top.jpg").read_bytes() == top
    assert (whole / "trip" / "inner" / "deep.png").read_bytes() == deep

    # a search's results, each in its folders by name
    found = home / "found"
    hits = _events(cli("download", col.id, str(found), "--search", "sunset", "--limit", "1",
                       "--json", env=env).stdout)
    assert hits[-1]["downloaded"] == 1
    assert [str(p.relative_to(found)) for p in found.rglob("*") if p.is_file()] == [
        "trip/sunset beach.jpg"]
    assert (found / "trip" / "sunset beach.jpg").read_bytes() == files["sunset beach.jpg"]
    none = _events(cli("download", col.id, str(home / "none"), "--search", "sunset",
                       "--min-score", "1000", "--json", env=env).stdout)[-1]
    assert none["downloaded"] == 0

    missing = cli("download", "0" * 32, str(home / "x"), env=env, check=False)
    assert missing.returncode == 1 and "not found" in missing.stderr.lower()
