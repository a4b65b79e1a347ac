"""What investigators ask of a run: one subject's score with its explanation, all scores,
stress tests and disputes. Shared by the CLI and the API; reads through the gateway.
"""

from __future__ import annotations

import json
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from graph.engine.debtrank import debtrank, impact_matrix, relative_value
from graph.engine.explain import explain, subject_records
from graph.errors import InputError, NotFound, UsageError
from graph.export import export_tables
from graph.exposure import exposures
from graph.gateway import Gateway
from graph.projection import build_projection
from graph.runs import Runs, load_artefact
from graph.scoring_policy import DOMAINS, Policy, load_policy, policy_from_mapping
from graph.settings import Settings

_ARTEFACTS: OrderedDict[str, dict[str, Any]] = OrderedDict()


def artefact(settings: Settings, run_id: str) -> dict[str, Any] | None:
    """A run's projection and scores, kept in memory for the last two runs asked for."""
    if run_id in _ARTEFACTS:
        _ARTEFACTS.move_to_end(run_id)
        return _ARTEFACTS[run_id]
    data = load_artefact(settings, run_id)
    if data is not None:
        _ARTEFACTS[run_id] = data
        while len(_ARTEFACTS) > 2:
            _ARTEFACTS.popitem(last=False)
    return data


def run_policy(run: dict[str, Any]) -> Policy:
    data = json.loads(run["policy"])
    return policy_from_mapping(data, source=f"run {run['id']}")


def upgrade_score_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Score row as this version reports it (S1: every risk in [0, 1]).

    Runs stored before ``<d>_network_uncapped`` existed held the uncapped walk
    sum under ``<d>_network``: it moves to ``<d>_network_uncapped`` and
    ``<d>_network`` becomes it capped at 1. Current rows come back unchanged.
    """
    out = dict(row)
    for d in DOMAINS:
        net = out.get(f"{d}_network")
        if out.get(f"{d}_network_uncapped") is None and net is not None:
            out[f"{d}_network_uncapped"] = net
            out[f"{d}_network"] = min(1.0, net)
    return out


def _risk(row: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Intrinsic, network and total risk of a Score row, each in [0, 1] (S1); per
    domain also ``network_uncapped``, the sum the contributions add up to (S5)."""
    names = ("intrinsic", "network", "total") + (("network_uncapped",) if prefix else ())
    return {k: row[f"{prefix}_{k}" if prefix else k] for k in names}


def subject_score(
    gw: Gateway,
    settings: Settings,
    subject_id: str,
    *,
    run_id: str | None = None,
    top: int | None = None,
) -> dict[str, Any]:
    """Score, sub-scores, own records, contributions and history of one subject."""
    runs = Runs(gw, settings)
    run = runs.get(run_id)
    rows = gw.read(
        "MATCH (sc:Score {run: $run, subject: $id}) RETURN properties(sc) AS sc",
        run=run["id"],
        id=subject_id,
    )
    if not rows:
        exists = gw.read("MATCH (s:Subject {id: $id}) RETURN s.id AS id", id=subject_id)
        if not exists:
            raise NotFound(f"no subject {subject_id!r}")
        raise NotFound(
            f"subject {subject_id!r} has no score in run {run['id']} (loaded after it?)",
            hint="run `credgraph propagate`",
        )
    sc = upgrade_score_row(rows[0]["sc"])
    result: dict[str, Any] = {
        "subject": subject_id,
        "kind": sc["kind"],
        "trust_score": sc["trust_score"],
        "risk": _risk(sc),
        "domains": {d: _risk(sc, d) for d in DOMAINS},
        "centrality": {
            "pagerank": sc["pagerank"],
            "betweenness": sc["betweenness"],
            "kcore": sc["kcore"],
            "circle": sc["circle"] if sc["circle"] >= 0 else None,
        },
        "run": {"id": run["id"], "as_of": str(run["as_of"]), "policy_hash": run["policy_hash"]},
    }
    data = artefact(settings, run["id"])
    if data is None:
        result["contributions"] = None
        result["records"] = None
        result["explanation_note"] = (
            f"the saved projection of run {run['id']} is not on this machine "
            f"({settings.home / 'runs'}); rerun `credgraph propagate` here to explain scores"
        )
    else:
        projection, scores = data["projection"], data["scores"]
        i = projection.subjects.index_of(subject_id)
        policy = run_policy(run)
        result["contributions"] = [
            c.to_dict() for c in explain(projection, policy, scores, i, top=top)
        ]
        result["records"] = [
            {
                "id": r.id,
                "kind": r.kind,
                "label": r.label,
                "domain": r.domain,
                "date": r.date.isoformat() if r.date else None,
                "severity": r.severity,
                "decay": r.decay,
                "effective": r.effective,
                "status": r.status,
            }
            for r in subject_records(projection, i)
        ]
    result["history"] = gw.read(
        "MATCH (sc:Score {subject: $id}) MATCH (r:Run {id: sc.run}) "
        "RETURN r.id AS run, toString(r.as_of) AS as_of, sc.trust_score AS trust_score, "
        "r.current AS current ORDER BY r.started_at DESC",
        id=subject_id,
    )
    return result


SCORE_COLUMNS = [
    "subject",
    "kind",
    "trust_score",
    "intrinsic",
    "network",
    "total",
    *[f"{d}_{k}" for d in DOMAINS for k in ("intrinsic", "network", "total")],
    "pagerank",
    "betweenness",
    "kcore",
    "circle",
    # added 2026-11-26, last so that readers of the earlier columns by position still work
    *[f"{d}_network_uncapped" for d in DOMAINS],
]


