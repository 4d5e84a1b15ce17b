"""The job queue on its own: capacity, order, cancellation, eviction, shutdown."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from foleyldm.serving.jobs import Clip, JobQueue, QueueFullError


def clip(samples: int) -> Clip:
    return Clip(np.zeros(samples, np.float32), 16000, np.zeros((1, 64), np.float32), 160)


def steps(n: int, samples: int = 10, order: list[int] | None = None, tag: int = 0):
    def run(progress):
        for i in range(1, n + 1):
            progress(i, n)
        if order is not None:
            order.append(tag)
        return [clip(samples)]

    return run


def wait(job, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not job.finished:
        assert time.monotonic() < deadline, job
        time.sleep(0.005)
    return job


@pytest.fixture
def queue():
    q = JobQueue(capacity=3, keep_finished=10)
    q.start()
    yield q
    q.stop()


def test_fifo_one_at_a_time_and_capacity(queue):
    order: list[int] = []
    queue.pause()
    jobs = [queue.submit("t", {}, steps(3, order=order, tag=i)) for i in range(3)]
    with pytest.raises(QueueFullError) as full:
        queue.submit("t", {}, steps(1))
    assert full.value.retry_after >= 1
    assert [queue.position(j) for j in jobs] == [0, 1, 2]
    queue.resume()
    for j in jobs:
        assert wait(j).state == "done" and (j.step, j.total) == (3, 3)
    assert order == [0, 1, 2]
    assert queue.active == 0
    assert wait(queue.submit("t", {}, steps(1))).state == "done"


def test_cancel_queued_and_running(queue):
    entered, release = threading.Event(), threading.Event()

    def slow(progress):
        progress(1, 5)
        entered.set()
        release.wait(10)
        progress(2, 5)  # raises: cancelled
        raise AssertionError("not reached")

    running = queue.submit("t", {}, slow)
    waiting = queue.submit("t", {}, steps(1))
    assert entered.wait(10)
    assert queue.cancel(waiting.id).state == "cancelled"
    queue.cancel(running.id)
    release.set()
    assert wait(running).state == "cancelled" and running.step == 2
    assert queue.active == 0
    assert queue.cancel("nope") is None


def test_finished_jobs_are_evicted_by_count_and_bytes():
    q = JobQueue(capacity=2, keep_finished=2, max_result_bytes=10_000)
    q.start()
    try:
        a, b, c = (wait(q.submit("t", {}, steps(1))) for _ in range(3))
        assert q.get(a.id) is None and q.get(b.id) is b and q.get(c.id) is c
        big = wait(q.submit("t", {}, steps(1, samples=2000)))  # 8 kB of waveform
        assert q.get(b.id) is None and q.get(c.id) is c and q.get(big.id) is big
        bigger = wait(q.submit("t", {}, steps(1, samples=2400)))
        assert q.get(big.id) is None and q.get(bigger.id) is bigger
    finally:
        q.stop()


def test_errors_are_reported_and_the_closure_is_released(queue):
    def bad(progress):
        raise ValueError("ranges outside\n the clip")

    failed = wait(queue.submit("t", {}, bad))
    assert (failed.state, failed.error) == ("failed", "ranges outside the clip")
    with pytest.raises(RuntimeError, match="already run"):
        failed.run(lambda i, n: None)


def test_stop_cancels_everything():
    q = JobQueue(capacity=3)
    q.start()
    entered = threading.Event()

    def forever(progress):
        entered.set()
        while True:
            progress(1, 2)
            time.sleep(0.01)

    running = q.submit("t", {}, forever)
    waiting = q.submit("t", {}, steps(1))
    assert entered.wait(10)
    q.stop()
    assert (running.state, waiting.state) == ("cancelled", "cancelled")
    assert not q.running
    with pytest.raises(QueueFullError, match="shutting down"):
        q.submit("t", {}, steps(1))
