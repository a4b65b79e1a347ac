"""One writer at a time: the lease that loads and propagation runs hold on a graph.

A load looks its keys up and then creates what is missing, so two loads of the
same new keys at once would collide (node keys are protected by constraints,
relationships are not); a propagation run that exports the graph while a load
writes it would score half a load. So both take the lease
``(:Lease {id: 'graph-writer'})`` for as long as they work, and a second one is
refused with :class:`Busy`, which names the holder, where it runs and since when.

The lease records its holder (``load-...`` or ``run-...``), what it does, the
host, the process id, when it was taken and its last heartbeat; a thread renews
the heartbeat every ``ttl / 4`` seconds. Every time is the server's
(``datetime()``), so clocks of other machines do not matter. A lease is free
when it has no holder, or when its holder is gone:

- its heartbeat is older than ``ttl`` seconds (a holder on another machine that
  died or lost the database for that long);
- it ran on this host and its process no longer exists (killed with SIGKILL:
  a re-run takes over at once, no need to wait out the ttl). "This host" is
  the boot id and the process-id namespace, not the host name, so containers
  that share a name are told apart; a process is its id and its start time,
  so a reused id does not keep a dead holder alive;
- it ran in this very process and is no longer active here (a load abandoned
  by an exception that skipped its ``finally``).

Silence is measured against the ttl the holder recorded, not the caller's.
The lease is taken and released in write transactions that lock the lease node
first, so two writers can never both see it free.

Fencing: a holder can be paused (SIGSTOP, a swapped-out laptop, a long GC) for
longer than the ttl, be taken over, and wake up with batches in flight. So every
take of the lease increments a *token* on the lease node, and while the lease is
held its gateway runs :meth:`Lease.fence` as the last statement of every write
transaction (graph/gateway.py): it locks the lease node and checks that holder
and token are still ours, in the same transaction as the writes, or raises
:class:`LeaseLost` and the transaction rolls back. A takeover locks the same node,
so it either commits before the check (which then fails) or waits for the
holder's commit: no batch of a holder that lost its lease is ever committed.
The lock is held from the check to the commit only, so concurrent batches of
one holder wait on each other just for their commits.

A lease node on a store with an unfinished bulk swap (graph/managed/server.py,
its journal) is not taken: the store may yet be rolled back.
"""

from __future__ import annotations

import os
import socket
import threading
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any

from credgraph.graph.errors import CredgraphError
from credgraph.graph.gateway import Gateway
from credgraph.graph.interrupt import shielded
from credgraph.graph.managed.server import process_started

LEASE_ID = "graph-writer"
#: Seconds without a heartbeat after which a holder counts as gone.
DEFAULT_TTL = 60.0

_ACTIVE: set[str] = set()  # holders of leases taken by this process and not yet released
_ACTIVE_LOCK = threading.Lock()


class Busy(CredgraphError):
    """Another load or propagation run holds the graph's writer lease."""

    code = "busy"
    http_status = 409


class LeaseLost(Busy):
    """This writer's lease was taken over: its transaction was rolled back."""

    code = "lease_lost"


_FENCE = (
    "MATCH (l:Lease {id: $id}) SET l.fenced = true REMOVE l.fenced "
    "RETURN l.holder AS holder, l.token AS token"
)


