"""Cyclic garbage collection held off while a large report is built, encoded or decoded.

Those steps allocate hundreds of thousands of small objects that form no reference cycles, and
every few hundred allocations the cyclic collector walks the young objects, every so often all
of them: the snapshot and the report it is turning into. At 10,000 nodes that walking was a
third of the analysis' CPU and found nothing to free. Reference counting still frees
everything as usual; the collector runs again, on its own schedule, once the step ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collection_paused() -> Iterator[None]:
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()
