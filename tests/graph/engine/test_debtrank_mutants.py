"""graph.engine.debtrank against references that do not call the module.

The relative economic value is checked against its documented formula
(``v_i = a_i / sum_j a_j``, unknown assets filled with the *mean* of the known ones),
computed here in plain Python; DebtRank on multi-hop cascades (chains with cycles
and side exposures, shocked at the far end) against the plain-Python brute force of
Battiston et al. (2012) in test_debtrank, fed with that independent value.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import event, given, settings, target
from hypothesis import strategies as st

from credgraph.graph.engine.debtrank import debtrank, has_equity, impact_matrix, relative_value
from tests.graph.engine.test_debtrank import Exposure, assert_same, brute_force, columns

NAN = float("nan")


def reference_value(assets: list[float]) -> list[float]:
    """``v_i = a_i / sum_j a_j``; unknown ``a_i`` (nan, inf, <= 0) = mean of the known."""
    known = [a for a in assets if math.isfinite(a) and a > 0]
    fill = statistics.fmean(known) if known else 1.0
    filled = [a if math.isfinite(a) and a > 0 else fill for a in assets]
    total = math.fsum(filled)
    return [a / total for a in filled]


def test_relative_value_fills_with_the_mean_not_the_median() -> None:
    # Known 100, 200, 600: mean 300 (the median would be 200).
    # (100, 200, 600, 300, 300, 300) / 1800.
    got = relative_value([100.0, 200.0, 600.0, NAN, -1.0, math.inf])
    np.testing.assert_allclose(got, np.array([100, 200, 600, 300, 300, 300]) / 1800, rtol=1e-15)
    # Two known values (mean 50), one known (itself), none known (equal shares).
    np.testing.assert_allclose(relative_value([10.0, 90.0, 0.0]), np.array([10, 90, 50]) / 150)
    np.testing.assert_allclose(relative_value([0.0, 7.0, NAN]), [1 / 3, 1 / 3, 1 / 3])
    np.testing.assert_allclose(relative_value([-1.0, 0.0, NAN]), [1 / 3, 1 / 3, 1 / 3])
    # the input is not changed in place
    a = np.array([5.0, NAN])
    relative_value(a)
    assert math.isnan(a[1])


asset = st.sampled_from([NAN, -1.0, 0.0, math.inf]) | st.floats(1.0, 1e6)


@settings(max_examples=200, deadline=None)
@given(st.lists(asset, min_size=1, max_size=12))
def test_relative_value_matches_its_formula(assets: list[float]) -> None:
    known = [a for a in assets if math.isfinite(a) and a > 0]
    event("some unknown" if len(known) < len(assets) else "all known")
    if 0 < len(known) < len(assets):
        # the mean and the median differ: the fill is what the test can see
        target(abs(statistics.fmean(known) - statistics.median(known)), label="mean - median")
    got = relative_value(assets)
    np.testing.assert_allclose(got, reference_value(assets), rtol=1e-12, atol=1e-15)
    assert got.sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- cascades


@st.composite
def cascades(draw: st.DrawFn) -> tuple[int, list[Exposure], list[float], dict[int, float], list]:
    """A chain p0 <- p1 <- ... <- pk of loans (p_i lent to p_{i+1}), shocked at pk, so
    the distress walks back k hops; plus back edges (cycles), parallel and side
    exposures, unassessed nodes, and total assets with some unknown."""
    n = draw(st.integers(3, 10))
    order = draw(st.permutations(range(n)))
    k = draw(st.integers(2, n - 1))  # hops along the chain
    chain = order[: k + 1]
    equity = [draw(st.sampled_from([50.0, 100.0, 400.0])) for _ in range(n)]
    exposures: list[Exposure] = []
    for a, b in zip(chain, chain[1:], strict=False):
        ratio = draw(st.sampled_from([0.3, 0.5, 0.8, 1.0, 1.5]) | st.floats(0.05, 2.0))
        exposures.append((a, b, ratio * equity[a]))
    node = st.integers(0, n - 1)
    extra = draw(st.lists(st.tuples(node, node, st.floats(0.0, 300.0)), max_size=2 * n))
    exposures += extra
    if draw(st.booleans()):  # a back edge closes a cycle along the chain
        exposures.append((chain[-1], chain[0], draw(st.floats(1.0, 300.0))))
    for j in draw(st.lists(node, max_size=2)):
        if j != chain[0]:  # the chain's end stays assessed so the cascade reaches it
            equity[j] = draw(st.sampled_from([NAN, 0.0, -3.0]))
    shocks = {chain[-1]: draw(st.sampled_from([1.0, 0.6]) | st.floats(0.05, 1.0))}
    if draw(st.booleans()):
        shocks[draw(node)] = draw(st.floats(0.05, 1.0))
    assets = draw(st.lists(asset, min_size=n, max_size=n))
    return n, exposures, equity, shocks, assets


@settings(max_examples=200, deadline=None)
@given(cascades())
def test_multi_hop_cascades_match_brute_force(case: tuple) -> None:
    n, exposures, equity, shocks, assets = case
    v = reference_value(assets)
    eq = np.array(equity, dtype=np.float64)
    W = impact_matrix(n, *columns(exposures), eq)
    got = debtrank(W, shocks, relative_value(assets), equity=eq)
    ref = brute_force(n, exposures, equity, shocks, v)
    assert_same(got, ref)
    np.testing.assert_allclose(got.value, v, rtol=1e-12)
    hit = int(np.count_nonzero(got.h > got.h_initial))
    event(f"propagation steps: {min(got.iterations, 5)}{'+' if got.iterations >= 5 else ''}")
    target(float(got.iterations), label="propagation steps")
    target(float(hit), label="nodes newly distressed")


def test_a_three_hop_cascade_by_hand() -> None:
    # 0 lent 50 to 1 (E0 = 100): W[0,1] = 0.5;  1 lent 100 to 2 (E1 = 100): W[1,2] = 1;
    # 2 lent 20 to 3 (E2 = 50): W[2,3] = 0.4.  Shock psi_3 = 1.
    # t=2: h2 = 0.4;  t=3: h1 = 0.4;  t=4: h0 = 0.2;  t=5: nobody: 4 steps.
    # Assets (1, NaN, 3, 8): known mean 4 fills node 1: v = (1, 4, 3, 8) / 16.
    # R = (0.2*1 + 0.4*4 + 0.4*3) / 16 = 3.0 / 16 = 0.1875
    # (with the median 3 as the fill: v = (1, 3, 3, 8)/15, R = 2.6/15 = 0.1733).
    exposures = [(0, 1, 50.0), (1, 2, 100.0), (2, 3, 20.0)]
    eq = np.array([100.0, 100.0, 50.0, 10.0])
    W = impact_matrix(4, *columns(exposures), eq)
    r = debtrank(W, {3: 1.0}, relative_value([1.0, NAN, 3.0, 8.0]), equity=eq)
    np.testing.assert_allclose(r.h, [0.2, 0.4, 0.4, 1.0])
    assert r.iterations == 4
    assert r.debtrank == pytest.approx(0.1875)
    assert r.initial_shock == pytest.approx(0.5)


# ----------------------------------------------------------------------------- edges


def test_empty_market_and_zero_steps() -> None:
    W = impact_matrix(0, [], [], [], [])
    assert W.shape == (0, 0) and W.nnz == 0
    r = debtrank(W, {}, equity=np.zeros(0))
    assert r.debtrank == 0.0 and r.iterations == 0 and r.converged and r.h.size == 0
    assert relative_value(np.zeros(0)).size == 0
    # max_iter = 0: the shock only, nothing passed on, not converged
    eq = np.array([100.0, 100.0])
    W = impact_matrix(2, [0], [1], [50.0], eq)
    r = debtrank(W, {1: 1.0}, max_iter=0, equity=eq)
    assert r.iterations == 0 and not r.converged
    np.testing.assert_array_equal(r.h, [0.0, 1.0])
    assert r.states.tolist() == ["U", "D"] and r.debtrank == 0.0


def test_value_with_zeros_is_allowed_and_normalised() -> None:
    # 0 lent 50 to 1 (E0 = 100): W[0,1] = 0.5.  Shock 1 fully: h0 = 0.5.
    eq = np.array([100.0, 100.0, 100.0])
    W = impact_matrix(3, [0], [1], [50.0], eq)
    r = debtrank(W, {1: 1.0}, value=[2.0, 0.0, 2.0], equity=eq)  # v = (0.5, 0, 0.5)
    np.testing.assert_allclose(r.value, [0.5, 0.0, 0.5])
    assert r.debtrank == pytest.approx(0.25) and r.initial_shock == 0.0
    # value None: 1/n each
    r = debtrank(W, {1: 1.0}, equity=eq)
    np.testing.assert_allclose(r.value, [1 / 3] * 3)
    assert r.debtrank == pytest.approx(0.5 / 3)


def test_bad_input_is_named() -> None:
    eq = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match="n must be >= 0"):
        impact_matrix(-1, [], [], [], [])
    with pytest.raises(ValueError, match="same length"):
        impact_matrix(2, [0], [1, 0], [1.0], eq)
    with pytest.raises(ValueError, match="equity has 1 values for 2 nodes"):
        impact_matrix(2, [0], [1], [1.0], [1.0])
    with pytest.raises(ValueError, match=r"node indices must lie in \[0, 2\)"):
        impact_matrix(2, [-1], [1], [1.0], eq)
    with pytest.raises(ValueError, match="finite and >= 0"):
        impact_matrix(2, [0], [1], [math.inf], eq)
    W = impact_matrix(2, [0], [1], [0.5], eq)
    with pytest.raises(ValueError, match="square"):
        debtrank(np.zeros((2, 3)), {0: 1.0})
    with pytest.raises(ValueError, match=r"entries must lie in \[0, 1\]"):
        debtrank(np.array([[0.0, -0.1], [0.0, 0.0]]), {0: 1.0})
    with pytest.raises(ValueError, match="max_iter must be >= 0"):
        debtrank(W, {0: 1.0}, max_iter=-1)
    for bad in ([1.0], [1.0, math.nan], [1.0, -1.0], [0.0, 0.0]):
        with pytest.raises(ValueError, match="value must have n finite values"):
            debtrank(W, {0: 1.0}, value=bad)
    with pytest.raises(ValueError, match="equity has 3 values for 2 nodes"):
        debtrank(W, {0: 1.0}, equity=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match=r"shocked node 2 outside \[0, 2\)"):
        debtrank(W, {2: 1.0})
    with pytest.raises(ValueError, match=r"shock of node 0 must lie in \(0, 1\]"):
        debtrank(W, {0: 1.5})
    # the edges of the ranges are fine
    assert debtrank(np.array([[0.0, 1.0], [0.0, 0.0]]), {1: 1.0}).h.tolist() == [1.0, 1.0]
    assert impact_matrix(2, [1], [0], [0.0], eq).nnz == 0


def test_has_equity_reads_missing_values_and_columns() -> None:
    assert has_equity([1, None, 0, -2, "3"]).tolist() == [True, False, False, False, True]
    assert has_equity(np.array([[5.0], [np.nan]])).tolist() == [True, False]


def test_explicit_zero_entries_in_w_are_allowed() -> None:
    import scipy.sparse as sp

    W = sp.csr_matrix((np.array([0.0, 0.5]), np.array([1, 0]), np.array([0, 1, 2])), shape=(2, 2))
    assert W.nnz == 2  # the zero is stored
    r = debtrank(W, {0: 1.0})
    np.testing.assert_allclose(r.h, [1.0, 0.5])


def test_messages_are_exact_and_the_upper_index_bound_is_checked() -> None:
    """The whole message (``match`` anchored), and index ``n`` itself refused by our
    check, not by scipy's."""
    eq = np.array([1.0, 1.0])
    with pytest.raises(
        ValueError, match=r"^creditor, debtor and exposure must have the same length$"
    ):
        impact_matrix(2, [0], [1, 0], [1.0], eq)
    with pytest.raises(ValueError, match=r"^node indices must lie in \[0, 2\)$"):
        impact_matrix(2, [0], [2], [1.0], eq)
    with pytest.raises(ValueError, match=r"^exposure must be finite and >= 0$"):
        impact_matrix(2, [0], [1], [-1.0], eq)
    with pytest.raises(ValueError, match=r"^W entries must lie in \[0, 1\]$"):
        debtrank(np.array([[0.0, 2.0], [0.0, 0.0]]), {0: 1.0})
    W = impact_matrix(2, [0], [1], [0.5], eq)
    with pytest.raises(
        ValueError, match=r"^value must have n finite values >= 0 with a positive sum$"
    ):
        debtrank(W, {0: 1.0}, value=[0.0, 0.0])


