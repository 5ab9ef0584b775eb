"""The rest of the official CLI's tree (`folders`, `tags list`, `media tags|versions|rename|move|
search|find-similar`, `collections update|get`, `describe`, `tag`, `edit`) run as real
processes against a real server; each effect is checked through the API, and `--quiet` prints
what the official CLI prints (JSON of its result, or its one word)."""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps

from coreviz_studio.client import Client, NotFound
from tests import media_files
from tests.jobs import drain, pipeline
from tests.processes import Finished, Server, cli, server_on

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(pg_url: str) -> Iterator[Server]:
    """No workers (the tests process what they need themselves), the offline models that
    describe and tag answer with."""
    with server_on(pg_url, "cvs-cli-tree-",
                   COREVIZ_MODELS="faces,labels,text-embedding") as srv:
        yield srv


class Person:
    def __init__(self, server: Server, key: str, config_dir: str) -> None:
        self.api = Client(server.url, api_key=key)
        self.env = {"COREVIZ_CONFIG_DIR": config_dir, "COREVIZ_API_URL": server.url,
                    "COREVIZ_API_KEY": key}
        self.collection = self.api.create_collection("Tree").id

    def run(self, *args: str, check: bool = True) -> Finished:
        return cli(*args, env=self.env, check=check)

    def quiet(self, *args: str) -> Any:
        out = self.run(*args, "--quiet").stdout
        assert len(out.splitlines()) == 1, out  # one line, as the official CLI prints it
        return json.loads(out)

    def photo(self, name: str, data: bytes | None = None, **fields: Any) -> str:
        return self.api.upload_multipart(data or media_files.image(noise=True),
                                         self.collection, name=name, **fields).media_id


@pytest.fixture
def person(server: Server, make_member) -> Iterator[Person]:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory(prefix="cvs-cli-tree-") as tmp:
        person = Person(server, make_member().key, f"{tmp}/config")
        yield person
        person.api.close()


def test_folders_collections_rename_and_move(person: Person) -> None:
    c = person.collection
    trips = person.quiet("folders", "create", c, "Trips")
    assert person.api.get_folder(trips["id"]).name == "Trips"
    assert person.quiet("folders", "create", c, "Trips", "--reuse")["id"] == trips["id"]
    day = json.loads(person.run("folders", "create", c, "Day 1", "--path", trips["path"],
                                "--json").stdout)
    assert person.api.get_folder(day["id"]).parent_path == trips["path"]
    assert "Day 1/" in person.run("folders", "get", day["id"]).stdout
    assert person.quiet("folders", "get", day["id"])["path"] == day["path"]

    renamed = person.quiet("folders", "update", trips["id"], "--name", "Trips 2024")
    assert renamed["name"] == person.api.get_folder(trips["id"]).name == "Trips 2024"

    beach = person.photo("IMG_0001.jpg")
    assert person.quiet("media", "rename", beach, "beach.jpg")["name"] == "beach.jpg"
    assert person.api.get_media(beach).name == "beach.jpg"
    moved = person.quiet("media", "move", beach, day["path"])
    assert moved["id"] == beach and moved["newPath"].startswith(day["path"] + ".")
    inside = [m.name for m in person.api.iter_media(c, path=day["path"])]
    assert inside == ["beach.jpg"]
    assert "moved" in person.run("media", "move", beach, c.replace("-", "")).stdout
    assert [m.name for m in person.api.iter_media(c, type="image")] == ["beach.jpg"]

    assert person.run("folders", "delete", trips["id"], "--quiet").stdout == "deleted\n"
    with pytest.raises(NotFound):
        person.api.get_folder(day["id"])  # the folder went with what it held
    missing = person.run("folders", "get", day["id"], check=False)
    assert missing.returncode == 1 and "(404" in missing.stderr

    updated = person.quiet("collections", "update", c, "--name", "Holidays", "--icon", "🎒")
    assert (updated["name"], updated["icon"]) == ("Holidays", "🎒")
    assert person.api.get_collection(c).name == "Holidays"
    assert person.quiet("collections", "get", c)["icon"] == "🎒"
    assert "Holidays" in person.run("collections", "update", c, "--name", "Holidays").stdout
    assert person.api.get_collection(c).icon == "🎒"  # left as it was without --icon


