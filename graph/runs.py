"""Propagation runs: export -> projection -> engine -> write-back -> atomic switch.

A run is a ``(:Run)`` node. Its life:

1. ``status: 'running'`` with its as-of date, policy hash and the policy itself,
   the number of completed loads it sees (``seen_loads``) and the caller's tags
   (``trigger``: ``cli``, ``scheduler``, ...), all in the one statement that
   creates it;
2. export (one streaming read per input table), projection, intrinsic and
   network risk, centrality (PageRank, betweenness, k-core on the exposure
   graph; guarantee circles), each phase timed;
3. write-back in batches: one ``(:Score {run, subject, ...})`` per subject,
   one ``(:GuaranteeCircle {run, number, ...})`` per circle with
   ``(:Subject)-[:IN_CIRCLE]->`` members, all tagged with the run id;
4. the switch, one transaction: the previous current run loses
   ``current``, this one gets ``current: true, status: 'completed'``.

Readers only ever read the run with ``current = true``, so they never see a
run half-written. A run that fails is marked ``failed`` and its partial
scores are removed; a run killed outright stays ``running`` until the next
successful run marks it ``interrupted`` and removes its scores. The last
``settings.runs_kept`` completed runs keep their scores (score history);
older ones keep their ``(:Run)`` record only.

The projection, scores and centrality of a run are also saved as a snapshot in
the run store (graph/runstore.py: Arrow files and a JSON manifest, in a
directory other processes and hosts may share) before the switch; the switch
records the manifest's sha256 on the run (``snapshot_sha256``), and readers
check it before they use the snapshot (:meth:`Runs.snapshot`). Deleting a
run's outputs deletes its snapshot.

Before it scores, a run (holding the writer lease) marks loads still
``running`` as ``interrupted`` and refuses to score while the newest load did
not complete (graph/loads.py, :class:`UnfinishedLoad`), unless told to go on
(``allow_unfinished_load``), which it records on its ``(:Run)``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, LiteralString, cast

from credgraph.graph.engine.pipeline import (
    NOT_STORED,
    Centrality,
    compute,
    score_columns,
    score_drops,
    unnamed_lists,
)
from credgraph.graph.engine.policy import Policy
from credgraph.graph.engine.projection import Projection
from credgraph.graph.engine.propagation import Scores
from credgraph.graph.errors import CredgraphError, NotFound
from credgraph.graph.export import export_tables, table_counts
from credgraph.graph.gateway import Gateway, batched
from credgraph.graph.lease import LEASE_ID, Busy, Lease
from credgraph.graph.loads import COMPLETED, UnfinishedLoad, mark_interrupted, unfinished_load
from credgraph.graph.runstore import (
    BadRunId,
    RunStore,
    Snapshot,
    SnapshotUnavailable,
    check_run_id,
    recorded_store,
)
from credgraph.graph.schema import require_schema
from credgraph.graph.settings import Settings


@dataclass
class RunResult:
    run_id: str
    as_of: date
    policy_hash: str
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    projection: Projection | None = None
    scores: Scores | None = None
    centrality: Centrality | None = None
    snapshot_sha256: str | None = None
    interrupted_loads: list[str] = field(default_factory=list)
    unfinished_load: dict[str, Any] | None = None  # scored anyway, by override
    # list name -> entries, of lists the policy does not name (scored with its default)
    unnamed_lists: dict[str, int] = field(default_factory=dict)


def new_run_id(now: datetime) -> str:
    """``run-YYYYMMDDTHHMMSS-xxxxxx``: the one shape graph/runstore.py accepts."""
    return check_run_id(f"run-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}")


_PROPERTY = re.compile(r"[a-z][a-z0-9_]*")


def _create_scores(names: list[str]) -> LiteralString:
    """``UNWIND $rows AS row CREATE (sc:Score {run: $run, <name>: row[<i>], ...})``
    for rows that are lists in the order of ``names`` (the engine's own column
    names, checked: never input). A null value stores no property."""
    bad = [n for n in names if not _PROPERTY.fullmatch(n)]
    if bad:
        raise ValueError(f"not a score column name: {bad}")
    props = ", ".join(f"{n}: row[{i}]" for i, n in enumerate(names))
    return cast(LiteralString, f"UNWIND $rows AS row CREATE (sc:Score {{run: $run, {props}}})")


class RunAborted(CredgraphError):
    code = "run_aborted"


_OWN_PROPERTIES = frozenset(
    ("id", "status", "current", "as_of", "policy_hash", "policy", "started_at", "seen_loads")
)
"""What a run's creation writes itself; tags may not set these."""


