"""The audit log for admins over HTTP: newest events first, a page at a time, each
with the role of the API key that asked (joined from its ``(:ApiKey)``; CLI events
have no role)."""

from __future__ import annotations

from typing import Any

from credgraph.graph.gateway import Gateway
from credgraph.services.apikeys import require_role
from credgraph.services.caller import Caller
from credgraph.services.paging import next_offset


def audit_log(
    gw: Gateway,
    *,
    caller: Caller,
    subject: str | None = None,
    actor: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> dict[str, Any]:
    """A page of audit events (admins only), optionally of one subject or one actor."""
    require_role(caller, "admin")
    rows = gw.read(
        "MATCH (e:AuditEvent) "
        "WHERE ($subject IS NULL OR e.subject = $subject) "
        "AND ($actor IS NULL OR e.actor = $actor) "
        "WITH e ORDER BY e.at DESC, e.id SKIP $offset LIMIT $want "
        "OPTIONAL MATCH (k:ApiKey {id: e.actor}) WHERE e.via = 'api' "
        "RETURN e.id AS id, toString(e.at) AS at, e.actor AS actor, k.role AS role, "
        "e.subject AS subject, e.action AS action, e.reason AS reason, e.via AS via, "
        "e.run AS run, e.detail AS detail",
        subject=subject,
        actor=actor,
        offset=offset,
        want=limit + 1,
    )
    return {
        "items": rows[:limit],
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset(offset, limit, len(rows) > limit),
    }
