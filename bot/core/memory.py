"""How the C allocator hands memory back: glibc's malloc tuned for a long-running service.

Linux with glibc only; elsewhere (macOS, musl, Windows) every function here
does nothing and returns False, because the knobs are glibc's own
(`mallopt`, `malloc_trim`) and the other allocators behave differently.

Two defaults of glibc's malloc cost this service resident memory it is not
using (benchmarks/poll_cycle.md, "Memory with the tier"):

- Arenas: each thread that allocates while another holds the lock gets an
  arena of its own, up to 8 per core, and freed memory stays in the arena it
  was freed in. The poll parses feeds in asyncio.to_thread workers, so each
  worker keeps a heap. Two arenas are enough for a 2-thread workload.
- The mmap threshold: blocks above it are mapped and unmapped one by one, so
  freeing one returns its pages at once. glibc raises the threshold (up to
  32 MiB) each time a mapped block is freed, after which big blocks (parsed
  feed bodies, onnxruntime's tensors while a model loads) come from the heap
  and are returned only when the top of the heap is free. A fixed threshold
  keeps the first behaviour.

The cyclic garbage collector has a cost of its own: a full (generation 2)
collection walks every tracked object while holding the GIL, so the event
loop waits for it wherever it runs. What the service loads at startup (the
compiled rules, the entity tables, the semantic model's Python side) lives
as long as the process, so `freeze_heap` moves it out of the collector's
reach once the app is built, and a full collection then walks only what
came since. On a 2-core CI host, a full collection over the test session's
heap held the loop 0.63 s during a poll before this.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import os
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
"""mallopt parameter numbers, from glibc's malloc.h."""

ARENA_MAX = 2
MMAP_THRESHOLD = 128 * 1024
"""glibc's initial threshold, here kept fixed."""


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (Linux), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return None
    except (ValueError, OSError):  # musl has no such name
        return None
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def tune_malloc(arena_max: int = ARENA_MAX, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """At most `arena_max` malloc arenas and a fixed mmap threshold, for this process.

    Call it early (before worker threads allocate); calling it again is harmless.
    True when glibc took both settings.
    """
    libc = _glibc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(M_ARENA_MAX, arena_max)) & bool(
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
    )
    if not ok:
        log.warning("glibc refused the malloc settings (arena_max, mmap_threshold)")
    return ok


def trim_malloc() -> bool:
    """Give the free pages of every malloc arena back to the system (`malloc_trim(0)`).

    Worth calling after a burst of allocations that are freed together, such
    as loading a model. True when glibc released something.
    """
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def freeze_heap() -> int:
    """Collect, then exempt every object alive now from later collections (`gc.freeze`).

    For the end of startup: what is alive then stays alive. Returns how many
    objects are frozen. `thaw_heap` undoes it.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def thaw_heap() -> None:
    """Give the frozen objects back to the collector (`gc.unfreeze`), as when the app closes."""
    gc.unfreeze()
