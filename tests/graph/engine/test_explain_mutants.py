"""Explanation outcomes that surviving mutants of graph/engine/explain.py changed unseen
(``make mutate``, docs/testing.md): the records listed for a subject that is not the
first with records, their order, the fewer-hops rule on ties, the cycle cut of a
reconstructed walk, and the exact keys of the JSON forms. Expected values are worked
out by hand in the comments."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from credgraph.graph.engine.explain import (
    Contribution,
    RecordView,
    _contributions,
    _cut_cycles,
    _Layer,
    _walks,
    _with_cycle,
    explain,
    subject_records,
)
from credgraph.graph.engine.policy import Policy, policy_from_mapping
from credgraph.graph.engine.projection import Projection
from credgraph.graph.engine.propagation import Scores
from credgraph.graph.errors import ConfigError
from tests.graph.engine.test_propagation import PAST, World, engine


def _records_world() -> World:
    """A has one record; B has five, with effects worked out by hand (as of 2024-01-01):

    B1 court list, severity 0.3, active, no decay (blacklists do not decay): 0.3
    B2 court list, severity 0.6: 0.6
    B3 court list, severity 0.9, expired 2023-06-01: 0 (status expired)
    B4 court list, severity 0.2, delisted 2023-06-01: 0 (status delisted)
    LB defaulted loan of K to B, severity 0.8, status_on 2022-01-02 (729 days before
       2024-01-01; 2024 is a leap year, 2023 is not: 365 + 364 = 729), half-life 730:
       decay 0.5 ** (729 / 730)
    """
    firms = [
        {"id": x, "name": x.lower(), "equity": 100.0, "total_assets": 1.0} for x in ("A", "B", "K")
    ]
    court = "court_dishonest_debtor"
    bl = [
        {"id": "BA", "subject_id": "A", "list": court, "listed_on": PAST[2], "severity": 1.0},
        {"id": "B1", "subject_id": "B", "list": court, "listed_on": PAST[2], "severity": 0.3},
        {"id": "B2", "subject_id": "B", "list": court, "listed_on": PAST[2], "severity": 0.6},
        {"id": "B3", "subject_id": "B", "list": court, "listed_on": PAST[0],
         "expires_on": PAST[1], "severity": 0.9},
        {"id": "B4", "subject_id": "B", "list": court, "listed_on": PAST[0],
         "delisted_on": PAST[1], "severity": 0.2},
    ]  # fmt: skip
    loans = [
        {"id": "LB", "lender_id": "K", "borrower_id": "B", "amount": 10.0,
         "issued_on": PAST[0], "status": "defaulted", "status_on": date(2022, 1, 2)},
    ]  # fmt: skip
    return World({"firms": firms, "blacklist": bl, "loans": loans})


def test_subject_records_lists_only_the_subjects_own_records_largest_effect_first() -> None:
    _, proj, _ = engine(_records_world())
    ix = proj.subjects.index_of
    assert [r.id for r in subject_records(proj, ix("A"))] == ["BA"]
    assert [r.id for r in subject_records(proj, ix("K"))] == []
    got = subject_records(proj, ix("B"))
    # by effect, largest first: B2 0.6, LB 0.8 * 0.5**(729/730) ~ 0.4004, B1 0.3; then the
    # two at 0 by status (delisted before expired), not by id (B3 before B4)
    assert [r.id for r in got] == ["B2", "LB", "B1", "B4", "B3"]
    by_id = {r.id: r for r in got}
    decay = 0.5 ** (729 / 730)
    lb = by_id["LB"]
    assert (lb.kind, lb.label, lb.domain, lb.status) == ("loan", "defaulted", "credit", "active")
    assert lb.severity == pytest.approx(0.8)
    assert lb.decay == pytest.approx(decay, rel=1e-12)
    assert lb.effective == pytest.approx(0.8 * decay, rel=1e-12)
    assert lb.date == date(2022, 1, 2)
    b3 = by_id["B3"]
    assert (b3.severity, b3.decay, b3.effective, b3.status) == (0.9, 1.0, 0.0, "expired")
    assert by_id["B4"].status == "delisted"
    assert isinstance(lb.severity, float) and isinstance(lb.decay, float)


def _owned_firms(
    owns: list[tuple[str, str, float]], damping: float
) -> tuple[Policy, Projection, Scores]:
    """Firms that own one another (owner, firm, share) and a blacklist entry X of S
    (severity 1.0), scored with ``damping``: credit flows from a firm to its owner
    with weight = share."""
    names = sorted({x for owner, firm, _ in owns for x in (owner, firm)})
    firms = [{"id": x, "name": x, "equity": 1.0, "total_assets": 1.0} for x in names]
    own = [{"owner_id": o, "firm_id": f, "share": share} for o, f, share in owns]
    bl = [{"id": "X", "subject_id": "S", "list": "court_dishonest_debtor",
           "listed_on": PAST[2], "severity": 1.0}]  # fmt: skip
    pol = policy_from_mapping({"propagation": {"damping": damping}})
    _, proj, scores = engine(World({"firms": firms, "ownership": own, "blacklist": bl}), pol)
    return pol, proj, scores


def test_ties_go_to_the_fewer_hops() -> None:
    """T owns half of S and half of M, M owns all of S (credit flows firm -> owner with
    weight share). With damping 1: S->T is 0.5, S->M->T is 1 * 0.5 = 0.5, a tie; the
    documented rule keeps the 1-hop path."""
    pol, proj, scores = _owned_firms([("T", "S", 0.5), ("M", "S", 1.0), ("T", "M", 0.5)], 1.0)
    (c,) = explain(proj, pol, scores, proj.subjects.index_of("T"))
    assert c.path[0::2] == ["S", "T"]
    assert c.hops == 1
    assert c.amount == pytest.approx(0.5) and c.strength == pytest.approx(0.5)


def test_cut_cycles_by_hand() -> None:
    # 0 -a-> 1 -b-> 2 -c-> 1 -d-> 3: back to the first visit of 1, then on to 3
    assert _cut_cycles([0, 1, 2, 1, 3], [10, 11, 12, 13]) == ([0, 1, 3], [10, 13])
    # a cycle through the source itself
    assert _cut_cycles([5, 6, 5, 7], [1, 2, 3]) == ([5, 7], [3])
    # two cycles, the second back to the source after the first was cut
    assert _cut_cycles([0, 1, 2, 1, 4, 0, 9], [1, 2, 3, 4, 5, 6]) == ([0, 9], [6])
    # a subject seen on a cut branch (2) may be visited again afterwards
    assert _cut_cycles([0, 2, 0, 2, 3], [1, 2, 3, 4]) == ([0, 2, 3], [3, 4])
    # no cycle: unchanged
    assert _cut_cycles([0, 1, 2], [7, 8]) == ([0, 1, 2], [7, 8])


def test_walks_find_a_cycle_through_the_source() -> None:
    """Layers built by hand for subject 3: layer h maps a subject to the next one on its
    best walk of h links. Source 0 with 3 hops walks 0 -9-> 2 -8-> 0 -7-> 3 (possible on
    a floating-point tie): the path reported is 0 -7-> 3. Source 2 with 2 hops walks
    2 -8-> 0 -7-> 3, no cycle."""
    i64 = np.int64
    layers = [
        _Layer(np.array([0], i64), np.ones(1), np.array([3], i64), np.array([7], i64)),
        _Layer(np.array([2], i64), np.ones(1), np.array([0], i64), np.array([8], i64)),
        _Layer(np.array([0], i64), np.ones(1), np.array([2], i64), np.array([9], i64)),
    ]
    best_h = np.array([3, 2], i64)
    nodes, edges = _walks(np.array([0, 2], i64), best_h, layers)
    assert nodes.tolist() == [[0, 2, 0, 3], [2, 0, 3, -1]]
    assert edges.tolist() == [[9, 8, 7], [8, 7, -1]]
    assert _with_cycle(nodes, best_h).tolist() == [0]  # the -1 padding is no cycle
    assert _cut_cycles(nodes[0].tolist(), edges[0].tolist()) == ([0, 3], [7])


def test_json_forms_have_exactly_the_documented_keys() -> None:
    c = Contribution(
        domain="credit",
        records=["R1"],
        source_subject="S",
        amount=0.25,
        path=["S", {"weight": 0.5, "relationships": []}, "T"],
        hops=1,
        strength=0.5,
    )
    assert c.to_dict() == {
        "domain": "credit",
        "records": ["R1"],
        "source_subject": "S",
        "amount": 0.25,
        "path": ["S", {"weight": 0.5, "relationships": []}, "T"],
        "hops": 1,
        "strength": 0.5,
    }
    r = RecordView(
        id="R1",
        kind="blacklist",
        label="sanctions",
        domain="compliance",
        date=date(2023, 6, 1),
        severity=1.0,
        decay=0.75,
        effective=0.75,
        status="active",
    )
    expect = {
        "id": "R1",
        "kind": "blacklist",
        "label": "sanctions",
        "domain": "compliance",
        "date": "2023-06-01",
        "severity": 1.0,
        "decay": 0.75,
        "effective": 0.75,
        "status": "active",
    }
    assert r.to_dict() == expect
    undated = replace(r, date=None)
    assert undated.to_dict() == {**expect, "date": None}


def _two_domain_world() -> World:
    """A carries credit records C1 (0.3), C2 (1.0), CX (0.9, expired) and the compliance
    record SA (sanctions, 1.0): b_A = 1 - 0.7 * 0 = 1 in credit, 1 in compliance.

    credit (firm -> owner x share; borrower -> lender x amount / lender equity):
        A -> B 1.0 (B owns all of A); D -> A 0.5 (A owns half of D);
        B -> C: loans L1 200 and L2 100 of C (equity 1000): 0.2 and 0.1, pair 1 - 0.8 * 0.9
    compliance (owner -> firm x share, and control at share >= 0.5):
        A -> D: control_to_firm 1.0 (it wins over ownership_to_firm 0.5, one channel per
        ownership)
        B -> A (B has no compliance risk)
    """
    firms = [
        {"id": x, "name": x.lower(), "equity": 1000.0 if x == "C" else 100.0,
         "total_assets": 1.0} for x in "ABCD"
    ]  # fmt: skip
    own = [
        {"owner_id": "B", "firm_id": "A", "share": 1.0},
        {"owner_id": "A", "firm_id": "D", "share": 0.5},
    ]
    loans = [
        {"id": "L1", "lender_id": "C", "borrower_id": "B", "amount": 200.0,
         "issued_on": PAST[0], "status": "performing"},
        {"id": "L2", "lender_id": "C", "borrower_id": "B", "amount": 100.0,
         "issued_on": PAST[0], "status": "performing"},
    ]  # fmt: skip
    court = "court_dishonest_debtor"
    bl = [
        {"id": "C1", "subject_id": "A", "list": court, "listed_on": PAST[2], "severity": 0.3},
        {"id": "C2", "subject_id": "A", "list": court, "listed_on": PAST[2], "severity": 1.0},
        {"id": "CX", "subject_id": "A", "list": court, "listed_on": PAST[0],
         "expires_on": PAST[1], "severity": 0.9},
        {"id": "SA", "subject_id": "A", "list": "sanctions", "listed_on": PAST[2],
         "severity": 1.0},
    ]  # fmt: skip
    return World({"firms": firms, "ownership": own, "loans": loans, "blacklist": bl})


def test_two_hop_explanation_by_hand() -> None:
    """C is reached from A by A -> B -> C: strength 0.5 (damping, default) * 1 * 0.28 =
    0.14, amount b_A * 0.14 = 0.14. Only A's active credit records are named, largest
    first; the second link lists its two loans, larger first."""
    pol, proj, scores = engine(_two_domain_world())
    assert list(map(str, proj.subjects.ids)) == ["A", "B", "C", "D"]  # edge order below
    (c,) = explain(proj, pol, scores, proj.subjects.index_of("C"))
    assert (c.domain, c.source_subject, c.records, c.hops) == ("credit", "A", ["C2", "C1"], 2)
    assert c.amount == pytest.approx(0.14) and c.strength == pytest.approx(0.14)
    assert c.path[0::2] == ["A", "B", "C"]
    first, second = c.path[1], c.path[3]
    assert first == {
        "weight": 1.0,
        "relationships": [{"id": "B|A", "kind": "ownership_to_owner", "weight": 1.0}],
    }
    assert isinstance(second, dict) and second["weight"] == pytest.approx(0.28)
    assert second["relationships"] == [
        {"id": "L1", "kind": "lending", "weight": pytest.approx(0.2)},
        {"id": "L2", "kind": "lending", "weight": pytest.approx(0.1)},
    ]


def test_one_hop_strength_is_undamped() -> None:
    """B is reached from A in one link of weight 1: strength 1 (damping^0), amount 1."""
    pol, proj, scores = engine(_two_domain_world())
    (c,) = explain(proj, pol, scores, proj.subjects.index_of("B"))
    assert (c.domain, c.hops, c.records) == ("credit", 1, ["C2", "C1"])
    assert c.strength == 1.0 and c.amount == pytest.approx(1.0)


def test_a_domain_without_contributions_does_not_stop_the_next() -> None:
    """D gets nothing in credit (credit flows D -> A), but A passes its compliance risk
    over A -> D (weight 1): one compliance contribution, naming SA only."""
    pol, proj, scores = engine(_two_domain_world())
    (c,) = explain(proj, pol, scores, proj.subjects.index_of("D"))
    assert (c.domain, c.source_subject, c.records, c.hops) == ("compliance", "A", ["SA"], 1)
    assert c.amount == pytest.approx(1.0)
    assert c.path == [
        "A",
        {
            "weight": 1.0,
            "relationships": [
                {"id": "A|D", "kind": "control_to_firm", "weight": 1.0},
            ],
        },
        "D",
    ]


def test_scores_of_another_policy_are_refused_with_the_message() -> None:
    pol, proj, scores = engine(_two_domain_world())
    other, _, other_scores = engine(
        _two_domain_world(), policy_from_mapping({"propagation": {"hop_limit": 3}})
    )
    msg = r"^explain: projection, scores and policy come from different policies$"
    with pytest.raises(ConfigError, match=msg):
        explain(proj, pol, other_scores, 0)  # only the scores differ
    with pytest.raises(ConfigError, match=msg):
        explain(proj, other, scores, 0)
    with pytest.raises(IndexError, match=r"^subject index 4 out of range$"):
        explain(proj, pol, scores, 4)
    with pytest.raises(IndexError, match=r"^subject index -1 out of range$"):
        explain(proj, pol, scores, -1)


def test_a_walk_with_a_cycle_is_reported_cut_with_its_own_strength() -> None:
    """:func:`_contributions` on layers built by hand: the search's walk from S to I is
    S -> T -> S -> I (as a floating-point tie could make it), through real pair edges of
    a small ownership graph (credit flows from a firm to its owner with weight = share):
    T owns 40 % of S (S -> T, 0.4), S owns 70 % of T (T -> S, 0.7), I owns 25 % of S
    (S -> I, 0.25). The walk is cut back to S -> I: one hop, strength 0.25 (damping^0),
    and the path names that relationship only. A second source, T, walks T -> S -> I
    with no cycle: strength 0.7 * 0.25 * damping (0.5) = 0.0875."""
    _, proj, _ = _owned_firms([("T", "S", 0.4), ("S", "T", 0.7), ("I", "S", 0.25)], 0.5)
    ix = proj.subjects.index_of
    s, t, i = ix("S"), ix("T"), ix("I")
    g = proj.graphs["credit"]
    edge = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(g.src, g.dst, strict=True))}
    assert g.weight[edge[(s, i)]] == pytest.approx(0.25)
    i64 = np.int64

    def layer(node: int, nxt: int) -> _Layer:
        return _Layer(np.array([node], i64), np.ones(1), np.array([nxt], i64),
                      np.array([edge[(node, nxt)]], i64))  # fmt: skip

    layers = [layer(s, i), layer(t, s), layer(s, t)]
    srcs = np.array(sorted([s, t]), i64)
    hops = np.where(srcs == s, 3, 2).astype(i64)
    got = _contributions(
        proj, 0.5, {0: layers}, {0: (srcs, hops)},
        np.array([0.3, 0.1]), np.array([0, 0], i64), np.array([s, t], i64), None,
    )  # fmt: skip
    first, second = got
    assert (first.source_subject, first.hops, first.amount) == ("S", 1, 0.3)
    assert first.path[0::2] == ["S", "I"]
    assert first.strength == pytest.approx(0.25, rel=1e-12)
    (rel,) = first.path[1]["relationships"]
    assert rel["kind"] == "ownership_to_owner" and rel["weight"] == pytest.approx(0.25)
    assert first.records == ["X"]
    assert (second.source_subject, second.hops) == ("T", 2)
    assert second.path[0::2] == ["T", "S", "I"]
    assert second.strength == pytest.approx(0.7 * 0.25 * 0.5, rel=1e-12)
    assert second.records == []
