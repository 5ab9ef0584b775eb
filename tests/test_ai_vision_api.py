"""The OpenAI-compatible vision client against a fake endpoint on 127.0.0.1: what it sends, how
it reads answers, and that every failure is a readable VisionApiError without the key."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from coreviz_studio.ai.vision_api import (
    DESCRIBE_PROMPT,
    VisionApi,
    VisionApiError,
    parse_tags,
    pick_tags,
)

KEY = "sk-very-secret-key-123"
JPEG = b"\xff\xd8\xff\xe0fake jpeg bytes\x00\x01\x02\xff\xd9"


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Fake:
    """What the fake endpoint answers next, and what it was sent."""

    base_url: str
    requests: list[Request] = field(default_factory=list)
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    delay_s: float = 0.0

    def answer(self, content: Any) -> None:
        self.body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": "llava",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
            }
        ).encode()

    @property
    def last(self) -> Request:
        return self.requests[-1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out leaves a broken pipe behind: expected here


@pytest.fixture
def fake() -> Iterator[Fake]:
    state = Fake(base_url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append(Request(self.path, dict(self.headers.items()), json.loads(raw)))
            time.sleep(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Type", state.content_type)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def image_bytes_sent(request: Request) -> bytes:
    (message,) = request.body["messages"]
    url = message["content"][1]["image_url"]["url"]
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    return base64.b64decode(url[len(prefix) :])


def failure(call: Any) -> str:
    with pytest.raises(VisionApiError) as info:
        call()
    message = str(info.value)
    assert KEY not in message and "secret" not in message
    return message


# -- what is sent ---------------------------------------------------------------------------


def test_describe_sends_an_openai_chat_request_and_returns_the_caption(fake: Fake) -> None:
    fake.answer("  A cat asleep on a red sofa.\n")
    api = VisionApi(fake.base_url, "llava:13b", api_key=KEY, timeout_s=5)
    assert api.name == "llava:13b"
    assert asyncio.run(api.describe(JPEG)) == "A cat asleep on a red sofa."

    request = fake.last
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"] == "application/json"
    body = request.body
    assert body["model"] == "llava:13b"
    assert body["temperature"] == 0 and body["max_tokens"] == 300
    (message,) = body["messages"]
    assert message["role"] == "user"
    text, image = message["content"]
    assert text == {"type": "text", "text": DESCRIBE_PROMPT}
    assert image["type"] == "image_url"
    assert image_bytes_sent(request) == JPEG


def test_repr_never_shows_the_key() -> None:
    api = VisionApi("http://localhost:11434/v1", "llava", api_key=KEY)
    assert KEY not in repr(api) and "localhost:11434/v1" in repr(api)


def test_no_key_no_authorization_header(fake: Fake) -> None:
    fake.answer("A dog.")
    api = VisionApi(fake.base_url + "/", "moondream", api_key=None, timeout_s=5)
    assert api.describe_sync(JPEG, prompt="What is this?") == "A dog."
    assert "Authorization" not in fake.last.headers
    assert fake.last.path == "/v1/chat/completions"  # the trailing slash is not doubled
    assert fake.last.body["messages"][0]["content"][0]["text"] == "What is this?"
    assert image_bytes_sent(fake.last) == JPEG


def test_inline_reasoning_is_dropped(fake: Fake) -> None:
    fake.answer("<think>\nA cat? Yes, a cat.\n</think>\n\nA cat on a sofa.")
    assert VisionApi(fake.base_url, "m", timeout_s=5).describe_sync(JPEG) == "A cat on a sofa."


def test_content_given_as_text_parts_is_joined(fake: Fake) -> None:
    fake.answer([{"type": "text", "text": "A red "}, {"type": "text", "text": "car. "}])
    assert VisionApi(fake.base_url, "m", timeout_s=5).describe_sync(JPEG) == "A red car."


# -- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        '["cat", "dog"]',
        '{"tags": ["cat", "dog"]}',
        '{"Labels": ["cat", "dog"]}',
        "cat, dog",
        "cat\ndog",
        "- cat\n- dog",
        '```json\n["cat", "dog"]\n```',
        'Sure! Here are the tags: ["cat", "dog"]. Hope this helps.',
        '"cat", "dog", "Cat"',
        '{"tags": "cat, dog"}',
    ],
)
def test_tag_reads_answers_leniently(fake: Fake, content: str) -> None:
    fake.answer(content)
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    assert asyncio.run(api.tag(JPEG, "Which animals are in it?", None, True)) == ["cat", "dog"]
    prompt = fake.last.body["messages"][0]["content"][0]["text"]
    assert prompt.startswith("Which animals are in it?") and "JSON list" in prompt
    assert image_bytes_sent(fake.last) == JPEG


def test_tag_keeps_only_the_options_in_their_spelling(fake: Fake) -> None:
    fake.answer('["cat", "dog", "BIRD", "outdoor scene"]')
    api = VisionApi(fake.base_url, "llava", timeout_s=5)
    options = ["Cat", "Bird", "Fish", "Outdoor  scene"]
    tags = asyncio.run(api.tag(JPEG, "What is shown?", options, True))
    assert tags == ["Cat", "Bird", "Outdoor  scene"]
    prompt = fake.last.body["messages"][0]["content"][0]["text"]
    assert json.dumps(options) in prompt and "every option that applies" in prompt


def test_single_choice_tag_gives_at_most_one(fake: Fake) -> None:
    fake.answer('{"answer": ["dog", "cat"]}')
    api = VisionApi(fake.base_url, "llava", timeout_s=5)
    assert api.tag_sync(JPEG, "Main animal?", ["cat", "dog"], False) == ["dog"]
    assert "single option" in fake.last.body["messages"][0]["content"][0]["text"]
    fake.answer("none of these")
    assert api.tag_sync(JPEG, "Main animal?", ["cat", "dog"], False) == []


def test_parse_and_pick_without_a_server() -> None:
    assert parse_tags("") == []
    assert parse_tags("[]") == []
    assert parse_tags("1. Beach\n2. Sunset.\n3. beach") == ["Beach", "Sunset"]
    assert parse_tags('{"result": ["a", "b"]}') == ["a", "b"]  # the only list in the object
    assert parse_tags("[1, 2, true, null]") == ["1", "2"]
    assert pick_tags(["x", "y"], None, False) == ["x"]
    assert pick_tags(["x", "y"], [], True) == ["x", "y"]  # no options: nothing to filter by


# -- failures -------------------------------------------------------------------------------


def test_http_error_is_readable_and_hides_the_key(fake: Fake) -> None:
    fake.status = 500
    fake.content_type = "text/plain"
    fake.body = f"internal error; request had Authorization: Bearer {KEY}".encode()
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    message = failure(lambda: asyncio.run(api.describe(JPEG)))
    assert "llava" in message and "HTTP 500" in message and "internal error" in message
    assert "***" in message  # the echoed key is blanked out
    assert "HTTP 500" in failure(lambda: api.describe_sync(JPEG))


def test_not_found_and_unauthorised_give_hints(fake: Fake) -> None:
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    fake.status, fake.body = 404, b'{"error": {"message": "model \\"llava\\" not found"}}'
    message = failure(lambda: api.describe_sync(JPEG))
    assert "HTTP 404" in message and "/v1" in message and "not found" in message
    fake.status, fake.body = 401, b""
    assert "API key" in failure(lambda: api.describe_sync(JPEG))


def test_redirect_is_not_followed(fake: Fake) -> None:
    fake.status, fake.body = 308, b""
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    message = failure(lambda: api.describe_sync(JPEG))
    assert "HTTP 308" in message and "redirect" in message
    assert len(fake.requests) == 1


def test_timeout(fake: Fake) -> None:
    fake.answer("too late")
    fake.delay_s = 1.0
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=0.2)
    message = failure(lambda: asyncio.run(api.describe(JPEG)))
    assert "did not answer within 0.2 s" in message
    assert "did not answer" in failure(lambda: api.tag_sync(JPEG, "tags?", None, True))


def test_answer_that_is_not_json(fake: Fake) -> None:
    fake.content_type = "text/html"
    fake.body = b"<html><body>Welcome to nginx!</body></html>"
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    message = failure(lambda: asyncio.run(api.describe(JPEG)))
    assert "other than JSON" in message and "Welcome to nginx" in message


def test_json_without_a_message(fake: Fake) -> None:
    fake.body = b'{"choices": []}'
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    assert "choices[0].message.content" in failure(lambda: api.describe_sync(JPEG))


def test_empty_caption(fake: Fake) -> None:
    fake.answer("   ")
    api = VisionApi(fake.base_url, "llava", api_key=KEY, timeout_s=5)
    assert "empty answer" in failure(lambda: api.describe_sync(JPEG))


def test_unreachable_endpoint() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    api = VisionApi(f"http://127.0.0.1:{port}/v1", "llava", api_key=KEY, timeout_s=5)
    message = failure(lambda: asyncio.run(api.describe(JPEG)))
    assert "could not be reached" in message and f"127.0.0.1:{port}/v1" in message


def test_credentials_in_the_url_are_not_shown(fake: Fake) -> None:
    fake.status, fake.body = 500, b"boom"
    url = fake.base_url.replace("http://", "http://user:secret@") + "?token=secret"
    api = VisionApi(url, "llava", timeout_s=5)
    assert "secret" not in repr(api)
    assert api.base_url == fake.base_url  # what may be logged
    message = failure(lambda: api.describe_sync(JPEG))
    assert "HTTP 500" in message and "127.0.0.1" in message
    # Both still reach the server: the query after the path, the user as basic auth.
    assert fake.last.path == "/v1/chat/completions?token=secret"
    assert (
        fake.last.headers["Authorization"] == "Basic " + base64.b64encode(b"user:secret").decode()
    )


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ValueError, match="base URL"):
        VisionApi("localhost:11434/v1", "llava")
    with pytest.raises(ValueError, match="model"):
        VisionApi("http://localhost:11434/v1", " ")
