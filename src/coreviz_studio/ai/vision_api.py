"""An optional vision-language model behind an OpenAI-compatible chat completions endpoint.

Ollama (`http://host:11434/v1`, with llava, moondream, qwen2.5vl, llama3.2-vision...), `vllm
serve <model>` (`http://host:8000/v1`) and OpenAI itself all accept

    POST {base_url}/chat/completions
    {"model": ..., "messages": [{"role": "user", "content": [
        {"type": "text", "text": <prompt>},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,<bytes>"}}]}],
     "max_tokens": 300, "temperature": 0}

and answer the text in choices[0].message.content. `base_url` includes the `/v1`.

Every failure (unreachable, timeout, HTTP error, an answer that is not the expected JSON) is a
VisionApiError whose message says what happened in words a person can act on; the API key is
never part of it, nor of `repr`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

DESCRIBE_PROMPT = (
    "Describe this image in one or two sentences, as a caption for a photo library: "
    "the main subjects, what they are doing, the setting, and any clearly readable text."
)
MAX_TOKENS = 300
_SNIPPET = 200  # characters of a bad answer quoted in an error
_LIST_KEYS = ("tags", "labels", "options", "choices", "answers", "answer", "choice", "items")
_HINTS = {
    401: " (is the API key right?)",
    403: " (is the API key right?)",
    404: " (is the base URL right, with its /v1, and is the model there?)",
}
_THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
_FENCE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
_SPLIT = re.compile(r"[,;\n]")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")


class VisionApiError(Exception):
    """The vision endpoint could not be used; the message is safe to show and to log."""


class VisionApi:
    """Client of one model on one OpenAI-compatible endpoint (async, plus sync twins for
    worker threads). Stateless between calls, so one instance can be shared."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout_s: float = 60,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        """`base_url` as the server documents it, with its /v1; `timeout_s` bounds connecting
        and each wait for data, and since the answer comes in one piece (no streaming) it
        bounds the whole call in practice."""
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # The value is not quoted back: it may hold credentials.
            raise ValueError("vision API base URL must be http(s)://host[:port]/path")
        if not model.strip():
            raise ValueError("vision API model name is empty")
        self.model = model.strip()
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self._api_key = (api_key or "").strip() or None
        self._secrets = [x for x in (self._api_key, parts.password, parts.query) if x]
        path = parts.path.rstrip("/")
        self._url = urlunsplit((*parts[:2], f"{path}/chat/completions", parts.query, ""))
        # base_url is what messages and logs show: no user:password@ and no query string, which
        # may hold secrets (both still go to the server, in _url).
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = f"{host}:{parts.port}" if parts.port else host
        self.base_url = urlunsplit((parts.scheme, netloc, path, "", ""))

    @property
    def name(self) -> str:
        """What a caption or tag records as its model."""
        return self.model

    def __repr__(self) -> str:
        return f"VisionApi({self.base_url!r}, model={self.model!r})"  # never the key

    # -- describe -------------------------------------------------------------------------

    async def describe(self, jpeg: bytes, prompt: str | None = None) -> str:
        """A caption for the image, as the model writes it (stripped)."""
        return self._caption(await self._ask(jpeg, prompt or DESCRIBE_PROMPT))

    def describe_sync(self, jpeg: bytes, prompt: str | None = None) -> str:
        """`describe` for code that runs in a worker thread rather than an event loop."""
        return self._caption(self._ask_sync(jpeg, prompt or DESCRIBE_PROMPT))

    def describe_batch(self, jpegs: Sequence[bytes]) -> list[str]:
        """Per JPEG, as `describe_sync`: one request each (chat endpoints take one image)."""
        return [self.describe_sync(jpeg) for jpeg in jpegs]

    def _caption(self, content: str) -> str:
        caption = content.strip()
        if not caption:
            raise VisionApiError(f"vision API {self.model} at {self.base_url} gave an empty answer")
        return caption

    # -- tag ------------------------------------------------------------------------------

    async def tag(
        self, jpeg: bytes, prompt: str, options: list[str] | None, multiple: bool
    ) -> list[str]:
        """Tags for the image: the model is asked for a JSON list, and whatever list-like answer
        it gives is read. With `options`, only those (in their given spelling) are kept; without
        `multiple`, at most one tag is returned."""
        content = await self._ask(jpeg, tag_prompt(prompt, options, multiple))
        return pick_tags(parse_tags(content), options, multiple)

    def tag_sync(
        self, jpeg: bytes, prompt: str, options: list[str] | None, multiple: bool
    ) -> list[str]:
        """`tag` for code that runs in a worker thread rather than an event loop."""
        content = self._ask_sync(jpeg, tag_prompt(prompt, options, multiple))
        return pick_tags(parse_tags(content), options, multiple)

    # -- the request ----------------------------------------------------------------------

    def _body(self, jpeg: bytes, prompt: str) -> dict[str, Any]:
        image_url = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")
        return {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompt},
                        {"type": "image_url", "image_url": {"url": image_url}},
                    ],
                }
            ],
            "max_tokens": self.max_tokens,
            "temperature": 0,  # captions and tags should not change from one run to the next
            "stream": False,
        }

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    async def _ask(self, jpeg: bytes, prompt: str) -> str:
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                response = await client.post(
                    self._url, headers=self._headers(), json=self._body(jpeg, prompt)
                )
        except httpx.HTTPError as exc:
            # from None: the message says what is needed, and a chained httpx error may quote
            # the URL with whatever credentials an operator put in it.
            raise self._transport_error(exc) from None
        return self._content(response)

    def _ask_sync(self, jpeg: bytes, prompt: str) -> str:
        try:
            with httpx.Client(timeout=self.timeout_s) as client:
                response = client.post(
                    self._url, headers=self._headers(), json=self._body(jpeg, prompt)
                )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from None
        return self._content(response)

    # -- errors and answers ---------------------------------------------------------------

    def _where(self) -> str:
        return f"vision API {self.model} at {self.base_url}"

    def _snippet(self, text: str) -> str:
        """Server or library text made fit for a message: one line, short, secrets blanked
        (a server may echo the request, headers included, in its error page)."""
        text = " ".join(text.split())
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."

    def _transport_error(self, exc: httpx.HTTPError) -> VisionApiError:
        if isinstance(exc, httpx.TimeoutException):
            return VisionApiError(f"{self._where()} did not answer within {self.timeout_s:g} s")
        detail = self._snippet(str(exc)) or type(exc).__name__
        return VisionApiError(f"{self._where()} could not be reached: {detail}")

    def _content(self, response: httpx.Response) -> str:
        if not response.is_success:
            # Redirects are not followed: the key would go wherever one points.
            hint = (
                " (a redirect: configure the URL it points to)"
                if response.is_redirect
                else _HINTS.get(response.status_code, "")
            )
            body = self._snippet(response.text)
            raise VisionApiError(
                f"{self._where()} answered HTTP {response.status_code}{hint}"
                + (f": {body}" if body else "")
            )
        try:
            data = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise VisionApiError(
                f"{self._where()} answered something other than JSON: "
                f"{self._snippet(response.text) or '(empty)'}"
            ) from None
        content = _message_content(data)
        if content is None:
            raise VisionApiError(
                f"{self._where()} answered JSON without choices[0].message.content: "
                f"{self._snippet(json.dumps(data))}"
            )
        return content


def _message_content(data: Any) -> str | None:
    """choices[0].message.content, also when a server gives it as a list of text parts."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        return None
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        content = "".join(t for t in texts if isinstance(t, str))
    if not isinstance(content, str):
        return None
    # Reasoning models served without a separate reasoning field leave their thinking inline.
    return _THINK.sub("", content)