def test_media_tags_and_the_collections_tags(person: Person) -> None:
    m = person.photo("car.jpg")
    assert person.run("media", "tags", "add", m, "color", "red", "--quiet").stdout == "added\n"
    person.run("media", "tags", "add", m, "color", "blue")
    said = person.run("media", "tags", "add", m, "mood", "calm").stdout
    assert "color: blue, red" in said or "color: red, blue" in said
    assert {k: sorted(v) for k, v in person.api.get_media(m).tags.items()} == {
        "color": ["blue", "red"], "mood": ["calm"]}
    listed = person.quiet("tags", "list", person.collection)
    assert listed == person.api.get_tags(person.collection)
    assert sorted(listed["color"]) == ["blue", "red"]
    assert "mood: calm" in person.run("tags", "list", person.collection).stdout

    out = person.run("media", "tags", "remove", m, "color", "red", "--quiet").stdout
    assert out == "removed\n" and person.api.get_media(m).tags["color"] == ["blue"]
    answer = json.loads(person.run("media", "tags", "rename-group", m, "color", "colour",
                                   "--json").stdout)
    assert answer["tags"] == {"colour": ["blue"], "mood": ["calm"]}
    assert person.api.get_media(m).tags == {"colour": ["blue"], "mood": ["calm"]}
    assert person.run("media", "tags", "remove-group", m, "colour", "--quiet"
                      ).stdout == "removed\n"
    assert person.api.get_media(m).tags == {"mood": ["calm"]}


def test_versions_list_select_delete(person: Person) -> None:
    first = person.photo("logo.png")
    second = person.photo("logo.png", media_files.image(color="blue"), version_of=first)
    versions = person.quiet("media", "versions", "list", first)
    assert [v["id"] for v in versions] == [first, second]
    assert [v["isActiveVersion"] for v in versions] == [False, True]
    assert "active" in person.run("media", "versions", "list", first).stdout

    assert person.run("media", "versions", "select", first, "--quiet").stdout == "selected\n"
    active = [v.id for v in person.api.list_versions(first) if v.is_active_version]
    assert active == [first]

    gone = person.quiet("media", "versions", "delete", first, first)
    assert gone == {"deletedId": first, "promotedId": second}
    assert [v.id for v in person.api.list_versions(second)] == [second]
    assert person.api.list_versions(second)[0].is_active_version


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_describe_tag_edit_search_and_find_similar(person: Person, server: Server, settings,  # type: ignore[no-untyped-def]
                                                   database, tmp_path: Path) -> None:
    astronaut = Image.open(io.BytesIO(media_files.photo("astronaut")))
    big = tmp_path / "astronaut.jpg"  # 1024 px: shrunk to 512 before it is sent
    big.write_bytes(_jpeg(astronaut.resize((1024, 1024))))
    described = person.run("describe", str(big), "--quiet").stdout
    assert "1 face" in described
    assert json.loads(person.run("describe", str(big), "--json").stdout)["description"] == (
        described.strip())

    cat = tmp_path / "chelsea.jpg"
    cat.write_bytes(media_files.photo("chelsea"))
    picked = person.run("tag", str(cat), "what animal?", "--choices",
                        "a sports car, a cat, a cup of coffee", "--single", "--quiet").stdout
    assert picked == "a cat\n"
    assert "• a cat" in person.run("tag", str(cat), "", "--choices", "a sports car,a cat",
                                   "--single").stdout

    edit = person.run("edit", str(cat), "make it blue", check=False)
    assert edit.returncode == 1 and "(501" in edit.stderr and "editing" in edit.stderr
    missing = person.run("describe", str(tmp_path / "nope.jpg"), check=False)
    assert missing.returncode == 2 and "not found" in missing.stderr

    first = person.photo("astronaut.jpg", media_files.photo("astronaut"))
    mirrored = person.photo("crew-portrait.jpg", _jpeg(ImageOps.mirror(astronaut)))
    person.photo("chelsea.jpg", media_files.photo("chelsea"))
    drain(pipeline(settings, database, models="faces", blob_dir=server.data_dir / "blobs"),
          [first, mirrored])

    hits = person.quiet("media", "search", "crew portrait", "--limit", "5")
    assert hits[0]["mediaId"] == mirrored and hits[0]["mediaName"] == "crew-portrait.jpg"
    assert set(hits[0]) == {"mediaId", "mediaName", "mediaType", "blobUrl", "objects", "rank",
                            "caption"}  # the names the official SDK gives its results

    face = next(o for f in person.api.get_media(first).frames for o in f.objects
                if o.model == "faces" or o.type == "face")
    page = person.quiet("media", "find-similar", person.collection, face.id, "--model",
                        "faces", "--limit", "5")
    assert mirrored in [x["id"] for x in page["media"]]
    assert "crew-portrait.jpg" in person.run("media", "find-similar", person.collection,
                                             face.id, "--model", "faces").stdout
