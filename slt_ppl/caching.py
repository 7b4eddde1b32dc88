"""One small LRU cache for compiled functions, shared by the runner, the calibration and the adapter.

Compiling a sampling loop costs about a second on a CPU; a second call on the same model, shapes
and settings must not pay it again. A key names everything the cached function closes over: by
value where it can (shapes, dtypes, settings), by `id()` for user objects (the model callable).
Objects named by id() are kept alive beside the entry (`refs`), so an id cannot be reused by a
new object while the entry exists.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Hashable

__all__ = ["LRUCache"]


class LRUCache:
    """key -> value, at most `maxsize` entries, the least recently used evicted first."""

    def __init__(self, maxsize: int = 8):
        self.maxsize = int(maxsize)
        self._entries: OrderedDict = OrderedDict()  # key -> (value, refs kept alive)

    def get(self, key: Hashable, default: Any = None) -> Any:
        hit = self._entries.get(key)
        if hit is None:
            return default
        self._entries.move_to_end(key)
        return hit[0]

    def put(self, key: Hashable, value: Any, refs: Any = None) -> Any:
        self._entries[key] = (value, refs)
        self._entries.move_to_end(key)
        while len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
        return value

    def get_or_make(self, key: Hashable | None, make: Callable[[], Any], refs: Any = None) -> Any:
        """The cached value for `key`, or `make()` stored under it; key None: always `make()`, never stored."""
        if key is None:
            return make()
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
            return hit[0]
        return self.put(key, make(), refs)

    def clear(self) -> None:
        self._entries.clear()

    def keys(self) -> list:
        return list(self._entries)

    def __iter__(self):
        return iter(list(self._entries))

    def __contains__(self, key) -> bool:
        return key in self._entries

    def __len__(self) -> int:
        return len(self._entries)
