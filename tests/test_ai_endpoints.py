"""/api/ai/describe, tag, embed, edit and generate, with the real offline models."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from coreviz_studio.app import create_app
from tests import media_files
from tests.fake_vision import FakeVision, fake_vision
from tests.library import Library


def data_url(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.fixture(scope="module")
def cat() -> str:
    return data_url(media_files.photo("chelsea"))


@pytest.fixture
def member(make_member):  # type: ignore[no-untyped-def]
    return make_member()


def test_describe_composes_from_the_offline_models(client, member) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/ai/describe", headers=member.headers,
                    json={"image": data_url(media_files.photo("astronaut"))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"].startswith("composed(") and "1 face" in body["description"]


def test_tag_picks_the_option_that_fits(client, member, cat) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/ai/tag", headers=member.headers,
                    json={"image": cat, "prompt": "what animal?",
                          "options": ["a sports car", "a cat", "a cup of coffee"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["a cat"]
    free = client.post("/api/ai/tag", headers=member.headers,
                       json={"image": cat, "prompt": "", "multiple": True}).json()["tags"]
    assert free and any("cat" in t or t == "tabby" for t in free), free


def sdk_tag(image: str, prompt: str, options: list[str], **more: object) -> dict[str, object]:
    """coreviz.tag(image, {prompt, options}) as @coreviz/sdk 1.1.7 sends it (multiple: true
    unless told otherwise)."""
    return {"image": image, "prompt": prompt, "options": options, "multiple": True, **more}


CHOICES = ["cat", "dog", "person", "car"]


@pytest.mark.parametrize(("photo", "options", "chosen", "because"), [
    ("astronaut", CHOICES, ["person"], "1 face found"),  # the example
    ("astronaut", ["an animal", "a vehicle", "people"], ["people"], "face"),
    ("chelsea", ["dog", "a kitten", "car"], ["a kitten"], "tabby"),
    ("chelsea", CHOICES, ["cat"], "Egyptian cat"),
])
def test_tag_chooses_options_by_what_the_offline_models_found(client, member, photo, options,  # type: ignore[no-untyped-def]
                                                              chosen, because) -> None:
    image = data_url(media_files.photo(photo))
    for multiple in (True, False):
        r = client.post("/api/ai/tag", headers=member.headers,
                        json=sdk_tag(image, "what is in it?", options, multiple=multiple))
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["tags"] == chosen, body
        assert body["confidence"] >= 0.5 and because in body["evidence"], body


def test_tag_says_when_its_choice_is_a_guess(client, member) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/ai/tag", headers=member.headers,
                    json=sdk_tag(data_url(media_files.photo("coffee")), "", CHOICES))
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["tags"]) == 1 and body["tags"][0] in CHOICES
    assert body["confidence"] <= 0.2 and body["evidence"].startswith("a guess"), body


def test_describe_says_what_the_offline_models_cannot_answer(client, member, cat) -> None:  # type: ignore[no-untyped-def]
    plain = client.post("/api/ai/describe", headers=member.headers, json={"image": cat}).json()
    assert "note" not in plain
    r = client.post("/api/ai/describe", headers=member.headers,
                    json={"image": cat, "prompt": "How many cats are there?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["description"] == plain["description"]  # the caption, not a made-up answer
    assert "prompt was not read" in body["note"] and "COREVIZ_VISION_API_BASE" in body["note"]


def test_embed_puts_images_and_texts_in_one_space(client, member, cat) -> None:  # type: ignore[no-untyped-def]
    def vector(body: dict[str, str]) -> np.ndarray:
        r = client.post("/api/ai/embed", headers=member.headers, json=body)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["dim"] == len(answer["embedding"]) == 384
        return np.array(answer["embedding"])

    image = vector({"image": cat})
    assert abs(np.linalg.norm(image) - 1) < 1e-3
    assert image @ vector({"text": "a cat"}) > image @ vector({"text": "a cup of coffee"})
    both = client.post("/api/ai/embed", headers=member.headers, json={"image": cat, "text": "x"})
    assert both.status_code == 422


def test_loopback_url_is_refused_without_a_connection(client, member) -> None:  # type: ignore[no-untyped-def]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    try:
        for url in (f"http://127.0.0.1:{port}/cat.jpg", "http://169.254.169.254/latest/",
                    "http://localhost/x.png", "file:///etc/passwd"):
            r = client.post("/api/ai/describe", headers=member.headers, json={"image": url})
            assert r.status_code == 400, (url, r.text)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()


def test_our_own_blob_urls_are_read_from_the_store_by_the_blob_rules(client, member,  # type: ignore[no-untyped-def]
                                                                     settings, database,
                                                                     make_member) -> None:
    """An SDK hands /api/ai a media's `blob` URL. On a server at a loopback or private address
    the fetcher would refuse it (SSRF guard); it is read from the store instead, and only as a
    GET of the URL would be answered: not once the item is trashed, and private blobs only
    with their signature or to the item's own organization."""
    lib = Library(client, member)
    media = lib.upload(media_files.photo("chelsea"), "cat.jpg")
    assert media["blob"].startswith(settings.effective_public_url())
    r = client.post("/api/ai/tag", headers=member.headers, json={
        "image": media["blob"], "options": ["a sports car", "a cat"]})
    assert r.status_code == 200, r.text
    assert r.json()["tags"] == ["a cat"]
    client.delete(f"/api/media/{media['id']}", headers=lib.headers)
    r = client.post("/api/ai/embed", headers=member.headers, json={"image": media["blob"]})
    assert r.status_code == 404, r.text
    unknown = settings.effective_public_url() + "/blobs/00/" + "0" * 32 + ".jpg"
    r = client.post("/api/ai/embed", headers=member.headers, json={"image": unknown})
    assert r.status_code == 404, r.text

    app = create_app(settings.model_copy(update={"private_blobs": True}), database)
    with TestClient(app, raise_server_exceptions=False) as private:
        owner = Library(private, make_member())
        secret = owner.upload(media_files.photo("chelsea"), "secret.jpg")
        signed, plain = secret["blob"], secret["blob"].split("?")[0]
        other = make_member()
        for who, image, status in ((other, signed, 200), (other, plain, 404),
                                   (owner.member, plain, 200),
                                   (other, signed.replace("signature=", "signature=0"), 404)):
            r = private.post("/api/ai/embed", headers=who.headers, json={"image": image})
            assert r.status_code == status, (image, r.text)


