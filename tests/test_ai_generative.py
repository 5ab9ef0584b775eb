"""/api/ai/edit and /api/ai/generate: the official SDK's bodies (written exactly as
@coreviz/sdk 1.1.7 sends them), through a fake OpenAI-compatible images endpoint on 127.0.0.1,
and without one; an edit kept as a new version, a generation kept as a new item."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from coreviz_studio.app import create_app
from tests import media_files
from tests.fake_images import FakeImages, fake_images
from tests.library import Library


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def picture(result: str) -> Image.Image:
    head, _, payload = result.partition(",")
    assert head.startswith("data:image/") and head.endswith(";base64"), head[:40]
    return Image.open(io.BytesIO(base64.b64decode(payload)))


# coreviz.edit(image, {prompt}) and coreviz.generate(prompt, {...}): the SDK's defaults filled
# in as it fills them (coreviz.ts), undefined fields left out as JSON.stringify leaves them.
def sdk_edit(image: str, prompt: str, **more: Any) -> dict[str, Any]:
    return {"image": image, "prompt": prompt, "aspectRatio": "match_input_image",
            "outputFormat": "jpg", "model": "flux-kontext-max", **more}


def sdk_generate(prompt: str, reference: list[str] | None = None,
                 aspect_ratio: str | None = None, **more: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"prompt": prompt, "model": "google/nano-banana-pro", **more}
    if reference:
        body["image"] = reference
    if aspect_ratio:
        body["aspectRatio"] = aspect_ratio
    return body


@pytest.fixture(scope="module")
def astronaut() -> str:
    return data_url(media_files.photo("astronaut"))  # 512 x 512


@pytest.fixture(scope="module")
def coffee() -> bytes:
    return media_files.photo("coffee")  # 600 x 400


@pytest.fixture
def member(make_member):  # type: ignore[no-untyped-def]
    return make_member()


@pytest.fixture(scope="module")
def images(settings, database) -> Iterator[tuple[TestClient, FakeImages]]:  # type: ignore[no-untyped-def]
    with fake_images() as fake:
        custom = settings.model_copy(update={"image_api_base": fake.url,
                                             "image_api_key": "sk-image-secret",
                                             "image_api_model": "gpt-image-1"})
        with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
            yield c, fake


def test_without_an_endpoint_the_sdk_bodies_get_a_501_naming_the_setting(  # type: ignore[no-untyped-def]
        client, member, astronaut) -> None:
    for path, body in (("/api/ai/edit", sdk_edit(astronaut, "make it night")),
                       ("/api/ai/generate", sdk_generate("a red bicycle")),
                       ("/api/ai/generate", sdk_generate("a red bicycle", [astronaut], "16:9")),
                       ("/api/ai/edit", {"prompt": "make it night"})):
        r = client.post(path, headers=member.headers, json=body)
        assert r.status_code == 501, (path, r.text)
        message = r.json()["message"]
        assert "COREVIZ_IMAGE_API_BASE" in message and "Nothing was changed" in message


def test_the_sdk_edit_goes_to_images_edits_and_keeps_the_input_shape(images, member,  # type: ignore[no-untyped-def]
                                                                     coffee) -> None:
    client, fake = images
    r = client.post("/api/ai/edit", headers=member.headers,
                    json=sdk_edit(data_url(coffee), "make it night"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"result", "model"} and body["model"] == "gpt-image-1"
    out = picture(body["result"])
    assert out.format == "JPEG" and abs(out.width / out.height - 1.5) < 0.01  # match_input_image
    seen = fake.seen[-1]
    assert seen.path == "/v1/images/edits"
    assert seen.headers["Authorization"] == "Bearer sk-image-secret"
    assert seen.fields == {"model": "gpt-image-1", "prompt": "make it night", "n": "1",
                           "size": "1536x1024"}
    [(name, png)] = seen.files
    assert name == "image" and Image.open(io.BytesIO(png)).size == (600, 400)


def test_the_sdk_generate_goes_to_images_generations(images, member, astronaut) -> None:  # type: ignore[no-untyped-def]
    client, fake = images
    r = client.post("/api/ai/generate", headers=member.headers,
                    json=sdk_generate("a red bicycle", aspect_ratio="16:9"))
    assert r.status_code == 200, r.text
    out = picture(r.json()["result"])
    assert abs(out.width / out.height - 16 / 9) < 0.01  # cut from the endpoint's 1536 x 1024
    assert fake.seen[-1].path == "/v1/images/generations"
    assert fake.seen[-1].json == {"model": "gpt-image-1", "prompt": "a red bicycle", "n": 1,
                                  "size": "1536x1024"}
    # reference images (`image` as an array) go to the edits endpoint, as image[]
    r = client.post("/api/ai/generate", headers=member.headers,
                    json=sdk_generate("the two of them", [astronaut, astronaut]))
    assert r.status_code == 200, r.text
    assert fake.seen[-1].path == "/v1/images/edits"
    assert [name for name, _ in fake.seen[-1].files] == ["image[]", "image[]"]
    png = client.post("/api/ai/generate", headers=member.headers,
                      json={**sdk_generate("a cat"), "outputFormat": "png"})
    assert picture(png.json()["result"]).format == "PNG"


def test_an_edit_with_media_id_becomes_the_new_active_version(images, member, coffee) -> None:  # type: ignore[no-untyped-def]
    client, fake = images
    lib = Library(client, member)
    original = lib.upload(coffee, "coffee.jpg")
    calls = len(fake.seen)
    # no image: the item's own picture is what is edited
    r = client.post("/api/ai/edit", headers=member.headers,
                    json={**sdk_edit("", "add steam"), "image": None,
                          "mediaId": original["id"]})
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["result"].startswith("data:image/jpeg;base64,") and answer["mediaId"]
    [(_, sent)] = fake.seen[calls].files
    assert Image.open(io.BytesIO(sent)).size == (600, 400)
    versions = client.get(f"/api/media/{original['id']}/versions", headers=member.headers)
    assert versions.status_code == 200, versions.text
    listed = versions.json()["versions"]
    assert [(m["id"], m["versionNumber"], m["isActiveVersion"]) for m in listed] == [
        (original["id"], 1, False), (answer["mediaId"], 2, True)]
    new = lib.media(answer["mediaId"])
    assert new["isActiveVersion"] and not lib.media(original["id"])["isActiveVersion"]
    assert new["metadata"]["ai"] == {"operation": "edit", "model": "gpt-image-1",
                                     "prompt": "add steam", "requestedModel": "flux-kontext-max",
                                     "aspectRatio": "match_input_image"}
    assert new["metadata"]["processing"]["reason"] == "upload"  # processed like an upload
    assert new["name"] == original["name"] and answer["url"] == new["blob"]


def test_a_generation_with_dataset_id_becomes_a_new_item(images, member) -> None:  # type: ignore[no-untyped-def]
    client, _ = images
    lib = Library(client, member)
    r = client.post("/api/ai/generate", headers=member.headers,
                    json=sdk_generate("a red bicycle", datasetId=lib.id, name="Bicycle"))
    assert r.status_code == 200, r.text
    item = lib.media(r.json()["mediaId"])
    assert item["name"] == "Bicycle" and item["type"] == "image"
    assert item["metadata"]["ai"]["prompt"] == "a red bicycle"
    assert item["metadata"]["ai"]["requestedModel"] == "google/nano-banana-pro"
    assert lib.names() == ["Bicycle"]


def test_keeping_needs_a_member_and_an_item_of_ones_own(images, member, make_member,  # type: ignore[no-untyped-def]
                                                        coffee, astronaut) -> None:
    client, fake = images
    lib = Library(client, member)
    original = lib.upload(coffee, "coffee.jpg")
    viewer = make_member(org=str(member.org_id), role="viewer")
    calls = len(fake.seen)
    r = client.post("/api/ai/edit", headers=viewer.headers,
                    json=sdk_edit(astronaut, "x", mediaId=original["id"]))
    assert r.status_code == 403, r.text
    # a viewer may still edit without keeping
    assert client.post("/api/ai/edit", headers=viewer.headers,
                       json=sdk_edit(astronaut, "x")).status_code == 200
    stranger = make_member()
    r = client.post("/api/ai/edit", headers=stranger.headers,
                    json=sdk_edit(astronaut, "x", mediaId=original["id"]))
    assert r.status_code == 404, r.text
    r = client.post("/api/ai/generate", headers=stranger.headers,
                    json=sdk_generate("x", datasetId=lib.id))
    assert r.status_code == 404, r.text
    assert len(fake.seen) == calls + 1  # refused ids never reached the endpoint
    versions = client.get(f"/api/media/{original['id']}/versions", headers=member.headers)
    assert [m["id"] for m in versions.json()["versions"]] == [original["id"]]


def test_bad_bodies_are_clear_422s(images, member, astronaut) -> None:  # type: ignore[no-untyped-def]
    client, _ = images
    for path, body, words in (
            ("/api/ai/edit", {"prompt": "x"}, "mediaId"),
            ("/api/ai/edit", sdk_edit(astronaut, "x", aspectRatio="7:5"), "aspectRatio"),
            ("/api/ai/edit", sdk_edit(astronaut, "x", outputFormat="gif"), "outputFormat"),
            ("/api/ai/generate", sdk_generate(""), "prompt"),
            ("/api/ai/generate", sdk_generate("x", name="Bicycle"), "datasetId"),
            ("/api/ai/generate", {**sdk_generate("x"), "style": "y"}, "style")):
        r = client.post(path, headers=member.headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert words in r.json()["message"], r.text


def test_the_ssrf_rules_hold_for_inputs_and_for_the_endpoints_url_answers(settings, database,  # type: ignore[no-untyped-def]
                                                                         member) -> None:
    """A URL answer on the endpoint's own origin is the operator's choice (LocalAI serves its
    pictures there); any other address goes through /api/ai's SSRF rules, as inputs do."""
    with fake_images(answer="url") as fake:
        custom = settings.model_copy(update={"image_api_base": fake.url})
        with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
            own = fake.url.replace("/v1", "/generated/picture.png")
            r = c.post("/api/ai/edit", headers=member.headers, json=sdk_edit(own, "x"))
            assert r.status_code == 400 and not fake.seen, r.text  # an input URL: refused
            fake.url_answer = own
            r = c.post("/api/ai/generate", headers=member.headers, json=sdk_generate("x"))
            assert r.status_code == 200, r.text
            assert picture(r.json()["result"]).size == (1024, 1024)
            assert [s.path for s in fake.seen] == ["/v1/images/generations",
                                                   "/generated/picture.png"]
            fake.url_answer = "http://127.0.0.1:9/picture.png"  # another loopback service
            r = c.post("/api/ai/generate", headers=member.headers, json=sdk_generate("x"))
            assert r.status_code == 502, r.text
            assert [s.path for s in fake.seen][2:] == ["/v1/images/generations"]


@pytest.mark.parametrize("answer", ["error", "huge", "hang"])
def test_a_failing_endpoint_is_a_502_that_keeps_the_key_and_changes_nothing(  # type: ignore[no-untyped-def]
        settings, database, member, coffee, answer: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with fake_images(answer=answer) as fake:
        custom = settings.model_copy(update={"image_api_base": fake.url,
                                             "image_api_key": "sk-image-secret",
                                             "image_api_max_bytes": 100_000,
                                             "image_api_timeout_seconds": 1})
        with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
            lib = Library(c, member)
            original = lib.upload(coffee, "coffee.jpg")
            r = c.post("/api/ai/edit", headers=member.headers,
                       json=sdk_edit(data_url(coffee), "x", mediaId=original["id"]))
            assert r.status_code == 502, r.text
            assert "image endpoint" in r.json()["message"] and "sk-" not in r.text
            assert lib.media(original["id"])["isActiveVersion"]
            assert lib.names() == ["coffee.jpg"]
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "sk-image-secret" not in logged
    assert {"error": "HTTP 500", "huge": "COREVIZ_IMAGE_API_MAX_BYTES",
            "hang": "did not answer within 1 s"}[answer] in logged