def _machine() -> str:
    """Who counts as "this host": the boot and the process-id namespace, so two
    containers that share a host name (or a host) are told apart; the host name
    where /proc is missing."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        return f"{boot}/{os.readlink('/proc/self/ns/pid')}"
    except OSError:
        return socket.gethostname()


def _alive(pid: int, started: int | None) -> bool:
    if started is not None and Path("/proc").is_dir():
        return process_started(pid) == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def holder_gone(current: dict[str, Any], machine: str, pid: int, ttl: float) -> bool:
    """Whether the recorded holder of a lease no longer works (module docstring).

    Silence is measured against the holder's own ttl (recorded with it), so a
    caller with a short ttl does not take over a holder that renews slowly.
    """
    if current.get("holder") is None:
        return True
    limit = current.get("ttl") or ttl
    if current.get("age") is None or current["age"] > limit:
        return True
    if current.get("machine") == machine and current.get("pid") is not None:
        if current["pid"] == pid:
            with _ACTIVE_LOCK:
                return current["holder"] not in _ACTIVE
        return not _alive(int(current["pid"]), current.get("pid_started"))
    return False


class Lease:
    """The graph's writer lease, held by ``holder`` (a load or run id) while in use.

    ``with Lease(gw, "load-...", "load"):`` takes it or raises :class:`Busy`,
    renews it while the block runs and releases it at the end, error or not.
    """

    def __init__(self, gw: Gateway, holder: str, what: str, ttl: float = DEFAULT_TTL) -> None:
        self.gw = gw
        self.holder = holder
        self.what = what
        self.ttl = ttl
        self.host = socket.gethostname()
        self.machine = _machine()
        self.pid = os.getpid()
        self.pid_started = process_started(self.pid)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost = False  # set when a renewal or the fence found another holder
        self.token: int | None = None  # the lease node's token when we took it

    def acquire(self) -> None:
        """Take the lease, or raise :class:`Busy` naming who holds it."""
        holder = self.holder

        def work(tx: Any) -> dict[str, Any] | None:
            # The SET locks the node: a concurrent acquire waits here and then sees ours.
            rec = tx.run(
                "MERGE (l:Lease {id: $id}) SET l.id = $id "
                "RETURN l.holder AS holder, l.what AS what, l.host AS host, l.pid AS pid, "
                "l.machine AS machine, l.pid_started AS pid_started, l.ttl AS ttl, "
                "toString(l.acquired_at) AS acquired_at, "
                "duration.inSeconds(l.heartbeat_at, datetime()).seconds AS age",
                id=LEASE_ID,
            ).single(strict=True)
            current = rec.data()
            if current["holder"] != holder and not holder_gone(
                current, self.machine, self.pid, self.ttl
            ):
                return current
            taken = tx.run(
                "MATCH (l:Lease {id: $id}) SET l.holder = $holder, l.what = $what, "
                "l.host = $host, l.machine = $machine, l.pid = $pid, "
                "l.pid_started = $pid_started, l.ttl = $ttl, l.acquired_at = datetime(), "
                "l.heartbeat_at = datetime(), l.previous = $previous, "
                "l.token = coalesce(l.token, 0) + 1 RETURN l.token AS token",
                id=LEASE_ID,
                holder=holder,
                what=self.what,
                host=self.host,
                machine=self.machine,
                pid=self.pid,
                pid_started=self.pid_started,
                ttl=self.ttl,
                previous=current["holder"],
            ).single(strict=True)
            self.token = taken["token"]
            return None

        # Active before the transaction: another thread of this process that reads our
        # holder in between must not take it for an abandoned lease.
        self.refuse_if_swapping()
        with _ACTIVE_LOCK:
            _ACTIVE.add(holder)
        try:
            busy = self.gw.write_tx(work, fenced=False)
            if busy is not None:
                raise Busy(
                    f"another {busy['what'] or 'writer'} is at work on this graph: "
                    f"{busy['holder']} on {busy['host']} (process {busy['pid']}), "
                    f"since {busy['acquired_at']}, last heartbeat {busy['age']} s ago",
                    hint="loads and propagation runs take turns; try again when it has ended "
                    f"(a holder silent for {busy['ttl'] or self.ttl:.0f} s, or whose process "
                    "on this host is gone, is taken over)",
                )
        except BaseException:
            with _ACTIVE_LOCK:
                _ACTIVE.discard(holder)
            raise
        self.lost = False
        self.gw.set_fence(self.fence)
        if self._thread is None:  # taken again (a bulk load's new store): one thread
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._renew, name=f"credgraph-lease-{holder}", daemon=True
            )
            self._thread.start()

    def refuse_if_swapping(self) -> None:
        """:class:`Busy` while a bulk load's store swap is unfinished: no writer on such a
        managed store (module docstring). :meth:`acquire` checks it; callers that read
        the store before they take the lease check it first."""
        settings = self.gw.settings
        if not settings.managed:
            return
        from credgraph.graph.managed.server import ManagedServer

        server = ManagedServer(settings)
        journal = server.read_journal()
        if journal is None or server.swap_is_ours(journal):
            return
        if server.swap_owner_alive(journal):
            raise Busy(
                f"a bulk load ({journal.get('load_id')}) is swapping the store in",
                hint="try again when it has ended",
            )
        raise Busy(
            f"a bulk load ({journal.get('load_id')}) was stopped while it swapped the "
            "store in; the store may yet be rolled back, so nothing is written to it",
            code="swap_unfinished",
            hint="start the managed server again (credgraph neo4j start): it finishes or "
            "rolls back the swap",
        )

    def _statement(self, cypher: Any, **params: Any) -> list[dict[str, Any]]:
        """One of the lease's own statements: not fenced (they check the holder)."""
        return self.gw.write(cypher, fenced=False, **params)

    def fence(self, tx: Any) -> None:
        """The fence (module docstring): inside a write transaction, lock the lease
        node and raise :class:`LeaseLost` unless holder and token are still ours."""
        rec = tx.run(_FENCE, id=LEASE_ID).single()
        if rec is None or rec["holder"] != self.holder or rec["token"] != self.token:
            self.lost = True
            taker = rec["holder"] if rec else None
            raise LeaseLost(
                f"{self.holder} lost the graph's writer lease to "
                + (taker or "another writer, which has since released it")
                + "; its last transaction was rolled back",
                hint="run it again once the other writer has ended",
            )

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            try:
                rows = self._statement(
                    "MATCH (l:Lease {id: $id}) WHERE l.holder = $holder AND l.token = $token "
                    "SET l.heartbeat_at = datetime() RETURN count(l) AS n",
                    id=LEASE_ID,
                    holder=self.holder,
                    token=self.token,
                )
                if rows and rows[0]["n"] == 0:
                    self.lost = True
            except Exception:  # noqa: BLE001 - the server is away (a restart): next tick
                pass

    def check(self) -> None:
        """Raise :class:`LeaseLost` if a renewal or the fence found the lease taken over
        by another holder (this holder was silent for longer than ``ttl``)."""
        if self.lost:
            raise LeaseLost(
                f"{self.holder} lost the graph's writer lease to another writer "
                f"(no heartbeat for {self.ttl:.0f} s); stopped",
                hint="run it again once the other writer has ended",
            )

    def release(self, *, in_graph: bool = True) -> None:
        """Stop renewing and free the lease if it is still ours.

        ``in_graph=False`` when the server cannot be reached (a bulk load whose
        restart failed): the lease then ages out, or is taken over from this host
        once this process has ended.
        """
        # Shielded (graph/interrupt.py): a stop that comes meanwhile waits for the lease
        # to be handed back, not the other way round.
        with shielded():
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
                self._thread = None
            with _ACTIVE_LOCK:
                _ACTIVE.discard(self.holder)
            if self.gw.fence == self.fence:
                self.gw.set_fence(None)
            if not in_graph:
                return
            self._statement(
                "MATCH (l:Lease {id: $id}) WHERE l.holder = $holder AND l.token = $token "
                "SET l.holder = null, l.released_at = datetime(), l.previous = $holder",
                id=LEASE_ID,
                holder=self.holder,
                token=self.token,
            )

    def __enter__(self) -> Lease:
        taken = False
        try:
            with shielded():  # a stop that comes while the lease is taken comes after it
                self.acquire()
                taken = True
        except BaseException:
            if taken:  # taken, then stopped: hand it back before the stop goes on
                with suppress(CredgraphError):
                    self.release()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.release()
        except CredgraphError:
            if exc is None:
                raise
            # the error that ended the block says more; the lease ages out by itself


