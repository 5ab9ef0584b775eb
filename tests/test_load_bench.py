"""bench/load.py's own logic: loopback only, the mix, the summary and the memory slope (the
benchmark itself is run by hand; nothing here is timed)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import httpx
import pytest
from bench import load
from bench.load import MIX, Sample, loopback_only, pick, slope_mb_per_min, summarize


@pytest.mark.parametrize("url", ["http://10.0.0.5:8000", "http://example.org",
                                 "https://192.168.1.2", "http://localhost.evil.org:80", "/api"])
def test_only_loopback_targets_are_accepted(url: str) -> None:
    with pytest.raises(SystemExit, match=r"only 127\.0\.0\.1"):
        loopback_only(url)


def test_loopback_targets_pass() -> None:
    assert loopback_only("http://127.0.0.1:8123/") == "http://127.0.0.1:8123"
    assert loopback_only("http://[::1]:8123") == "http://[::1]:8123"


def test_the_mix_follows_its_weights() -> None:
    rng = random.Random(3)  # noqa: S311 - a fixed sample, not a secret
    n = 20_000
    seen = Counter(pick(rng) for _ in range(n))
    assert set(seen) == set(MIX)
    total = sum(MIX.values())
    for route, weight in MIX.items():
        assert abs(seen[route] / n - weight / total) < 0.01, route
    assert set(MIX) - {"upload", "tag_write"} == load.READ_ROUTES


def test_the_summary_counts_errors_and_takes_nearest_rank_percentiles() -> None:
    samples = [Sample("browse", float(ms), True) for ms in range(1, 101)]
    samples += [Sample("tags", 5.0, True), Sample("tags", 900.0, False, "500 /api/x: boom"),
                Sample("tags", 7.0, False, "ReadTimeout: ")]
    s = summarize(samples, seconds=10.0)
    assert s["requests"] == 103 and s["rps"] == pytest.approx(10.3)
    assert s["errors"] == 2 and s["error_rate"] == pytest.approx(2 / 103)
    browse, tags = s["routes"]["browse"], s["routes"]["tags"]
    assert (browse["p50_ms"], browse["p99_ms"], browse["max_ms"]) == (50.0, 99.0, 100.0)
    assert browse["errors"] == 0
    # A slow failure still counts in the latencies.
    assert (tags["p50_ms"], tags["p99_ms"], tags["errors"]) == (7.0, 900.0, 2)
    assert tags["error_sample"] == ["500 /api/x: boom", "ReadTimeout: "]


def test_the_memory_slope_is_per_minute() -> None:
    assert slope_mb_per_min([(0, 100.0), (30, 101.0), (60, 102.0)]) == pytest.approx(2.0)
    assert slope_mb_per_min([(0, 100.0), (60, 100.0)]) == 0.0
    assert slope_mb_per_min([(5, 100.0)]) == 0.0


def test_the_clients_stop_at_the_request_count_and_count_every_failure(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Answers from an in-process transport: 2xx, a 500, 204 and a refused connection."""
    answers = iter([200, 500, 204, 0] * 10)

    def handler(request: httpx.Request) -> httpx.Response:
        code = next(answers)
        if not code:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(code, text="x")

    real = httpx.AsyncClient
    monkeypatch.setattr(httpx, "AsyncClient",
                        lambda **kw: real(transport=httpx.MockTransport(handler), **kw))
    routes = {name: (lambda c, rng: c.get("/thing")) for name in MIX}
    samples, _ = asyncio.run(load.drive("http://127.0.0.1:1", "k", routes, clients=1,
                                        duration=60, max_requests=8, seed=1))
    assert len(samples) == 8
    assert [s.ok for s in samples] == [True, False, True, False] * 2
    assert samples[1].error.startswith("500 /thing") and "ConnectError" in samples[3].error