def tag_prompt(prompt: str, options: list[str] | None, multiple: bool) -> str:
    """The tagging question plus how to answer it: a JSON list, from the options if any."""
    lines = [prompt.strip()]
    if options:
        lines.append("Choose only from these options: " + json.dumps(options, ensure_ascii=False))
        lines.append(
            "Pick every option that applies (possibly none)."
            if multiple
            else "Pick the single option that fits best."
        )
    else:
        lines.append("Give short tags of one to three words." if multiple else "Give one tag.")
    lines.append('Answer with a JSON list of strings only, for example ["first", "second"].')
    return "\n".join(lines)


def parse_tags(content: str) -> list[str]:
    """The tags in a model's answer, read leniently: a JSON list, a JSON object holding one
    (under "tags", "labels", ...), or a comma/line separated list; code fences, bullets and
    quotes are dropped, duplicates too (ignoring case)."""
    text = _FENCE.sub("", content.strip()).strip()
    items = _json_items(text)
    if items is None:
        items = [_BULLET.sub("", part) for part in _SPLIT.split(text)]
    tags: list[str] = []
    seen: set[str] = set()
    for item in items:
        tag = item.strip().strip("\"'`").strip().rstrip(".").strip()
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    return tags


def _json_items(text: str) -> list[str] | None:
    """The strings of the JSON list (or object with a list) in `text`, None when there is
    none; the JSON may be surrounded by prose."""
    candidates = [text]
    for open_, close in (("[", "]"), ("{", "}")):
        start, end = text.find(open_), text.rfind(close)
        if 0 <= start < end:
            candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            data = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        items = _list_in(data)
        if items is not None:
            return items
    return None


def _list_in(data: Any) -> list[str] | None:
    if isinstance(data, list):
        return [
            str(x) for x in data if isinstance(x, str | int | float) and not isinstance(x, bool)
        ]
    if isinstance(data, str):
        return _SPLIT.split(data)
    if isinstance(data, dict):
        lowered = {str(k).casefold(): v for k, v in data.items()}
        for key in _LIST_KEYS:
            if key in lowered:
                return _list_in(lowered[key])
        lists = [v for v in data.values() if isinstance(v, list)]
        if len(lists) == 1:
            return _list_in(lists[0])
    return None


def pick_tags(tags: list[str], options: list[str] | None, multiple: bool) -> list[str]:
    """Only the given options (matched ignoring case and spacing, returned as given), and
    only the first tag unless `multiple`."""
    if options:
        canonical = {" ".join(o.split()).casefold(): o for o in options}
        kept = [canonical.get(" ".join(t.split()).casefold()) for t in tags]
        tags = list(dict.fromkeys(t for t in kept if t is not None))
    return tags if multiple else tags[:1]
