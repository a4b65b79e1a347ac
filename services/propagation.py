"""A propagation run as a use case: the policy and as-of date, then the run."""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from credgraph.graph.engine.policy import load_policy
from credgraph.graph.errors import UsageError
from credgraph.graph.gateway import open_gateway
from credgraph.graph.runs import RunResult, Runs
from credgraph.graph.settings import Settings


def parse_day(value: str | date | None, field: str = "as_of") -> date:
    """An ISO date (``YYYY-MM-DD``), today when absent; a usage error naming ``field``."""
    if value is None:
        return date.today()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise UsageError(
            f"{field} must be an ISO date (YYYY-MM-DD), not {value!r}", field=field
        ) from exc


def propagate(
    settings: Settings,
    *,
    policy_file: Path | None = None,
    as_of: str | date | None = None,
    on_phase: Callable[[str, str], None] | None = None,
    allow_unfinished_load: bool = False,
    actor: str | None = None,
    tags: Mapping[str, Any] | None = None,
) -> RunResult:
    """One propagation run with the policy (default: the shipped one) as of a date
    (default: today); the run becomes current when it completes.

    Refused (code ``unfinished_load``) while the newest load did not complete;
    ``allow_unfinished_load`` scores the graph as it is and records the load and
    ``actor`` (default: the login name) on the run. ``tags`` go on the run's
    record as it is created (``trigger`` says who started it: ``cli``,
    ``scheduler``); ``on_phase(name, run_id)`` is called as each phase begins.
    """
    policy = load_policy(policy_file)
    day = parse_day(as_of)
    who = (actor or getpass.getuser()) if allow_unfinished_load else None
    with open_gateway(settings) as gw:
        return Runs(gw, settings).run(
            policy,
            day,
            on_phase=on_phase,
            allow_unfinished_load=allow_unfinished_load,
            actor=who,
            tags=tags,
        )


def run_summary(res: RunResult) -> dict[str, object]:
    """What a run reports when it ends (the CLI's --json, the scheduler's log)."""
    return {
        "run": res.run_id,
        "as_of": res.as_of.isoformat(),
        "policy_hash": res.policy_hash,
        "counts": res.counts,
        "timings": {k: round(v, 3) for k, v in res.timings.items()},
        "subjects": res.projection.n_subjects if res.projection else 0,
        "circles": len(res.centrality.circles) if res.centrality else 0,
        "snapshot_sha256": res.snapshot_sha256,
        "interrupted_loads": res.interrupted_loads,
        "unfinished_load": res.unfinished_load,
        "unnamed_lists": res.unnamed_lists,
    }
