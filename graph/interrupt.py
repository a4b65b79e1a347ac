"""Stopping work at once, but never in the middle of a database call.

A long job stopped by a signal (the scheduler on SIGTERM) abandons its work by
raising an exception in the main thread, from the signal handler. Raised
anywhere, such an exception can land inside the Neo4j driver: half-way through
reading a reply, or between taking a pool lock and the ``try`` that gives it
back. The driver then holds a connection in an unknown state, or a lock nobody
releases, and the next statement (the run marking itself failed, the lease's
release) can wait for ever: a scheduler that did not stop on SIGTERM.

So every call into the driver runs :func:`shielded` (graph/gateway.py does it
for each of its methods), and a signal handler stops the work with
:func:`interrupt`: outside a shielded call the exception is raised at once;
inside one it is kept and raised when the outermost shielded call of the
main thread returns (or fails), between two database calls. A stop therefore
waits for at most one statement or transaction (one batch of a write) to end.
Code that waits on other threads, which can equally be left holding a lock
(``concurrent.futures`` takes every future's lock in turn), runs shielded
and stops at a :func:`checkpoint` of its own.

Loads stop the other way (loaders/interrupt.py): their handler only sets a flag
that the load reads between batches; a propagation run spends most of its time
in the engine, where no such point comes for seconds, so it is interrupted.

Signal handlers run in the main thread only, between two bytecodes of it, so
the depth is the main thread's and is read there; other threads' shields
(writer pools, the lease's heartbeat) count for their own thread and are never
interrupted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _State(threading.local):
    depth = 0
    pending: BaseException | None = None


_state = _State()


@contextmanager
def shielded() -> Iterator[None]:
    """Run the block without being interrupted by :func:`interrupt`: an interrupt
    that comes meanwhile is raised when the outermost shielded block ends."""
    st = _state
    st.depth += 1
    try:
        yield
    finally:
        st.depth -= 1
        if st.depth == 0 and st.pending is not None:
            exc, st.pending = st.pending, None
            raise exc


def interrupt(exc: BaseException) -> None:
    """From a signal handler: raise ``exc`` in the interrupted thread now, or, when it
    is inside a :func:`shielded` call, as soon as that call ends."""
    st = _state
    if st.depth > 0:
        if st.pending is None:
            st.pending = exc
        return
    raise exc


def checkpoint() -> None:
    """Inside a long shielded block that coordinates other threads (a pool of writers),
    at a point where this thread holds nothing: raise an interrupt that came meanwhile."""
    st = _state
    if st.pending is not None:
        exc, st.pending = st.pending, None
        raise exc


def is_shielded() -> bool:
    """Whether this thread is inside a shielded call (for tests and log lines)."""
    return _state.depth > 0
