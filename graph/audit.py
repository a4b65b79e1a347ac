"""The audit log of subject lookups: who looked up whom, when and why (PRODUCT.md, 6).

Every lookup of one subject's score writes one ``(:AuditEvent)`` node before the
answer is shown; if the event cannot be written, the lookup fails (an unaudited
answer is not given). Events are never updated or deleted by credgraph.

``(:AuditEvent {id, at, actor, subject, action, reason, via, run})``: ``at`` is
the server's time, ``actor`` who asked (the login name on the CLI), ``via``
where from (``cli``), ``action`` what was looked up (``score``; ``scores`` for an
export of every subject's score, with ``subject`` ``*``), ``reason`` the
why the caller gave (may be absent: the CLI asks for it but does not require
it), ``run`` the run whose score was shown, ``detail`` the parameters of a named query
or the text of ad-hoc Cypher (``action`` ``query:NAME``, ``cypher``; services/queries.py)
and ``report`` for a subject report. Disputes are audited on their own
``(:Dispute)`` nodes (graph/scoring.py).
"""

from __future__ import annotations

import uuid
from typing import Any, LiteralString

from credgraph.graph.gateway import Gateway

# One event; ``current`` is the run to record when the caller names none.
_EVENT: LiteralString = (
    "CREATE (e:AuditEvent {id: $id, at: datetime(), actor: $actor, subject: $subject, "
    "action: $action, reason: $reason, via: $via, run: coalesce($run, current), "
    "detail: $detail}) RETURN e.id AS id, toString(e.at) AS at, e.run AS run"
)
_IN_GIVEN_RUN: LiteralString = "WITH null AS current " + _EVENT
_IN_CURRENT_RUN: LiteralString = (
    "OPTIONAL MATCH (r:Run {current: true}) WITH r.id AS current LIMIT 1 " + _EVENT
)


def record_lookup(
    gw: Gateway,
    *,
    actor: str,
    subject: str,
    action: str,
    reason: str | None,
    via: str,
    run: str | None = None,
    detail: str | None = None,
    current_run: bool = False,
) -> dict[str, Any]:
    """Write one audit event and return it (``id``, ``at`` as ISO text, ``run``, the rest).

    ``detail`` says more of what was asked where the action alone does not: the
    parameters of a named query, the text of ad-hoc Cypher (absent otherwise).
    ``current_run=True`` (with no ``run``): the same statement finds the current run
    and records it (None before the first run), so the event names the run the answer
    then uses, and a lookup spends one round trip on both (read afresh every time:
    nothing to go stale).
    """
    rows = gw.write(
        _IN_CURRENT_RUN if current_run else _IN_GIVEN_RUN,
        id=f"audit-{uuid.uuid4().hex}",
        actor=actor,
        subject=subject,
        action=action,
        reason=reason.strip() if reason and reason.strip() else None,
        via=via,
        run=run,
        detail=detail,
    )
    return rows[0] | {"actor": actor, "subject": subject, "action": action, "via": via}


def record_shown(gw: Gateway, event_ids: list[str], detail: str) -> None:
    """Replace the ``detail`` of the events ``event_ids`` once the answer is known: what
    was asked and whom the answer showed (``shown``). The events were written before
    the answer was read, so a lookup that fails half-way is on the record all the same."""
    gw.write(
        "UNWIND $ids AS id MATCH (e:AuditEvent {id: id}) SET e.detail = $detail",
        ids=event_ids,
        detail=detail,
    )


def audit_events(
    gw: Gateway, *, subject: str | None = None, actor: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """The newest audit events first, optionally of one subject or one actor."""
    return gw.read(
        "MATCH (e:AuditEvent) "
        "WHERE ($subject IS NULL OR e.subject = $subject) "
        "AND ($actor IS NULL OR e.actor = $actor) "
        "RETURN e.id AS id, toString(e.at) AS at, e.actor AS actor, e.subject AS subject, "
        "e.action AS action, e.reason AS reason, e.via AS via, e.run AS run, "
        "e.detail AS detail "
        "ORDER BY e.at DESC, e.id LIMIT $limit",
        subject=subject,
        actor=actor,
        limit=limit,
    )
