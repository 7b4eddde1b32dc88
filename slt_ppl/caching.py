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


COMPILATION_CACHE_ENV = "SLT_PPL_COMPILATION_CACHE"


def default_compilation_cache_dir() -> str:
    """$XDG_CACHE_HOME/slt_ppl/xla, or ~/.cache/slt_ppl/xla."""
    import os

    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "slt_ppl", "xla")


def enable_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache, so a new process reuses the programs an earlier one compiled.

    A first call of estimate_llc spends most of its time compiling (a few seconds on a CPU); with the
    cache on disk, the next process loads them instead (benchmarks/call_overhead.py --compile-cache).
    Location: the environment variable SLT_PPL_COMPILATION_CACHE (a directory; "" or "off" turns the
    cache off), else default_compilation_cache_dir(). A cache the user configured in JAX is left alone
    (jax_compilation_cache_dir already set). Programs that compile in 0.2 s or more are stored (JAX's
    default is 1 s, which misses most of ours). Entries are keyed by the program, the compiler options,
    the JAX version and the device, so a stale one is never used. Returns the directory, or None.
    """
    import os

    import jax

    if jax.config.jax_compilation_cache_dir:
        return jax.config.jax_compilation_cache_dir
    path = os.environ.get(COMPILATION_CACHE_ENV)
    if path is not None and path.strip().lower() in ("", "0", "off", "false", "no"):
        return None
    path = path or default_compilation_cache_dir()
    try:
        os.makedirs(path, exist_ok=True)
    except OSError:
        return None
    if not os.access(path, os.W_OK):
        return None
    jax.config.update("jax_compilation_cache_dir", path)
    if jax.config.jax_persistent_cache_min_compile_time_secs == 1.0:  # JAX's default: not the user's choice
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    return path