def own_holder(gw: Gateway) -> str | None:
    """The holder of the lease if this very process took it (same machine, process id
    and process start), else None: for a process that abandons its work on a signal,
    which can arrive between the lease's write and the Lease object's knowing of it
    (then no ``__exit__`` hands it back)."""
    pid = os.getpid()
    rows = gw.read(
        "MATCH (l:Lease {id: $id}) WHERE l.holder IS NOT NULL AND l.machine = $machine "
        "AND l.pid = $pid AND coalesce(l.pid_started, -1) = coalesce($started, -1) "
        "RETURN l.holder AS holder",
        id=LEASE_ID,
        machine=_machine(),
        pid=pid,
        started=process_started(pid),
    )
    return str(rows[0]["holder"]) if rows else None


def release_abandoned(gw: Gateway, holder: str) -> bool:
    """Free the lease if ``holder`` still holds it, whatever its token: for a writer
    that settles its own run after losing the database (its process no longer
    trusts its Lease object). Returns whether the lease was freed."""

    freed = gw.write(
        "MATCH (l:Lease {id: $id}) WHERE l.holder = $holder "
        "SET l.holder = null, l.released_at = datetime(), l.previous = $holder "
        "RETURN l.previous AS previous",
        fenced=False,
        id=LEASE_ID,
        holder=holder,
    )
    return bool(freed)
