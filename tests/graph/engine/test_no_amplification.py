"""S8 (no amplification) and S9 (bounded by construction) as hypothesis properties on
random graphs built to put risky subjects on cycles and behind many parallel paths,
and hand-worked examples: the issue's legal representative, the sanctions 50% rule,
a guarantee circle, several weak sources against one strong one.

The walk sum used before 2026-11-30 failed both: the legal representative's firm
got 0.5625 (trust 43.75 < 50) and parallel paths added up past 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from credgraph.graph.engine.explain import explain
from credgraph.graph.engine.pipeline import compute, score_rows
from credgraph.graph.engine.policy import DOMAINS, load_policy, policy_from_mapping
from credgraph.graph.engine.propagation import network_risk, strongest_paths
from tests.graph.engine.test_propagation import (
    AS_OF,
    PAST,
    World,
    dense_strongest,
    engine,
    graph_of,
    worlds,
)

WEIGHTS = st.sampled_from([1.0, 1.0, 0.9, 0.7, 0.5, 0.3, 0.1])


@st.composite
def risky_cycles(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, float]:
    """(dense weights, intrinsic risk b, hop limit, damping): a cycle through a risky
    subject, a fan of parallel paths from it to one target, and random extra links."""
    n = draw(st.integers(3, 10))
    order = draw(st.permutations(range(n)))
    k = draw(st.integers(2, n))
    cycle = order[:k]
    dense = np.zeros((n, n))
    for j in range(k):
        dense[cycle[j], cycle[(j + 1) % k]] = draw(WEIGHTS)
    risky = cycle[0]
    # parallel paths risky -> m middles -> target (the middles may be on the cycle too)
    target_node = order[-1]
    middles = [v for v in order[1:-1] if v != risky][: draw(st.integers(0, n - 2))]
    for v in middles:
        dense[risky, v] = max(dense[risky, v], draw(WEIGHTS))
        dense[v, target_node] = max(dense[v, target_node], draw(WEIGHTS))
    for _ in range(draw(st.integers(0, 2 * n))):
        s, t = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        if s != t:
            dense[s, t] = draw(WEIGHTS)
    b = np.array([draw(st.sampled_from([0.0, 0.0, 0.2, 0.5, 1.0])) for _ in range(n)])
    b[risky] = draw(st.sampled_from([0.3, 0.5, 0.8, 1.0]))
    hop = draw(st.integers(1, 10))
    damping = draw(st.sampled_from([1.0, 0.9, 0.5, 0.2]))
    event(f"cycle of {k} links through a risky subject")
    event(f"{len(middles)} parallel paths from it to one subject")
    return dense, b, hop, damping


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(risky_cycles())
def test_s8_no_amplification_on_cycles_and_parallel_paths(
    case: tuple[np.ndarray, np.ndarray, int, float],
) -> None:
    """Every contribution ``c(s, i) <= b_s``; the model agrees with brute force."""
    dense, b, hop, damping = case
    g = graph_of(dense)
    srcs = np.flatnonzero(b > 0)
    s_pos, subj, strength = strongest_paths(g, srcs, hop, damping)
    c = b[srcs[s_pos]] * strength
    ratio = c / b[srcs[s_pos]] if len(c) else np.zeros(1)
    target(float(ratio.max()), label="largest contribution / source's own risk")
    assert np.all(c <= b[srcs[s_pos]])
    assert np.all(subj != srcs[s_pos])  # a source never reaches itself
    expect = dense_strongest(dense, hop, damping)
    got = np.zeros_like(dense)
    got[srcs[s_pos], subj] = strength
    np.testing.assert_allclose(got[srcs], expect[srcs], rtol=1e-12, atol=0)
    # what the walk sum would have given the same pair: it may exceed b_s (event only)
    walks = sum(damping ** (h - 1) * np.linalg.matrix_power(dense, h) for h in range(1, hop + 1))
    np.fill_diagonal(walks, 0.0)
    if np.any(walks[srcs] > 1 + 1e-12):
        event("the walk sum would amplify here (a pair's walks weigh more than 1)")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(risky_cycles())
def test_s9_network_risk_bounded_without_a_cap(
    case: tuple[np.ndarray, np.ndarray, int, float],
) -> None:
    dense, b, hop, damping = case
    n = network_risk(graph_of(dense), b, hop, damping)
    target(float(n.max()), label="largest network risk")
    assert np.all((n >= 0) & (n <= 1))
    want = 1.0 - np.prod(1.0 - b[:, None] * dense_strongest(dense, hop, damping), axis=0)
    np.testing.assert_allclose(n, want, rtol=1e-12, atol=1e-15)
    if n.max() >= 1.0:
        event("some subject at network risk exactly 1")


AMPLIFYING_POLICY = {
    "propagation": {"damping": 1.0, "hop_limit": 10},
    "transmission": {
        "credit": {"ownership_to_firm": 1.0, "director_to_person": 1.0, "director_to_firm": 1.0},
        "compliance": {"guarantee": 1.0, "lending": 1.0, "ownership_to_owner": 1.0},
    },
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(max_rows=8), st.sampled_from([None, AMPLIFYING_POLICY]))
def test_s8_s9_on_worlds(world: World, spec: dict[str, Any] | None) -> None:
    """On whole inputs (channels both ways: person <-> firm, mutual guarantees, ownership
    circles), no contribution exceeds its source's risk and every network risk and every
    Score row column is in [0, 1] with the uncapped column equal to the network one."""
    pol = load_policy() if spec is None else policy_from_mapping(spec)
    projection, scores, cent = compute(world.tables(), pol, AS_OF, {})
    ids = projection.subjects.ids
    for d in DOMAINS:
        assert np.all((scores.network[d] >= 0) & (scores.network[d] <= 1))
    for row in score_rows(projection, scores, cent):
        for d in DOMAINS:
            assert row[f"{d}_network_uncapped"] == row[f"{d}_network"]
    worst = 0.0
    for i in range(projection.n_subjects):
        for c in explain(projection, pol, scores, i):
            b = scores.intrinsic[c.domain][projection.subjects.index_of(c.source_subject)]
            assert c.amount <= b
            assert c.source_subject != ids[i]
            worst = max(worst, c.amount / b)
    target(worst, label="largest contribution / source's own risk")


# ----------------------------------------------------------------------------- by hand


def test_issue_legal_representative_never_scores_below_the_violator() -> None:
    """P (tax_violation, 0.5) is the legal representative of F (no record). Compliance:
    P -> F weighs 1.0, F -> P 0.5. F: strongest path P -> F, 0.5 * 1.0 = 0.5, trust 50,
    equal to P's 50 (the walk sum added P -> F -> P -> F: 0.5 * (1 + 0.25 * 0.5) =
    0.5625, trust 43.75). P: nothing comes back (its own risk never returns)."""
    world = World(
        {
            "persons": [{"id": "P", "name": "p", "net_worth": 1.0}],
            "firms": [{"id": "F", "name": "f", "equity": 1.0, "total_assets": 1.0}],
            "roles": [{"person_id": "P", "firm_id": "F", "role": "legal_representative"}],
            "blacklist": [
                {"id": "T1", "subject_id": "P", "list": "tax_violation", "listed_on": PAST[0]}
            ],
        }
    )
    pol, proj, s = engine(world)
    p, f = proj.subjects.index_of("P"), proj.subjects.index_of("F")
    assert s.network["compliance"][f] == pytest.approx(0.5, abs=1e-12)
    assert s.trust[f] == pytest.approx(50.0, abs=1e-9) == pytest.approx(s.trust[p], abs=1e-9)
    assert s.trust[f] >= s.trust[p] - 1e-9
    assert s.network["compliance"][p] == 0.0
    (c,) = explain(proj, pol, s, f)
    assert (c.domain, c.source_subject, c.records, c.hops) == ("compliance", "P", ["T1"], 1)
    assert c.amount == pytest.approx(0.5)
    assert c.path[1]["relationships"][0] == {  # type: ignore[index]
        "id": "P|F|legal_representative",
        "kind": "legal_representative_to_firm",
        "weight": 1.0,
    }


def _sanctions_world(share: float, second: float | None = None) -> World:
    """Sanctioned person S owns ``share`` of firm F; F owns ``second`` of G."""
    own = [{"owner_id": "S", "firm_id": "F", "share": share}]
    firms = [{"id": "F", "name": "f", "equity": 1.0, "total_assets": 1.0}]
    if second is not None:
        own.append({"owner_id": "F", "firm_id": "G", "share": second})
        firms.append({"id": "G", "name": "g", "equity": 1.0, "total_assets": 1.0})
    return World(
        {
            "persons": [{"id": "S", "name": "s", "net_worth": 1.0}],
            "firms": firms,
            "ownership": own,
            "blacklist": [
                {"id": "X", "subject_id": "S", "list": "sanctions", "listed_on": PAST[0]}
            ],
        }
    )


@pytest.mark.parametrize(
    ("share", "network", "trust"),
    [
        (0.5, 1.0, 0.0),  # at the threshold: control, weight 1.0: F is sanctioned too
        (0.8, 1.0, 0.0),
        (0.49, 0.49, 51.0),  # below: the share, 1.0 * 0.49
    ],
)
def test_sanctions_50_percent_rule(share: float, network: float, trust: float) -> None:
    _, proj, s = engine(_sanctions_world(share))
    f = proj.subjects.index_of("F")
    assert s.network["compliance"][f] == pytest.approx(network, abs=1e-12)
    assert s.trust[f] == pytest.approx(trust, abs=1e-9)


def test_sanctions_50_percent_rule_one_level_down() -> None:
    """S controls F (60%), F controls G (50%): S -> F -> G has weight 1 * 1, damped once:
    0.5 * 1.0 = 0.5 (the damping applies to indirect control too: docs/policy.md)."""
    _, proj, s = engine(_sanctions_world(0.6, 0.5))
    g = proj.subjects.index_of("G")
    assert s.network["compliance"][g] == pytest.approx(0.5, abs=1e-12)


def test_guarantee_circle_passes_risk_once() -> None:
    """A (defaulted loan, 0.8) -> B -> C -> A: each guarantees the next one's loan in
    full (weight 1). B: 0.8; C: 0.8 * 0.5 (one damped hop); A: nothing comes back.
    The walk sum gave B 0.8 * (1 + 0.5^3) = 0.9 with H = 4 (the circle came round)."""
    firms = [{"id": x, "name": x, "equity": 100.0, "total_assets": 1.0} for x in "ABCK"]
    loans = [
        {"id": f"L{x}", "lender_id": "K", "borrower_id": x, "amount": 0.0,
         "issued_on": PAST[0], "status": "defaulted" if x == "A" else "performing",
         "status_on": PAST[2]}
        for x in "ABC"
    ]  # fmt: skip
    guarantees = [
        {"id": "GA", "guarantor_id": "B", "loan_id": "LA", "amount": 100.0},
        {"id": "GB", "guarantor_id": "C", "loan_id": "LB", "amount": 100.0},
        {"id": "GC", "guarantor_id": "A", "loan_id": "LC", "amount": 100.0},
    ]
    pol = policy_from_mapping({"half_life_days": {"loan": 1e9}})  # no decay to speak of
    _, proj, s = engine(World({"firms": firms, "loans": loans, "guarantees": guarantees}), pol)
    b = s.intrinsic["credit"][proj.subjects.index_of("A")]
    assert b == pytest.approx(0.8, abs=1e-6)
    net = {x: s.network["credit"][proj.subjects.index_of(x)] for x in "ABC"}
    assert net["A"] == 0.0
    assert net["B"] == pytest.approx(b, abs=1e-12)
    assert net["C"] == pytest.approx(b * 0.5, abs=1e-12)


def test_several_weak_sources_against_one_strong_one() -> None:
    """Ten tax violators (0.5) owning 10% each of W: each passes 0.05; noisy-OR:
    1 - 0.95^10 = 0.40126. One sanctioned owner of 40% of S passes 0.4. The weak
    ones together weigh about as much as the strong one, and neither reaches 1."""
    persons = [{"id": f"P{k}", "name": "p", "net_worth": 1.0} for k in range(11)]
    firms = [{"id": x, "name": x, "equity": 1.0, "total_assets": 1.0} for x in ("W", "S")]
    own = [{"owner_id": f"P{k}", "firm_id": "W", "share": 0.1} for k in range(10)]
    own.append({"owner_id": "P10", "firm_id": "S", "share": 0.4})
    bl = [
        {"id": f"T{k}", "subject_id": f"P{k}", "list": "tax_violation", "listed_on": PAST[0]}
        for k in range(10)
    ]
    bl.append({"id": "X", "subject_id": "P10", "list": "sanctions", "listed_on": PAST[0]})
    pol, proj, s = engine(World({"persons": persons, "firms": firms, "ownership": own,
                                 "blacklist": bl}))  # fmt: skip
    w, st_ = proj.subjects.index_of("W"), proj.subjects.index_of("S")
    assert s.network["compliance"][w] == pytest.approx(1 - 0.95**10, abs=1e-12)
    assert s.network["compliance"][w] == pytest.approx(0.401263, abs=1e-6)
    assert s.network["compliance"][st_] == pytest.approx(0.4, abs=1e-12)
    amounts = [c.amount for c in explain(proj, pol, s, w)]
    assert amounts == pytest.approx([0.05] * 10)
    # the S5 rule in the -log(1 - x) transform: a plain sum there
    assert sum(-np.log1p(-a) for a in amounts) == pytest.approx(
        -np.log1p(-s.network["compliance"][w]), abs=1e-12
    )


def test_legal_representative_never_below_the_violator_to_the_last_bit() -> None:
    """The issue's case for every severity of the violator's record (0.001 .. 0.999 by
    0.001, one person and firm each): the firm's network risk is exactly the person's
    risk and its trust exactly the person's, never below it. The noisy-OR of one
    contribution went through log1p/expm1 and came back a bit larger for some
    severities (0.225: the firm's trust 77.49999999999999 < the violator's 77.5)."""
    sevs = [k / 1000 for k in range(1, 1000)]
    world = World(
        {
            "persons": [{"id": f"P{k}", "name": "p"} for k in range(len(sevs))],
            "firms": [{"id": f"F{k}", "name": "f"} for k in range(len(sevs))],
            "roles": [
                {"person_id": f"P{k}", "firm_id": f"F{k}", "role": "legal_representative"}
                for k in range(len(sevs))
            ],
            "blacklist": [
                {
                    "id": f"T{k}",
                    "subject_id": f"P{k}",
                    "list": "tax_violation",
                    "listed_on": PAST[0],
                    "severity": sev,
                }
                for k, sev in enumerate(sevs)
            ],
        }
    )
    _, proj, s = engine(world)
    p = proj.subjects.index.get_indexer([f"P{k}" for k in range(len(sevs))])
    f = proj.subjects.index.get_indexer([f"F{k}" for k in range(len(sevs))])
    assert s.intrinsic["compliance"][p].tolist() == sevs
    assert s.network["compliance"][f].tolist() == sevs
    assert s.trust[f].tolist() == s.trust[p].tolist()
