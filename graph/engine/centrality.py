"""Centrality measures for the centrality jobs (PRODUCT.md, "Centrality jobs").

Pure functions over plain arrays: nodes are ``0..n-1``, edges are given as two
``int64`` arrays ``src`` and ``dst`` of equal length (edge ``k`` runs from
``src[k]`` to ``dst[k]``), optional per-edge ``float64`` weights or amounts.
No database, no I/O. The heavy lifting is done by python-igraph (C core).

Per run the jobs store:

- PageRank on the exposure graph (:func:`pagerank`);
- betweenness, sampled where the graph is large (:func:`betweenness`,
  :func:`auto_betweenness_sample`);
- k-core number (:func:`kcore`);
- guarantee-circle membership: strongly connected components of the
  guarantee graph with at least two members (:func:`guarantee_circles`,
  :func:`circle_membership`).
"""

from __future__ import annotations

from dataclasses import dataclass

import igraph as ig
import numpy as np
import numpy.typing as npt

from credgraph.graph.engine.arrays import FloatArray, IntArray

__all__ = [
    "Circle",
    "auto_betweenness_sample",
    "betweenness",
    "circle_membership",
    "guarantee_circles",
    "kcore",
    "pagerank",
]


def _edges(n: int, src: npt.ArrayLike, dst: npt.ArrayLike) -> tuple[IntArray, IntArray]:
    """Validate ``n``, ``src``, ``dst`` and return them as 1-d ``int64`` arrays."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    s = np.asarray(src, dtype=np.int64).reshape(-1)
    d = np.asarray(dst, dtype=np.int64).reshape(-1)
    if s.shape != d.shape:
        raise ValueError(f"src and dst differ in length: {s.size} != {d.size}")
    if s.size and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
        raise ValueError(f"edge endpoints must lie in [0, {n})")
    return s, d


def _edge_values(values: npt.ArrayLike, m: int, name: str) -> FloatArray:
    """Validate per-edge values: 1-d, length ``m``, finite and >= 0."""
    w = np.asarray(values, dtype=np.float64).reshape(-1)
    if w.size != m:
        raise ValueError(f"{name} has {w.size} values for {m} edges")
    if w.size and (not np.all(np.isfinite(w)) or w.min() < 0):
        raise ValueError(f"{name} must be finite and >= 0")
    return w


def _graph(n: int, src: IntArray, dst: IntArray, *, directed: bool) -> ig.Graph:
    """Build an igraph graph with ``n`` vertices and edges ``src[k] -> dst[k]``.

    Equivalent to ``ig.Graph(n=n, edges=np.column_stack([src, dst]), directed=...)``;
    the edge list is handed over as a list of int pairs, which igraph ingests about
    twice as fast as a numpy array (about 1 s instead of 2.5 s for 3M edges).
    """
    return ig.Graph(
        n=n, edges=list(zip(src.tolist(), dst.tolist(), strict=True)), directed=directed
    )


def pagerank(
    n: int,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    damping: float = 0.85,
) -> FloatArray:
    """PageRank of every node of a directed (multi)graph.

    Formula (Brin & Page 1998, "The anatomy of a large-scale hypertextual Web
    search engine", Computer Networks 30:107-117)::

        PR(v) = (1 - d) / n + d * ( sum_{u -> v} PR(u) * w_uv / W_u + sum_{u dangling} PR(u) / n )

    with damping ``d``, ``W_u`` the total weight of the out-edges of ``u``
    (parallel edges add up; self-loops count) and *dangling* nodes (no out-weight)
    spreading their rank uniformly over all nodes, as igraph (PRPACK) and
    ``networkx.pagerank`` both do. The result sums to 1.

    Args:
        n: number of nodes.
        src, dst: edge endpoints (edge ``k`` runs ``src[k] -> dst[k]``; on the
            exposure graph, from the exposed party to what it is exposed to, or
            however the caller orients it: rank flows along the edges).
        weight: optional per-edge weights (finite, >= 0); ``None`` means 1 each.
        damping: the damping factor ``d`` in [0, 1].

    Returns:
        ``float64`` array of length ``n`` (empty for ``n == 0``).
    """
    s, d = _edges(n, src, dst)
    if not 0.0 <= damping <= 1.0:
        raise ValueError(f"damping must lie in [0, 1], got {damping}")
    if n == 0:
        return np.zeros(0, dtype=np.float64)
    w = None if weight is None else _edge_values(weight, s.size, "weight")
    g = _graph(n, s, d, directed=True)
    pr = g.pagerank(
        directed=True,
        damping=damping,
        weights=None if w is None else w.tolist(),
        implementation="prpack",
    )
    return np.asarray(pr, dtype=np.float64)


def auto_betweenness_sample(n: int, threshold: int = 20000, sample: int = 512) -> int | None:
    """Sampling policy for :func:`betweenness`.

    Returns ``None`` (exact betweenness) when ``n <= threshold`` or when
    ``sample >= n``; otherwise ``sample`` (the number of Brandes-Pich pivots).
    """
    if sample < 1:
        raise ValueError(f"sample must be >= 1, got {sample}")
    if n <= threshold or sample >= n:
        return None
    return sample


def betweenness(
    n: int,
    src: npt.ArrayLike,
    dst: npt.ArrayLike,
    *,
    directed: bool = True,
    sample: int | None = None,
    seed: int = 0,
) -> tuple[FloatArray, int | None]:
    """Shortest-path betweenness, exact or estimated from sampled pivots.

    Exact (Freeman 1977, "A set of measures of centrality based on betweenness",
    Sociometry 40:35-41; computed with Brandes 2001, "A faster algorithm for
    betweenness centrality", J. Math. Sociol. 25:163-177)::

        C_B(v) = sum_{s != v != t} sigma_st(v) / sigma_st = sum_s delta_s(v)

    where ``sigma_st`` counts the shortest s-t paths, ``sigma_st(v)`` those through
    ``v`` and ``delta_s(v) = sum_t sigma_st(v) / sigma_st`` is the dependency of
    ``s`` on ``v``. Unnormalised, like ``networkx.betweenness_centrality(G,
    normalized=False)``: ordered pairs for a directed graph, unordered pairs
    (half the sum) for an undirected one.

    Approximate (Brandes & Pich 2007, "Centrality estimation in large networks",
    Int. J. Bifurcation and Chaos 17(7):2303-2318): draw ``k = sample`` distinct
    pivots ``K`` uniformly without replacement (``numpy.random.default_rng(seed)``)
    and extrapolate::

        C_B~(v) = (n / k) * sum_{s in K} delta_s(v)

    (halved for undirected graphs as above), an unbiased estimator of ``C_B``.
    The single-source dependencies come from igraph's ``betweenness(sources=K)``.

    The graph is taken as simple: self-loops are dropped and parallel edges
    merged (for ``directed=False`` after forgetting directions), so that
    ``u -> v`` and ``v -> u`` give one undirected link. Paths count hops
    (unweighted).

    Args:
        n: number of nodes.
        src, dst: edge endpoints.
        directed: follow edge directions (``True``) or not.
        sample: number of pivots; ``None`` or ``>= n`` gives the exact value.
        seed: seed of the pivot sampler; the same seed gives the same result.

    Returns:
        ``(scores, sample_used)``: a ``float64`` array of length ``n`` and the
        number of pivots used, ``None`` when exact.
    """
    s, d = _edges(n, src, dst)
    if sample is not None and sample < 1:
        raise ValueError(f"sample must be >= 1 or None, got {sample}")
    if n == 0:
        return np.zeros(0, dtype=np.float64), None
    g = _graph(n, s, d, directed=directed)
    g.simplify(multiple=True, loops=True)
    if sample is None or sample >= n:
        return np.asarray(g.betweenness(directed=directed), dtype=np.float64), None
    pivots = _sample_pivots(n, sample, seed)
    partial = np.asarray(
        g.betweenness(directed=directed, sources=pivots.tolist()), dtype=np.float64
    )
    return partial * (n / pivots.size), int(pivots.size)


def _sample_pivots(n: int, sample: int, seed: int) -> IntArray:
    """``sample`` distinct pivots drawn uniformly from ``0..n-1``, sorted (seeded)."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=sample, replace=False)).astype(np.int64)


def kcore(n: int, src: npt.ArrayLike, dst: npt.ArrayLike) -> IntArray:
    """Coreness (k-core number) of every node.

    The k-core is the maximal subgraph in which every node has degree >= k
    (Seidman 1983, "Network structure and minimum degree", Social Networks
    5:269-287); the coreness of ``v`` is the largest ``k`` whose k-core contains
    ``v``. Computed on the undirected simple graph (directions ignored, self-loops
    and parallel edges removed), with the O(m) algorithm of Batagelj & Zaversnik
    (2003, "An O(m) algorithm for cores decomposition of networks",
    arXiv:cs/0310049) as implemented by igraph. Matches ``networkx.core_number``
    on that graph. Isolated nodes have coreness 0.
    """
    s, d = _edges(n, src, dst)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    g = _graph(n, s, d, directed=False)
    g.simplify(multiple=True, loops=True)
    return np.asarray(g.coreness(mode="all"), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Circle:
    """A guarantee circle: a strongly connected component with >= 2 members.

    Attributes:
        id: position in the deterministic ordering (largest first, then by
            smallest member), starting at 0.
        members: sorted node indices (``int64``).
        size: number of members.
        amount_inside: total amount of the edges whose both ends are members.
    """

    id: int
    members: IntArray
    size: int
    amount_inside: float


def guarantee_circles(
    n: int, src: npt.ArrayLike, dst: npt.ArrayLike, amount: npt.ArrayLike
) -> list[Circle]:
    """Guarantee circles: strongly connected components of size >= 2.

    A strongly connected component (Tarjan 1972, "Depth-first search and linear
    graph algorithms", SIAM J. Comput. 1:146-160) is a maximal node set in which
    every node reaches every other along directed edges; in a guarantee graph it
    is a circle of mutual (possibly indirect) guarantees, the "guarantee circle"
    of Chinese credit-risk practice. Singletons (even with a self-loop) are not
    circles. For a circle ``C``::

        amount_inside(C) = sum_{k : src[k] in C and dst[k] in C} amount[k]

    Ordering (and ``Circle.id``): larger circles first, ties by smallest member.
    Use :func:`circle_membership` for the per-node circle id.
    """
    s, d = _edges(n, src, dst)
    a = _edge_values(amount, s.size, "amount")
    if n == 0:
        return []
    g = _graph(n, s, d, directed=True)
    comp = np.asarray(g.connected_components(mode="strong").membership, dtype=np.int64)
    sizes = np.bincount(comp, minlength=int(comp.max()) + 1)
    in_circle = np.flatnonzero(sizes[comp] >= 2)  # ascending node indices
    if in_circle.size == 0:
        return []
    # Group the circle nodes by component; stable sort keeps members ascending.
    grouped = in_circle[np.argsort(comp[in_circle], kind="stable")]
    comp_ids, starts = np.unique(comp[grouped], return_index=True)
    groups = np.split(grouped, starts[1:])
    smallest = grouped[starts]
    order = np.lexsort((smallest, -sizes[comp_ids]))
    # Relabel: component id -> circle id (or -1), then sum inside amounts.
    relabel = np.full(sizes.size, -1, dtype=np.int64)
    relabel[comp_ids[order]] = np.arange(order.size, dtype=np.int64)
    memb = relabel[comp]
    inside = (memb[s] >= 0) & (memb[s] == memb[d])
    totals = np.bincount(memb[s][inside], weights=a[inside], minlength=order.size)
    return [
        Circle(
            id=cid,
            members=groups[k].astype(np.int64),
            size=int(groups[k].size),
            amount_inside=float(totals[cid]),
        )
        for cid, k in enumerate(order.tolist())
    ]


def circle_membership(n: int, circles: list[Circle]) -> IntArray:
    """Per-node circle id: ``membership[v] = c.id`` if ``v in c.members``, else ``-1``."""
    membership = np.full(n, -1, dtype=np.int64)
    for c in circles:
        membership[c.members] = c.id
    return membership
