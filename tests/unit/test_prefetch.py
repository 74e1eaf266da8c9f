"""connectors.records.prefetch: reads ahead in a thread, keeps order, raises in place, stops cleanly."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.records import prefetch


def test_every_item_arrives_in_order():
    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))


def test_depth_zero_reads_in_the_callers_thread():
    threads = []

    def source():
        for i in range(3):
            threads.append(threading.current_thread())
            yield i

    assert list(prefetch(source(), depth=0)) == [0, 1, 2]
    assert set(threads) == {threading.current_thread()}


def test_the_reader_runs_ahead_by_at_most_depth_items():
    produced = []

    def source():
        for i in range(10):
            produced.append(i)
            yield i

    batches = prefetch(source(), depth=2)
    assert next(batches) == 0
    time.sleep(0.3)  # let the reader fill the queue as far as it may
    # one handed out, two waiting in the queue, one read and waiting for room
    assert len(produced) == 4
    batches.close()


def test_an_error_in_the_source_is_raised_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise ValueError("the connection dropped")

    got = []
    with pytest.raises(ValueError, match="the connection dropped"):
        for item in prefetch(source(), depth=1):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_closes_the_source_and_ends_the_reader():
    closed = threading.Event()

    def source():
        try:
            for i in range(1_000_000):
                yield i
        finally:
            closed.set()

    before = threading.active_count()
    for item in prefetch(source(), depth=1):
        if item == 5:
            break
    assert closed.wait(2), "the source generator was not closed"
    deadline = time.monotonic() + 2
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
