"""Limits kept in PostgreSQL: shared by app instances (processes), kept across a restart, slowing
the guessing address and never the account's owner elsewhere."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from coreviz_studio import ratelimit
from coreviz_studio.app import create_app
from coreviz_studio.errors import TooManyRequests
from tests.conftest import PASSWORD


def _address() -> str:
    """A fresh address (198.18.0.0/15, for tests) per caller: tests never share a counter."""
    n = uuid.uuid4().int
    return f"198.{18 + n % 2}.{n >> 8 & 255}.{n >> 16 & 255}"


@pytest.fixture
def strict(settings):  # type: ignore[no-untyped-def]
    """Settings with small allowances and long waits (a wait never ends during a test)."""
    return settings.model_copy(update={
        "sign_in_free_failures": 3, "sign_in_source_free_failures": 6,
        "sign_in_first_delay_seconds": 100.0, "sign_in_max_delay_seconds": 10_000.0,
        "device_codes_per_source": 3, "device_user_code_guesses": 3,
    })


@pytest.fixture
def caller(strict, database):  # type: ignore[no-untyped-def]
    """caller(address) -> a client of a new app instance (as another process would be)."""
    @contextmanager
    def make(address: str) -> Iterator[TestClient]:
        app = create_app(strict, database)
        with TestClient(app, client=(address, 40000), raise_server_exceptions=False) as c:
            yield c
    return make


def _sign_in(client, email: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    r = client.post("/api/auth/sign-in/email", json={"email": email, "password": password})
    client.cookies.clear()
    return r


def _time_passes(database, key: ratelimit.Key) -> None:  # type: ignore[no-untyped-def]
    """The key's wait is over (its count stays)."""
    with database.engine.begin() as conn:
        conn.execute(text("UPDATE rate_limits SET blocked_until = now() WHERE key = :k"),
                     {"k": key.value})


def test_failures_are_counted_by_every_instance_and_survive_a_restart(caller, person) -> None:  # type: ignore[no-untyped-def]
    attacker = _address()
    with caller(attacker) as first, caller(attacker) as second:
        assert _sign_in(first, person.email, "guess-1").status_code == 401
        assert _sign_in(second, person.email, "guess-2").status_code == 401
        assert _sign_in(first, person.email, "guess-3").status_code == 401
        assert _sign_in(second, person.email, "guess-4").status_code == 429
    with caller(attacker) as restarted:  # a new process: nothing was forgotten
        r = _sign_in(restarted, person.email)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert r.json()["error"] == "Too Many Requests"


def test_the_wait_grows_while_the_owner_elsewhere_signs_in_at_once(  # type: ignore[no-untyped-def]
        caller, person, strict, database) -> None:
    attacker, home = _address(), _address()
    key = ratelimit.sign_in_by_account(strict).key(ratelimit.source(attacker), person.email)
    with caller(attacker) as bad, caller(home) as owner:
        for i in range(3):
            assert _sign_in(bad, person.email, f"guess-{i}").status_code == 401
        first = _sign_in(bad, person.email)
        assert first.status_code == 429
        assert _sign_in(owner, person.email).status_code == 200  # not locked out

        _time_passes(database, key)
        assert _sign_in(bad, person.email, "guess-4").status_code == 401
        second = _sign_in(bad, person.email)
        assert second.status_code == 429
        assert int(first.headers["retry-after"]) <= 100 < int(second.headers["retry-after"]) <= 200

        # Case and spaces do not make another account to guess at.
        assert _sign_in(bad, f" {person.email.upper()} ", "guess-5").status_code == 429


def test_a_right_password_forgets_the_failures_of_its_address(caller, person) -> None:  # type: ignore[no-untyped-def]
    with caller(_address()) as c:
        for _ in range(2):
            assert _sign_in(c, person.email, "typo").status_code == 401
        assert _sign_in(c, person.email).status_code == 200
        for _ in range(2):  # a fresh allowance, not the one failure left
            assert _sign_in(c, person.email, "typo").status_code == 401
        assert _sign_in(c, person.email).status_code == 200


