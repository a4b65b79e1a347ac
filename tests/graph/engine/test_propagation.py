"""Propagation against an independent reference that enumerates walks explicitly.

The reference (``reference_scores``) recomputes everything from the raw rows with
plain Python: edge weights from the formulas in docs/policy.md, parallel edges by
noisy-OR, intrinsic risk record by record, and the network risk by listing every
walk of 1..H links from every source, keeping the strongest per (source, subject)
(``a^(h-1) * prod(w)``, the subject never the source) and combining the sources
by noisy-OR. ``worlds()`` is the
hypothesis strategy of small random inputs shared by test_semantics and test_explain.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credgraph.graph.engine.policy import DOMAINS, Policy, load_policy, policy_from_mapping
from credgraph.graph.engine.projection import TransmissionGraph, build_projection
from credgraph.graph.engine.propagation import network_risk, propagate, strongest_paths
from credgraph.graph.errors import ConfigError

AS_OF = date(2024, 1, 1)
PAST = [date(2020, 6, 1), date(2023, 6, 1), date(2023, 12, 31)]
EDGE = date(2024, 1, 1)
FUTURE = date(2024, 6, 1)
ROLES = ("legal_representative", "director", "executive", "supervisor")
LOAN_STATUSES = ("performing", "overdue", "defaulted", "repaid", "written_off")
LISTS = ("court_dishonest_debtor", "tax_violation", "environmental", "sanctions", "other")

COLUMNS = {
    "persons": ["id", "name", "net_worth"],
    "firms": ["id", "name", "equity", "total_assets"],
    "ownership": ["owner_id", "firm_id", "share", "since", "until"],
    "roles": ["person_id", "firm_id", "role", "since", "until"],
    "loans": [
        "id",
        "lender_id",
        "borrower_id",
        "amount",
        "issued_on",
        "status",
        "status_on",
        "days_overdue",
        "disputed",
    ],
    "guarantees": ["id", "guarantor_id", "loan_id", "amount", "since", "until"],
    "blacklist": [
        "id",
        "subject_id",
        "list",
        "listed_on",
        "expires_on",
        "delisted_on",
        "severity",
        "disputed",
    ],
}
DATE_COLS = {
    "since",
    "until",
    "issued_on",
    "status_on",
    "listed_on",
    "expires_on",
    "delisted_on",
}


@dataclass
class World:
    """Raw input rows (lists of dicts), convertible to engine tables."""

    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def table(self, name: str) -> list[dict[str, Any]]:
        return self.rows.get(name, [])

    def with_rows(self, name: str, rows: list[dict[str, Any]]) -> World:
        return replace(self, rows={**self.rows, name: rows})

    @property
    def subject_ids(self) -> list[str]:
        return [r["id"] for r in self.table("persons")] + [r["id"] for r in self.table("firms")]

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {}
        for name, cols in COLUMNS.items():
            rows = self.table(name)
            df = pd.DataFrame({c: [r.get(c) for r in rows] for c in cols})
            for c in cols:
                if c in DATE_COLS:
                    df[c] = pd.to_datetime(df[c])
                elif c in ("net_worth", "equity", "total_assets", "share", "amount", "severity"):
                    df[c] = df[c].astype(float)
                elif c == "days_overdue":
                    df[c] = df[c].astype("Int64")
                elif c == "disputed":
                    df[c] = df[c].fillna(False).astype(bool)
                else:
                    df[c] = df[c].astype("str")
            out[name] = df
        return out


# ----------------------------------------------------------------------------- strategy

opt_date = st.sampled_from([None, *PAST, EDGE, FUTURE])


@st.composite
def worlds(draw: st.DrawFn, max_rows: int = 6) -> World:
    n_p = draw(st.integers(1, 4))
    n_f = draw(st.integers(1, 5))
    persons = [
        {"id": f"P{k}", "name": f"p{k}", "net_worth": draw(st.sampled_from([None, 0.0, 50.0, 1e3]))}
        for k in range(n_p)
    ]
    firms = [
        {
            "id": f"F{k}",
            "name": f"f{k}",
            "equity": draw(st.sampled_from([None, 0.0, 100.0, 500.0, 5e3])),
            "total_assets": 1e4,
        }
        for k in range(n_f)
    ]
    pids = [p["id"] for p in persons]
    fids = [f["id"] for f in firms]
    sids = pids + fids
    subj: st.SearchStrategy[str] = st.sampled_from(sids)
    ownership = [
        {
            "owner_id": draw(subj),
            "firm_id": draw(st.sampled_from(fids)),
            "share": draw(st.sampled_from([None, 0.1, 0.3, 0.5, 0.7, 1.0])),
            "since": draw(st.sampled_from([None, PAST[0], FUTURE])),
            "until": draw(st.sampled_from([None, None, PAST[1], EDGE])),
        }
        for _ in range(draw(st.integers(0, max_rows)))
    ]
    roles = [
        {
            "person_id": draw(st.sampled_from(pids)),
            "firm_id": draw(st.sampled_from(fids)),
            "role": draw(st.sampled_from(ROLES)),
            "since": draw(st.sampled_from([None, PAST[0], FUTURE])),
            "until": draw(st.sampled_from([None, None, PAST[1]])),
        }
        for _ in range(draw(st.integers(0, max_rows)))
    ]
    loans = [
        {
            "id": f"L{k}",
            "lender_id": draw(subj),
            "borrower_id": draw(subj),
            "amount": draw(st.sampled_from([None, 0.0, 10.0, 100.0, 1e4])),
            "issued_on": draw(st.sampled_from([*PAST[:2], FUTURE])),
            "status": draw(st.sampled_from(LOAN_STATUSES)),
            "status_on": draw(opt_date),
            "days_overdue": draw(st.sampled_from([None, 30, 400])),
            "disputed": draw(st.booleans()),
        }
        for k in range(draw(st.integers(0, max_rows)))
    ]
    loan_ids = [lo["id"] for lo in loans] + ["L-missing"]
    guarantees = [
        {
            "id": f"G{k}",
            "guarantor_id": draw(subj),
            "loan_id": draw(st.sampled_from(loan_ids)),
            "amount": draw(st.sampled_from([None, 10.0, 100.0, 1e4])),
            "since": draw(st.sampled_from([None, PAST[0], FUTURE])),
            "until": draw(st.sampled_from([None, None, PAST[1]])),
        }
        for k in range(draw(st.integers(0, max_rows)))
    ]
    blacklist = [blacklist_row(draw, k, subj) for k in range(draw(st.integers(0, max_rows)))]
    return World(
        {
            "persons": persons,
            "firms": firms,
            "ownership": ownership,
            "roles": roles,
            "loans": loans,
            "guarantees": guarantees,
            "blacklist": blacklist,
        }
    )


def blacklist_row(
    draw: Callable[[st.SearchStrategy[Any]], Any], k: int | str, subj: st.SearchStrategy[str]
) -> dict[str, Any]:
    return {
        "id": f"B{k}",
        "subject_id": draw(subj),
        "list": draw(st.sampled_from(LISTS)),
        "listed_on": draw(st.sampled_from([*PAST, EDGE, FUTURE])),
        "expires_on": draw(st.sampled_from([None, None, PAST[1], EDGE, FUTURE])),
        "delisted_on": draw(st.sampled_from([None, None, None, PAST[2], EDGE, FUTURE])),
        "severity": draw(st.sampled_from([None, None, 0.2, 0.9, 1.0])),
        "disputed": draw(st.booleans()),
    }


# ----------------------------------------------------------------------------- reference


def _active(r: dict[str, Any], as_of: date) -> bool:
    since, until = r.get("since"), r.get("until")
    return (since is None or since <= as_of) and (until is None or until >= as_of)


def _ratio(amount: float | None, cap: float | None, unknown: float) -> float:
    if amount is not None and amount <= 0:
        return 0.0
    if amount is None or cap is None:
        return unknown
    if cap <= 0:
        return 1.0
    return min(1.0, amount / cap)


def reference_edges(
    world: World, policy: Policy, as_of: date
) -> dict[str, dict[tuple[str, str], float]]:
    """Combined edge weight per domain and (src, dst), by the documented formulas."""
    cap: dict[str, float | None] = {}
    for p in world.table("persons"):
        cap.setdefault(p["id"], p["net_worth"])
    for f in world.table("firms"):
        cap.setdefault(f["id"], f["equity"])
    prop = policy.propagation
    raw: dict[str, list[tuple[str, str, float]]] = {d: [] for d in DOMAINS}

    def add(channel: str, s: str, t: str, base: float) -> None:
        for d in DOMAINS:
            w = policy.transmission.domain(d).weight(channel) * base
            if w > 0 and s != t and s in cap and t in cap:
                raw[d].append((s, t, w))

    loans: dict[str, dict[str, Any]] = {}
    for lo in world.table("loans"):
        loans.setdefault(lo["id"], lo)

    def exposed(lo: dict[str, Any]) -> bool:
        repaid = lo["status"] == "repaid" and (
            lo.get("status_on") is None or lo["status_on"] <= as_of
        )
        return lo["issued_on"] <= as_of and not repaid

    for lo in world.table("loans"):
        if exposed(lo) and lo["lender_id"] in cap:
            r = _ratio(lo.get("amount"), cap[lo["lender_id"]], prop.unknown_capacity_ratio)
            add("lending", lo["borrower_id"], lo["lender_id"], r)
    for g in world.table("guarantees"):
        gl = loans.get(g["loan_id"])
        if gl is None or not exposed(gl) or not _active(g, as_of) or g["guarantor_id"] not in cap:
            continue
        r = _ratio(g.get("amount"), cap[g["guarantor_id"]], prop.unknown_capacity_ratio)
        add("guarantee", gl["borrower_id"], g["guarantor_id"], r)
    for o in world.table("ownership"):
        if not _active(o, as_of):
            continue
        share = prop.unknown_share if o.get("share") is None else o["share"]
        add("ownership_to_owner", o["firm_id"], o["owner_id"], share)
        for d in DOMAINS:
            cw = policy.transmission.domain(d)
            w = cw.ownership_to_firm * share
            if share >= prop.control_threshold and cw.control_to_firm > 0:
                w = max(w, cw.control_to_firm)
            if w > 0 and o["owner_id"] != o["firm_id"]:
                raw[d].append((o["owner_id"], o["firm_id"], w))
    for ro in world.table("roles"):
        if _active(ro, as_of):
            add(f"{ro['role']}_to_firm", ro["person_id"], ro["firm_id"], 1.0)
            add(f"{ro['role']}_to_person", ro["firm_id"], ro["person_id"], 1.0)
    out: dict[str, dict[tuple[str, str], float]] = {}
    for d in DOMAINS:
        keep: dict[tuple[str, str], float] = defaultdict(lambda: 1.0)
        for s, t, w in raw[d]:
            keep[(s, t)] *= 1.0 - w
        out[d] = {k: 1.0 - v for k, v in keep.items()}
    return out


def reference_intrinsic(world: World, policy: Policy, as_of: date) -> dict[str, dict[str, float]]:
    """Per domain and subject: 1 - prod(1 - severity * decay) over active records."""
    ids = set(world.subject_ids)
    keep: dict[str, dict[str, float]] = {d: defaultdict(lambda: 1.0) for d in DOMAINS}
    for lo in world.table("loans"):
        lp = policy.loan_status.get(lo["status"])
        if lp is None or lo["borrower_id"] not in ids or lo.get("disputed"):
            continue
        d0 = lo.get("status_on") or lo["issued_on"]
        if d0 > as_of:
            continue
        sev = lp.severity
        if lp.max_severity is not None and lp.days_to_max is not None:
            frac = min(1.0, (lo.get("days_overdue") or 0) / lp.days_to_max)
            sev = lp.severity + (lp.max_severity - lp.severity) * frac
        hl = policy.half_life_days.loan
        decay = 1.0 if hl is None else 0.5 ** ((as_of - d0).days / hl)
        keep["credit"][lo["borrower_id"]] *= 1.0 - sev * decay
    for b in world.table("blacklist"):
        if b["subject_id"] not in ids or b.get("disputed"):
            continue
        if b["listed_on"] > as_of:
            continue
        if b.get("expires_on") is not None and b["expires_on"] < as_of:
            continue
        if b.get("delisted_on") is not None and b["delisted_on"] <= as_of:
            continue
        lip = policy.list_policy(b["list"])
        sev = lip.severity if b.get("severity") is None else b["severity"]
        hl = policy.half_life_for_list(b["list"])
        decay = 1.0 if hl is None else 0.5 ** ((as_of - b["listed_on"]).days / hl)
        keep[lip.domain][b["subject_id"]] *= 1.0 - sev * decay
    return {d: {s: 1.0 - v for s, v in keep[d].items()} for d in DOMAINS}


def reference_network(
    edges: dict[tuple[str, str], float], b: dict[str, float], hop_limit: int, damping: float
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """``n_i = 1 - prod_{s != i} (1 - b_s * max over walks s -> ... -> i of 1..H links
    of a^(h-1) prod(w))``, by explicit enumeration of every walk; also returns the
    per-(source, target) amounts ``b_s * max(...)``."""
    out_adj: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for (s, t), w in sorted(edges.items()):
        out_adj[s].append((t, w))
    strongest: dict[tuple[str, str], float] = defaultdict(float)

    def walk(src: str, node: str, h: int, prod: float) -> None:
        for t, w in out_adj[node]:
            p = prod * w
            if t != src:
                strongest[(src, t)] = max(strongest[(src, t)], damping**h * p)
            if h + 1 < hop_limit:
                walk(src, t, h + 1, p)

    for s, bs in sorted(b.items()):
        if bs > 0:
            walk(s, s, 0, 1.0)
    per_pair = {(s, t): b[s] * v for (s, t), v in strongest.items()}
    keep: dict[str, float] = defaultdict(lambda: 1.0)
    for (_, t), v in per_pair.items():
        keep[t] *= 1.0 - v
    n = {t: 1.0 - k for t, k in keep.items()}
    return n, per_pair


def reference_scores(world: World, policy: Policy, as_of: date) -> dict[str, Any]:
    edges = reference_edges(world, policy, as_of)
    b = reference_intrinsic(world, policy, as_of)
    prop = policy.propagation
    net = {}
    pairs = {}
    for d in DOMAINS:
        net[d], pairs[d] = reference_network(edges[d], b[d], prop.hop_limit, prop.damping)
    ids = world.subject_ids
    seen: set[str] = set()
    uniq = [s for s in ids if not (s in seen or seen.add(s))]  # type: ignore[func-returns-value]
    trust = {}
    for s in uniq:
        keep = 1.0
        for d in DOMAINS:
            keep *= (1.0 - b[d].get(s, 0.0)) * (1.0 - net[d].get(s, 0.0))
        trust[s] = 100.0 * keep
    return {"edges": edges, "b": b, "n": net, "pairs": pairs, "trust": trust, "ids": uniq}


def engine(world: World, policy: Policy | None = None, as_of: date = AS_OF) -> Any:
    pol = policy or load_policy()
    proj = build_projection(world.tables(), pol, as_of)
    return pol, proj, propagate(proj, pol)


def assert_matches_reference(world: World, policy: Policy) -> None:
    pol, proj, scores = engine(world, policy)
    ref = reference_scores(world, pol, AS_OF)
    ids = [str(x) for x in proj.subjects.ids]
    assert ids == ref["ids"]
    for d in DOMAINS:
        g = proj.graphs[d]
        got = {(ids[s], ids[t]): w for s, t, w in zip(g.src, g.dst, g.weight, strict=True)}
        assert got.keys() == ref["edges"][d].keys(), d
        for pair, w in got.items():
            assert w == pytest.approx(ref["edges"][d][pair], abs=1e-12), (d, pair)
        for k, s in enumerate(ids):
            assert scores.intrinsic[d][k] == pytest.approx(ref["b"][d].get(s, 0.0), abs=1e-12)
            assert scores.network[d][k] == pytest.approx(ref["n"][d].get(s, 0.0), abs=1e-9), (d, s)
    for k, s in enumerate(ids):
        assert scores.trust[k] == pytest.approx(ref["trust"][s], abs=1e-7)


# ----------------------------------------------------------------------------- tests


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
def test_engine_matches_reference_default_policy(world: World) -> None:
    assert_matches_reference(world, load_policy())


DENSE_POLICY = {
    "propagation": {"damping": 0.9, "hop_limit": 5},
    "transmission": {
        "credit": {"ownership_to_firm": 0.7, "director_to_person": 0.6, "director_to_firm": 0.8},
        "compliance": {"guarantee": 0.9, "lending": 0.5, "ownership_to_owner": 0.8},
    },
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(max_rows=8))
def test_engine_matches_reference_many_cycles(world: World) -> None:
    """Channels both ways in both domains: many cycles, mutual guarantees, long walks."""
    assert_matches_reference(world, policy_from_mapping(DENSE_POLICY))


def test_mutual_guarantee_own_risk_does_not_return() -> None:
    """A and B guarantee each other's loans; only A is adverse."""
    w = World(
        {
            "firms": [
                {"id": "A", "name": "a", "equity": 100.0, "total_assets": 1.0},
                {"id": "B", "name": "b", "equity": 100.0, "total_assets": 1.0},
                {"id": "X", "name": "bank", "equity": None, "total_assets": 1.0},
            ],
            "loans": [
                {"id": "LA", "lender_id": "X", "borrower_id": "A", "amount": 0.0,
                 "issued_on": PAST[0], "status": "performing", "status_on": None},
                {"id": "LB", "lender_id": "X", "borrower_id": "B", "amount": 0.0,
                 "issued_on": PAST[0], "status": "performing", "status_on": None},
            ],
            "guarantees": [
                {"id": "GA", "guarantor_id": "B", "loan_id": "LA", "amount": 50.0},
                {"id": "GB", "guarantor_id": "A", "loan_id": "LB", "amount": 80.0},
            ],
            "blacklist": [
                {"id": "BA", "subject_id": "A", "list": "court_dishonest_debtor",
                 "listed_on": PAST[2], "severity": 1.0},
            ],
        }
    )  # fmt: skip
    pol, proj, scores = engine(w)
    a, b_ = proj.subjects.index_of("A"), proj.subjects.index_of("B")
    assert scores.intrinsic["credit"][a] == 1.0
    assert scores.network["credit"][a] == 0.0  # its own risk never comes back
    # A -> B weighs 50 / 100 = 0.5 and B -> A 80 / 100 = 0.8. The strongest path from A
    # to B is the direct link (0.5); the walk A -> B -> A -> B (0.5 * 0.8 * 0.5 * 0.5^2
    # = 0.05) is weaker and the circle adds nothing: n_B = b_A * 0.5 = 0.5 (the walk
    # sum before 2026-11-30 gave 0.5 + 0.05 = 0.55).
    assert scores.network["credit"][b_] == pytest.approx(0.5, abs=1e-12)


