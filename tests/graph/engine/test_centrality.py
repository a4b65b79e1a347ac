"""graph.engine.centrality against networkx on seeded random graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from credgraph.graph.engine.centrality import (
    Circle,
    auto_betweenness_sample,
    betweenness,
    circle_membership,
    guarantee_circles,
    kcore,
    pagerank,
)

Edges = tuple[int, np.ndarray, np.ndarray]


def random_edges(n: int, m: int, seed: int, *, extras: bool = True) -> Edges:
    """Random directed multigraph on ``n`` nodes with ``m`` random edges.

    With ``extras``: a few self-loops, duplicated (parallel) edges, a directed
    cycle over the first nodes, and the last nodes left isolated.
    """
    rng = np.random.default_rng(seed)
    live = max(2, n - 3) if extras and n > 5 else n  # last 3 nodes isolated
    src = rng.integers(0, live, m)
    dst = rng.integers(0, live, m)
    if extras and m:
        loops = rng.integers(0, live, max(1, m // 20))
        dup = rng.integers(0, m, max(1, m // 10))
        k = min(5, live)
        cyc = np.arange(k)
        src = np.concatenate([src, loops, src[dup], cyc])
        dst = np.concatenate([dst, loops, dst[dup], np.roll(cyc, -1)])
    return n, src.astype(np.int64), dst.astype(np.int64)


CASES = [
    (1, 0, 0),
    (2, 1, 1),
    (8, 12, 2),
    (20, 40, 3),
    (50, 150, 4),
    (120, 300, 5),
    (200, 900, 6),
]


def nx_multi(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray | None = None):
    g = nx.MultiDiGraph()
    g.add_nodes_from(range(n))
    for k, (u, v) in enumerate(zip(src.tolist(), dst.tolist(), strict=True)):
        g.add_edge(u, v, weight=1.0 if weight is None else float(weight[k]))
    return g


def nx_simple(n: int, src: np.ndarray, dst: np.ndarray, *, directed: bool):
    g = nx.DiGraph() if directed else nx.Graph()
    g.add_nodes_from(range(n))
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    g.remove_edges_from(list(nx.selfloop_edges(g)))
    return g


def as_array(n: int, d: dict[int, float]) -> np.ndarray:
    return np.array([d[i] for i in range(n)], dtype=np.float64)


# --- PageRank -------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m", "seed"), CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_pagerank_matches_networkx(n: int, m: int, seed: int, weighted: bool) -> None:
    n, src, dst = random_edges(n, m, seed)
    w = np.random.default_rng(seed + 100).uniform(0.1, 5.0, src.size) if weighted else None
    got = pagerank(n, src, dst, weight=w)
    ref = nx.pagerank(
        nx_multi(n, src, dst, w), alpha=0.85, weight="weight", tol=1e-13, max_iter=1000
    )
    assert got.shape == (n,)
    assert got.sum() == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(got, as_array(n, ref), atol=1e-6)


def test_pagerank_damping_and_dangling() -> None:
    # 0 -> 1, node 1 dangling: rank of 1 spreads uniformly, like networkx.
    got = pagerank(2, np.array([0]), np.array([1]), damping=0.5)
    ref = nx.pagerank(
        nx_multi(2, np.array([0]), np.array([1])), alpha=0.5, tol=1e-13, max_iter=1000
    )
    np.testing.assert_allclose(got, as_array(2, ref), atol=1e-9)
    assert pagerank(0, np.array([], np.int64), np.array([], np.int64)).shape == (0,)


def test_pagerank_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        pagerank(2, np.array([0]), np.array([2]))
    with pytest.raises(ValueError):
        pagerank(2, np.array([0]), np.array([1]), weight=np.array([-1.0]))
    with pytest.raises(ValueError):
        pagerank(2, np.array([0, 1]), np.array([1]))


# --- Betweenness ----------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m", "seed"), CASES)
@pytest.mark.parametrize("directed", [True, False])
def test_exact_betweenness_matches_networkx(n: int, m: int, seed: int, directed: bool) -> None:
    n, src, dst = random_edges(n, m, seed)
    got, used = betweenness(n, src, dst, directed=directed)
    ref = nx.betweenness_centrality(nx_simple(n, src, dst, directed=directed), normalized=False)
    assert used is None
    np.testing.assert_allclose(got, as_array(n, ref), atol=1e-9)


@pytest.mark.parametrize("directed", [True, False])
def test_sampled_betweenness_with_all_pivots_is_exact(directed: bool) -> None:
    n, src, dst = random_edges(60, 200, 7)
    exact, _ = betweenness(n, src, dst, directed=directed)
    # sample >= n short-circuits to the exact algorithm ...
    same, used = betweenness(n, src, dst, directed=directed, sample=n)
    assert used is None
    np.testing.assert_array_equal(same, exact)
    # ... and with all but one node as pivots the estimate is already close.
    est, used = betweenness(n, src, dst, directed=directed, sample=n - 1)
    assert used == n - 1
    assert np.corrcoef(est, exact)[0, 1] > 0.95


def test_brandes_pich_estimator_with_all_pivots_equals_exact(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Force the sampling branch with every node a pivot: (n / n) sum_s delta_s(v) == C_B(v)."""
    import credgraph.graph.engine.centrality as c

    for directed in (True, False):
        n, src, dst = random_edges(40, 120, 8)
        exact, _ = betweenness(n, src, dst, directed=directed)
        monkeypatch.setattr(c, "_sample_pivots", lambda n, sample, seed: np.arange(n))
        est, used = c.betweenness(n, src, dst, directed=directed, sample=n - 1)
        monkeypatch.undo()
        assert used == n
        np.testing.assert_allclose(est, exact, atol=1e-9)