def iter_scores(gw: Gateway, run_id: str) -> Iterator[dict[str, Any]]:
    """Every score row of a run, streamed, ordered by subject id."""
    rows: list[dict[str, Any]] = gw.read_stream(
        "MATCH (sc:Score {run: $run}) RETURN properties(sc) AS sc ORDER BY sc.subject",
        lambda recs: [r["sc"] for r in recs],
        run=run_id,
    )
    for r in rows:
        r = upgrade_score_row(r)
        out = {"id": r["subject"]}
        out.update({k: r.get(k) for k in SCORE_COLUMNS if k != "subject"})
        out["run"] = run_id
        yield out


def lowest(gw: Gateway, run_id: str, n: int = 10) -> list[dict[str, Any]]:
    return gw.read(
        "MATCH (sc:Score {run: $run}) MATCH (s:Subject {id: sc.subject}) "
        "RETURN sc.subject AS id, s.name AS name, sc.trust_score AS trust_score "
        "ORDER BY sc.trust_score ASC, sc.subject LIMIT $n",
        run=run_id,
        n=n,
    )


def circles(gw: Gateway, run_id: str, n: int = 5) -> list[dict[str, Any]]:
    return gw.read(
        "MATCH (c:GuaranteeCircle {run: $run}) RETURN c.number AS number, c.size AS size, "
        "c.amount_inside AS amount_inside, c.members AS members "
        "ORDER BY c.size DESC, c.amount_inside DESC LIMIT $n",
        run=run_id,
        n=n,
    )


# ----------------------------------------------------------------------------- stress
def parse_shocks(items: list[str]) -> dict[str, float]:
    """``ID`` or ``ID=FRACTION`` (fraction in (0, 1], default 1) -> {id: fraction}."""
    shocks: dict[str, float] = {}
    for item in items:
        sid, _, frac = item.partition("=")
        sid = sid.strip()
        if not sid:
            raise UsageError(f"--shock {item!r}: missing subject id")
        try:
            value = float(frac) if frac else 1.0
        except ValueError as exc:
            raise UsageError(f"--shock {item!r}: fraction must be a number in (0, 1]") from exc
        if not 0.0 < value <= 1.0:
            raise UsageError(f"--shock {item!r}: fraction must be in (0, 1], not {value}")
        shocks[sid] = value
    if not shocks:
        raise UsageError("give at least one --shock ID[=FRACTION]")
    return shocks


def stress(gw: Gateway, shocks: dict[str, float], as_of: date | None = None) -> dict[str, Any]:
    """DebtRank (Battiston et al. 2012) for the shocks, on the graph as it is; writes nothing.

    Impact ``W[i][j] = min(1, exposure of i to j / equity of i)``: a lender is
    exposed to its borrower by the outstanding amount, a guarantor to the
    borrower by the guaranteed amount (graph/exposure.py). Equity is a firm's
    ``equity``; persons carry none and, like firms without equity, are not
    impacted: those among the exposed creditors are listed as ``unassessed``.
    """
    as_of = as_of or date.today()
    tables = export_tables(gw)
    projection = build_projection(tables, load_policy(None), as_of)
    subjects = projection.subjects
    missing = [s for s in shocks if s not in subjects.index]
    if missing:
        raise NotFound(f"no subject {missing[0]!r} to shock")
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
    return {
        "debtrank": float(res.debtrank),
        "initial_shock": float(res.initial_shock),
        "shocks": shocks,
        "defaults": [str(ids[i]) for i in res.defaults.tolist()],
        "distress": {str(ids[i]): float(res.h[i]) for i in hit.tolist()},
        "unassessed": sorted(str(ids[i]) for i in unassessed.tolist()),
        "iterations": int(res.iterations),
        "as_of": as_of.isoformat(),
        "subjects": n,
    }


# ----------------------------------------------------------------------------- disputes
_FIND_RECORD = (
    "OPTIONAL MATCH (l:Loan {id: $id}) OPTIONAL MATCH (b:BlacklistEntry {id: $id}) "
    "RETURN l IS NOT NULL AS loan, b IS NOT NULL AS entry, "
    "coalesce(l.disputed, b.disputed, false) AS disputed"
)


def dispute(
    gw: Gateway, record_id: str, *, reason: str | None, resolve: bool, actor: str
) -> dict[str, Any]:
    """Mark a loan or blacklist entry disputed (left out of scoring) or resolve it; audited.

    Takes effect at the next propagation run. Each action leaves a
    ``(:Dispute {id, record, action, reason, actor, at})-[:ABOUT]->(record)``.
    """
    if not resolve and not (reason and reason.strip()):
        raise UsageError("a dispute needs --reason TEXT (or --resolve to close one)")
    found = gw.read(_FIND_RECORD, id=record_id)[0]
    if not found["loan"] and not found["entry"]:
        raise NotFound(f"no loan or blacklist entry {record_id!r}")
    if resolve and not found["disputed"]:
        raise InputError(f"record {record_id!r} is not disputed")
    if not resolve and found["disputed"]:
        raise InputError(f"record {record_id!r} is already disputed")
    at = datetime.now(UTC)
    event: dict[str, Any] = {
        "id": f"dispute-{uuid.uuid4().hex[:12]}",
        "record": record_id,
        "action": "resolved" if resolve else "opened",
        "reason": reason,
        "actor": actor,
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