def test_hop_limit_cuts_long_chains() -> None:
    """Chain F0 <- F1 <- ... (F_k owns F_{k+1} fully): credit flows up to owners."""
    firms = [{"id": f"F{k}", "name": "f", "equity": 1.0, "total_assets": 1.0} for k in range(7)]
    own = [{"owner_id": f"F{k}", "firm_id": f"F{k + 1}", "share": 1.0} for k in range(6)]
    bl = [{"id": "B", "subject_id": "F6", "list": "court_dishonest_debtor", "listed_on": PAST[2],
           "severity": 1.0}]  # fmt: skip
    w = World({"firms": firms, "ownership": own, "blacklist": bl})
    pol, proj, scores = engine(w)
    n = scores.network["credit"]
    d = pol.propagation.damping
    for k in range(6):
        hops = 6 - k
        expect = d ** (hops - 1) if hops <= pol.propagation.hop_limit else 0.0
        assert n[proj.subjects.index_of(f"F{k}")] == pytest.approx(expect)


def graph_of(dense: np.ndarray) -> TransmissionGraph:
    """A TransmissionGraph from a dense weight matrix (no relationships underneath)."""
    n = dense.shape[0]
    src, dst = np.nonzero(dense)
    src, dst = src.astype(np.int64), dst.astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    in_order = np.argsort(dst, kind="stable").astype(np.int64)
    in_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=in_indptr[1:])
    m = len(src)
    z8 = np.zeros(m, dtype=np.int8)
    return TransmissionGraph(
        domain="credit", n=n, indptr=indptr, src=src, dst=dst, weight=dense[src, dst],
        rel_ptr=np.arange(m + 1, dtype=np.int64), rel_channel=z8, rel_table=z8,
        rel_row=np.arange(m, dtype=np.int64), rel_weight=dense[src, dst],
        in_indptr=in_indptr, in_src=src[in_order], in_edge=in_order,
    )  # fmt: skip


