"""The client's plumbing against a scripted endpoint on 127.0.0.1 (tests/fake_http.py):
retries on 503 and 429, connection errors retried for idempotent requests only, the
User-Agent and credential headers, the environment's defaults, no credential in logs."""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest

from coreviz_studio.client import (
    AsyncClient,
    Client,
    ConnectionFailed,
    RateLimited,
    Retry,
    ServiceUnavailable,
)
from coreviz_studio.client.config import normalise_base_url
from tests.fake_http import Answer, fake_endpoint

ME = {"userId": "u", "email": "a@b.c", "name": "A", "organizationId": "o",
      "organizationName": "O"}
KEY = "cvz_secret_do_not_log_0123456789"


def _client(url: str, waits: list[float], **kw: object) -> Client:
    return Client(url, api_key=KEY, sleep=waits.append, **kw)  # type: ignore[arg-type]


def test_a_503_is_retried_after_its_retry_after() -> None:
    waits: list[float] = []
    with fake_endpoint(Answer(503, {"error": "Service Unavailable", "message": "db"},
                              {"Retry-After": "2"}), Answer(200, ME)) as fake:
        assert _client(fake.url, waits).me().email == "a@b.c"
    assert waits == [2.0] and len(fake.seen) == 2


def test_a_503_without_retry_after_backs_off_then_gives_up_with_the_message() -> None:
    waits: list[float] = []
    busy = Answer(503, {"error": "Service Unavailable", "message": "The disk is full",
                        "code": "disk_full"})
    with fake_endpoint(busy, busy, busy) as fake, pytest.raises(ServiceUnavailable) as failed:
        _client(fake.url, waits, retry=Retry(attempts=3, backoff=1)).me()
    assert failed.value.code == "disk_full" and failed.value.message == "The disk is full"
    assert len(waits) == 2 and 0.5 <= waits[0] <= 1 and 1 <= waits[1] <= 2  # doubling
    assert len(fake.seen) == 3


def test_a_429_asking_longer_than_max_wait_is_raised_with_its_retry_after() -> None:
    waits: list[float] = []
    slow = Answer(429, {"error": "Too Many Requests", "message": "slow"}, {"Retry-After": "600"})
    with fake_endpoint(slow) as fake, pytest.raises(RateLimited) as limited:
        _client(fake.url, waits).me()
    assert limited.value.retry_after == 600 and waits == [] and len(fake.seen) == 1


def test_a_post_retried_on_429_but_not_on_a_lost_connection() -> None:
    waits: list[float] = []
    with fake_endpoint(Answer(429, {"message": "wait"}, {"Retry-After": "0"}),
                       Answer(200, {"success": True})) as fake:
        assert _client(fake.url, waits).sign_out().success
    assert len(fake.seen) == 2
    with (fake_endpoint(Answer(hang_up=True), Answer(200, {"success": True})) as fake,
          pytest.raises(ConnectionFailed)):
        _client(fake.url, waits).sign_out()
    assert len(fake.seen) == 1  # a POST that may have been done is not sent again


def test_a_get_is_retried_after_a_lost_connection() -> None:
    waits: list[float] = []
    with fake_endpoint(Answer(hang_up=True), Answer(200, ME)) as fake:
        assert _client(fake.url, waits).me().user_id == "u"
    assert len(fake.seen) == 2 and len(waits) == 1


def test_headers_user_agent_and_credentials() -> None:
    with fake_endpoint(Answer(200, ME), Answer(200, ME)) as fake:
        Client(fake.url, api_key=KEY).me()
        Client(fake.url, token="tok").me()
    first, second = (s.headers for s in fake.seen)
    lower = [{k.lower(): v for k, v in h.items()} for h in (first, second)]
    assert lower[0]["user-agent"].startswith("coreviz-studio-client/")
    assert lower[0]["x-api-key"] == KEY and "authorization" not in lower[0]
    assert lower[1]["authorization"] == "Bearer tok" and "x-api-key" not in lower[1]


def test_the_official_clis_environment_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    with fake_endpoint(Answer(200, ME)) as fake:
        monkeypatch.setenv("COREVIZ_API_URL", fake.url + "/api/")
        monkeypatch.setenv("COREVIZ_API_KEY", KEY)
        c = Client()
        assert c.base_url == fake.url and c.me().name == "A"
    assert fake.seen[0].path == "/api/me" and fake.seen[0].headers.get("x-api-key") == KEY
    assert normalise_base_url("https://x.example/api") == "https://x.example"


def test_no_credential_in_logs_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with fake_endpoint(Answer(401, {"error": "Unauthorized", "message": "Invalid"})) as fake:
        c = Client(fake.url, api_key=KEY)
        with pytest.raises(Exception) as failed:
            c.me()
    assert KEY not in caplog.text and KEY not in repr(c) and KEY not in str(failed.value)
    assert "/api/me" in caplog.text or caplog.text == ""  # httpx logs requests, not headers


def test_the_async_client_has_the_sync_clients_methods_and_parameters() -> None:
    def public(cls: type) -> dict[str, inspect.Signature]:
        return {n: inspect.signature(f) for n, f in inspect.getmembers(cls, inspect.isfunction)
                if not n.startswith("_")}
    sync, asyn = public(Client), public(AsyncClient)
    assert set(sync) - {"close"} == set(asyn) - {"aclose", "get_organization_id"}
    for name, sig in sync.items():
        if name in asyn:
            assert list(sig.parameters) == list(asyn[name].parameters), name


def test_the_async_client_retries_too() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def run(url: str) -> str:
        async with AsyncClient(url, api_key=KEY, sleep=sleep) as c:
            return (await c.me()).email

    with fake_endpoint(Answer(503, {"message": "x"}, {"Retry-After": "1"}), Answer(200, ME),
                       ) as fake:
        assert asyncio.run(run(fake.url)) == "a@b.c"
    assert waits == [1.0]


def test_the_import_contract_forbids_every_server_module() -> None:
    """The contract in pyproject.toml lists the server's modules: a new one must join it."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    contracts = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["importlinter"]
    ours = next(c for c in contracts["contracts"]
                if "coreviz_studio.client" in c["source_modules"])
    clients = {m.removeprefix("coreviz_studio.") for m in ours["source_modules"]}
    package = root / "src" / "coreviz_studio"
    modules = {f"coreviz_studio.{p.stem}" for p in package.iterdir()
               if (p.suffix == ".py" or (p / "__init__.py").exists())
               and p.stem not in {"__init__", "__main__", *clients}}
    assert modules <= set(ours["forbidden_modules"]), modules - set(ours["forbidden_modules"])


def test_a_blob_is_read_without_the_credential_even_through_a_redirect() -> None:
    with fake_endpoint(Answer(200, "bytes")) as store:
        with fake_endpoint(Answer(307, None, {"Location": store.url + "/bucket/k"})) as fake:
            c = Client(fake.url, api_key=KEY)
            assert c.read_blob(fake.url + "/blobs/k") == b'"bytes"'
        seen = [{k.lower() for k in s.headers} for s in (*fake.seen, *store.seen)]
    assert all("x-api-key" not in h and "authorization" not in h for h in seen)
    assert store.seen[0].path == "/bucket/k"


def test_the_client_runs_in_process_over_a_testclients_transport(client, make_member) -> None:  # type: ignore[no-untyped-def]
    """What lets tests/library.py's users move to the typed client without a server process."""
    member = make_member()
    c = Client("http://testserver", api_key=member.key, http=client)
    col = c.create_collection("In process")
    assert c.get_collection(col.id).name == "In process"
    assert c.me().organization_id == str(member.org_id)
