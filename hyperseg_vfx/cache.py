"""A thread-safe least-recently-used cache bounded in bytes.

Used for per-frame features (at 1920x1080 one frame's projected features are 70 x 1080 x 1920
float32 = 580 MB, so the bound is in bytes, not entries) and for decoded plates in the bridge.
An item larger than the whole budget is simply not kept.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Hashable


@dataclass
class CacheStats:
    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


def nbytes(value: Any) -> int:
    """Bytes held by a torch tensor or a numpy array."""
    if hasattr(value, "element_size"):
        return value.numel() * value.element_size()
    return int(value.nbytes)


class ByteLRU:
    """size_of(value) gives each item's bytes (default: tensors and arrays)."""

    def __init__(self, max_bytes: int, size_of: Callable[[Any], int] = nbytes):
        self.max_bytes = max_bytes
        self._size_of = size_of
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                self._misses += 1
                return None
            self._items.move_to_end(key)
            self._hits += 1
            return item[0]

    def put(self, key: Hashable, value: Any) -> None:
        size = self._size_of(value)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return
            while self._bytes + size > self.max_bytes:
                _key, (_value, evicted) = self._items.popitem(last=False)
                self._bytes -= evicted
            self._items[key] = (value, size)
            self._bytes += size

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(len(self._items), self._bytes, self.max_bytes, self._hits, self._misses)
