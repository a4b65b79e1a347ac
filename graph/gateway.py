"""The one gateway to Neo4j. Every query in credgraph passes through here.

- Connection from :class:`graph.settings.Settings`: ``NEO4J_URI`` and friends,
  or the managed local server's URI and generated credentials.
- Managed transactions (``execute_read`` / ``execute_write``), which the
  driver retries on transient errors (deadlocks, leader switches, lost
  connections) with exponential back-off.
- Values only as ``$parameters``; labels and types only via
  :func:`graph.model.label` / :func:`graph.model.rel_type`.
- Batched writes: ``UNWIND $rows AS row ...`` in batches of
  ``settings.batch_size`` rows, one managed transaction per batch.
- Fencing: while a process holds the graph's writer lease (graph/lease.py),
  the lease puts a *fence* on its gateway: a check that runs as the last
  statement of every write transaction (:meth:`Gateway.write`,
  :meth:`Gateway.write_tx` and the batch writers built on them) and raises if
  the lease has been taken over, so the transaction rolls back. Schema
  statements and ``CALL {...} IN TRANSACTIONS`` (auto-commit) are not fenced.
- Driver errors become :class:`graph.errors.DatabaseError` with a hint.
- Every call into the driver is *shielded* (graph/interrupt.py): a job stopped
  by a signal is interrupted between two database calls, never inside one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any, LiteralString, TypeVar, cast

from neo4j import Driver, GraphDatabase, ManagedTransaction, Query, Session
from neo4j import exceptions as nx

from credgraph.graph.errors import DatabaseError
from credgraph.graph.interrupt import checkpoint, shielded
from credgraph.graph.settings import Settings

T = TypeVar("T")


def connection(settings: Settings) -> tuple[str, tuple[str, str]]:
    """The URI and auth that the settings point at."""
    if settings.neo4j_uri:
        if settings.neo4j_password is None:
            raise DatabaseError(
                "NEO4J_URI is set but NEO4J_PASSWORD is not",
                hint="export NEO4J_PASSWORD, or unset NEO4J_URI to use the managed server",
            )
        password = settings.neo4j_password.get_secret_value()
        return settings.neo4j_uri, (settings.neo4j_username, password)
    from credgraph.graph.managed import ManagedServer

    server = ManagedServer(settings)
    creds = server.credentials()
    return server.uri, (creds.username, creds.password.get_secret_value())


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn driver exceptions into DatabaseError with a message a person can act on."""
    try:
        yield
    except nx.AuthError as exc:
        raise DatabaseError(
            f"Neo4j refused the credentials: {exc.message}",
            hint="check NEO4J_USERNAME / NEO4J_PASSWORD",
        ) from exc
    except nx.ServiceUnavailable as exc:
        raise DatabaseError(
            f"Neo4j is not reachable: {exc}",
            hint="start it with `credgraph neo4j start` or check NEO4J_URI",
        ) from exc
    except nx.Neo4jError as exc:
        raise DatabaseError(f"Neo4j error {exc.code}: {exc.message}") from exc
    except nx.DriverError as exc:
        raise DatabaseError(f"Neo4j driver error: {exc}") from exc