def test_bad_images_and_callers(client, member) -> None:  # type: ignore[no-untyped-def]
    html = data_url(b"<html><script>alert(1)</script></html>", "image/png")
    assert client.post("/api/ai/describe", headers=member.headers,
                       json={"image": html}).status_code == 415
    broken = data_url(media_files.image("JPEG", (300, 200), noise=True)[:400])
    assert client.post("/api/ai/describe", headers=member.headers,
                       json={"image": broken}).status_code == 422
    bomb = data_url(media_files.png_bomb(), "image/png")
    assert client.post("/api/ai/describe", headers=member.headers,
                       json={"image": bomb}).status_code == 413
    assert client.post("/api/ai/describe", json={"image": html}).status_code == 401


@pytest.fixture
def vision_client(settings, database) -> Iterator[tuple[TestClient, FakeVision]]:  # type: ignore[no-untyped-def]
    with fake_vision() as fake:
        custom = settings.model_copy(update={"vision_api_base": fake.url,
                                             "vision_api_model": "tiny-vlm"})
        with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
            yield c, fake


def test_a_configured_vision_endpoint_describes(vision_client, member, cat) -> None:  # type: ignore[no-untyped-def]
    client, fake = vision_client
    r = client.post("/api/ai/describe", headers=member.headers, json={"image": cat})
    assert r.status_code == 200, r.text
    assert r.json() == {"description": "A tabby cat resting on a rug.", "model": "tiny-vlm"}
    assert fake.seen[-1]["model"] == "tiny-vlm"


def test_describe_passes_the_prompt_to_the_vision_endpoint(vision_client, member, cat) -> None:  # type: ignore[no-untyped-def]
    client, fake = vision_client
    r = client.post("/api/ai/describe", headers=member.headers,
                    json={"image": cat, "prompt": "How many cats are there?"})
    assert r.status_code == 200 and "note" not in r.json(), r.text
    [part] = [p for p in fake.seen[-1]["messages"][0]["content"] if p["type"] == "text"]
    assert part["text"] == "How many cats are there?"


def test_a_failing_vision_endpoint_is_a_502(settings, database, member, cat) -> None:  # type: ignore[no-untyped-def]
    with fake_vision(status=500) as fake:
        custom = settings.model_copy(update={"vision_api_base": fake.url,
                                             "vision_api_key": "sk-secret-123"})
        with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
            r = c.post("/api/ai/describe", headers=member.headers, json={"image": cat})
    assert r.status_code == 502 and "vision endpoint" in r.json()["message"]
    assert "sk-secret-123" not in r.text and "127.0.0.1" not in r.text  # the operator's


def test_a_decompression_bomb_costs_the_server_nothing(settings, database, member) -> None:  # type: ignore[no-untyped-def]
    bomb = media_files.flat_png((10000, 10000), "RGBA", (0, 0, 0, 0))  # 400 KB; 400 MB decoded
    custom = settings.model_copy(update={"decode_memory_mb": 256})
    with TestClient(create_app(custom, database), raise_server_exceptions=False) as c:
        r = c.post("/api/ai/describe", headers=member.headers,
                   json={"image": data_url(bomb, "image/png")})
    assert r.status_code == 413 and "256 MB" in r.json()["message"], r.text