def dense_strongest(dense: np.ndarray, hop: int, a: float) -> np.ndarray:
    """``P[s, i] = max_h a^(h-1) (W^h)[s, i]`` in the max-times semiring, diagonal 0."""
    n = dense.shape[0]
    power = dense.copy()
    best = dense.copy()
    for h in range(2, hop + 1):
        power = (power[:, :, None] * dense[None, :, :]).max(axis=1)  # max-times product
        best = np.maximum(best, a ** (h - 1) * power)
    best[np.arange(n), np.arange(n)] = 0.0
    return best


def test_strongest_paths_against_dense_max_times_powers() -> None:
    """Bellman-Ford with pruning against the max-times matrix powers, random dense graphs
    with cycles; and the network risk against its noisy-OR of the dense strengths."""
    rng = np.random.default_rng(7)
    for trial in range(30):
        n = int(rng.integers(2, 12))
        dense = (rng.random((n, n)) < 0.35) * rng.random((n, n))
        dense[rng.random((n, n)) < 0.1] = 1.0
        np.fill_diagonal(dense, 0.0)
        hop = int(rng.integers(1, 8))
        a = float(rng.uniform(0.2, 1.0))
        g = graph_of(dense)
        srcs = np.flatnonzero(rng.random(n) < 0.6)
        s_pos, subj, strength = strongest_paths(g, srcs, hop, a)
        got = np.zeros((n, n))
        got[srcs[s_pos], subj] = strength
        expect = dense_strongest(dense, hop, a)
        np.testing.assert_allclose(got[srcs], expect[srcs], rtol=1e-12, atol=0, err_msg=str(trial))
        b = rng.random(n) * (rng.random(n) < 0.5)
        want = 1.0 - np.prod(1.0 - b[:, None] * expect, axis=0)
        np.testing.assert_allclose(network_risk(g, b, hop, a), want, rtol=1e-12, atol=1e-15)


