"""graph.engine.debtrank: worked examples and a brute-force cross-check.

Conventions of the module under test: ``W[i, j] = min(1, A_ij / E_i)`` with
``A_ij`` the exposure of ``i`` (creditor/guarantor) to ``j`` (borrower); the
distress of ``j`` hits ``i`` through ``W[i, j]``.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.graph.engine.debtrank import (
    DebtRankResult,
    debtrank,
    has_equity,
    impact_matrix,
    relative_value,
)

NAN = float("nan")
Exposure = tuple[int, int, float]


def columns(exposures: list[Exposure]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(creditor, debtor, exposure) arrays from a list of exposure triples."""
    c = np.array([e[0] for e in exposures], dtype=np.int64)
    d = np.array([e[1] for e in exposures], dtype=np.int64)
    x = np.array([e[2] for e in exposures], dtype=np.float64)
    return c, d, x


def run(
    n: int,
    exposures: list[Exposure],
    equity: list[float],
    shocks: dict[int, float],
    value: np.ndarray | None = None,
    max_iter: int | None = None,
) -> DebtRankResult:
    c, d, x = columns(exposures)
    eq = np.array(equity, dtype=np.float64)
    W = impact_matrix(n, c, d, x, eq)
    return debtrank(W, shocks, value, max_iter, equity=eq)


# --- Independent brute force, straight from Battiston et al. (2012) -------------------


def brute_force(
    n: int,
    exposures: list[Exposure],
    equity: list[float],
    shocks: dict[int, float],
    value: list[float],
) -> dict:
    """Plain-Python DebtRank in the paper's own notation.

    Paper: W_ij is the impact of i on j, W_ij = min(1, A_ji / E_j), A_ji being what
    j has invested in (lent to, guaranteed for) i, and
        h_j(t) = min(1, h_j(t-1) + sum_{i : s_i(t-1) = D} W_ij h_i(t-1)),
        s_j(t) = D if h_j(t) > 0 and s_j(t-1) != I;  I if s_j(t-1) = D;  else s_j(t-1).
    """
    assessed = {j for j in range(n) if math.isfinite(equity[j]) and equity[j] > 0}
    invested: dict[tuple[int, int], float] = defaultdict(float)  # (investor j, in i)
    for creditor, debtor, amount in exposures:
        if creditor != debtor:
            invested[(creditor, debtor)] += amount
    impact: dict[int, dict[int, float]] = defaultdict(dict)  # impact[i][j] = W_ij (paper)
    for (j, i), a in invested.items():
        if j in assessed and a > 0:
            impact[i][j] = min(1.0, a / equity[j])
    h = {j: 0.0 for j in range(n)}
    s = {j: "U" for j in range(n)}
    for j, psi in shocks.items():
        h[j] = psi
        s[j] = "D"
    h1 = dict(h)
    steps = 0
    while any(state == "D" for state in s.values()):
        new_h = {}
        for j in range(n):
            total = h[j]
            for i in range(n):
                if s[i] == "D":
                    total += impact[i].get(j, 0.0) * h[i]
            new_h[j] = min(1.0, total)
        new_s = {}
        for j in range(n):
            if s[j] == "D":
                new_s[j] = "I"
            elif new_h[j] > 0 and s[j] != "I":
                new_s[j] = "D"
            else:
                new_s[j] = s[j]
        h, s = new_h, new_s
        steps += 1
    r = sum(h[j] * value[j] for j in range(n)) - sum(h1[j] * value[j] for j in range(n))
    return {
        "R": r,
        "h": [h[j] for j in range(n)],
        "states": [s[j] for j in range(n)],
        "steps": steps,
        "defaults": [j for j in range(n) if h[j] >= 1 - 1e-12],
        "unassessed": sorted(set(range(n)) - assessed),
    }


def assert_same(got: DebtRankResult, ref: dict) -> None:
    assert got.debtrank == pytest.approx(ref["R"], abs=1e-9)
    np.testing.assert_allclose(got.h, ref["h"], atol=1e-9)
    assert got.states.tolist() == ref["states"]
    assert got.iterations == ref["steps"]
    assert got.defaults.tolist() == ref["defaults"]
    assert got.unassessed.tolist() == ref["unassessed"]
    assert got.converged


