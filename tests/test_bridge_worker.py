"""The model worker: interactive calls overtake queued job calls, arrival order within a
priority, a failing call reaches its caller and the worker goes on."""

from __future__ import annotations

import threading

import pytest

from hyperseg_vfx.bridge.worker import INTERACTIVE, JOB, GpuWorker


@pytest.fixture
def worker():
    worker = GpuWorker()
    worker.start()
    yield worker
    worker.stop()


def test_interactive_calls_go_first_then_arrival_order(worker):
    gate, order = threading.Event(), []
    busy = worker.submit(gate.wait, JOB)  # the frame in progress
    calls = [("job1", JOB), ("click1", INTERACTIVE), ("job2", JOB), ("click2", INTERACTIVE)]
    futures = [worker.submit(lambda name=name: order.append(name), priority) for name, priority in calls]
    assert sum(worker.waiting().values()) >= 4
    gate.set()
    for future in [busy, *futures]:
        future.result(timeout=10)
    assert order == ["click1", "click2", "job1", "job2"]
    assert worker.waiting() == {INTERACTIVE: 0, JOB: 0}


def test_a_failing_call_raises_in_its_caller(worker):
    with pytest.raises(ZeroDivisionError):
        worker.call(lambda: 1 / 0, INTERACTIVE)
    assert worker.call(lambda: 42, JOB) == 42


def test_stop_serves_what_is_queued_first():
    worker, done = GpuWorker(), []
    futures = [worker.submit(lambda n=n: done.append(n), JOB) for n in range(3)]
    worker.start()
    worker.stop()
    assert done == [0, 1, 2] and all(f.done() for f in futures)