def test_policy_mismatch_is_refused() -> None:
    w = World({"persons": [{"id": "P", "name": "p", "net_worth": 1.0}]})
    pol = load_policy()
    proj = build_projection(w.tables(), pol, AS_OF)
    other = policy_from_mapping({"propagation": {"damping": 0.4}})
    with pytest.raises(ConfigError):
        propagate(proj, other)


def test_empty_input() -> None:
    pol = load_policy()
    proj = build_projection({}, pol, AS_OF)
    scores = propagate(proj, pol)
    assert proj.n_subjects == 0 and len(scores.trust) == 0


def test_domain_and_total_combination() -> None:
    firms = [{"id": "F", "name": "f", "equity": 1.0, "total_assets": 1.0}]
    bl = [
        {"id": "B1", "subject_id": "F", "list": "court_dishonest_debtor", "listed_on": PAST[2],
         "severity": 0.5},
        {"id": "B2", "subject_id": "F", "list": "tax_violation", "listed_on": PAST[2],
         "severity": 0.4},
    ]  # fmt: skip
    _, _, scores = engine(World({"firms": firms, "blacklist": bl}))
    assert scores.domain["credit"][0] == pytest.approx(0.5)
    assert scores.domain["compliance"][0] == pytest.approx(0.4)
    assert scores.total[0] == pytest.approx(1 - 0.5 * 0.6)
    assert scores.trust[0] == pytest.approx(30.0)
    assert math.isclose(scores.intrinsic_total[0], 0.7)


def test_strongest_paths_on_a_long_chain_into_a_cycle() -> None:
    """0 -> 1 -> ... -> 19 -> 20 <-> 21, every link 0.5, H = 4, damping 0.5."""
    n = 22
    dense = np.zeros((n, n))
    for k in range(20):
        dense[k, k + 1] = 0.5
    dense[20, 21] = dense[21, 20] = 0.5
    g = graph_of(dense)
    s_pos, subj, strength = strongest_paths(g, np.array([0, 20, 18]), 4, 0.5)
    got = {(int(s), int(t)): float(v) for s, t, v in zip(s_pos, subj, strength, strict=True)}
    # from 0: 1 hop 0.5, 2 hops 0.5 * 0.25, 3 hops 0.25 * 0.125, 4 hops 0.125 * 0.0625
    assert got == pytest.approx(
        {(0, 1): 0.5, (0, 2): 0.125, (0, 3): 0.03125, (0, 4): 0.0078125,
         (1, 21): 0.5,  # 20 -> 21; 20 is never reached from itself
         (2, 19): 0.5, (2, 20): 0.125, (2, 21): 0.03125}
    )  # fmt: skip
