"""`similar` (by a media item and by a face's id), `mv` (items and folders, by a folder's id,
its path, or /) and `keys list|create|revoke` over HTTP, as real processes against a real
server; the operator's `keys` (on a data dir) stay as they were (tests/test_server_process.py,
tests/test_scoped_keys.py)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image, ImageOps

from coreviz_studio.client import Client, Unauthorized
from tests import media_files
from tests.jobs import drain, pipeline
from tests.processes import Server, cli, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    with server_on(pg_url, "cvs-cli-items-") as srv:
        yield srv


def _lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith(("{", "["))]


def _env(server: Server, key: str, tmp: str) -> dict[str, str]:
    return {"COREVIZ_CONFIG_DIR": f"{tmp}/config", "COREVIZ_API_URL": server.url,
            "COREVIZ_API_KEY": key}


def _mirrored(data: bytes) -> bytes:
    out = io.BytesIO()
    ImageOps.mirror(Image.open(io.BytesIO(data))).save(out, "JPEG", quality=90)
    return out.getvalue()


def test_similar_by_media_and_by_face(server: Server, make_member, settings,  # type: ignore[no-untyped-def]
                                      database) -> None:
    member = make_member()
    user = Client(server.url, api_key=member.key)
    col = user.create_collection("People")
    astronaut = media_files.photo("astronaut")
    ids = {name: user.upload_multipart(data, col.id, name=name).media_id for name, data in
           [("astronaut.jpg", astronaut), ("crew.jpg", _mirrored(astronaut)),
            ("cat.jpg", media_files.photo("chelsea"))]}
    drain(pipeline(settings, database, models="faces",
                   blob_dir=server.data_dir / "blobs"), list(ids.values()))
    with tempfile.TemporaryDirectory(prefix="cvs-cli-sim-") as tmp:
        env = _env(server, member.key, tmp)
        by_media = _lines(cli("similar", ids["astronaut.jpg"], "--json", env=env).stdout)
        assert by_media and by_media[0]["id"] == ids["crew.jpg"]  # the same face, mirrored
        assert ids["astronaut.jpg"] not in {r["id"] for r in by_media}  # not itself
        assert by_media[0]["score"] > 0.9
        face = next(o for f in user.get_media(ids["crew.jpg"]).frames for o in f.objects
                    if o.type == "face")
        by_face = _lines(cli("similar", face.id, col.id, "--model", "faces", "--limit", "1",
                             "--json", env=env).stdout)
        assert [r["id"] for r in by_face] == [ids["astronaut.jpg"]]  # the other photo of her
        plain = cli("similar", face.id, col.id, "--limit", "2", env=env).stdout
        assert "astronaut.jpg" in plain and "cat.jpg" not in plain
        lost = cli("similar", face.id, env=env, check=False)  # an object: where to look?
        assert lost.returncode == 2 and "collection" in lost.stderr
        bare = cli("similar", ids["cat.jpg"], env=env, check=False)
        assert bare.returncode == 1 and "no face or object" in bare.stderr


def test_mv_and_keys_over_http(server: Server, make_member) -> None:  # type: ignore[no-untyped-def]
    member = make_member()
    user = Client(server.url, api_key=member.key)
    col = user.create_collection("Moves")
    a = user.upload_multipart(media_files.image(noise=True), col.id, name="a.jpg").media_id
    b = user.upload_multipart(media_files.image(noise=True), col.id, name="b.jpg").media_id
    box = user.create_folder(col.id, "Box")
    crate = user.create_folder(col.id, "Crate")
    with tempfile.TemporaryDirectory(prefix="cvs-cli-mv-") as tmp:
        env = _env(server, member.key, tmp)
        moved = _lines(cli("mv", a, b, box.id, "--json", env=env).stdout)
        assert [m["id"] for m in moved] == [a, b]
        assert {m.name for m in user.iter_media(col.id, path=box.path)} == {"a.jpg", "b.jpg"}
        # a folder (with what it holds) into another, by the destination's path
        assert "moved" in cli("mv", box.id, crate.path, env=env).stdout
        inside = {m.name for m in user.iter_media(col.id, path=crate.path, recursive=True)}
        assert inside == {"Box", "a.jpg", "b.jpg"}
        cli("mv", a, "/", env=env)  # back to the collection's root
        assert "a.jpg" in {m.name for m in user.iter_media(col.id)}
        bad = cli("mv", a, "0" * 32 + ".nothing", env=env, check=False)
        assert bad.returncode in (1, 2) and "error:" in bad.stderr

        made = _lines(cli("keys", "create", "--name", "ci", "--read-only", "--json",
                          env=env).stdout)[-1]
        assert made["readOnly"] is True and made["apiKey"].startswith("cvz_")
        fresh = Client(server.url, api_key=made["apiKey"])
        assert fresh.me().email == member.email  # a key of the signed-in user
        listed = _lines(cli("keys", "list", "--json", env=env).stdout)[-1]
        assert made["id"] in {k["id"] for k in listed}
        assert all(made["apiKey"] not in json.dumps(k) for k in listed)
        text = cli("keys", "list", env=env).stdout
        assert made["prefix"] in text and "ci" in text
        assert "revoked" in cli("keys", "revoke", made["prefix"], env=env).stdout
        with pytest.raises(Unauthorized):
            fresh.me()
        unknown = cli("keys", "revoke", "cvz_nothing", env=env, check=False)
        assert unknown.returncode == 1 and "none of your API keys" in unknown.stderr
        # the operator's mode still needs a user to act as
        assert cli("keys", "create", "--operator", env=env, check=False).returncode == 2
