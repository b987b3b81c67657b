"""Cyclic garbage collection held off while a large answer is read or a large report is built,
encoded or decoded.

Those steps allocate hundreds of thousands of small objects that form no reference cycles
(parsed JSON, the snapshot, the report), and every few hundred allocations the cyclic collector
walks the young objects, every so often all of them: everything read so far. At 10,000 nodes
that walking was a third of the analysis' CPU, and most of what reading the pods cost beyond
`json.loads`, and found nothing to free. Reference counting still frees everything as usual.

Targets are collected in threads and the switch is the process's: the collector is off while
any step holds the pause and on again (if it was on) once the last one lets go.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def collection_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
