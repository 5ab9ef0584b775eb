"""A small bounded, thread-safe LRU map: the per-process caches (browse marks, query
embeddings, running tus hashes) are all this, and nothing more."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Lru(Generic[K, V]):
    """At most `size` entries, or entries weighing at most `size` in all when `weight` says
    what each weighs; the least recently read or written goes first."""

    def __init__(self, size: int, weight: Callable[[V], int] | None = None) -> None:
        self.size = size
        self._weight = weight or (lambda _: 1)
        self._items: OrderedDict[K, V] = OrderedDict()
        self._total = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        with self._lock:
            self._put(key, value)

    def swap(self, key: K, old: V, new: V) -> bool:
        """Put `new` only while `old` (this very object) is the entry: a value derived from
        `old` never overwrites what another thread put meanwhile."""
        with self._lock:
            if self._items.get(key) is not old:
                return False
            self._put(key, new)
            return True

    def pop(self, key: K) -> V | None:
        """Remove and return the entry (None when there is none)."""
        with self._lock:
            return self._remove(key)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._total = 0

    def _put(self, key: K, value: V) -> None:
        self._remove(key)
        self._items[key] = value
        self._total += self._weight(value)
        while self._total > self.size and len(self._items) > 1:
            self._remove(next(iter(self._items)))

    def _remove(self, key: K) -> V | None:
        value = self._items.pop(key, None)
        if value is not None:
            self._total -= self._weight(value)
        return value
