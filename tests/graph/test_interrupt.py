"""graph/interrupt.py: a stop raised by a signal handler never lands inside a database call.

The unit tests drive :func:`interrupt` by hand; the integration tests send real
signals to this process while the main thread waits inside the driver (blocked on
a lock another transaction holds) or coordinates a pool of writers.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from credgraph.graph.gateway import Gateway
from credgraph.graph.interrupt import checkpoint, interrupt, is_shielded, shielded


class Stop(BaseException):
    pass


# --------------------------------------------------------------------- unit
def test_outside_a_shield_the_interrupt_is_raised_at_once() -> None:
    with pytest.raises(Stop):
        interrupt(Stop())


def test_inside_a_shield_it_waits_for_the_outermost_block() -> None:
    done = []
    with pytest.raises(Stop):
        with shielded():
            with shielded():
                interrupt(Stop("first"))
                interrupt(Stop("second"))  # one pending stop: the first is kept
                done.append("inner")
            done.append("outer")  # the inner block's end does not raise
    assert done == ["inner", "outer"]
    assert not is_shielded()
    with shielded():  # nothing left pending
        pass


def test_the_first_interrupt_is_the_one_raised() -> None:
    with pytest.raises(Stop, match="first"):
        with shielded():
            interrupt(Stop("first"))
            interrupt(Stop("second"))


def test_the_stop_wins_over_the_blocks_own_error() -> None:
    with pytest.raises(Stop) as info:
        with shielded():
            interrupt(Stop())
            raise ValueError("the call failed as well")
    assert isinstance(info.value.__context__, ValueError)


def test_checkpoint_raises_what_came_meanwhile_and_only_that() -> None:
    with shielded():
        checkpoint()  # nothing pending: no-op
        interrupt(Stop())
        with pytest.raises(Stop):
            checkpoint()
        checkpoint()  # consumed


def test_another_threads_shield_does_not_protect_this_one() -> None:
    inside, leave = threading.Event(), threading.Event()

    def worker() -> None:
        with shielded():
            inside.set()
            leave.wait(10)

    t = threading.Thread(target=worker)
    t.start()
    try:
        assert inside.wait(10)
        with pytest.raises(Stop):
            interrupt(Stop())
    finally:
        leave.set()
        t.join()


# ------------------------------------------------------------- real signals
@pytest.fixture
def on_usr2() -> Iterator[list[bool]]:
    """SIGUSR2 interrupts the main thread with Stop; the list records, per signal,
    whether it came inside a shielded call."""
    seen: list[bool] = []

    def handler(_signum: int, _frame: Any) -> None:
        seen.append(is_shielded())
        interrupt(Stop())

    old = signal.signal(signal.SIGUSR2, handler)
    try:
        yield seen
    finally:
        signal.signal(signal.SIGUSR2, old)


@pytest.mark.integration
def test_a_signal_during_a_blocked_write_lets_the_write_finish(
    gateway: Gateway, on_usr2: list[bool]
) -> None:
    """The main thread waits on a lock inside the driver when the signal comes: the
    write still commits, then Stop is raised, and the connection pool is healthy."""
    gateway.write("CREATE (:Probe {id: 1, by: 'nobody'})", fenced=False)
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:
        with gateway.session() as s:
            tx = s.begin_transaction()
            tx.run("MATCH (p:Probe {id: 1}) SET p.by = 'holder'").consume()
            locked.set()
            release.wait(30)
            tx.commit()

    def signal_then_release() -> None:
        time.sleep(1.0)  # the main thread is waiting for the lock by now
        os.kill(os.getpid(), signal.SIGUSR2)
        time.sleep(0.5)
        release.set()

    h = threading.Thread(target=holder)
    h.start()
    assert locked.wait(30)
    timer = threading.Thread(target=signal_then_release)
    timer.start()
    try:
        with pytest.raises(Stop):
            gateway.write("MATCH (p:Probe {id: 1}) SET p.by = 'main'", fenced=False)
    finally:
        release.set()
        timer.join()
        h.join()
    assert on_usr2 == [True]  # it came while the driver waited
    # the write ran to its commit before the stop was raised
    assert gateway.read("MATCH (p:Probe {id: 1}) RETURN p.by AS by") == [{"by": "main"}]
    open_tx = gateway.read("SHOW TRANSACTIONS YIELD currentQuery RETURN count(*) AS n")
    assert open_tx == [{"n": 1}]  # only the SHOW itself: nothing left open or locked
    gateway.write("MATCH (p:Probe {id: 1}) SET p.by = 'after'", fenced=False)


@pytest.mark.integration
def test_a_signal_during_parallel_batches_stops_between_whole_batches(
    gateway: Gateway, on_usr2: list[bool]
) -> None:
    """The stop comes while the rows of the fourth batch are built: the three batches
    submitted before it commit whole, nothing after them, no writer thread is left."""
    batch = 50

    def rows() -> Iterator[dict[str, int]]:
        for i in range(10 * batch):
            if i == 3 * batch + 7:
                os.kill(os.getpid(), signal.SIGUSR2)
            yield {"i": i}

    with pytest.raises(Stop):
        gateway.write_batches_parallel(
            "UNWIND $rows AS row CREATE (:Probe {id: row.i})",
            rows(),
            workers=2,
            batch_size=batch,
        )
    assert on_usr2 == [True]
    got = gateway.read("MATCH (p:Probe) RETURN count(p) AS n, max(p.id) AS top")
    assert got == [{"n": 3 * batch, "top": 3 * batch - 1}]
    assert not [t for t in threading.enumerate() if t.name.startswith("credgraph-write")]
