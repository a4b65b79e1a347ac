"""Propagation: network risk per domain, then domain, total risk and trust score.

Per domain, with ``W[s, t]`` the transmission weight of edge ``s -> t`` (risk flows
from ``s`` to ``t``), ``b`` the intrinsic risk, damping ``a`` and hop limit ``H``::

    n_i = sum_{s != i} b_s * sum_{h=1..H} a^(h-1) * (W^h)[s, i]

that is a Katz-style damped sum over *walks* (Katz 1953, "A new status index
derived from sociometric analysis", Psychometrika 18:39-43), truncated at ``H``
hops, counting every walk of 1..H links that ends at ``i`` and does *not* start at
``i``: a subject's own risk never comes back to it through a cycle (mutual
guarantees, a legal representative and its firm). Walks from other sources may
revisit nodes (a guarantee circle amplifies the risk entering it, bounded by
damping and the hop limit). The network risk is reported uncapped (it is the sum
the explanation adds up to, S5) and capped at 1 when combined::

    domain_i = 1 - (1 - b_i) * (1 - min(1, n_i))
    total_i  = 1 - prod_domains (1 - domain_i)      (domains never netted)
    trust_i  = 100 * (1 - total_i)

Computation: ``H`` sparse mat-vecs with ``W^T`` give the sum over all walks; the
walks that start at ``i`` and end at ``i`` are then subtracted exactly, for the
sources with ``b_i > 0`` only, as ``b_i * sum_h a^(h-1) (W^h)[i, i]``. Nodes that
cannot lie on a cycle (no in- or no out-edge, peeled repeatedly) are dropped first,
then the diagonal is computed meet-in-the-middle: ``(W^h)[i, i] = sum_j (W^p)[i, j] (W^q)[j, i]``
with ``p = ceil(h/2)``, ``q = h - p`` (rows of ``W^p`` and columns of ``W^q`` for the
sources, in batches).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import scipy.sparse as sp

from credgraph.graph.engine.arrays import FloatArray, IntArray
from credgraph.graph.engine.intrinsic import intrinsic_risk
from credgraph.graph.engine.policy import DOMAINS, Policy
from credgraph.graph.engine.projection import Projection, TransmissionGraph
from credgraph.graph.errors import ConfigError

_SNAP = 1e-12  # relative: a cancellation residue below this fraction of the walk sum is 0
_BATCH = 32768  # sources per batch in the closed-walk computation
_PEEL_PASSES = 8  # passes removing nodes that cannot be on a cycle


@dataclass(frozen=True, eq=False)
class Scores:
    """Scores of every subject (arrays indexed like ``projection.subjects``).

    ``network[d]`` is uncapped (the sum of the contributions); every other array is
    in [0, 1] except ``trust`` in [0, 100].
    """

    as_of: date
    policy_hash: str
    domains: tuple[str, ...]
    intrinsic: dict[str, FloatArray]
    network: dict[str, FloatArray]
    domain: dict[str, FloatArray]
    intrinsic_total: FloatArray  # 1 - prod_d (1 - intrinsic[d])
    network_total: FloatArray  # 1 - prod_d (1 - min(1, network[d]))
    total: FloatArray
    trust: FloatArray


def walk_sum(wt: sp.csr_matrix, b: FloatArray, hop_limit: int, damping: float) -> FloatArray:
    """``sum_{h=1..H} a^(h-1) (W^T)^h b``, all walks including closed ones (``wt = W^T``)."""
    acc = np.zeros(len(b))
    x = np.asarray(b, dtype=np.float64)
    for h in range(1, hop_limit + 1):
        x = wt @ x
        if not x.any():
            break
        acc += damping ** (h - 1) * x
    return acc


def closed_walk_weights(
    w: sp.csr_matrix, nodes: IntArray, hop_limit: int, damping: float
) -> FloatArray:
    """``sum_{h=2..H} a^(h-1) (W^h)[i, i]`` for each ``i`` in ``nodes`` (no self-loops).

    Exact; on the subgraph left after peeling acyclic nodes, meet-in-the-middle.
    """
    nodes = np.asarray(nodes, dtype=np.int64)
    out = np.zeros(len(nodes))
    if hop_limit < 2 or len(nodes) == 0 or w.nnz == 0:
        return out
    n = w.shape[0]
    coo = w.tocoo()
    row, col, data = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    # Peel nodes that cannot lie on a cycle (no in-edge or no out-edge among the
    # remaining ones); every closed walk survives, so the result stays exact.
    on_cycle = np.ones(n, dtype=bool)
    for _ in range(_PEEL_PASSES):
        on_cycle = (np.bincount(row, minlength=n) > 0) & (np.bincount(col, minlength=n) > 0)
        keep_e = on_cycle[row] & on_cycle[col]
        if keep_e.all():
            break
        row, col, data = row[keep_e], col[keep_e], data[keep_e]
    # Whatever the passes left: drop edges to nodes with no in- or no out-edge (a
    # node peeled here lies on no cycle, so no closed walk loses a step).
    on_cycle = (np.bincount(row, minlength=n) > 0) & (np.bincount(col, minlength=n) > 0)
    keep_e = on_cycle[row] & on_cycle[col]
    row, col, data = row[keep_e], col[keep_e], data[keep_e]
    sel = np.flatnonzero(on_cycle[nodes])
    if len(sel) == 0:
        return out
    keep = np.flatnonzero(on_cycle)
    local = np.full(n, -1, dtype=np.int64)
    local[keep] = np.arange(len(keep))
    k = len(keep)
    wc = sp.csr_matrix((data, (local[row], local[col])), shape=(k, k))
    wct = wc.T.tocsr()
    p_max, q_max = (hop_limit + 1) // 2, hop_limit // 2
    targets = local[nodes[sel]]
    for lo in range(0, len(targets), _BATCH):
        t = targets[lo : lo + _BATCH]
        m = len(t)
        sel_rows = sp.csr_matrix((np.ones(m), (np.arange(m), t)), shape=(m, k))
        fwd: list[sp.csr_matrix] = [sel_rows, wc[t]]  # fwd[p] = rows t of W^p
        for _ in range(2, p_max + 1):
            fwd.append(fwd[-1] @ wc)
        bwd: list[sp.csr_matrix] = [sel_rows]  # bwd[q][r, j] = (W^q)[j, t_r]
        for _ in range(1, q_max + 1):
            bwd.append(bwd[-1] @ wct)
        tot = np.zeros(m)
        for h in range(2, hop_limit + 1):
            p = (h + 1) // 2
            q = h - p
            diag = np.asarray(fwd[p].multiply(bwd[q]).sum(axis=1)).ravel()
            tot += damping ** (h - 1) * diag
        out[sel[lo : lo + m]] = tot
    return out


def network_risk(
    graph: TransmissionGraph, b: FloatArray, hop_limit: int, damping: float
) -> FloatArray:
    """Network risk ``n`` of one domain (module docstring), uncapped."""
    b = np.asarray(b, dtype=np.float64)
    if graph.n_edges == 0 or not b.any():
        return np.zeros(len(b))
    acc = walk_sum(graph.transpose_matrix(), b, hop_limit, damping)
    src = np.flatnonzero(b > 0)
    ret = closed_walk_weights(graph.matrix(), src, hop_limit, damping)
    n = acc.copy()
    n[src] -= b[src] * ret
    n[n <= _SNAP * acc] = 0.0
    return n


def _noisy_or(parts: list[FloatArray], n: int) -> FloatArray:
    keep = np.ones(n)
    for p in parts:
        keep *= 1.0 - p
    out: FloatArray = np.clip(1.0 - keep, 0.0, 1.0)
    return out


def propagate(projection: Projection, policy: Policy) -> Scores:
    """Score every subject of ``projection`` under ``policy`` (module docstring).

    The policy must be the one the projection was built with (its transmission
    weights are baked into the projection); otherwise :class:`ConfigError`.
    """
    if projection.policy_hash != policy.hash:
        raise ConfigError(
            "the projection was built with another policy "
            f"({projection.policy_hash[:12]} != {policy.hash[:12]})",
            hint="build the projection and propagate with the same policy",
        )
    n = projection.n_subjects
    hop, damping = policy.propagation.hop_limit, policy.propagation.damping
    b = intrinsic_risk(projection)
    net: dict[str, FloatArray] = {}
    dom: dict[str, FloatArray] = {}
    for d in DOMAINS:
        net[d] = network_risk(projection.graphs[d], b[d], hop, damping)
        dom[d] = _noisy_or([b[d], np.minimum(1.0, net[d])], n)
    total = _noisy_or([dom[d] for d in DOMAINS], n)
    return Scores(
        as_of=projection.as_of,
        policy_hash=projection.policy_hash,
        domains=DOMAINS,
        intrinsic=b,
        network=net,
        domain=dom,
        intrinsic_total=_noisy_or([b[d] for d in DOMAINS], n),
        network_total=_noisy_or([np.minimum(1.0, net[d]) for d in DOMAINS], n),
        total=total,
        trust=np.clip(100.0 * (1.0 - total), 0.0, 100.0),
    )