class Runs:
    """Run records, write-back and the current-run switch, through the gateway."""

    def __init__(self, gw: Gateway, settings: Settings) -> None:
        self.gw = gw
        self.settings = settings
        self.store = RunStore(settings.run_store_dir)

    # ----------------------------------------------------------------- reading
    def current(self) -> dict[str, Any] | None:
        rows = self.gw.read("MATCH (r:Run {current: true}) RETURN properties(r) AS r")
        return rows[0]["r"] if rows else None

    def get(self, run_id: str | None = None) -> dict[str, Any]:
        if run_id is None:
            run = self.current()
            if run is None:
                raise NotFound("no completed run yet", code="no_run")
            return run
        check_run_id(run_id)  # a usage error naming the field `run`
        rows = self.gw.read("MATCH (r:Run {id: $id}) RETURN properties(r) AS r", id=run_id)
        if not rows:
            raise NotFound(f"no run {run_id!r}", code="no_such_run", field="run")
        return rows[0]["r"]  # type: ignore[no-any-return]

    def history(self, limit: int = 50) -> list[dict[str, Any]]:
        return [
            r["r"]
            for r in self.gw.read(
                "MATCH (r:Run) RETURN properties(r) AS r ORDER BY r.started_at DESC LIMIT $n",
                n=limit,
            )
        ]

    def score_row(self, run_id: str, subject_id: str) -> dict[str, Any] | None:
        """The stored Score row of one subject in one run, or None."""
        rows = self.gw.read(
            "MATCH (sc:Score {run: $run, subject: $id}) RETURN properties(sc) AS sc",
            run=run_id,
            id=subject_id,
        )
        return rows[0]["sc"] if rows else None

    def score_history(self, subject_id: str) -> list[dict[str, Any]]:
        """One subject's trust score in every run that kept its scores, newest first."""
        return self.gw.read(
            "MATCH (sc:Score {subject: $id}) MATCH (r:Run {id: sc.run}) "
            "RETURN r.id AS run, toString(r.as_of) AS as_of, sc.trust_score AS trust_score, "
            "r.current AS current ORDER BY r.started_at DESC",
            id=subject_id,
        )

    def iter_score_rows(self, run_id: str) -> list[dict[str, Any]]:
        """Every stored Score row of a run, ordered by subject id (read in one stream)."""
        rows: list[dict[str, Any]] = self.gw.read_stream(
            "MATCH (sc:Score {run: $run}) RETURN properties(sc) AS sc ORDER BY sc.subject",
            lambda recs: [r["sc"] for r in recs],
            run=run_id,
        )
        return rows

    def lowest(self, run_id: str, n: int = 10) -> list[dict[str, Any]]:
        """The ``n`` lowest trust scores of a run (id, name, trust_score)."""
        return self.gw.read(
            "MATCH (sc:Score {run: $run}) MATCH (s:Subject {id: sc.subject}) "
            "RETURN sc.subject AS id, s.name AS name, sc.trust_score AS trust_score "
            "ORDER BY sc.trust_score ASC, sc.subject LIMIT $n",
            run=run_id,
            n=n,
        )

    def circles(self, run_id: str, n: int = 5) -> list[dict[str, Any]]:
        """The ``n`` largest guarantee circles of a run."""
        return self.gw.read(
            "MATCH (c:GuaranteeCircle {run: $run}) RETURN c.number AS number, c.size AS size, "
            "c.amount_inside AS amount_inside, c.members AS members "
            "ORDER BY c.size DESC, c.amount_inside DESC LIMIT $n",
            run=run_id,
            n=n,
        )

    def snapshot(self, run: dict[str, Any]) -> Snapshot:
        """The snapshot of a run (its ``(:Run)`` record), checked against the manifest
        hash recorded on it; :class:`~credgraph.graph.runstore.SnapshotUnavailable`
        when it is missing, refused or corrupt.

        Read from this process's store; where that holds no snapshot of the run, from
        the store the run wrote to (``snapshot_store`` on the run), if this host sees
        that directory and it is private to this account
        (:func:`~credgraph.graph.runstore.recorded_store`): so another home on the same
        host, or a host that mounts the store at the same path, explains without
        ``CREDGRAPH_RUN_STORE``. The same checks apply to either (run id, hashes)."""
        try:
            return self.store.load(run["id"], run.get("snapshot_sha256"))
        except SnapshotUnavailable as exc:
            if exc.reason != "missing":
                raise
            other = recorded_store(run.get("snapshot_store"), self.store.root)
            if other is None:
                raise
            try:
                return RunStore(other).load(run["id"], run.get("snapshot_sha256"))
            except SnapshotUnavailable as again:
                if again.reason == "missing":
                    raise exc from None
                raise

    # ----------------------------------------------------------------- running
    def run(
        self,
        policy: Policy,
        as_of: date,
        *,
        on_phase: Callable[[str, str], None] | None = None,
        allow_unfinished_load: bool = False,
        actor: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> RunResult:
        """One run. Refused (:class:`UnfinishedLoad`) while the newest load did not
        complete, unless ``allow_unfinished_load``: then the run goes on and records
        that load and ``actor`` (who decided) on its ``(:Run)``.

        ``tags`` (plain property values, e.g. ``trigger``, ``tick``) are written on
        the ``(:Run)`` as it is created; ``on_phase(name, run_id)`` is called as
        each phase (``export``, ``compute``, ``write-back``) begins."""
        clash = sorted(set(tags or {}) & _OWN_PROPERTIES)
        if clash:
            raise ValueError(f"run tags may not set the run's own properties: {clash}")
        started = datetime.now(UTC)
        run_id = new_run_id(started)
        lease = Lease(self.gw, run_id, "propagate")
        # A store a bulk load is swapping in has no schema yet: say that, not "run
        # `credgraph schema`" (which would write to a store that may be rolled back).
        lease.refuse_if_swapping()
        require_schema(self.gw)
        # One writer at a time: a run must not export a graph that a load is writing.
        # A run that loses the lease meanwhile fails at the switch (_switch checks it).
        with lease:
            # Under the lease no load can be at work: one still `running` is dead.
            interrupted = mark_interrupted(self.gw, run_id)
            unfinished = unfinished_load(self.gw)
            if unfinished is not None and not allow_unfinished_load:
                raise UnfinishedLoad(unfinished)
            res = self._run(
                run_id, started, policy, as_of, on_phase, unfinished, actor, dict(tags or {})
            )
        res.interrupted_loads = interrupted
        return res

    def _run(
        self,
        run_id: str,
        started: datetime,
        policy: Policy,
        as_of: date,
        on_phase: Callable[[str, str], None] | None,
        unfinished: dict[str, Any] | None = None,
        actor: str | None = None,
        tags: dict[str, Any] | None = None,
    ) -> RunResult:
        timings: dict[str, float] = {}

        def phase(name: str) -> None:
            if on_phase:
                on_phase(name, run_id)

        # Inside the try from its creation on: a stop that comes as the Run node is
        # written (graph/interrupt.py raises it as that write returns) marks it failed
        # too, instead of leaving it `running` (seen in CI: a scheduler stopped then).
        # Its tags go in the same statement, so no run is ever seen without them (seen
        # in CI too: a scheduler that tagged its run afterwards was stopped before).
        try:
            self.gw.write(
                "CALL () { MATCH (ld:Load) WHERE ld.outcome IN $completed "
                "RETURN count(ld) AS seen } "
                "CREATE (r:Run {id: $id, status: 'running', current: false, as_of: $as_of, "
                "policy_hash: $hash, policy: $policy, started_at: $started, seen_loads: seen}) "
                "SET r += $tags",
                completed=list(COMPLETED),
                tags=tags or {},
                id=run_id,
                as_of=as_of,
                hash=policy.hash,
                policy=policy.canonical_json(),
                started=started,
            )
            if unfinished is not None:
                # the override, on the record: which load was incomplete and who went on
                self.gw.write(
                    "MATCH (r:Run {id: $id}) SET r.override = 'allow_unfinished_load', "
                    "r.override_by = $actor, r.unfinished_load = $load, "
                    "r.unfinished_load_outcome = $outcome",
                    id=run_id,
                    actor=actor,
                    load=unfinished["id"],
                    outcome=unfinished["outcome"],
                )
            phase("export")
            t = time.perf_counter()
            tables = export_tables(self.gw)
            timings["export"] = time.perf_counter() - t
            counts = table_counts(tables)
            phase("compute")
            projection, scores, cent = compute(tables, policy, as_of, timings)
            del tables
            unnamed = unnamed_lists(projection, policy)
            if unnamed:  # on the record: names and entries, in two lists of one order
                self.gw.write(
                    "MATCH (r:Run {id: $id}) "
                    "SET r.unnamed_lists = $names, r.unnamed_list_entries = $entries",
                    id=run_id,
                    names=list(unnamed),
                    entries=list(unnamed.values()),
                )
            phase("write-back")
            t = time.perf_counter()
            sha = self.store.save(
                run_id, {"projection": projection, "scores": scores, "centrality": cent}
            )
            timings["snapshot"] = time.perf_counter() - t
            t = time.perf_counter()
            previous = self._previous_trust(run_id)
            timings["previous"] = time.perf_counter() - t
            t = time.perf_counter()
            self._write_scores(run_id, projection, scores, cent, previous, timings)
            timings["write_back"] = time.perf_counter() - t
            self._switch(run_id, started, counts, timings, projection, cent, sha)
        except BaseException as exc:
            self._fail(run_id, exc)
            raise
        self._prune(run_id)
        return RunResult(
            run_id=run_id,
            as_of=as_of,
            policy_hash=policy.hash,
            counts=counts,
            timings=timings,
            projection=projection,
            scores=scores,
            centrality=cent,
            snapshot_sha256=sha,
            unfinished_load=unfinished,
            unnamed_lists=unnamed,
        )

    def _previous_trust(self, run_id: str) -> tuple[str, dict[str, float]] | None:
        """The newest completed run before this one and its trust scores by subject
        (None when there is none): what this run's drops are measured against."""
        prev = self.gw.read(
            "MATCH (r:Run {status: 'completed'}) WHERE r.id <> $id "
            "RETURN r.id AS id ORDER BY r.started_at DESC LIMIT 1",
            id=run_id,
        )
        if not prev:
            return None
        # two lists in one record: five to seven times faster to receive than 100k records
        subjects, trust = self.gw.read_values(
            "MATCH (sc:Score {run: $run}) "
            "RETURN collect(sc.subject) AS s, collect(sc.trust_score) AS t",
            run=prev[0]["id"],
        )[0]
        return prev[0]["id"], dict(zip(subjects, trust, strict=True))

    def _write_scores(
        self,
        run_id: str,
        projection: Projection,
        scores: Scores,
        cent: Centrality,
        previous: tuple[str, dict[str, float]] | None = None,
        timings: dict[str, float] | None = None,
    ) -> None:
        """The run's Score nodes, then its guarantee circles (``timings``: the time of
        each part, ``write_scores`` and ``write_circles``, within ``write_back``)."""
        timings = {} if timings is None else timings
        t = time.perf_counter()
        drops = None
        if previous is not None:
            drops = score_drops(projection.subjects.ids, scores.trust, previous[1])
        cols = score_columns(projection, scores, cent, drops)
        names = [n for n in cols if n not in NOT_STORED]
        self.gw.write_batches_parallel(
            # No (:Subject)-[:SCORED]->(:Score) since 2026-12-01: nothing read it, and the
            # Subject lookup and relationship took about half of the write-back; a Score
            # is found by its key (run, subject). Rows are lists, values by position:
            # maps cost the server a key per value (0.5 to 1 s per 100,000 subjects).
            _create_scores(names),
            zip(*(cols[n] for n in names), strict=True),
            run=run_id,
        )
        # Read by `systemic_subjects` and `score_drops` (queries/): this run's Score
        # nodes hold centrality ranks, and drops against `drop_from` (null: no run before).
        self.gw.write(
            "MATCH (r:Run {id: $id}) SET r.ranked = true, r.drop_from = $prev",
            id=run_id,
            prev=None if previous is None else previous[0],
        )
        timings["write_scores"] = time.perf_counter() - t
        t = time.perf_counter()
        ids = projection.subjects.ids
        circle_rows = [
            {
                "number": c.id,
                "size": c.size,
                "amount_inside": c.amount_inside,
                "members": [str(ids[m]) for m in c.members.tolist()],
            }
            for c in cent.circles
        ]
        for chunk in batched(circle_rows, 500):
            self.gw.write(
                "UNWIND $rows AS row "
                "CREATE (c:GuaranteeCircle {run: $run, number: row.number, size: row.size, "
                "amount_inside: row.amount_inside, members: row.members}) "
                "WITH c, row UNWIND row.members AS m "
                "MATCH (s:Subject {id: m}) CREATE (s)-[:IN_CIRCLE]->(c)",
                rows=chunk,
                run=run_id,
            )
        timings["write_circles"] = time.perf_counter() - t

    def _switch(
        self,
        run_id: str,
        started: datetime,
        counts: dict[str, int],
        timings: dict[str, float],
        projection: Projection,
        cent: Centrality,
        snapshot_sha256: str,
    ) -> None:
        def tx(t: Any) -> None:
            me = t.run("MATCH (r:Run {id: $id}) RETURN r.status AS s", id=run_id).single()
            if me is None or me["s"] != "running":
                raise RunAborted(
                    f"run {run_id} was marked {me['s'] if me else 'missing'} by another run",
                )
            # Still the writer? Checked in the switch's own transaction, which locks
            # the lease node: a run that lost its lease never becomes current.
            held = t.run(
                "MATCH (l:Lease {id: $lease}) SET l.switching = $id "
                "REMOVE l.switching RETURN l.holder AS holder",
                lease=LEASE_ID,
                id=run_id,
            ).single()
            if held is None or held["holder"] != run_id:
                raise Busy(
                    f"run {run_id} lost the graph's writer lease to "
                    f"{held['holder'] if held else 'nobody'}; it was not made current",
                    code="busy",
                )
            t.run("MATCH (r:Run {current: true}) SET r.current = false").consume()
            t.run(
                "MATCH (r:Run {id: $id}) SET r.current = true, r.status = 'completed', "
                "r.ended_at = $ended, r.counts = $counts, r.timings = $timings, "
                "r.subjects = $subjects, r.circles = $circles, "
                "r.betweenness_sample = $sample, r.snapshot_sha256 = $snapshot, "
                "r.snapshot_store = $store",
                id=run_id,
                ended=datetime.now(UTC),
                counts=json.dumps(counts),
                timings=json.dumps({k: round(v, 3) for k, v in timings.items()}),
                subjects=projection.n_subjects,
                circles=len(cent.circles),
                sample=cent.betweenness_sample,
                snapshot=snapshot_sha256,
                store=str(self.store.root.resolve()),
            ).consume()

        self.gw.write_tx(tx)

    def _delete_outputs(self, run_id: str) -> None:
        for label_query in (
            "MATCH (sc:Score {run: $run}) CALL (sc) { DETACH DELETE sc } "
            "IN TRANSACTIONS OF 10000 ROWS",
            "MATCH (c:GuaranteeCircle {run: $run}) CALL (c) { DETACH DELETE c } "
            "IN TRANSACTIONS OF 1000 ROWS",
        ):
            with self.gw.session() as s:
                s.run(label_query, run=run_id).consume()
        try:
            self.store.delete(run_id)
        except BadRunId:
            pass  # an id of another shape (written by hand?) names no file: nothing to delete

    def _fail(self, run_id: str, exc: BaseException) -> None:
        try:
            self.gw.write(
                "MATCH (r:Run {id: $id}) WHERE r.status = 'running' "
                "SET r.status = 'failed', r.error = $error, r.ended_at = $ended",
                id=run_id,
                error=f"{type(exc).__name__}: {exc}"[:2000],
                ended=datetime.now(UTC),
            )
            self._delete_outputs(run_id)
        except Exception:  # noqa: BLE001 - the original error is what matters
            pass

    def _prune(self, run_id: str) -> None:
        """Mark runs killed before this one interrupted; keep scores of the last N runs."""
        stale = self.gw.write(
            "MATCH (me:Run {id: $id}), (r:Run {status: 'running'}) "
            "WHERE r.started_at < me.started_at "
            "SET r.status = 'interrupted', r.ended_at = $now RETURN r.id AS id",
            id=run_id,
            now=datetime.now(UTC),
        )
        old = self.gw.read(
            "MATCH (r:Run) WHERE r.status = 'completed' AND coalesce(r.pruned, false) = false "
            "RETURN r.id AS id ORDER BY r.started_at DESC SKIP $keep",
            keep=self.settings.runs_kept,
        )
        failed = self.gw.read(
            "MATCH (r:Run) WHERE r.status IN ['failed', 'interrupted'] "
            "AND coalesce(r.pruned, false) = false RETURN r.id AS id"
        )
        for row in [*stale, *old, *failed]:
            self._delete_outputs(row["id"])
            self.gw.write("MATCH (r:Run {id: $id}) SET r.pruned = true", id=row["id"])