def batched(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class Gateway:
    """Sessions, transactions and batches over one driver."""

    def __init__(
        self, settings: Settings, driver: Driver | None = None, *, wait: float | None = None
    ) -> None:
        """``wait``: seconds to give a connection attempt and the driver's retries of a
        transaction (None: the driver's own, 30 s each), for a process that must
        answer soon (the HTTP API: ``settings.api_db_wait``)."""
        self.settings = settings
        self.database = settings.neo4j_database
        if driver is None:
            uri, auth = connection(settings)
            timing: dict[str, Any] = {}
            if wait is not None:
                timing = {
                    "connection_timeout": wait,
                    "connection_acquisition_timeout": wait,
                    "max_transaction_retry_time": wait,
                }
            with translate_errors():
                driver = GraphDatabase.driver(
                    uri,
                    auth=auth,
                    max_connection_lifetime=3600,
                    # Planner hints ("label does not exist" on an empty graph) are noise here.
                    notifications_min_severity="OFF",
                    **timing,
                )
        self.driver = driver
        self._fence: Callable[[ManagedTransaction], None] | None = None

    # -- fencing (graph/lease.py)
    def set_fence(self, fence: Callable[[ManagedTransaction], None] | None) -> None:
        """Run ``fence(tx)`` at the end of every write transaction (None: no more)."""
        self._fence = fence

    @property
    def fence(self) -> Callable[[ManagedTransaction], None] | None:
        return self._fence

    def _fenced(self, fn: Callable[[ManagedTransaction], T]) -> Callable[[ManagedTransaction], T]:
        fence = self._fence
        if fence is None:
            return fn

        def work(tx: ManagedTransaction) -> T:
            result = fn(tx)
            fence(tx)  # raises if the lease is lost: the transaction rolls back
            return result

        return work

    # -- lifecycle
    def close(self) -> None:
        with shielded():
            self.driver.close()

    def __enter__(self) -> Gateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def verify(self) -> None:
        with shielded(), translate_errors():
            self.driver.verify_connectivity()

    @contextmanager
    def session(self, *, read_only: bool = False) -> Iterator[Session]:
        """A driver session, shielded from interrupts until it is closed."""
        with (
            shielded(),
            self.driver.session(
                database=self.database, default_access_mode="READ" if read_only else "WRITE"
            ) as s,
        ):
            yield s

    # -- queries
    def read(self, cypher: LiteralString, **params: Any) -> list[dict[str, Any]]:
        """Run a read query in a managed read transaction; rows as dicts."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(cypher, params)]

        with translate_errors(), self.session(read_only=True) as s:
            return s.execute_read(work)

    def read_values(self, cypher: LiteralString, **params: Any) -> list[list[Any]]:
        """Run a read query in a managed read transaction; rows as lists of values, as
        the driver decodes them. For queries that return plain values only (numbers,
        text, temporal values, lists of them): nothing is converted, where
        :meth:`read`'s ``Record.data()`` walks every value to turn nodes and
        relationships into dicts, which took four fifths of the client's time to
        read the export's lists of 240,000 rows."""

        def work(tx: ManagedTransaction) -> list[list[Any]]:
            return [r.values() for r in tx.run(cypher, params)]

        with translate_errors(), self.session(read_only=True) as s:
            return s.execute_read(work)

    def read_stream(
        self, cypher: LiteralString, fn: Callable[[Iterator[Any]], T], **params: Any
    ) -> T:
        """Stream a large read: ``fn`` receives the record iterator inside the transaction."""

        def work(tx: ManagedTransaction) -> T:
            return fn(iter(tx.run(cypher, params)))

        with translate_errors(), self.session(read_only=True) as s:
            return s.execute_read(work)

    def write(
        self, cypher: LiteralString, *, fenced: bool = True, **params: Any
    ) -> list[dict[str, Any]]:
        """Run a write query in a managed write transaction (retried on transient errors);
        ``fenced`` as for :meth:`write_tx`."""

        def work(tx: ManagedTransaction) -> list[dict[str, Any]]:
            return [r.data() for r in tx.run(cypher, params)]

        return self.write_tx(work, fenced=fenced)

    def write_tx(self, fn: Callable[[ManagedTransaction], T], *, fenced: bool = True) -> T:
        """Run several statements in one managed write transaction.

        ``fenced=False`` skips the lease's fence: only for the lease's own statements
        and for records of what a writer did that must be kept even if it lost the lease.
        """
        work = self._fenced(fn) if fenced else fn
        with translate_errors(), self.session() as s:
            return s.execute_write(work)

    def write_batches(
        self,
        cypher: LiteralString,
        rows: Iterable[dict[str, Any]],
        *,
        batch_size: int | None = None,
        on_batch: Callable[[int, list[dict[str, Any]]], None] | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """``UNWIND $rows AS row`` in batches, one managed transaction each.

        ``cypher`` must start with ``UNWIND $rows AS row``. Returns the
        concatenated result rows (queries usually return one summary row).
        """
        if not cypher.lstrip().startswith("UNWIND $rows AS row"):
            raise DatabaseError("batched writes must start with `UNWIND $rows AS row`")
        out: list[dict[str, Any]] = []
        for chunk in batched(rows, batch_size or self.settings.batch_size):
            out.extend(self.write(cypher, rows=chunk, **params))
            if on_batch:
                on_batch(len(chunk), chunk)
        return out

    def write_batches_parallel(
        self,
        cypher: LiteralString,
        rows: Iterable[Any],
        *,
        workers: int = 2,
        batch_size: int | None = None,
        **params: Any,
    ) -> int:
        """Like :meth:`write_batches`, with ``workers`` transactions in flight at once.

        Only for batches that touch disjoint parts of the graph (one score node per
        subject, say): batches commit in any order. Rows are maps or lists (``row[0]``
        in the statement). Returns the number of rows.
        """
        from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

        if not cypher.lstrip().startswith("UNWIND $rows AS row"):
            raise DatabaseError("batched writes must start with `UNWIND $rows AS row`")
        done_rows = 0
        pending: set[Future[list[dict[str, Any]]]] = set()
        # Shielded: an interrupt inside the futures' waits could leave a future's lock
        # held and the pool's shutdown waiting for ever; it is raised between batches.
        with (
            shielded(),
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="credgraph-write") as ex,
        ):
            for chunk in batched(rows, batch_size or self.settings.batch_size):
                checkpoint()
                if len(pending) >= workers * 2:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for f in finished:
                        f.result()
                pending.add(ex.submit(self.write, cypher, rows=chunk, **params))
                done_rows += len(chunk)
            for f in pending:
                f.result()
        return done_rows

    def run_schema(self, statement: LiteralString) -> None:
        """Schema statements run in auto-commit transactions (Neo4j requires it)."""
        with translate_errors(), self.session() as s:
            s.run(Query(cast(LiteralString, statement))).consume()


def open_gateway(settings: Settings) -> Gateway:
    gw = Gateway(settings)
    gw.verify()
    return gw
