"""The score semantics S1-S9 of the product contract, as hypothesis properties
(S10 is a property of the generated market at 100k subjects: benchmarks/propagate.py
prints it), and hand-worked examples of the network model."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credgraph.graph.engine.explain import explain, subject_records
from credgraph.graph.engine.pipeline import compute, score_rows
from credgraph.graph.engine.policy import DOMAINS, Policy, load_policy, policy_from_mapping
from credgraph.graph.engine.projection import Projection, build_projection
from credgraph.graph.engine.propagation import Scores, propagate
from credgraph.loaders.generate import generate
from credgraph.loaders.tables import tables_from_folder
from tests.graph.engine.test_propagation import (
    AS_OF,
    DENSE_POLICY,
    LISTS,
    PAST,
    World,
    blacklist_row,
    engine,
    worlds,
)

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
POLICIES = st.sampled_from([None, DENSE_POLICY])
TOL = 1e-9


def _policy(spec: dict[str, Any] | None) -> Policy:
    return load_policy() if spec is None else policy_from_mapping(spec)


def _trust(world: World, pol: Policy) -> dict[str, float]:
    _, proj, scores = engine(world, pol)
    return {str(s): float(t) for s, t in zip(proj.subjects.ids, scores.trust, strict=True)}


# ----------------------------------------------------------------------------- S1


@SETTINGS
@given(worlds(), POLICIES)
def test_s1_bounded(world: World, spec: dict[str, Any] | None) -> None:
    """Every risk component a run reports (a Score row) is in [0, 1], trust in [0, 100].

    Since 2026-11-30 nothing is capped (S9): ``<d>_network_uncapped`` is kept for
    readers of the row schema and equals ``<d>_network``.
    """
    pol = _policy(spec)
    projection, scores, cent = compute(world.tables(), pol, AS_OF, {})
    rows = list(score_rows(projection, scores, cent))
    assert len(rows) == projection.n_subjects
    risk = ["intrinsic", "network", "total"]
    risk += [f"{d}_{k}" for d in DOMAINS for k in ("intrinsic", "network", "total")]
    for row in rows:
        assert 0 <= row["trust_score"] <= 100
        for k in risk:
            assert 0 <= row[k] <= 1, (k, row[k])
        for d in DOMAINS:
            assert row[f"{d}_network_uncapped"] == row[f"{d}_network"]


def test_s9_five_sanctioned_minority_owners() -> None:
    """Five sanctioned owners of 30% each (no control): each passes 1.0 * 0.3 = 0.3;
    noisy-OR gives 1 - 0.7^5 = 0.83193 (the walk sum gave 1.5, capped at 1)."""
    owners = [f"O{k}" for k in range(5)]
    firms = [{"id": f, "name": "f", "equity": 1.0, "total_assets": 1.0} for f in [*owners, "F"]]
    own = [{"owner_id": o, "firm_id": "F", "share": 0.3} for o in owners]
    bl = [
        {"id": f"S{k}", "subject_id": o, "list": "sanctions", "listed_on": PAST[0]}
        for k, o in enumerate(owners)
    ]
    pol = load_policy()
    world = World({"firms": firms, "ownership": own, "blacklist": bl})
    projection, scores, cent = compute(world.tables(), pol, AS_OF, {})
    i = projection.subjects.index_of("F")
    assert scores.network["compliance"][i] == pytest.approx(1 - 0.7**5, abs=1e-12)
    row = list(score_rows(projection, scores, cent))[i]
    assert row["subject"] == "F"
    assert row["compliance_network"] == row["compliance_network_uncapped"]
    assert row["compliance_network"] == pytest.approx(0.83193, abs=1e-12)
    amounts = [c.amount for c in explain(projection, pol, scores, i)]
    assert amounts == pytest.approx([0.3] * 5)
    assert 1 - np.prod([1 - a for a in amounts]) == pytest.approx(0.83193, abs=1e-12)


# ----------------------------------------------------------------------------- S2


@SETTINGS
@given(worlds(), POLICIES, st.data())
def test_s2_adding_a_blacklist_entry_never_raises_trust(
    world: World, spec: dict[str, Any] | None, data: st.DataObject
) -> None:
    pol = _policy(spec)
    before = _trust(world, pol)
    row = blacklist_row(data.draw, "new", st.sampled_from(world.subject_ids))
    after = _trust(world.with_rows("blacklist", [*world.table("blacklist"), row]), pol)
    assert all(after[s] <= before[s] + TOL for s in before)


@SETTINGS
@given(worlds(), POLICIES, st.data())
def test_s2_adding_an_adverse_loan_never_raises_trust(
    world: World, spec: dict[str, Any] | None, data: st.DataObject
) -> None:
    pol = _policy(spec)
    before = _trust(world, pol)
    subj = st.sampled_from(world.subject_ids)
    row = {
        "id": "L-new",
        "lender_id": data.draw(subj),
        "borrower_id": data.draw(subj),
        "amount": data.draw(st.sampled_from([None, 10.0, 1e4])),
        "issued_on": PAST[0],
        "status": data.draw(st.sampled_from(["overdue", "defaulted", "written_off"])),
        "status_on": data.draw(st.sampled_from([None, *PAST])),
        "days_overdue": data.draw(st.sampled_from([None, 10, 500])),
        "disputed": False,
    }
    after = _trust(world.with_rows("loans", [*world.table("loans"), row]), pol)
    assert all(after[s] <= before[s] + TOL for s in before)


# The S2 property for expiring, delisting and disputing lives in
# test_semantics_processes.py: its strategy always ends an active record (the one
# that stood here returned early, checking nothing, on worlds without records).


# ----------------------------------------------------------------------------- S3


def _digraph(proj: Projection, d: str) -> nx.DiGraph:
    g = proj.graphs[d]
    dg = nx.DiGraph()
    dg.add_nodes_from(range(proj.n_subjects))
    dg.add_edges_from(zip(g.src.tolist(), g.dst.tolist(), strict=True))
    return dg


@SETTINGS
@given(worlds(), POLICIES)
def test_s3_local_no_path_no_network_risk(world: World, spec: dict[str, Any] | None) -> None:
    _, proj, s = engine(world, _policy(spec))
    for d in DOMAINS:
        dg = _digraph(proj, d)
        sources = np.flatnonzero(s.intrinsic[d] > 0)
        for i in range(proj.n_subjects):
            reached = any(src != i and nx.has_path(dg, src, i) for src in sources)
            if not reached:
                assert s.network[d][i] == 0.0


# ----------------------------------------------------------------------------- S4


@settings(max_examples=30, deadline=None)
@given(
    length=st.integers(2, 9),
    share=st.floats(0.05, 1.0),
    damping=st.floats(0.05, 1.0),
    hop_limit=st.integers(1, 10),
)
def test_s4_attenuating_along_a_chain(
    length: int, share: float, damping: float, hop_limit: int
) -> None:
    """F0 (sanctioned) owns F1 owns F2 ... with equal shares: compliance flows down."""
    firms = [
        {"id": f"F{k}", "name": "f", "equity": 1.0, "total_assets": 1.0} for k in range(length)
    ]
    own = [{"owner_id": f"F{k}", "firm_id": f"F{k + 1}", "share": share} for k in range(length - 1)]
    bl = [{"id": "S", "subject_id": "F0", "list": "sanctions", "listed_on": PAST[0]}]
    pol = policy_from_mapping({"propagation": {"damping": damping, "hop_limit": hop_limit}})
    _, proj, s = engine(World({"firms": firms, "ownership": own, "blacklist": bl}), pol)
    passed = []
    for k in range(1, length):
        i = proj.subjects.index_of(f"F{k}")
        contrib = [c.amount for c in explain(proj, pol, s, i) if c.source_subject == "F0"]
        passed.append(sum(contrib))
        assert s.network["compliance"][i] == pytest.approx(sum(contrib), abs=1e-12)  # one source
    assert all(b <= a + 1e-15 for a, b in zip(passed, passed[1:], strict=False))
    assert all(p == 0.0 for p in passed[hop_limit:])


# ----------------------------------------------------------------------------- S5


def check_explanations(proj: Projection, pol: Policy, s: Scores) -> None:
    """S5 for every subject: the noisy-OR rule, real paths, real records; and S8 for
    every contribution (at most its source's own risk in the domain)."""
    ids = [str(x) for x in proj.subjects.ids]
    rec = proj.records
    for i in range(proj.n_subjects):
        contribs = explain(proj, pol, s, i)
        amounts = [c.amount for c in contribs]
        assert amounts == sorted(amounts, reverse=True)
        for d_code, d in enumerate(DOMAINS):
            keep = np.prod([1.0 - c.amount for c in contribs if c.domain == d])
            assert 1.0 - keep == pytest.approx(s.network[d][i], abs=1e-9)
            g = proj.graphs[d]
            for c in (c for c in contribs if c.domain == d):
                assert c.amount > 0
                assert c.source_subject != ids[i]
                src_b = s.intrinsic[d][proj.subjects.index_of(c.source_subject)]
                assert c.amount <= src_b + 1e-15  # S8
                assert c.amount == pytest.approx(src_b * c.strength, rel=1e-12)
                assert c.path[0] == c.source_subject and c.path[-1] == ids[i]
                subjects = [x for x in c.path[0::2] if isinstance(x, str)]
                links = [x for x in c.path[1::2] if isinstance(x, dict)]
                assert len(subjects) + len(links) == len(c.path)
                assert len(set(subjects)) == len(subjects)  # simple path
                assert 1 <= c.hops == len(links) <= pol.propagation.hop_limit
                for a, b, link in zip(subjects, subjects[1:], links, strict=False):
                    e = g.edge(proj.subjects.index_of(a), proj.subjects.index_of(b))
                    assert e >= 0, (a, b)
                    assert link["weight"] == g.weight[e]
                    real = {
                        proj.relationship_id(int(g.rel_table[k]), int(g.rel_row[k]))
                        for k in range(g.rel_ptr[e], g.rel_ptr[e + 1])
                    }
                    assert {r["id"] for r in link["relationships"]} == real
                src = proj.subjects.index_of(c.source_subject)
                active = {
                    str(rec.id[k])
                    for k in range(rec.subject_ptr[src], rec.subject_ptr[src + 1])
                    if rec.domain[k] == d_code and rec.effective[k] > 0
                }
                assert c.records and set(c.records) == active


@SETTINGS
@given(worlds(), POLICIES)
def test_s5_explained(world: World, spec: dict[str, Any] | None) -> None:
    pol, proj, s = engine(world, _policy(spec))
    check_explanations(proj, pol, s)


# ----------------------------------------------------------------------------- S6


def _without_inactive(world: World, proj: Projection) -> World:
    """Blacklist rows that are not active dropped; non-active adverse loans made
    performing (the loan itself, an exposure, stays)."""
    status = {(str(k), str(i)): str(st_) for k, i, st_ in zip(
        proj.records.kind, proj.records.id, proj.records.status, strict=True)}  # fmt: skip
    bl = [r for r in world.table("blacklist") if status.get(("blacklist", r["id"])) == "active"]
    loans = []
    for r in world.table("loans"):
        st_ = status.get(("loan", r["id"]))
        loans.append(r if st_ in (None, "active") else {**r, "status": "performing"})
    return world.with_rows("blacklist", bl).with_rows("loans", loans)


@SETTINGS
@given(worlds(), POLICIES)
def test_s6_inactive_records_contribute_nothing_and_are_shown(
    world: World, spec: dict[str, Any] | None
) -> None:
    pol, proj, s = engine(world, _policy(spec))
    rec = proj.records
    inactive = rec.status != "active"
    assert np.all(rec.effective[inactive] == 0.0)
    inactive_ids = set()
    for k in np.flatnonzero(inactive):
        views = subject_records(proj, int(rec.subject[k]))
        shown = {(v.kind, v.id): v for v in views}
        v = shown[(str(rec.kind[k]), str(rec.id[k]))]
        assert v.status == rec.status[k] and v.effective == 0.0
        inactive_ids.add(str(rec.id[k]))
    for i in range(proj.n_subjects):
        for c in explain(proj, pol, s, i):
            assert not set(c.records) & inactive_ids
    _, _, s2 = engine(_without_inactive(world, proj), pol)
    np.testing.assert_allclose(s.trust, s2.trust, rtol=0, atol=1e-12)


def test_s6_statuses_by_hand() -> None:
    sub = [{"id": "P", "name": "p", "net_worth": 1.0}]
    bl = [
        {"id": "active", "subject_id": "P", "list": "tax_violation", "listed_on": PAST[0],
         "expires_on": AS_OF},
        {"id": "expired", "subject_id": "P", "list": "tax_violation", "listed_on": PAST[0],
         "expires_on": date(2023, 12, 31)},
        {"id": "delisted", "subject_id": "P", "list": "sanctions", "listed_on": PAST[0],
         "delisted_on": AS_OF},
        {"id": "disputed", "subject_id": "P", "list": "sanctions", "listed_on": PAST[0],
         "disputed": True},
        {"id": "future", "subject_id": "P", "list": "sanctions", "listed_on": date(2024, 1, 2)},
    ]  # fmt: skip
    _, proj, s = engine(World({"persons": sub, "blacklist": bl}))
    views = {v.id: v for v in subject_records(proj, 0)}
    assert {k: v.status for k, v in views.items()} == {
        "active": "active",
        "expired": "expired",
        "delisted": "delisted",
        "disputed": "disputed",
        "future": "not_yet_listed",
    }
    assert s.intrinsic["compliance"][0] == pytest.approx(0.5)
    assert s.intrinsic["credit"][0] == 0.0


# ----------------------------------------------------------------------------- S7


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), POLICIES)
def test_s7_deterministic(world: World, spec: dict[str, Any] | None) -> None:
    pol = _policy(spec)
    _, p1, s1 = engine(world, pol)
    _, p2, s2 = engine(world, pol)
    assert s1.as_of == s2.as_of == AS_OF
    for name in ("total", "trust", "intrinsic_total", "network_total"):
        assert np.array_equal(getattr(s1, name), getattr(s2, name))
    for d in DOMAINS:
        for name in ("intrinsic", "network", "domain"):
            assert np.array_equal(getattr(s1, name)[d], getattr(s2, name)[d])
        assert np.array_equal(p1.graphs[d].weight, p2.graphs[d].weight)
    for i in range(p1.n_subjects):
        assert [c.to_dict() for c in explain(p1, pol, s1, i)] == [
            c.to_dict() for c in explain(p2, pol, s2, i)
        ]


