"""The per-process LRU (coreviz_studio/lru.py): by count, and by weight for the browse marks."""

from __future__ import annotations

from coreviz_studio.lru import Lru


def test_by_count_the_least_recently_used_goes_first() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # now b is the least recently used
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3


def test_by_weight_entries_go_until_the_rest_fits() -> None:
    cache: Lru[str, list[int]] = Lru(10, weight=len)
    cache.put("a", [0] * 4)
    cache.put("b", [0] * 4)
    cache.put("c", [0] * 4)  # 12 > 10: a goes
    assert cache.get("a") is None and cache.get("b") and cache.get("c")
    cache.put("b", [0])  # replacing an entry counts its new weight only: 1 + 4 fits
    cache.put("d", [0] * 5)
    assert cache.get("b") == [0] and cache.get("c") and cache.get("d")
    assert cache.pop("d") == [0] * 5
    cache.put("e", [0] * 5)  # d's weight was given back: 1 + 4 + 5 fits
    assert cache.get("c") and cache.get("e")


def test_one_entry_heavier_than_the_bound_is_still_kept() -> None:
    cache: Lru[str, list[int]] = Lru(3, weight=len)
    cache.put("a", [0])
    cache.put("big", [0] * 5)
    assert cache.get("a") is None and cache.get("big") == [0] * 5