def test_sampled_betweenness_deterministic_and_close() -> None:
    n, src, dst = random_edges(1500, 4500, 9)
    exact, _ = betweenness(n, src, dst)
    a, used_a = betweenness(n, src, dst, sample=300, seed=42)
    b, _ = betweenness(n, src, dst, sample=300, seed=42)
    c, _ = betweenness(n, src, dst, sample=300, seed=43)
    assert used_a == 300
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert np.corrcoef(a, exact)[0, 1] > 0.9
    # Unbiased estimator: the totals agree within a few percent.
    assert a.sum() == pytest.approx(exact.sum(), rel=0.1)


def test_sampled_betweenness_matches_networkx_pivot_formula() -> None:
    """Same pivots in networkx's own k-sampling code path gives the same numbers."""
    n, src, dst = random_edges(80, 250, 10)
    k = 20
    got, _ = betweenness(n, src, dst, sample=k, seed=5)
    pivots = np.sort(np.random.default_rng(5).choice(n, size=k, replace=False)).tolist()
    g = nx_simple(n, src, dst, directed=True)
    ref = nx.betweenness_centrality_subset(g, sources=pivots, targets=list(g), normalized=False)
    np.testing.assert_allclose(got, as_array(n, ref) * n / k, atol=1e-9)


def test_auto_betweenness_sample() -> None:
    assert auto_betweenness_sample(100) is None
    assert auto_betweenness_sample(20000) is None
    assert auto_betweenness_sample(20001) == 512
    assert auto_betweenness_sample(1000, threshold=10, sample=64) == 64
    assert auto_betweenness_sample(50, threshold=10, sample=64) is None
    with pytest.raises(ValueError):
        auto_betweenness_sample(10, sample=0)


# --- k-core ---------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m", "seed"), CASES)
def test_kcore_matches_networkx(n: int, m: int, seed: int) -> None:
    n, src, dst = random_edges(n, m, seed)
    got = kcore(n, src, dst)
    ref = nx.core_number(nx_simple(n, src, dst, directed=False))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.array([ref[i] for i in range(n)]))


def test_kcore_ignores_multi_edges_and_loops() -> None:
    # Triangle 0-1-2 (given both ways, twice), a pendant 3, loops, isolated 4.
    src = np.array([0, 1, 2, 1, 2, 0, 0, 1, 2, 3, 3, 2])
    dst = np.array([1, 2, 0, 0, 1, 2, 1, 1, 3, 3, 3, 2])
    np.testing.assert_array_equal(kcore(5, src, dst), [2, 2, 2, 1, 0])


# --- Guarantee circles ----------------------------------------------------------------


@pytest.mark.parametrize(("n", "m", "seed"), CASES)
def test_circles_match_networkx_scc(n: int, m: int, seed: int) -> None:
    n, src, dst = random_edges(n, m, seed)
    amount = np.random.default_rng(seed).uniform(0, 100, src.size)
    circles = guarantee_circles(n, src, dst, amount)
    g = nx_simple(n, src, dst, directed=True)
    expected = sorted(
        (sorted(c) for c in nx.strongly_connected_components(g) if len(c) >= 2),
        key=lambda c: (-len(c), c[0]),
    )
    assert [c.members.tolist() for c in circles] == expected
    assert [c.id for c in circles] == list(range(len(expected)))
    assert [c.size for c in circles] == [len(c) for c in expected]
    for c in circles:
        members = set(c.members.tolist())
        inside = sum(
            a
            for u, v, a in zip(src.tolist(), dst.tolist(), amount.tolist(), strict=True)
            if u in members and v in members
        )
        assert c.amount_inside == pytest.approx(inside, rel=1e-12, abs=1e-9)
    membership = circle_membership(n, circles)
    for v in range(n):
        owner = [c.id for c in circles if v in c.members]
        assert membership[v] == (owner[0] if owner else -1)


def test_circles_worked_example() -> None:
    # 0 <-> 1 (amounts 10 + 5, plus a parallel 1 -> 0 of 2), 2 -> 3 -> 4 -> 2 (1 each),
    # 4 -> 0 (7, between circles: not inside), 5 self-guarantee (not a circle), 6 isolated.
    src = np.array([0, 1, 1, 2, 3, 4, 4, 5])
    dst = np.array([1, 0, 0, 3, 4, 2, 0, 5])
    amount = np.array([10.0, 5.0, 2.0, 1.0, 1.0, 1.0, 7.0, 3.0])
    circles = guarantee_circles(7, src, dst, amount)
    assert len(circles) == 2
    assert isinstance(circles[0], Circle)
    assert circles[0].members.tolist() == [2, 3, 4]
    assert circles[0].amount_inside == 3.0
    assert circles[1].members.tolist() == [0, 1]
    assert circles[1].size == 2
    assert circles[1].amount_inside == 17.0
    np.testing.assert_array_equal(circle_membership(7, circles), [1, 1, 0, 0, 0, -1, -1])


def test_circles_ties_ordered_by_smallest_member() -> None:
    # Two 2-cycles: {5, 6} given first in the edge list, {1, 3} second.
    src = np.array([5, 6, 3, 1])
    dst = np.array([6, 5, 1, 3])
    circles = guarantee_circles(7, src, dst, np.ones(4))
    assert [c.members.tolist() for c in circles] == [[1, 3], [5, 6]]
    assert guarantee_circles(3, np.array([0]), np.array([1]), np.ones(1)) == []
    assert guarantee_circles(0, np.array([], np.int64), np.array([], np.int64), np.ones(0)) == []
