"""Propagation outcomes that surviving mutants of graph/engine/propagation.py changed
unseen (``make mutate``, docs/testing.md): the day and domains a result carries, the
policy-mismatch message with its hint, and the split of the sources into batches
(with the shipped pair budget every test graph fits in one batch, so no test split
them)."""

from __future__ import annotations

import numpy as np
import pytest

from credgraph.graph.engine import propagation
from credgraph.graph.engine.policy import load_policy, policy_from_mapping
from credgraph.graph.engine.projection import build_projection
from credgraph.graph.engine.propagation import _batches, network_risk, propagate
from credgraph.graph.errors import ConfigError
from tests.graph.engine.test_propagation import AS_OF, World, graph_of


def _world() -> World:
    return World({"persons": [{"id": "P", "name": "p", "net_worth": 1.0}]})


def test_scores_carry_the_day_the_policy_and_the_domains() -> None:
    pol = load_policy()
    scores = propagate(build_projection(_world().tables(), pol, AS_OF), pol)
    assert scores.as_of == AS_OF
    assert scores.policy_hash == pol.hash
    assert scores.domains == ("credit", "compliance")
    assert scores.trust.tolist() == [100.0]


def test_policy_mismatch_names_both_policies_and_the_fix() -> None:
    pol = load_policy()
    proj = build_projection(_world().tables(), pol, AS_OF)
    other = policy_from_mapping({"propagation": {"damping": 0.4}})
    with pytest.raises(ConfigError) as err:
        propagate(proj, other)
    assert err.value.message == (
        f"the projection was built with another policy ({pol.hash[:12]} != {other.hash[:12]})"
    )
    assert err.value.hint == "build the projection and propagate with the same policy"


def _reference_batches(
    out_degree: list[int], n_edges: int, n: int, hop_limit: int, budget: float
) -> list[list[int]]:
    """The documented rule, greedily: a source costs max(out-degree, 1) * mean^(H-2)
    (mean out-degree at least 1, exponent at least 0); a batch takes sources while its
    cost stays within the budget, and at least one."""
    mean = max(n_edges / n, 1.0)
    out: list[list[int]] = []
    cur: list[int] = []
    acc = 0.0
    for k, deg in enumerate(out_degree):
        cost = max(deg, 1) * mean ** max(hop_limit - 2, 0)
        if cur and acc + cost > budget:
            out.append(cur)
            cur, acc = [], 0.0
        cur.append(k)
        acc += cost
    if cur:
        out.append(cur)
    return out


def test_batches_follow_the_pair_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """0->1, 0->2, 0->3, 1->2, 1->3, 2->3: out-degrees 3, 2, 1, 0, mean 1.5 (costs are
    sums of powers of two: the comparisons are exact). With H = 4 the costs are 6.75,
    4.5, 2.25, 2.25; budget 9 gives [0], [1, 2, 3] (4.5 + 2.25 + 2.25 = 9 fits)."""
    dense = np.zeros((4, 4))
    for s, t in [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]:
        dense[s, t] = 0.5
    g = graph_of(dense)
    sources = np.arange(4, dtype=np.int64)
    monkeypatch.setattr(propagation, "_PAIR_BUDGET", 9.0)
    assert [b.tolist() for b in _batches(g, sources, 4)] == [[0], [1, 2, 3]]
    for hop in (1, 2, 3, 4, 5):
        for budget in (0.5, 1.0, 2.0, 3.0, 4.5, 6.75, 9.0, 12.0, 1e9):
            monkeypatch.setattr(propagation, "_PAIR_BUDGET", budget)
            got = [b.tolist() for b in _batches(g, sources, hop)]
            assert got == _reference_batches([3, 2, 1, 0], 6, 4, hop, budget), (hop, budget)
    # a sparse graph (mean out-degree below 1 counts as 1): 0->1 only, five subjects
    sparse = np.zeros((5, 5))
    sparse[0, 1] = 1.0
    g = graph_of(sparse)
    for budget in (1.0, 2.0, 3.0):
        monkeypatch.setattr(propagation, "_PAIR_BUDGET", budget)
        got = [b.tolist() for b in _batches(g, np.arange(5, dtype=np.int64), 3)]
        assert got == _reference_batches([1, 0, 0, 0, 0], 1, 5, 3, budget)


def test_network_risk_does_not_depend_on_the_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """One source per batch gives the same risks as one batch for all."""
    rng = np.random.default_rng(3)
    for _ in range(10):
        n = int(rng.integers(3, 10))
        dense = (rng.random((n, n)) < 0.4) * rng.random((n, n))
        np.fill_diagonal(dense, 0.0)
        g = graph_of(dense)
        b = rng.random(n) * (rng.random(n) < 0.6)
        whole = network_risk(g, b, 4, 0.5)
        monkeypatch.setattr(propagation, "_PAIR_BUDGET", 1e-9)
        split = network_risk(g, b, 4, 0.5)
        monkeypatch.undo()
        np.testing.assert_allclose(split, whole, rtol=1e-12, atol=1e-15)