def _by_subject(p: Projection, s: Scores, pol: Policy) -> dict[str, Any]:
    """Every score and explanation of a run, keyed by subject id (not by index)."""
    out: dict[str, Any] = {}
    for i, sid in enumerate(p.subjects.ids):
        values = [s.total[i], s.trust[i], s.intrinsic_total[i], s.network_total[i]]
        for d in DOMAINS:
            values += [s.intrinsic[d][i], s.network[d][i], s.domain[d][i]]
        out[str(sid)] = (values, [c.to_dict() for c in explain(p, pol, s, i)])
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), POLICIES, st.randoms(use_true_random=False))
def test_s7_the_order_of_the_rows_changes_no_bit(
    world: World, spec: dict[str, Any] | None, rnd: Any
) -> None:
    """The same graph with its rows in another order (a load in another order, a
    database export in another order) gives the same bits and the same explanations,
    ties included: subjects and rows are put in a canonical order first."""
    pol = _policy(spec)
    shuffled = world
    for name in world.rows:
        rows = list(world.table(name))
        rnd.shuffle(rows)
        shuffled = shuffled.with_rows(name, rows)
    _, p1, s1 = engine(world, pol)
    _, p2, s2 = engine(shuffled, pol)
    assert _by_subject(p1, s1, pol) == _by_subject(p2, s2, pol)


