"""Run history for the HTTP API: a page of runs for every role, a run's details
(policy, counts, timings, error) for admins only (PRODUCT.md: admins read run details)."""

from __future__ import annotations

import json
from typing import Any

from credgraph.graph.errors import NotFound
from credgraph.graph.gateway import Gateway
from credgraph.services.apikeys import require_role
from credgraph.services.caller import Caller
from credgraph.services.paging import next_offset
from credgraph.services.subjects import plain

SUMMARY = ("id", "status", "current", "as_of", "started_at", "ended_at", "policy_hash")


def _summary(props: dict[str, Any]) -> dict[str, Any]:
    out = {k: plain(props.get(k)) for k in SUMMARY}
    out["current"] = bool(out["current"])
    out["subjects"] = props.get("subjects")
    return out


def list_runs(gw: Gateway, *, limit: int = 20, offset: int = 0) -> dict[str, Any]:
    """One page of runs, newest first (``next_offset`` None on the last page)."""
    rows = gw.read(
        "MATCH (r:Run) WITH r ORDER BY r.started_at DESC, r.id SKIP $offset LIMIT $want "
        "RETURN properties(r) AS r",
        offset=offset,
        want=limit + 1,
    )
    return {
        "items": [_summary(r["r"]) for r in rows[:limit]],
        "limit": limit,
        "offset": offset,
        "next_offset": next_offset(offset, limit, len(rows) > limit),
    }


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def run_detail(gw: Gateway, run_id: str, *, caller: Caller) -> dict[str, Any]:
    """One run with its policy, counts, timings and error (admins)."""
    require_role(caller, "admin")
    rows = gw.read("MATCH (r:Run {id: $id}) RETURN properties(r) AS r", id=run_id)
    if not rows:
        raise NotFound(f"no run {run_id!r}", code="no_such_run", field="run")
    props = rows[0]["r"]
    return _summary(props) | {
        "circles": props.get("circles"),
        "counts": _json(props.get("counts")),
        "timings": _json(props.get("timings")),
        "policy": _json(props.get("policy")),
        "error": props.get("error"),
    }