def test_nobody_is_unassessed_without_equity() -> None:
    """``equity=None``: ``unassessed`` is an empty array of node indices."""
    r = debtrank(np.array([[0.0, 0.5], [0.0, 0.0]]), {1: 1.0})
    assert r.unassessed.tolist() == [] and r.unassessed.dtype == np.int64
    # node 0 loses 0.5 * 1 (W[0, 1] = 0.5, node 1 fully shocked)
    assert r.h.tolist() == [0.5, 1.0]


def test_a_node_at_exactly_the_default_tolerance_has_defaulted() -> None:
    """``defaults`` are the nodes with ``h >= 1 - DEFAULT_TOL`` (inclusive), as node
    indices: node 1 shocked to exactly 1 - 1e-12, node 0 to 0.5."""
    r = debtrank(np.zeros((2, 2)), {0: 0.5, 1: 1.0 - 1e-12})
    assert r.defaults.tolist() == [1] and r.defaults.dtype == np.int64


def test_relative_value_of_whole_numbers_fills_with_the_exact_mean() -> None:
    """Integer total assets 1, 2 and a missing 0: the fill is the mean 1.5 (not cut to
    1), so v = (1, 2, 1.5) / 4.5."""
    assert relative_value([1, 2, 0]).tolist() == pytest.approx([1 / 4.5, 2 / 4.5, 1.5 / 4.5])