def test_s7_a_shuffled_market_changes_no_bit(tmp_path: Path) -> None:
    """The generated market, every table shuffled: the same bits for every subject
    (the sums over many sources are where the order of the rows once showed)."""
    generate(tmp_path, 1500, 5, "csv")
    tables = tables_from_folder(tmp_path)
    shuffled = {
        k: v.sample(frac=1.0, random_state=7).reset_index(drop=True) for k, v in tables.items()
    }
    pol = load_policy()
    runs = []
    for t in (tables, shuffled):
        p = build_projection(t, pol, AS_OF)
        runs.append(_by_subject(p, propagate(p, pol), pol))
    assert runs[0] == runs[1]
    assert sum(1 for values, _ in runs[0].values() if values[3] > 0) > 100  # risk did spread


def test_s7_as_of_is_what_decay_depends_on() -> None:
    sub = [{"id": "P", "name": "p", "net_worth": 1.0}]
    loans = [{"id": "L", "lender_id": "P", "borrower_id": "P", "amount": 1.0,
              "issued_on": date(2020, 1, 1), "status": "defaulted", "status_on": date(2022, 1, 1)}]  # fmt: skip
    w = World({"persons": sub, "loans": loans})
    a = engine(w, as_of=date(2024, 1, 1))[2].trust
    b = engine(w, as_of=date(2024, 1, 1))[2].trust
    c = engine(w, as_of=date(2026, 1, 1))[2].trust
    assert np.array_equal(a, b) and c[0] > a[0]


