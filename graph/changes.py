"""What a scheduler asks the store around a propagation run.

- :func:`changes_since_current`: did anything happen since the current run
  started that its scores do not reflect (a load completed, a dispute opened or
  resolved, another policy, another as-of day)? Loads and runs take turns under
  the writer lease, so a load that ended after the run started came after it; a
  dispute does not take the lease, so one made while the run exported counts as
  new (at worst one run too many, never one too few).
- :func:`settle_abandoned`: a run this process gave up while the database was
  away stays ``running`` and its lease held; once the database is back, mark it
  ``failed`` with its reason and free the lease if it is still the holder.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from credgraph.graph.gateway import Gateway
from credgraph.graph.lease import release_abandoned
from credgraph.graph.loads import COMPLETED


def changes_since_current(
    gw: Gateway, *, policy_hash: str | None = None, as_of: date | None = None
) -> list[str]:
    """Why the current run is out of date, one reason per kind (empty: it is not).

    Loads: a run counts the completed loads as it is created (``seen_loads``), so
    more of them now means a new one. A run without that count (recorded before
    runs kept it) is compared by time: loads record their end to the second, so one
    that ended in the second the run started counts as new (a run too many, not too
    few).
    """
    cur = gw.read(
        "MATCH (r:Run {current: true}) RETURN r.id AS id, r.started_at AS started_at, "
        "r.policy_hash AS policy_hash, r.as_of AS as_of, r.seen_loads AS seen_loads"
    )
    if not cur:
        return ["no completed run yet"]
    run = cur[0]
    found = gw.read(
        "CALL () { MATCH (l:Load) WHERE l.outcome IN $outcomes "
        "RETURN count(l) AS loads, "
        "count(CASE WHEN coalesce(l.ended_at, l.started_at) >= "
        "datetime.truncate('second', $since) THEN 1 END) AS loads_after } "
        "CALL () { MATCH (d:Dispute) WHERE d.at >= $since RETURN count(d) AS disputes } "
        "RETURN loads, loads_after, disputes",
        outcomes=list(COMPLETED),
        since=run["started_at"],
    )[0]
    if run["seen_loads"] is not None:
        loads = found["loads"] - run["seen_loads"]
    else:
        loads = found["loads_after"]
    reasons = []
    if loads > 0:
        reasons.append(f"{loads} load(s) completed since")
    if found["disputes"]:
        reasons.append(f"{found['disputes']} dispute action(s) since")
    if policy_hash is not None and run["policy_hash"] != policy_hash:
        reasons.append("another policy")
    if as_of is not None and run["as_of"] is not None and run["as_of"].to_native() != as_of:
        reasons.append(f"as of {as_of.isoformat()}, the current run is as of {run['as_of']}")
    return reasons


def settle_abandoned(gw: Gateway, run_id: str, reason: str) -> bool:
    """Mark ``run_id`` failed with ``reason`` if it is still ``running`` and free the
    writer lease if it still holds it; whether the run was marked. Its partial
    scores go with the next completed run's pruning."""

    # Not fenced: the writer settles its own run after it lost the database (and
    # with it, maybe, the lease); it only ever ends a run that is still running.
    rows = gw.write(
        "MATCH (r:Run {id: $id}) WHERE r.status = 'running' "
        "SET r.status = 'failed', r.error = $error, r.ended_at = $now "
        "RETURN r.id AS id",
        fenced=False,
        id=run_id,
        error=reason[:2000],
        now=datetime.now(UTC),
    )
    release_abandoned(gw, run_id)  # frees it only if run_id still holds it
    return bool(rows)


def current_run(gw: Gateway) -> dict[str, Any] | None:
    """The current run's id, start, end and subjects, or None."""
    rows = gw.read(
        "MATCH (r:Run {current: true}) RETURN r.id AS id, r.started_at AS started_at, "
        "r.ended_at AS ended_at, r.subjects AS subjects"
    )
    return rows[0] if rows else None


def run_status(gw: Gateway, run_id: str) -> str | None:
    rows = gw.read("MATCH (r:Run {id: $id}) RETURN r.status AS s", id=run_id)
    return rows[0]["s"] if rows else None
