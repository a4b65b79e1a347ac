"""Score lookups and exports: audited before they answer.

:func:`score_lookup` and :func:`export_scores` write their audit event first
(``graph/audit.py``) and only then read the answer, so every edge that shows a
subject's score leaves the same trace; a lookup whose event cannot be written
fails. :func:`summary` is the demo's "lowest scores and why" with its top-reason
rule.

Explanations come from the run's snapshot in the run store (graph/runstore.py),
which any process that reaches the database and the store can read: decoded
snapshots are kept in one bounded, thread-safe LRU per process
(:func:`snapshot_cache`, ``CREDGRAPH_SNAPSHOT_CACHE`` entries, keyed by the
store, the run id and the manifest hash), so a threaded web server shares them.
Where a snapshot cannot be used the answer carries the score without
contributions and says why in ``explanation_note`` (never a local path).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from threading import Lock
from typing import Any

from credgraph.graph.audit import record_lookup
from credgraph.graph.engine.explain import explain, subject_records
from credgraph.graph.engine.pipeline import EXPORT_COLUMNS, export_row, upgrade_score_row
from credgraph.graph.engine.policy import DOMAINS, Policy, policy_from_mapping
from credgraph.graph.errors import NotFound
from credgraph.graph.gateway import Gateway
from credgraph.graph.runs import Runs
from credgraph.graph.runstore import (
    BadRunId,
    Snapshot,
    SnapshotCache,
    SnapshotUnavailable,
    check_run_id,
)
from credgraph.graph.settings import Settings
from credgraph.services.caller import Caller

_CACHE: SnapshotCache | None = None
_CACHE_LOCK = Lock()


def snapshot_cache(settings: Settings) -> SnapshotCache:
    """The process's one cache of decoded run snapshots, sized by the settings."""
    global _CACHE
    with _CACHE_LOCK:
        if _CACHE is None:
            _CACHE = SnapshotCache(settings.snapshot_cache)
        elif _CACHE.size != settings.snapshot_cache:
            _CACHE.resize(settings.snapshot_cache)
        return _CACHE


def run_snapshot(runs: Runs, run: dict[str, Any]) -> Snapshot:
    """A run's snapshot through the cache (key: store, run id, manifest hash);
    :class:`SnapshotUnavailable` when it cannot be used (nothing is cached then)."""
    key = (str(runs.store.root), run["id"], run.get("snapshot_sha256"))
    snap: Snapshot = snapshot_cache(runs.settings).get(key, lambda: runs.snapshot(run))
    return snap


def run_policy(run: dict[str, Any]) -> Policy:
    """The policy a run was computed with (kept on its Run record)."""
    data = json.loads(run["policy"])
    return policy_from_mapping(data, source=f"run {run['id']}")


def audit(
    gw: Gateway,
    caller: Caller,
    subject: str,
    action: str,
    run: str | None = None,
    *,
    detail: str | None = None,
    current_run: bool = False,
) -> dict[str, Any]:
    """Write the audit event of one lookup (who, whom, what, why, which run) and return
    it (its ``id``, the ``run`` it names); ``current_run=True``: the current run, found
    in the same statement (graph/audit.py ``record_lookup``)."""
    return record_lookup(
        gw,
        actor=caller.actor,
        subject=subject,
        action=action,
        reason=caller.reason,
        via=caller.via,
        run=run,
        detail=detail,
        current_run=current_run,
    )


