"""The ``(:Load)`` records as the writers see them: which loads did not finish.

A load writes ``(:Load {id, outcome, started_at, ended_at, ...})`` with
``outcome`` one of ``running``, ``completed``, ``completed_with_rejects``,
``refused`` (strict, nothing written), ``failed`` (stopped by an error: earlier
batches are stored) and ``interrupted`` (killed, or stopped by a signal, before it
could record an end). Loads and propagation runs take turns under the writer
lease (graph/lease.py), so a load still marked ``running`` when another writer
holds the lease is dead: :func:`mark_interrupted` records it as such.

:func:`unfinished_load` is what a propagation run asks before it scores: a
load that wrote or may have written something and did not complete, unless a
later load of the same input completed (the same ``path`` or the same
``source``: loads are idempotent, so loading the input again completes it). A
completed load of some other input does not: the first input is still half in
the graph. ``refused`` (``--strict``) loads wrote nothing and never count.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from credgraph.graph.errors import Conflict
from credgraph.graph.gateway import Gateway

UNFINISHED = ("running", "failed", "interrupted")
"""Outcomes of a load that may have left the graph half-loaded."""

COMPLETED = ("completed", "completed_with_rejects")
"""Outcomes of a load that wrote all it was given (a run counts them as it starts)."""


class UnfinishedLoad(Conflict):
    """The newest load did not complete: scoring now would score a half-loaded graph.

    ``load`` is that load's record (``id``, ``outcome``, ``source``, ``path``,
    ``started_at``). Each edge words the way out (complete the load by loading the
    input again, or override on purpose)."""

    code = "unfinished_load"

    def __init__(self, load: dict[str, Any]) -> None:
        what = {"running": "is still running", "interrupted": "was interrupted"}.get(
            load["outcome"], load["outcome"]
        )
        super().__init__(
            f"load {load['id']} (source {load.get('source')!r}, started "
            f"{load.get('started_at')}) {what} (outcome {load['outcome']}): the graph may "
            "hold part of that input, so propagation is refused until a load of that input "
            "completes",
        )
        self.load = load


def mark_interrupted(gw: Gateway, holder: str) -> list[str]:
    """Mark every load still ``running`` but ``holder`` (the caller, which holds the
    writer lease) as ``interrupted``; returns their ids. Call it only under the lease."""
    rows = gw.write(
        "MATCH (l:Load {outcome: 'running'}) WHERE l.id <> $holder "
        "SET l.outcome = 'interrupted', l.interrupted_at = $now, "
        "l.note = 'found running by ' + $holder + ', which held the writer lease' "
        "RETURN l.id AS id ORDER BY id",
        holder=holder,
        now=datetime.now(UTC),
    )
    return [r["id"] for r in rows]


def unfinished_load(gw: Gateway) -> dict[str, Any] | None:
    """The newest load whose outcome is one of :data:`UNFINISHED` and that no later
    load of the same input (same ``path`` or same ``source``) completed; else None."""
    rows = gw.read(
        "MATCH (l:Load) WHERE l.outcome IN $unfinished "
        "AND NOT EXISTS { MATCH (c:Load) WHERE c.outcome IN $completed "
        "  AND (c.path = l.path OR c.source = l.source) "
        "  AND CASE WHEN c.num IS NOT NULL AND l.num IS NOT NULL THEN c.num > l.num "
        "      ELSE c.started_at > l.started_at END } "
        "RETURN l.id AS id, l.outcome AS outcome, l.source AS source, l.path AS path, "
        "toString(l.started_at) AS started_at "
        "ORDER BY l.started_at DESC, l.id DESC LIMIT 1",
        unfinished=list(UNFINISHED),
        completed=list(COMPLETED),
    )
    return rows[0] if rows else None
