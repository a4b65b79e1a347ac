"""DebtRank stress test (PRODUCT.md, "Stress test (DebtRank)").

Reference: S. Battiston, M. Puliga, R. Kaushik, P. Tasca, G. Caldarelli (2012),
"DebtRank: Too Central to Fail? Financial Networks, the FED and Systemic Risk",
Scientific Reports 2:541, doi:10.1038/srep00541.

Conventions. Nodes are ``0..n-1``. ``W[i, j]`` is the impact of the distress of
``j`` on ``i``, i.e. *row i is the exposed party* (creditor, guarantor) and
*column j what it is exposed to* (the borrower)::

    W[i, j] = min(1, A_ij / E_i)

with ``A_ij`` the total exposure of ``i`` to ``j`` and ``E_i`` the equity of
``i``. The paper writes the same matrix transposed (its ``W_ij`` is the impact
of ``i`` on ``j``, ``min(1, A_ji / E_j)``); the dynamics below are the paper's
with that transposition applied.

Dynamics (paper, "Methods"): each node has a distress ``h_i in [0, 1]`` and a
state ``s_i in {U, D, I}`` (undistressed, distressed, inactive). At ``t = 1``,
``h_i(1) = psi_i`` for the shocked nodes, which are ``D``; every other node is
``U`` with ``h_i(1) = 0``. Then, for ``t >= 2``::

    h_i(t) = min(1, h_i(t-1) + sum_{j : s_j(t-1) = D} W[i, j] * h_j(t-1))
    s_i(t) = D  if h_i(t) > 0 and s_i(t-1) = U
             I  if s_i(t-1) = D
             s_i(t-1)  otherwise

so a node passes its distress on exactly once, in the step after it became
distressed (reverberation along cycles is excluded). The process stops at the
first ``T`` with no ``D`` node (at most ``n + 1``). The DebtRank of the shock is::

    R = sum_j h_j(T) v_j - sum_j h_j(1) v_j

with ``v`` the relative economic value (``sum_j v_j = 1``): the initial shock is
left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from credgraph.graph.engine.arrays import BoolArray, FloatArray, IntArray

__all__ = [
    "DEFAULT_TOL",
    "DebtRankResult",
    "debtrank",
    "has_equity",
    "impact_matrix",
    "relative_value",
]


#: A node counts as defaulted when ``h >= 1 - DEFAULT_TOL``.
DEFAULT_TOL = 1e-12


def has_equity(equity: npt.ArrayLike) -> BoolArray:
    """Mask of the subjects that can be assessed: equity finite and > 0."""
    e = np.asarray(equity, dtype=np.float64).reshape(-1)
    with np.errstate(invalid="ignore"):
        return np.isfinite(e) & (e > 0)


def impact_matrix(
    n: int,
    creditor: npt.ArrayLike,
    debtor: npt.ArrayLike,
    exposure: npt.ArrayLike,
    equity: npt.ArrayLike,
) -> sp.csr_matrix:
    """Impact matrix ``W`` of Battiston et al. (2012), rows = exposed parties.

    Formula::

        W[i, j] = min(1, (sum_{k : creditor[k] = i, debtor[k] = j} exposure[k]) / E_i)

    for every ``i`` with equity ``E_i`` finite and > 0; the rows of subjects
    without equity (missing/nan, <= 0) are zero (they cannot be impacted and are
    reported as unassessed by :func:`debtrank`). Several exposures of ``i`` to
    ``j`` are summed *before* the cap; self-exposures (``i == j``) are ignored.

    The caller maps records to exposures: for a loan, ``creditor`` = lender,
    ``debtor`` = borrower, ``exposure`` = outstanding amount; for a guarantee,
    ``creditor`` = guarantor, ``debtor`` = borrower, ``exposure`` = guaranteed
    amount.

    Args:
        n: number of subjects.
        creditor, debtor: ``int64`` node indices per exposure.
        exposure: ``float64`` amounts per exposure, finite and >= 0.
        equity: ``float64`` equity per node (length ``n``), nan where unknown.

    Returns:
        ``n x n`` CSR matrix with entries in (0, 1], zeros not stored.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    c = np.asarray(creditor, dtype=np.int64).reshape(-1)
    d = np.asarray(debtor, dtype=np.int64).reshape(-1)
    x = np.asarray(exposure, dtype=np.float64).reshape(-1)
    e = np.asarray(equity, dtype=np.float64).reshape(-1)
    if not (c.size == d.size == x.size):
        raise ValueError("creditor, debtor and exposure must have the same length")
    if e.size != n:
        raise ValueError(f"equity has {e.size} values for {n} nodes")
    if c.size and (min(c.min(), d.min()) < 0 or max(c.max(), d.max()) >= n):
        raise ValueError(f"node indices must lie in [0, {n})")
    if x.size and (not np.all(np.isfinite(x)) or x.min() < 0):
        raise ValueError("exposure must be finite and >= 0")
    ok = has_equity(e)
    keep = (c != d) & ok[c] & (x > 0)
    c, d, x = c[keep], d[keep], x[keep]
    # coo -> csr sums duplicate (i, j) entries: the exposures add up before the cap.
    a = sp.coo_matrix((x, (c, d)), shape=(n, n)).tocsr()
    a.sum_duplicates()
    rows = np.repeat(np.arange(n), np.diff(a.indptr))
    a.data = np.minimum(1.0, a.data / e[rows])
    a.eliminate_zeros()
    return sp.csr_matrix(a)


