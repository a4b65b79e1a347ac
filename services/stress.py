"""The DebtRank stress test as a use case: shocks in, distress out, nothing written.

By default a stress test looks at the graph the way the current run scored it:
with that run's policy (kept on its ``(:Run)`` record) and as of its date. An
explicit as-of date or policy wins; with no completed run, the shipped policy
and today. The answer says which policy hash and as-of date it used, and where
each came from (``option``, ``run`` or ``default``).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np

from credgraph.graph.engine.debtrank import debtrank, impact_matrix, relative_value
from credgraph.graph.engine.exposure import exposures
from credgraph.graph.engine.policy import Policy, load_policy
from credgraph.graph.engine.projection import build_projection
from credgraph.graph.errors import NotFound, UsageError
from credgraph.graph.export import export_tables
from credgraph.graph.gateway import Gateway
from credgraph.graph.runs import Runs
from credgraph.services.caller import Caller
from credgraph.services.scores import audit, run_policy


def parse_shocks(items: list[str]) -> dict[str, float]:
    """``ID`` or ``ID=FRACTION`` (fraction in (0, 1], default 1) -> {id: fraction}.

    Errors name the field ``shock``; each edge words its own hint.
    """
    shocks: dict[str, float] = {}
    for item in items:
        sid, _, frac = item.partition("=")
        sid = sid.strip()
        if not sid:
            raise UsageError(f"shock {item!r}: missing subject id", field="shock")
        try:
            value = float(frac) if frac else 1.0
        except ValueError as exc:
            raise UsageError(
                f"shock {item!r}: fraction must be a number in (0, 1]", field="shock"
            ) from exc
        if not 0.0 < value <= 1.0:
            raise UsageError(
                f"shock {item!r}: fraction must be in (0, 1], not {value}", field="shock"
            )
        if sid in shocks:  # which one was meant? never the last one quietly
            raise UsageError(
                f"shock {item!r}: subject {sid!r} is shocked twice (give it once)",
                field="shock",
            )
        shocks[sid] = value
    if not shocks:
        raise UsageError("give at least one shock ID[=FRACTION]", field="shock")
    return shocks


def stress_basis(
    gw: Gateway, as_of: date | None = None, policy: Policy | None = None
) -> tuple[date, Policy, dict[str, Any]]:
    """The as-of date and policy of a stress test and where they came from: each
    given one wins, else the current run's, else today and the shipped policy."""
    run = Runs(gw, gw.settings).current()
    basis: dict[str, Any] = {"run": run["id"] if run else None}
    if as_of is not None:
        basis["as_of_from"] = "option"
    elif run is not None:
        as_of = date.fromisoformat(str(run["as_of"]))
        basis["as_of_from"] = "run"
    else:
        as_of = date.today()
        basis["as_of_from"] = "default"
    if policy is not None:
        basis["policy_from"] = "option"
    elif run is not None:
        policy = run_policy(run)
        basis["policy_from"] = "run"
    else:
        policy = load_policy(None)
        basis["policy_from"] = "default"
    return as_of, policy, basis


def stress(
    gw: Gateway,
    shocks: dict[str, float],
    as_of: date | None = None,
    policy: Policy | None = None,
    *,
    caller: Caller | None = None,
) -> dict[str, Any]:
    """DebtRank (Battiston et al. 2012) for the shocks, on the graph as it is; writes
    nothing to the graph but, given a ``caller``, the audit log (principle 6: the answer
    names subjects and their distress): one ``stress`` event per shocked subject, its
    detail the shocks and the subjects shown (``distress`` and ``defaults``), written
    before the answer is returned; a shock of an unknown subject is audited too.

    As of ``as_of`` under ``policy``; each defaults to the current run's, then to
    today and the shipped policy (:func:`stress_basis`).

    Impact ``W[i][j] = min(1, exposure of i to j / equity of i)``: a lender is
    exposed to its borrower by the outstanding amount, a guarantor to the
    borrower by the guaranteed amount (graph/engine/exposure.py). Equity is a
    firm's ``equity``; persons carry none and, like firms without equity, are
    not impacted: those among the exposed creditors are listed as ``unassessed``.
    """
    as_of, policy, basis = stress_basis(gw, as_of, policy)
    tables = export_tables(gw)
    projection = build_projection(tables, policy, as_of)
    subjects = projection.subjects
    missing = [s for s in shocks if s not in subjects.index]
    if missing:
        if caller is not None:
            _audit(gw, caller, shocks, f"refused: no subject {missing[0]!r} to shock; ")
        raise NotFound(f"no subject {missing[0]!r} to shock", field="shock")
    exp = exposures(tables, subjects, as_of)
    n = len(subjects)
    equity = subjects.equity
    w = impact_matrix(n, exp.creditor, exp.debtor, exp.amount, equity)
    res = debtrank(
        w,
        {subjects.index_of(s): f for s, f in shocks.items()},
        relative_value(subjects.total_assets),
        equity=equity,
    )
    ids = subjects.ids
    exposed = np.unique(exp.creditor)
    no_equity = ~(np.isfinite(equity) & (equity > 0))
    unassessed = exposed[no_equity[exposed]]
    hit = np.flatnonzero(res.h > 0)
    if caller is not None:
        shown = [str(ids[i]) for i in hit[np.argsort(-res.h[hit], kind="stable")].tolist()]
        _audit(gw, caller, shocks, "", shown)
    return {
        "debtrank": float(res.debtrank),
        "initial_shock": float(res.initial_shock),
        "shocks": shocks,
        "defaults": [str(ids[i]) for i in res.defaults.tolist()],
        "distress": {str(ids[i]): float(res.h[i]) for i in hit.tolist()},
        "unassessed": sorted(str(ids[i]) for i in unassessed.tolist()),
        "iterations": int(res.iterations),
        "as_of": as_of.isoformat(),
        "policy_hash": policy.hash,
        "basis": basis,
        "subjects": n,
    }


def _audit(
    gw: Gateway,
    caller: Caller,
    shocks: dict[str, float],
    refused: str,
    shown: list[str] | None = None,
) -> None:
    """One ``stress`` event per shocked subject; the detail holds the shocks and the
    subjects the answer shows, most distressed first (the first 100 of them, and how
    many there were)."""
    shown = shown or []
    detail = refused + json.dumps(
        {"shocks": shocks, "shown": shown[:100], "shown_total": len(shown)}
    )
    for subject in shocks:
        audit(gw, caller, subject, "stress", detail=detail)
