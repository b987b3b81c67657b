"""Garbage collection is held off only while a report is built, encoded or decoded: a warm
Lambda container or a long `serve-metrics` must never be left without it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from ipaudit.gc_pause import collection_paused


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_collection_resumes_after_the_step() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_collection_resumes_when_the_step_fails() -> None:
    gc.enable()
    with pytest.raises(ValueError), collection_paused():
        raise ValueError("odd data")
    assert gc.isenabled()


def test_a_caller_that_paused_collection_keeps_it_paused() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()


def test_overlapping_steps_keep_collection_off_until_the_last_one_ends() -> None:
    gc.enable()
    first, second = collection_paused(), collection_paused()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second step (another target's thread) is still reading
    second.__exit__(None, None, None)
    assert gc.isenabled()