def random_case(rng: np.random.Generator) -> tuple:
    n = int(rng.integers(1, 40))
    m = int(rng.integers(0, 4 * n + 1))
    exposures = [
        (
            int(rng.integers(n)),
            int(rng.integers(n)),
            float(rng.choice([0.0, *rng.uniform(0, 200, 4)])),
        )
        for _ in range(m)
    ]
    exposures += exposures[: m // 5]  # parallel exposures
    equity = [float(rng.choice([NAN, -5.0, 0.0, *rng.uniform(1, 300, 6)])) for _ in range(n)]
    k = int(rng.integers(1, min(n, 4) + 1))
    shocked = rng.choice(n, size=k, replace=False).tolist()
    shocks = {int(j): float(rng.choice([1.0, rng.uniform(0.01, 1.0)])) for j in shocked}
    assets = rng.choice([NAN, *rng.uniform(1, 1000, 5)], size=n)
    return n, exposures, equity, shocks, relative_value(assets)


# --- Worked examples -----------------------------------------------------------------


def test_chain_with_partial_shock() -> None:
    # 0 lent 40 to 1 (E_0 = 100): W[0,1] = 0.4;  1 lent 50 to 2 (E_1 = 100): W[1,2] = 0.5.
    # v = (100, 300, 600) / 1000 = (0.1, 0.3, 0.6).  Shock psi_2 = 0.5.
    # t=1: h = (0, 0, 0.5)              s = (U, U, D)
    # t=2: h_1 = 0.5 * 0.5 = 0.25       s = (U, D, I)
    # t=3: h_0 = 0.4 * 0.25 = 0.1       s = (D, I, I)
    # t=4: nobody is exposed to 0       s = (I, I, I)  -> T = 4, 3 steps
    # R = 0.1*0.1 + 0.25*0.3 + 0.5*0.6 - 0.5*0.6 = 0.01 + 0.075 = 0.085
    v = relative_value([100.0, 300.0, 600.0])
    r = run(3, [(0, 1, 40.0), (1, 2, 50.0)], [100.0, 100.0, 10.0], {2: 0.5}, v)
    np.testing.assert_allclose(r.h, [0.1, 0.25, 0.5])
    assert r.debtrank == pytest.approx(0.085)
    assert r.initial_shock == pytest.approx(0.3)
    assert r.total == pytest.approx(0.385)
    assert r.iterations == 3
    assert r.states.tolist() == ["I", "I", "I"]
    assert r.defaults.tolist() == []
    assert r.unassessed.tolist() == []
    np.testing.assert_allclose(r.h_initial, [0.0, 0.0, 0.5])


def test_caps_and_full_defaults() -> None:
    # E = (100, 50, 100, 100).
    # 0 guarantees 300 for 1 and lent it 50: W[0,1] = min(1, 350/100) = 1.
    # 2 lent 150 twice to 1: summed before the cap, W[2,1] = min(1, 300/100) = 1.
    # 3 lent 50 to 0 and 75 to 2: W[3,0] = 0.5, W[3,2] = 0.75.
    # Shock psi_1 = 1.
    # t=1: h = (0, 1, 0, 0)                         s = (U, D, U, U)
    # t=2: h_0 = 1*1 = 1, h_2 = 1*1 = 1             s = (D, I, D, U)
    # t=3: h_3 = min(1, 0.5*1 + 0.75*1 = 1.25) = 1  s = (I, I, I, D)
    # t=4: nobody exposed to 3                      s = (I, I, I, I)
    # v = 1/4 each: R = (1 + 1 + 1 + 1)/4 - 1/4 = 0.75; all four default.
    exposures = [(0, 1, 300.0), (0, 1, 50.0), (2, 1, 150.0), (2, 1, 150.0)]
    exposures += [(3, 0, 50.0), (3, 2, 75.0)]
    equity = [100.0, 50.0, 100.0, 100.0]
    W = impact_matrix(4, *columns(exposures), np.array(equity)).toarray()
    assert W[0, 1] == 1.0 and W[2, 1] == 1.0
    assert W[3, 0] == 0.5 and W[3, 2] == 0.75
    r = run(4, exposures, equity, {1: 1.0})
    np.testing.assert_allclose(r.h, [1.0, 1.0, 1.0, 1.0])
    assert r.defaults.tolist() == [0, 1, 2, 3]
    assert r.debtrank == pytest.approx(0.75)
    assert r.iterations == 3


def test_two_cycle_passes_distress_once() -> None:
    # 0 and 1 lent 50 to each other, E = 100 each: W[0,1] = W[1,0] = 0.5.  Shock psi_0 = 0.4.
    # t=1: h = (0.4, 0)                          s = (D, U)
    # t=2: h_1 = 0.5*0.4 = 0.2                   s = (I, D)
    # t=3: h_0 = 0.4 + 0.5*0.2 = 0.5             s = (I, I)   stop: 2 steps
    # v = 1/2 each: R = (0.5 + 0.2)/2 - 0.4/2 = 0.15.
    exposures = [(0, 1, 50.0), (1, 0, 50.0)]
    r = run(2, exposures, [100.0, 100.0], {0: 0.4})
    np.testing.assert_allclose(r.h, [0.5, 0.2])
    assert r.debtrank == pytest.approx(0.15)
    assert r.iterations == 2
    # Naive propagation, where every node passes on its whole distress at every step,
    # h(t) = min(1, h(t-1) + W h(t-1)), reverberates along the cycle:
    # (0.4, 0) -> (0.4, 0.2) -> (0.5, 0.4) -> (0.7, 0.65) -> ... -> (1, 1), R = 0.8.
    W = np.array([[0.0, 0.5], [0.5, 0.0]])
    h = np.array([0.4, 0.0])
    for _ in range(100):
        h = np.minimum(1.0, h + W @ h)
    np.testing.assert_allclose(h, [1.0, 1.0])
    naive_r = (h.sum() - 0.4) / 2
    assert naive_r == pytest.approx(0.8)
    assert r.debtrank < naive_r - 0.5


def test_unassessed_nodes_are_not_impacted() -> None:
    # 0 has no equity (nan) and lent 100 to 1; 3 has equity 0 and lent 5 to 1;
    # 2 (E = 100) lent 20 to 1 and 30 to 0: W[2,1] = 0.2, W[2,0] = 0.3; rows 0 and 3 zero.
    exposures = [(0, 1, 100.0), (3, 1, 5.0), (2, 1, 20.0), (2, 0, 30.0)]
    equity = [NAN, 50.0, 100.0, 0.0]
    # A: psi_1 = 1.  t=2: h_2 = 0.2; 0 and 3 stay at 0 and U.  R = 0.2/4 = 0.05.
    r = run(4, exposures, equity, {1: 1.0})
    assert r.unassessed.tolist() == [0, 3]
    np.testing.assert_allclose(r.h, [0.0, 1.0, 0.2, 0.0])
    assert r.states.tolist() == ["U", "I", "I", "U"]
    assert r.debtrank == pytest.approx(0.05)
    # B: an unassessed node can still be shocked and pass its distress on.
    # psi_0 = 0.5, psi_1 = 1.  t=2: h_2 = 0.3*0.5 + 0.2*1 = 0.35.  R = 0.35/4 = 0.0875.
    r = run(4, exposures, equity, {0: 0.5, 1: 1.0})
    np.testing.assert_allclose(r.h, [0.5, 1.0, 0.35, 0.0])
    assert r.debtrank == pytest.approx(0.0875)
    # C: even a hand-made W with a row for an unassessed node does not impact it.
    W = sp.csr_matrix(np.array([[0.0, 0.9], [0.0, 0.0]]))
    r = debtrank(W, {1: 1.0}, equity=np.array([NAN, 10.0]))
    np.testing.assert_allclose(r.h, [0.0, 1.0])
    assert r.unassessed.tolist() == [0]


def test_several_partial_shocks() -> None:
    # The chain of test_chain_with_partial_shock, shocks psi_1 = 0.1, psi_2 = 0.5.
    # t=1: h = (0, 0.1, 0.5)                                   s = (U, D, D)
    # t=2: h_0 = 0.4*0.1 = 0.04, h_1 = 0.1 + 0.5*0.5 = 0.35    s = (D, I, I)
    # t=3: nothing new                                         s = (I, I, I)
    # Node 1 was distressed at t=1, so the extra 0.25 it takes is never passed to 0.
    # R = 0.04*0.1 + (0.35 - 0.1)*0.3 + 0 = 0.004 + 0.075 = 0.079.
    v = relative_value([100.0, 300.0, 600.0])
    r = run(3, [(0, 1, 40.0), (1, 2, 50.0)], [100.0, 100.0, 10.0], {1: 0.1, 2: 0.5}, v)
    np.testing.assert_allclose(r.h, [0.04, 0.35, 0.5])
    assert r.debtrank == pytest.approx(0.079)
    assert r.iterations == 2


def test_shocked_isolated_node_has_zero_debtrank() -> None:
    r = run(3, [(0, 1, 10.0)], [100.0, 100.0, 100.0], {2: 1.0})
    assert r.debtrank == 0.0
    assert r.initial_shock == pytest.approx(1 / 3)
    assert r.defaults.tolist() == [2]
    assert r.iterations == 1
    assert r.states.tolist() == ["U", "U", "I"]


def test_max_iter_stops_early() -> None:
    r = run(3, [(0, 1, 40.0), (1, 2, 50.0)], [100.0, 100.0, 10.0], {2: 0.5}, max_iter=1)
    assert not r.converged
    assert r.iterations == 1
    assert r.states.tolist() == ["U", "D", "I"]
    np.testing.assert_allclose(r.h, [0.0, 0.25, 0.5])


def test_bad_input_rejected() -> None:
    W = sp.csr_matrix((2, 2))
    for shocks in ({0: 0.0}, {0: 1.5}, {2: 0.5}, {0: NAN}):
        with pytest.raises(ValueError):
            debtrank(W, shocks)
    with pytest.raises(ValueError):
        debtrank(sp.csr_matrix(np.array([[0.0, 2.0], [0.0, 0.0]])), {0: 1.0})
    with pytest.raises(ValueError):
        impact_matrix(2, [0], [1], [-1.0], [1.0, 1.0])
    with pytest.raises(ValueError):
        impact_matrix(2, [0], [2], [1.0], [1.0, 1.0])


# --- Helpers ------------------------------------------------------------------------


def test_impact_matrix_rules() -> None:
    # Row 0: 20 + 30 to 1 summed, / 100 = 0.5; self-exposure 0 -> 0 ignored; 0 to 2 of 0 not stored.
    # Row 1: E = nan -> zero row.  Row 2: E = inf -> zero row.  Row 3: E = -1 -> zero row.
    W = impact_matrix(
        4,
        np.array([0, 0, 0, 0, 1, 2, 3]),
        np.array([1, 1, 0, 2, 0, 0, 0]),
        np.array([20.0, 30.0, 999.0, 0.0, 5.0, 5.0, 5.0]),
        np.array([100.0, NAN, math.inf, -1.0]),
    )
    assert isinstance(W, sp.csr_matrix)
    assert W.nnz == 1
    assert W[0, 1] == pytest.approx(0.5)
    assert has_equity([100.0, NAN, math.inf, -1.0, 0.0]).tolist() == [True] + [False] * 4


def test_relative_value() -> None:
    # Known: 100, 300 (mean 200) fill nan, -1, 0: (100, 200, 300, 200, 200) / 1000.
    np.testing.assert_allclose(
        relative_value([100.0, NAN, 300.0, -1.0, 0.0]), [0.1, 0.2, 0.3, 0.2, 0.2]
    )
    np.testing.assert_allclose(relative_value([NAN, NAN]), [0.5, 0.5])
    assert relative_value([]).size == 0


# --- Vectorised vs brute force ------------------------------------------------------


def test_matches_brute_force_seeded() -> None:
    rng = np.random.default_rng(2012)
    for _ in range(300):
        n, exposures, equity, shocks, v = random_case(rng)
        got = run(n, exposures, equity, shocks, v)
        assert_same(got, brute_force(n, exposures, equity, shocks, v.tolist()))


@st.composite
def cases(draw: st.DrawFn) -> tuple:
    n = draw(st.integers(1, 12))
    node = st.integers(0, n - 1)
    amount = st.sampled_from([0.0, 1.0, 10.0, 50.0, 100.0, 250.0]) | st.floats(0, 500)
    exposures = draw(st.lists(st.tuples(node, node, amount), max_size=40))
    equity = draw(
        st.lists(
            st.sampled_from([NAN, -1.0, 0.0, 10.0, 100.0]) | st.floats(0.5, 400),
            min_size=n,
            max_size=n,
        )
    )
    shocks = draw(
        st.dictionaries(node, st.sampled_from([1.0, 0.5]) | st.floats(1e-3, 1.0), min_size=1)
    )
    assets = draw(st.lists(st.sampled_from([NAN]) | st.floats(1, 1e6), min_size=n, max_size=n))
    return n, exposures, equity, shocks, relative_value(assets)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_matches_brute_force_hypothesis(case: tuple) -> None:
    n, exposures, equity, shocks, v = case
    got = run(n, exposures, equity, shocks, v)
    assert_same(got, brute_force(n, exposures, equity, shocks, v.tolist()))
    # R excludes the initial shock, is >= 0 and the parts add up.
    assert got.debtrank >= 0.0
    assert got.total == pytest.approx(got.debtrank + got.initial_shock, abs=1e-12)
    assert np.all(got.h >= got.h_initial) and np.all(got.h <= 1.0)