def relative_value(total_assets: npt.ArrayLike) -> FloatArray:
    """Relative economic value ``v`` proportional to total assets, summing to 1.

    ``v_i = a_i / sum_j a_j`` where ``a_i`` is the total assets of ``i``, or,
    where unknown (nan, infinite or <= 0), the mean of the known values (1 if
    none is known): "equal where missing" (PRODUCT.md). Battiston et al. (2012)
    use the relative economic value of each node in the same way.
    """
    a = np.array(total_assets, dtype=np.float64).reshape(-1)
    if a.size == 0:
        return a
    with np.errstate(invalid="ignore"):
        known = np.isfinite(a) & (a > 0)
    fill = float(a[known].mean()) if known.any() else 1.0
    a[~known] = fill
    return a / a.sum()


@dataclass(frozen=True, eq=False)
class DebtRankResult:
    """Outcome of :func:`debtrank`.

    Attributes:
        debtrank: ``R = sum_j h_j(T) v_j - sum_j h_j(1) v_j`` (initial shock left out).
        initial_shock: ``sum_j h_j(1) v_j``, the value-weighted initial shock.
        total: ``sum_j h_j(T) v_j`` (= ``debtrank + initial_shock`` up to rounding).
        h: final distress ``h(T)`` per node, in [0, 1].
        h_initial: initial distress ``h(1)`` per node.
        defaults: sorted indices with ``h >= 1 - DEFAULT_TOL``.
        states: final state per node, ``'U'``, ``'D'`` or ``'I'`` (``'D'`` only
            if stopped by ``max_iter``).
        iterations: propagation steps done (``T - 1``).
        converged: ``True`` when the process ended with no distressed node.
        unassessed: sorted indices of the nodes without equity (never impacted).
        value: the relative economic value ``v`` used.
    """

    debtrank: float
    initial_shock: float
    total: float
    h: FloatArray
    h_initial: FloatArray
    defaults: IntArray
    states: npt.NDArray[np.str_]
    iterations: int
    converged: bool
    unassessed: IntArray
    value: FloatArray


