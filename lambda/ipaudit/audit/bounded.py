"""Work that must end by a deadline, whatever the network does.

A socket timeout bounds each read, not a whole answer: an API that drips a byte every few
seconds never trips it. So slow work runs on daemon threads and the caller stops waiting at the
deadline; an abandoned thread cannot keep the process (or a Lambda's report) from finishing.
Deadlines are `time.monotonic()` values.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


class DeadlineExceeded(Exception):
    """The work did not finish in time; it may still be running, unobserved."""


def remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())


# Of a run's time, what collection leaves for storing and notifying: a quarter, at most this.
STORE_AND_NOTIFY_SHARE = 0.25
STORE_AND_NOTIFY_MAX_SECONDS = 90.0


def leaving(end: float | None, share: float, at_most: float) -> float | None:
    """When a step must stop to leave what follows it `share` of the time until `end`, and
    no more than `at_most` seconds of it."""
    left = remaining(end)
    if end is None or left is None:
        return None
    return end - min(at_most, left * share)


def collection_deadline(end: float | None) -> float | None:
    """When collection must stop for the run to store and notify by `end`."""
    return leaving(end, STORE_AND_NOTIFY_SHARE, STORE_AND_NOTIFY_MAX_SECONDS)


def call_by(work: Callable[[], _R], deadline: float | None) -> _R:
    """`work()`'s result, or DeadlineExceeded at the deadline; its exceptions are re-raised."""
    if deadline is None:
        return work()
    box: _Box[_R] = _Box()
    thread = threading.Thread(target=box.fill, args=(work,), daemon=True, name="ipaudit-bounded")
    thread.start()
    thread.join(remaining(deadline))
    if thread.is_alive():
        raise DeadlineExceeded
    return box.get()


def map_by(
    work: Callable[[_T], _R], items: Sequence[_T], *, workers: int, deadline: float | None
) -> list[_R | None]:
    """`work` over `items` on at most `workers` threads; None for each item not finished (or
    not started) by the deadline. Exceptions are `work`'s to handle: one raised counts as None."""
    results: list[_R | None] = [None] * len(items)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)
    done = threading.Semaphore(0)
    expired = threading.Event()

    def worker() -> None:
        while not expired.is_set():
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = work(items[index])
            finally:
                done.release()

    for _ in range(min(workers, len(items))):
        threading.Thread(target=worker, daemon=True, name="ipaudit-target").start()
    for _ in items:
        if not done.acquire(timeout=remaining(deadline)):
            expired.set()
            break
    return list(results)


class _Box(Generic[_R]):
    def __init__(self) -> None:
        self._value: _R | None = None
        self._error: BaseException | None = None

    def fill(self, work: Callable[[], _R]) -> None:
        try:
            self._value = work()
        except BaseException as error:  # handed to the waiting thread, which re-raises it
            self._error = error

    def get(self) -> _R:
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