def risk_of(row: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Intrinsic, network and total risk of a Score row, each in [0, 1] (S1); per
    domain also ``network_uncapped`` (equal to ``network`` since the strongest-path
    model; above it only in runs stored before, whose contributions summed to it)."""
    names = ("intrinsic", "network", "total") + (("network_uncapped",) if prefix else ())
    return {k: row[f"{prefix}_{k}" if prefix else k] for k in names}


def score_lookup(
    gw: Gateway,
    settings: Settings,
    subject_id: str,
    *,
    caller: Caller,
    run_id: str | None = None,
    top: int | None = None,
    action: str = "score",
    detail: str | None = None,
) -> dict[str, Any]:
    """Score, sub-scores, own records, contributions and history of one subject.

    Audited first (also when the subject or the run is not found, and when the run id
    is malformed: then ``detail`` starts ``refused:`` and says why): the event
    names the caller, the subject, the action and the run asked for, or when none
    was, the current run (found in the event's own statement), so the record names
    the run whose score was shown (``detail``: more of what was asked, such as a
    report with personal identifiers). The answer then reads the current run as
    ``Runs.get(None)`` does: the id on record comes from the database, and is not
    taken as a caller's run id (which must have the shape of one).
    """
    refused: BadRunId | None = None
    if run_id is not None:
        try:
            check_run_id(run_id)
        except BadRunId as exc:  # refused: the event says so and why
            refused = exc
            detail = f"refused: {exc.message}" + (f"; {detail}" if detail else "")
    audit(gw, caller, subject_id, action, run_id, detail=detail, current_run=run_id is None)
    if refused is not None:
        raise refused
    return _answer(gw, settings, subject_id, run_id=run_id, top=top)


def require_scores(run: dict[str, Any], settings: Settings, verb: str) -> None:
    """:class:`NotFound` naming the run when it keeps no scores: pruned (``run_pruned``)
    or not completed (``not_scored``); ``verb``: what the hint suggests (``ask``,
    ``export``) of the current run instead."""
    if run.get("pruned"):
        raise NotFound(
            f"run {run['id']} was pruned: its scores are no longer kept "
            f"(only the newest {settings.runs_kept} completed runs keep theirs)",
            code="run_pruned",
            field="run",
            hint=f"{verb} the current run, or raise CREDGRAPH_RUNS_KEPT for later runs",
        )
    if run.get("status") != "completed":
        raise NotFound(
            f"run {run['id']} is {run.get('status')}: it has no scores",
            code="not_scored",
            field="run",
            hint="`credgraph runs` lists the completed runs",
        )


def _answer(
    gw: Gateway, settings: Settings, subject_id: str, *, run_id: str | None, top: int | None
) -> dict[str, Any]:
    runs = Runs(gw, settings)
    run = runs.get(run_id)
    row = runs.score_row(run["id"], subject_id)
    if row is None:
        exists = gw.read("MATCH (s:Subject {id: $id}) RETURN s.id AS id", id=subject_id)
        if not exists:
            raise NotFound(f"no subject {subject_id!r}", field="subject")
        require_scores(run, settings, "ask")  # else it blamed the subject's load time
        raise NotFound(
            f"subject {subject_id!r} has no score in run {run['id']} (loaded after it?)",
            code="not_scored",
        )
    sc = upgrade_score_row(row)
    result: dict[str, Any] = {
        "subject": subject_id,
        "kind": sc["kind"],
        "trust_score": sc["trust_score"],
        "risk": risk_of(sc),
        "domains": {d: risk_of(sc, d) for d in DOMAINS},
        "centrality": {
            "pagerank": sc["pagerank"],
            "betweenness": sc["betweenness"],
            "kcore": sc["kcore"],
            "circle": sc["circle"] if sc["circle"] >= 0 else None,
        },
        "run": {"id": run["id"], "as_of": str(run["as_of"]), "policy_hash": run["policy_hash"]},
    }
    try:
        snap = run_snapshot(runs, run)
    except SnapshotUnavailable as exc:
        result["contributions"] = None
        result["records"] = None
        result["explanation_note"] = f"no explanation: {exc.message}"
        result["explanation_unavailable"] = exc.reason
    else:
        projection, scores = snap["projection"], snap["scores"]
        i = projection.subjects.index_of(subject_id)
        policy = run_policy(run)
        result["contributions"] = [
            c.to_dict() for c in explain(projection, policy, scores, i, top=top)
        ]
        for c in result["contributions"]:
            # the source's records whose date is not the input's own ("loaded", "partial")
            theirs = _date_basis(projection, projection.subjects.index_of(c["source_subject"]))
            named = set(c["records"])
            c["record_date_basis"] = {r: b for (_, r), b in theirs.items() if r in named}
        basis = _date_basis(projection, i)
        result["records"] = [
            {
                "id": r.id,
                "kind": r.kind,
                "label": r.label,
                "domain": r.domain,
                "date": r.date.isoformat() if r.date else None,
                # "loaded": the record had no date, it counts from the day it was loaded;
                # "partial": only a year or month, it counts from the period's first day
                "date_basis": basis.get((r.kind, r.id)) or "input",
                "severity": r.severity,
                "decay": r.decay,
                "effective": r.effective,
                "status": r.status,
            }
            for r in subject_records(projection, i)
        ]
    result["history"] = runs.score_history(subject_id)
    return result


def _date_basis(projection: Any, i: int) -> dict[tuple[str, str], str]:
    """``{(kind, id): basis}`` of subject ``i``'s records whose date is not the input's
    own (``loaded``); empty for projections saved before records carried it."""
    rec = projection.records
    basis = getattr(rec, "date_basis", None)
    if basis is None:
        return {}
    sl = rec.of_subject(i)
    return {
        (str(rec.kind[k]), str(rec.id[k])): str(basis[k])
        for k in range(sl.start, sl.stop)
        if basis[k] is not None
    }


def export_scores(
    gw: Gateway, settings: Settings, *, caller: Caller, run_id: str | None = None
) -> tuple[str, tuple[str, ...], Iterator[dict[str, Any]]]:
    """Every subject's scores of a run (default: the current one), for downstream systems.

    Audited first as one lookup of every subject (subject ``*``, action ``scores``).
    Returns the run id, the columns (:data:`EXPORT_COLUMNS`) and the rows in
    subject order.
    """
    runs = Runs(gw, settings)
    found = runs.get(run_id)
    run = found["id"]
    audit(gw, caller, "*", "scores", run)
    require_scores(found, settings, "export")  # was an empty export, code 0
    rows = runs.iter_score_rows(run)
    return run, EXPORT_COLUMNS, (export_row(r, run) for r in rows)


def top_reason(score: dict[str, Any]) -> str:
    """The one reason a summary gives for a low score: the subject's own strongest
    record when it weighs at least as much as the largest contribution, else that
    contribution (its domain, source, records and hops)."""
    recs = [r for r in score.get("records") or [] if r["effective"] > 0]
    contrib = (score.get("contributions") or [None])[0]
    if recs and (contrib is None or recs[0]["effective"] >= contrib["amount"]):
        return f"own {recs[0]['label']} {recs[0]['id']} ({recs[0]['domain']})"
    if contrib:
        return (
            f"{contrib['domain']} risk from {contrib['source_subject']} "
            f"({', '.join(contrib['records'][:2])}), {contrib['hops']} hop(s)"
        )
    return ""


def summary(
    gw: Gateway,
    settings: Settings,
    run_id: str,
    *,
    caller: Caller,
    lowest: int = 10,
    circles: int = 5,
) -> dict[str, Any]:
    """The lowest trust scores of a run with their top reason, and its largest
    guarantee circles. Audited as one lookup (subject ``*``, action ``summary``):
    it names subjects."""
    audit(gw, caller, "*", "summary", run_id)
    runs = Runs(gw, settings)
    low = []
    for row in runs.lowest(run_id, lowest):
        sc = _answer(gw, settings, row["id"], run_id=run_id, top=1)
        low.append(row | {"reason": top_reason(sc)})
    return {"run": run_id, "lowest": low, "circles": runs.circles(run_id, circles)}