def test_lists_strategy_covers_unknown_list() -> None:
    assert "other" in LISTS and load_policy().list_policy("other").severity == 0.5


def test_s2_a_second_record_never_raises_trust_to_the_last_bit() -> None:
    """A subject with one record of severity ``x`` (0.001 .. 0.999) gets a second, tiny
    one (1e-18), and a firm it is legal representative of gets a second source with a
    tiny risk: neither trust may rise, not even by a bit. The noisy-OR's log1p/expm1
    round trip used to return less than ``x`` for some ``x`` (0.409: trust
    59.099999999999994 -> 59.10000000000001)."""
    sevs = [k / 1000 for k in range(1, 1000)]
    persons, firms, roles, bl = [], [], [], []
    for k, sev in enumerate(sevs):
        persons += [{"id": f"P{k}", "name": "p"}, {"id": f"Q{k}", "name": "q"}]
        firms.append({"id": f"F{k}", "name": "f"})
        roles.append({"person_id": f"P{k}", "firm_id": f"F{k}", "role": "legal_representative"})
        bl.append(
            {"id": f"A{k}", "subject_id": f"P{k}", "list": "tax_violation",
             "listed_on": PAST[0], "severity": sev}
        )  # fmt: skip
    before = World({"persons": persons, "firms": firms, "roles": roles, "blacklist": bl})
    tiny = [
        {"id": f"Z{k}", "subject_id": s, "list": "tax_violation", "listed_on": PAST[0],
         "severity": 1e-18}
        for k in range(len(sevs)) for s in (f"P{k}", f"Q{k}")
    ]  # fmt: skip
    roles_q = [
        {"person_id": f"Q{k}", "firm_id": f"F{k}", "role": "legal_representative"}
        for k in range(len(sevs))
    ]
    after = World(
        {"persons": persons, "firms": firms, "roles": roles + roles_q, "blacklist": bl + tiny}
    )
    t0, t1 = _trust(before, load_policy()), _trust(after, load_policy())
    rose = {sid: (t0[sid], t1[sid]) for sid in t0 if t1[sid] > t0[sid]}
    assert rose == {}
