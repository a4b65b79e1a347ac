"""Disputes (PRODUCT.md, principle 5): a disputed record is left out of scoring until
resolved; opening and resolving are audited on ``(:Dispute)`` nodes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from credgraph.graph.errors import Conflict, NotFound, UsageError
from credgraph.graph.gateway import Gateway
from credgraph.services.caller import Caller

_FIND_RECORD = (
    "OPTIONAL MATCH (l:Loan {id: $id}) OPTIONAL MATCH (b:BlacklistEntry {id: $id}) "
    "RETURN l IS NOT NULL AS loan, b IS NOT NULL AS entry, "
    "coalesce(l.disputed, b.disputed, false) AS disputed"
)


def check_request(reason: str | None, resolve: bool) -> str | None:
    """The reason of a dispute request, stripped; opening one needs a reason (field
    ``reason``), resolving one does not. Edges call it before they connect."""
    text = reason.strip() if reason and reason.strip() else None
    if not resolve and text is None:
        raise UsageError("a dispute needs a reason", field="reason")
    return text


def dispute(
    gw: Gateway, record_id: str, *, reason: str | None, resolve: bool, caller: Caller
) -> dict[str, Any]:
    """Mark a loan or blacklist entry disputed (left out of scoring) or resolve it.

    Opening a dispute needs a reason (field ``reason``). Takes effect at the next
    propagation run. Each action leaves a
    ``(:Dispute {id, record, action, reason, actor, via, at})-[:ABOUT]->(record)``.
    """
    reason = check_request(reason, resolve)
    found = gw.read(_FIND_RECORD, id=record_id)[0]
    if not found["loan"] and not found["entry"]:
        raise NotFound(f"no loan or blacklist entry {record_id!r}", field="record")
    if found["loan"] and found["entry"]:
        # loans and blacklist entries have their own id spaces: one dispute must not
        # mark both (it failed on the Dispute id constraint, a raw database error)
        raise Conflict(
            f"record {record_id!r} is both a loan and a blacklist entry: "
            "a dispute cannot tell which one it is about",
            code="ambiguous_record",
            field="record",
            hint="a loan and a blacklist entry need distinct ids to be disputed",
        )
    if resolve and not found["disputed"]:
        raise Conflict(f"record {record_id!r} is not disputed", code="not_disputed")
    if not resolve and found["disputed"]:
        raise Conflict(f"record {record_id!r} is already disputed", code="already_disputed")
    at = datetime.now(UTC)
    event: dict[str, Any] = {
        "id": f"dispute-{uuid.uuid4().hex[:12]}",
        "record": record_id,
        "action": "resolved" if resolve else "opened",
        "reason": reason,
        "actor": caller.actor,
        "via": caller.via,
        "at": at,
    }
    gw.write(
        "CALL { OPTIONAL MATCH (l:Loan {id: $rec}) RETURN l AS r UNION "
        "OPTIONAL MATCH (b:BlacklistEntry {id: $rec}) RETURN b AS r } "
        "WITH r WHERE r IS NOT NULL "
        "SET r.disputed = $disputed "
        "CREATE (d:Dispute) SET d = $event CREATE (d)-[:ABOUT]->(r)",
        rec=record_id,
        disputed=not resolve,
        event=event,
    )
    return event | {"at": at.isoformat(timespec="seconds")}