def test_one_address_spraying_many_accounts_is_slowed(caller, person) -> None:  # type: ignore[no-untyped-def]
    sprayer = _address()
    with caller(sprayer) as c, caller(_address()) as other:
        for i in range(6):
            assert _sign_in(c, f"nobody-{i}-{uuid.uuid4().hex[:6]}@example.org",
                            "Summer2026!").status_code == 401
        r = _sign_in(c, f"someone-{uuid.uuid4().hex[:6]}@example.org", "Summer2026!")
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert _sign_in(c, person.email).status_code == 429  # the address waits, for any account
        assert _sign_in(other, person.email).status_code == 200


def test_concurrent_attempts_never_pass_the_limit(strict, database) -> None:  # type: ignore[no-untyped-def]
    """Taken before the work, atomically: 24 attempts at once get exactly `limit` through."""
    key = ratelimit.sign_in_by_account(strict).key(_address(), "someone@example.org")

    def attempt(_: int) -> bool:
        with database.sessions() as s:
            try:
                ratelimit.take(s, key)
            except TooManyRequests:
                return False
            return True

    with ThreadPoolExecutor(8) as pool:
        passed = list(pool.map(attempt, range(24)))
    assert passed.count(True) == strict.sign_in_free_failures


def test_device_code_requests_are_limited_per_address(caller) -> None:  # type: ignore[no-untyped-def]
    body = {"client_id": "coreviz-cli"}
    address = _address()
    with caller(address) as first, caller(address) as second, caller(_address()) as other:
        assert [c.post("/api/auth/device/code", json=body).status_code
                for c in (first, second, first)] == [200, 200, 200]
        r = second.post("/api/auth/device/code", json=body)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert other.post("/api/auth/device/code", json=body).status_code == 200


def test_expired_device_codes_are_purged_when_codes_are_made(caller, database) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    old, late = uuid.uuid4(), uuid.uuid4()
    with database.engine.begin() as conn:
        for row_id, expired in ((old, now - timedelta(hours=2)),
                                (late, now - timedelta(minutes=1))):
            conn.execute(text(
                "INSERT INTO device_codes (id, device_code_hash, user_code, client_id, status, "
                "expires_at) VALUES (:id, :h, :u, 'x', 'pending', :e)"),
                {"id": row_id, "h": uuid.uuid4().hex, "u": uuid.uuid4().hex[:8].upper(),
                 "e": expired})
    with caller(_address()) as c:
        assert c.post("/api/auth/device/code", json={"client_id": "x"}).status_code == 200
    with database.engine.connect() as conn:
        left = set(conn.execute(text("SELECT id FROM device_codes WHERE id IN (:a, :b)"),
                                {"a": old, "b": late}).scalars())
    # Long expired: gone. Just expired: kept a while, so a late poll hears "expired_token".
    assert left == {late}


def test_user_code_guessing_is_limited_per_address(caller, person, make_session_token) -> None:  # type: ignore[no-untyped-def]
    guesser = _address()
    auth = {"Authorization": f"Bearer {make_session_token(person)}"}
    with caller(guesser) as first, caller(guesser) as second, caller(_address()) as other:
        real = first.post("/api/auth/device/code", json={"client_id": "coreviz-cli"}).json()
        # A right code costs nothing: it is given back.
        assert first.get("/api/auth/device",
                         params={"user_code": real["user_code"]}).status_code == 200
        assert first.get("/api/auth/device", params={"user_code": "AAAA-AAAA"}).status_code == 400
        assert second.get("/api/auth/device", params={"user_code": "AAAA-AAAB"}).status_code == 400
        r = second.post("/api/auth/device/approve", headers=auth, json={"userCode": "AAAA-AAAC"})
        assert r.status_code == 400
        r = first.post("/api/auth/device/deny", headers=auth, json={"userCode": real["user_code"]})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert other.post("/api/auth/device/approve", headers=auth,
                          json={"userCode": real["user_code"]}).status_code == 200


def test_an_ipv6_host_is_counted_by_its_64() -> None:
    assert ratelimit.source("2001:db8:1:2:aaaa::1") == ratelimit.source("2001:db8:1:2:bbbb::9")
    assert ratelimit.source("2001:db8:1:2::1") != ratelimit.source("2001:db8:1:3::1")
    assert ratelimit.source("::ffff:192.0.2.7") == "192.0.2.7"
    assert ratelimit.source("testclient") == "testclient"
