"""Propagation: network risk per domain, then domain, total risk and trust score.

Per domain, with ``W[s, t]`` in [0, 1] the transmission weight of edge ``s -> t``
(risk flows from ``s`` to ``t``), ``b`` the intrinsic risk, damping ``a`` in (0, 1]
and hop limit ``H``, the **strength** of source ``s`` at subject ``i != s`` is that
of its strongest path of at most ``H`` links::

    p(s, i) = max over paths s = v0 -> v1 -> ... -> vh = i, 1 <= h <= H, of
              a^(h-1) * W[v0, v1] * ... * W[v(h-1), vh]

(``p(s, s)`` is not defined: a source never reaches itself). Source ``s`` passes
``c(s, i) = b_s * p(s, i)`` to ``i``, and the sources combine by noisy-OR::

    n_i = 1 - prod_{s != i} (1 - c(s, i))
    -log(1 - n_i) = sum_{s != i} -log(1 - c(s, i))      (the S5 reconciliation rule)

The maximum over paths equals the maximum over walks: a walk with a cycle is never
stronger than the path without it, since weights and damping are at most 1. So

* S8 (no amplification): ``c(s, i) <= b_s``, however many loops, cycles and
  parallel paths join ``s`` and ``i`` (a strongest path counts once);
* S9: ``n_i`` is in [0, 1] by construction, with no cap;
* S2: adding a record raises ``b_s``, adding a relationship can only add paths,
  and noisy-OR grows in every argument;
* S4: along a chain of equal links ``w`` the strength ``a^(h-1) w^h`` does not
  grow with distance.

This is the *most reliable path* of a network whose links fail independently,
solved by Bellman-Ford in the max-times semiring (Gondran & Minoux 2008, *Graphs,
Dioids and Semirings*, ch. 4; Mohri 2002, "Semiring frameworks and algorithms for
shortest-distance problems", J. Autom. Lang. Comb. 7:321-350), and the noisy-OR
of independent causes (Pearl 1988, *Probabilistic Reasoning in Intelligent
Systems*, sec. 4.3.2). The comparison with the walk sum (Katz 1953) used before
2026-11-30, a substochastic transmission matrix and a DebtRank-like pass
(Battiston et al. 2012) is in ``docs/policy.md``. Then, per subject::

    domain_i = 1 - (1 - b_i) * (1 - n_i)
    total_i  = 1 - prod_domains (1 - domain_i)      (domains never netted)
    trust_i  = 100 * (1 - total_i)

Computation: hop-synchronous Bellman-Ford for a batch of sources at once, over
(source, subject) pairs in flat arrays: each hop joins the pairs that improved at
the previous hop with the out-edges of their subject (CSR gather), keeps the
largest candidate per pair (one sort of ``source * n + subject`` keys) and only
the pairs that beat the best value found at fewer hops (a pair reached at more
hops with no more strength cannot lead to a stronger path within the limit).
Then ``log1p(-c)`` is summed per subject with ``bincount``. Work and memory are
proportional to the number of pairs within ``H`` hops of a source, bounded per
batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np

from credgraph.graph.engine.arrays import FloatArray, IntArray
from credgraph.graph.engine.intrinsic import intrinsic_risk
from credgraph.graph.engine.policy import DOMAINS, Policy
from credgraph.graph.engine.projection import Projection, TransmissionGraph
from credgraph.graph.errors import ConfigError

_PAIR_BUDGET = 4_000_000  # candidate (source, subject) pairs per hop before a batch splits


@dataclass(frozen=True, eq=False)
class Scores:
    """Scores of every subject (arrays indexed like ``projection.subjects``).

    Every array is in [0, 1] except ``trust`` in [0, 100]. ``network[d]`` is the
    noisy-OR of the sources' contributions (module docstring), in [0, 1] by
    construction: there is no cap, so what earlier versions reported as the
    "uncapped" network risk is the same number.
    """

    as_of: date
    policy_hash: str
    domains: tuple[str, ...]
    intrinsic: dict[str, FloatArray]
    network: dict[str, FloatArray]
    domain: dict[str, FloatArray]
    intrinsic_total: FloatArray  # 1 - prod_d (1 - intrinsic[d])
    network_total: FloatArray  # 1 - prod_d (1 - network[d])
    total: FloatArray
    trust: FloatArray


def _expand(
    indptr: IntArray, dst: IntArray, weight: FloatArray, nodes: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Every out-edge of every entry of ``nodes``: (entry position, target, weight)."""
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64), counts)
    pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(
        total, dtype=np.int64
    )
    return owner, dst[pos], weight[pos]


def _max_by_key(keys: IntArray, vals: FloatArray) -> tuple[IntArray, FloatArray]:
    """Sorted unique keys and the largest value of each."""
    order = np.lexsort((vals, keys))  # by key, then value: the last of a run is its max
    k, v = keys[order], vals[order]
    last = np.r_[k[1:] != k[:-1], True] if len(k) else np.zeros(0, dtype=bool)
    return k[last], v[last]