def debtrank(
    W: sp.spmatrix | sp.sparray | npt.ArrayLike,
    shocks: Mapping[int, float],
    value: npt.ArrayLike | None = None,
    max_iter: int | None = None,
    *,
    equity: npt.ArrayLike | None = None,
) -> DebtRankResult:
    """Run DebtRank (Battiston et al. 2012, Sci. Rep. 2:541) for one shock scenario.

    With ``W`` from :func:`impact_matrix` (``W[i, j]``: impact of ``j`` on ``i``)::

        t = 1:   h_i(1) = psi_i (shocked), 0 otherwise;  s_i(1) = D if shocked else U
        t >= 2:  h_i(t) = min(1, h_i(t-1) + sum_{j in D(t-1)} W[i, j] h_j(t-1))
                 D -> I;  U with h_i(t) > 0 -> D
        stop at the first T with D(T) empty
        R = sum_j h_j(T) v_j - sum_j h_j(1) v_j

    Each step is one sparse product ``W[:, D] @ h[D]``; every node is
    distressed at most once, so there are at most ``n`` steps.

    Args:
        W: ``n x n`` impact matrix (sparse or dense), entries in [0, 1].
        shocks: node -> initial distress ``psi`` in (0, 1].
        value: relative economic value ``v`` (see :func:`relative_value`); it is
            normalised to sum 1; ``None`` means ``1/n`` each.
        max_iter: optional cap on the propagation steps (``None``: run to the end).
        equity: the equity used to build ``W``; nodes without equity (nan,
            <= 0) are reported as ``unassessed`` and kept at their initial
            distress (a shocked node without equity still passes its distress
            on). ``None``: nobody is unassessed.

    Returns:
        A :class:`DebtRankResult`.
    """
    w = sp.csr_matrix(W, dtype=np.float64)
    n = w.shape[0]
    if w.shape != (n, n):
        raise ValueError(f"W must be square, got shape {w.shape}")
    if w.nnz and (not np.all(np.isfinite(w.data)) or w.data.min() < 0 or w.data.max() > 1):
        raise ValueError("W entries must lie in [0, 1]")
    if max_iter is not None and max_iter < 0:
        raise ValueError(f"max_iter must be >= 0, got {max_iter}")

    if value is None:
        v = np.full(n, 1.0 / n) if n else np.zeros(0)
    else:
        v = np.asarray(value, dtype=np.float64).reshape(-1)
        if v.size != n or not np.all(np.isfinite(v)) or (n and (v.min() < 0 or v.sum() <= 0)):
            raise ValueError("value must have n finite values >= 0 with a positive sum")
        v = v / v.sum()

    if equity is None:
        unassessed = np.zeros(0, dtype=np.int64)
    else:
        eq = np.asarray(equity, dtype=np.float64).reshape(-1)
        if eq.size != n:
            raise ValueError(f"equity has {eq.size} values for {n} nodes")
        unassessed = np.flatnonzero(~has_equity(eq)).astype(np.int64)
        if unassessed.size:  # never impacted: zero their rows, whatever W says
            keep = np.ones(n)
            keep[unassessed] = 0.0
            w = sp.csr_matrix(sp.diags(keep) @ w)
            w.eliminate_zeros()

    h = np.zeros(n, dtype=np.float64)
    for node, psi in shocks.items():
        i = int(node)
        if not 0 <= i < n:
            raise ValueError(f"shocked node {node} outside [0, {n})")
        p = float(psi)
        if not 0.0 < p <= 1.0:
            raise ValueError(f"shock of node {node} must lie in (0, 1], got {psi}")
        h[i] = p
    h_initial = h.copy()

    # States: 0 = U, 1 = D, 2 = I.
    state = np.zeros(n, dtype=np.int8)
    state[h > 0] = 1
    wc = w.tocsc()  # column slicing W[:, D] is cheap in CSC
    iterations = 0
    while True:
        distressed = np.flatnonzero(state == 1)
        if distressed.size == 0 or (max_iter is not None and iterations >= max_iter):
            break
        impact = wc[:, distressed] @ h[distressed]  # uses h(t-1) only
        h = np.minimum(1.0, h + impact)
        state[distressed] = 2
        state[(state == 0) & (h > 0)] = 1
        iterations += 1

    total = float(h @ v)
    initial = float(h_initial @ v)
    # R = sum_j (h_j(T) - h_j(1)) v_j: every term is >= 0, so R >= 0 exactly.
    r = float((h - h_initial) @ v)
    states = np.array(["U", "D", "I"])[state]
    return DebtRankResult(
        debtrank=r,
        initial_shock=initial,
        total=total,
        h=h,
        h_initial=h_initial,
        defaults=np.flatnonzero(h >= 1.0 - DEFAULT_TOL).astype(np.int64),
        states=states,
        iterations=iterations,
        converged=not bool(np.any(state == 1)),
        unassessed=unassessed,
        value=v,
    )