def strongest_paths(
    graph: TransmissionGraph, sources: IntArray, hop_limit: int, damping: float
) -> tuple[IntArray, IntArray, FloatArray]:
    """``p(s, i)`` (module docstring) for every ``s`` in ``sources`` and every ``i != s``
    it reaches within ``hop_limit`` links: arrays (source, subject, strength), sorted
    by (position of the source in ``sources``, subject)."""
    n = graph.n
    sources = np.asarray(sources, dtype=np.int64)
    indptr, dst, weight = graph.indptr, graph.dst, graph.weight
    # hop 1: the out-edges of the sources themselves
    owner, tgt, val = _expand(indptr, dst, weight, sources)
    keys, vals = _max_by_key(owner * n + tgt, val)
    best_k, best_v = keys, vals
    front_k, front_v = keys, vals
    for _ in range(2, hop_limit + 1):
        if len(front_k) == 0:
            break
        f_src, f_node = np.divmod(front_k, n)
        owner, tgt, w = _expand(indptr, dst, weight, f_node)
        cand_k = f_src[owner] * n + tgt
        cand_v = front_v[owner] * damping * w
        keep = tgt != sources[f_src[owner]]  # a source never reaches itself
        cand_k, cand_v = _max_by_key(cand_k[keep], cand_v[keep])
        at = np.searchsorted(best_k, cand_k)
        found = at < len(best_k)
        found[found] = best_k[at[found]] == cand_k[found]
        old = np.zeros(len(cand_k))
        old[found] = best_v[at[found]]
        better = cand_v > old
        front_k, front_v = cand_k[better], cand_v[better]
        # merge the improvements into the best values (sorted keys, one per pair)
        upd = better & found
        best_v = best_v.copy()
        best_v[at[upd]] = cand_v[upd]
        new = better & ~found
        if new.any():
            merged_k = np.concatenate([best_k, cand_k[new]])
            merged_v = np.concatenate([best_v, cand_v[new]])
            order = np.argsort(merged_k, kind="stable")
            best_k, best_v = merged_k[order], merged_v[order]
    s_pos, subj = np.divmod(best_k, n)
    return s_pos, subj, best_v


def _batches(graph: TransmissionGraph, sources: IntArray, hop_limit: int) -> Iterator[IntArray]:
    """Consecutive slices of ``sources`` whose first hop stays within the pair budget
    (an estimate: out-degree sums; a batch holds at least one source)."""
    deg = (graph.indptr[sources + 1] - graph.indptr[sources]).astype(np.float64)
    mean = max(graph.n_edges / max(graph.n, 1), 1.0)
    # each further hop multiplies the frontier by about the mean out-degree
    est = np.cumsum(np.maximum(deg, 1.0) * mean ** max(hop_limit - 2, 0))
    lo = 0
    while lo < len(sources):
        hi = int(np.searchsorted(est, (est[lo - 1] if lo else 0.0) + _PAIR_BUDGET, side="right"))
        hi = max(hi, lo + 1)
        yield sources[lo:hi]
        lo = hi


def network_risk(
    graph: TransmissionGraph, b: FloatArray, hop_limit: int, damping: float
) -> FloatArray:
    """Network risk ``n`` of one domain (module docstring), in [0, 1]."""
    b = np.asarray(b, dtype=np.float64)
    n = len(b)
    if graph.n_edges == 0 or not b.any():
        return np.zeros(n)
    log_keep = np.zeros(n)  # sum_s log(1 - c(s, i)); -inf where some c(s, i) = 1
    largest = np.zeros(n)  # max_s c(s, i)
    count = np.zeros(n, dtype=np.int64)  # sources passing i something
    sources = np.flatnonzero(b > 0)
    with np.errstate(divide="ignore"):
        for batch in _batches(graph, sources, hop_limit):
            s_pos, subj, strength = strongest_paths(graph, batch, hop_limit, damping)
            c = b[batch[s_pos]] * strength
            log_keep += np.bincount(subj, weights=np.log1p(-c), minlength=n)
            np.maximum.at(largest, subj, c)
            count += np.bincount(subj[c > 0], minlength=n)  # an underflow to 0 adds nothing
    # + 0.0: -expm1(0) is -0.0 where nothing arrives (S3: exactly 0)
    out: FloatArray = -np.expm1(log_keep) + 0.0
    # never below the largest contribution, and one source passes exactly its
    # contribution: the log/exp round trip alone can gain or lose the last bit
    # (-expm1(log1p(-0.225)) > 0.225: the firm of a violator's legal representative
    # scored below the violator, S8; a lost bit let a new source lower n, S2)
    np.maximum(out, largest, out=out)
    one = count == 1
    out[one] = largest[one]
    return out


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
        dom[d] = _noisy_or([b[d], net[d]], n)
    total = _noisy_or([dom[d] for d in DOMAINS], n)
    return Scores(
        as_of=projection.as_of,
        policy_hash=projection.policy_hash,
        domains=DOMAINS,
        intrinsic=b,
        network=net,
        domain=dom,
        intrinsic_total=_noisy_or([b[d] for d in DOMAINS], n),
        network_total=_noisy_or([net[d] for d in DOMAINS], n),
        total=total,
        trust=np.clip(100.0 * (1.0 - total), 0.0, 100.0),
    )
