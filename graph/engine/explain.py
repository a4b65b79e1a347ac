"""Explanations: which adverse records, through which relationships, made a score.

For subject ``i`` and domain ``d`` the network risk is (see :mod:`.propagation`)::

    n_i = 1 - prod_{s != i} (1 - c(s, i)),   c(s, i) = b_s * p(s, i)

with ``p(s, i)`` the strength of the strongest path of at most ``H`` links from
``s`` to ``i`` (``a^(h-1) * prod(link weights)``). :func:`explain` finds it by ``H``
backward steps from ``i`` in the max-times semiring over the in-edges of the
current frontier (work proportional to the ``H``-hop in-neighbourhood of ``i``,
not to the graph), and returns one :class:`Contribution` per (domain, source) with
amount ``c(s, i)`` and that path. The contributions reconcile with the network
risk by the noisy-OR rule of S5 (``docs/policy.md``)::

    n_i = 1 - prod_k (1 - amount_k),  i.e.  -log(1 - n_i) = sum_k -log(1 - amount_k)

Each names the source's active records in that domain and the strongest real
path from the source to ``i`` (a walk with a cycle is never stronger than the
path without it, since weights and damping are <= 1; ties go to the fewer hops,
then the lower subject index). No amount exceeds its source's own intrinsic risk
in the domain (S8).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from credgraph.graph.engine.arrays import FloatArray, IntArray
from credgraph.graph.engine.policy import CHANNELS, DOMAINS, Policy
from credgraph.graph.engine.projection import Projection, TransmissionGraph
from credgraph.graph.engine.propagation import Scores
from credgraph.graph.errors import ConfigError

PathItem = str | dict[str, Any]


class Contribution(NamedTuple):
    """Network risk that one source subject passes to the explained subject in one domain.

    ``path`` alternates subject ids and links, from the source to the subject; a link is
    ``{"weight": w, "relationships": [{"id", "kind", "weight"}, ...]}`` (parallel
    relationships of the pair, strongest first; ``kind`` is the policy channel).
    ``strength`` is ``damping^(hops-1) * prod(link weights)`` of that path and
    ``amount = b_source * strength`` (at most the source's own risk, S8); a
    subject's contributions in a domain combine by noisy-OR into its network risk.

    A named tuple (immutable): an explanation can hold thousands of them, and a tuple
    is made several times faster than a frozen dataclass.
    """

    domain: str
    records: list[str]
    source_subject: str
    amount: float
    path: list[PathItem]
    hops: int
    strength: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "records": list(self.records),
            "source_subject": self.source_subject,
            "amount": self.amount,
            "path": list(self.path),
            "hops": self.hops,
            "strength": self.strength,
        }


@dataclass(frozen=True)
class RecordView:
    """One adverse record of a subject, whatever its status (S6: shown as such)."""

    id: str
    kind: str  # loan | blacklist
    label: str  # list name or loan status
    domain: str
    date: date | None
    severity: float
    decay: float
    effective: float  # severity * decay if active, else 0
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "domain": self.domain,
            "date": None if self.date is None else self.date.isoformat(),
            "severity": self.severity,
            "decay": self.decay,
            "effective": self.effective,
            "status": self.status,
        }


def subject_records(projection: Projection, subject_index: int) -> list[RecordView]:
    """All adverse records of a subject, active ones first (largest effect first)."""
    rec = projection.records
    sl = rec.of_subject(subject_index)
    out = []
    for k in range(sl.start, sl.stop):
        d = rec.date[k]
        out.append(
            RecordView(
                id=str(rec.id[k]),
                kind=str(rec.kind[k]),
                label=str(rec.label[k]),
                domain=DOMAINS[int(rec.domain[k])],
                date=None if np.isnat(d) else d.astype(object),
                severity=float(rec.severity[k]),
                decay=float(rec.decay[k]),
                effective=float(rec.effective[k]),
                status=str(rec.status[k]),
            )
        )
    out.sort(key=lambda r: (-r.effective, r.status, r.id))
    return out


# ----------------------------------------------------------------------------- search


@dataclass
class _Layer:
    nodes: IntArray  # sorted: subjects with a walk of exactly h links to i
    best: FloatArray  # max product of link weights over those walks
    pred_node: IntArray  # next subject (one step closer to i) on the best walk
    pred_edge: IntArray  # pair edge to it


def _gather(indptr: IntArray, nodes: IntArray) -> tuple[IntArray, IntArray]:
    """For CSR ``indptr``: (position in ``nodes``, CSR position) of every entry of ``nodes``."""
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    total = int(counts.sum())
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64), counts)
    offs = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return owner, np.repeat(starts, counts) + offs


def _step_sparse(g: TransmissionGraph, nodes: IntArray, best: FloatArray) -> _Layer:
    """One backward max-times step over the in-edges of ``nodes`` only (small frontiers)."""
    owner, pos = _gather(g.in_indptr, nodes)
    if len(pos) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return _Layer(empty, np.zeros(0), empty, empty)
    src = g.in_src[pos]
    edge = g.in_edge[pos]
    cand = g.weight[edge] * best[owner]
    uniq, inv = np.unique(src, return_inverse=True)
    order = np.lexsort((nodes[owner], -cand, inv))  # ties: the lower next subject
    first = order[np.r_[True, inv[order][1:] != inv[order][:-1]]]
    return _Layer(uniq, cand[first], nodes[owner[first]], edge[first])


def _step_dense(g: TransmissionGraph, nodes: IntArray, best: FloatArray) -> _Layer:
    """The same step over every edge (large frontiers): O(edges), no sort."""
    yb = np.zeros(g.n)
    yb[nodes] = best
    cand = g.weight * yb[g.dst]
    nonempty = np.flatnonzero(np.diff(g.indptr) > 0)
    row_max = np.zeros(g.n)
    if len(nonempty):
        row_max[nonempty] = np.maximum.reduceat(cand, g.indptr[nonempty])
    hit = np.flatnonzero((cand > 0) & (cand == row_max[g.src]))
    # edges are sorted by (src, dst): the first hit of a row has the lower next subject
    first = hit[np.r_[True, g.src[hit][1:] != g.src[hit][:-1]]] if len(hit) else hit
    return _Layer(g.src[first], cand[first], g.dst[first], first.astype(np.int64))


def _backward(g: TransmissionGraph, i: int, hop_limit: int) -> list[_Layer]:
    """The max-product layers from ``i`` back: layer ``h`` holds, for every subject
    with a walk of exactly ``h`` links to ``i``, the largest product of link weights.

    Each step walks the in-edges of the frontier; once the frontier touches more than
    1/8 of all edges, a dense pass over all edges is cheaper than gathering and sorting.
    """
    nodes = np.array([i], dtype=np.int64)
    best = np.ones(1)
    layers: list[_Layer] = []
    for _ in range(hop_limit):
        touched = int((g.in_indptr[nodes + 1] - g.in_indptr[nodes]).sum())
        if touched == 0:
            break
        step = _step_dense if touched * 8 > g.n_edges else _step_sparse
        layer = step(g, nodes, best)
        if len(layer.nodes) == 0:
            break
        layers.append(layer)
        nodes, best = layer.nodes, layer.best
    return layers


def _strengths(
    layers: list[_Layer], damping: float, n: int
) -> tuple[IntArray, FloatArray, IntArray]:
    """Every subject reaching ``i``: (subject, ``p(s, i)``, hops of its strongest walk),
    the fewest hops on ties."""
    strength = np.full(n, -1.0)
    hops = np.zeros(n, dtype=np.int64)
    for h, lay in enumerate(layers, start=1):
        v = damping ** (h - 1) * lay.best
        better = v > strength[lay.nodes]
        strength[lay.nodes[better]] = v[better]
        hops[lay.nodes[better]] = h
    nodes = np.flatnonzero(hops > 0)
    return nodes, strength[nodes], hops[nodes]


def _walks(sources: IntArray, best_h: IntArray, layers: list[_Layer]) -> tuple[IntArray, IntArray]:
    """The strongest walk of ``best_h[k]`` links from each ``sources[k]`` to the subject,
    as matrices: ``nodes[k, :h+1]`` (source first) and ``edges[k, :h]`` (pair edges);
    -1 beyond. Cycles are not cut here (see :func:`_with_cycle`)."""
    m = len(sources)
    depth = int(best_h.max()) if m else 0
    nodes = np.full((m, depth + 1), -1, dtype=np.int64)
    edges = np.full((m, depth), -1, dtype=np.int64)
    nodes[:, 0] = sources
    cur = sources.copy()
    left = best_h.copy()
    for step in range(depth):
        for h in np.unique(left[left > 0]).tolist():
            rows = np.flatnonzero(left == h)
            lay = layers[h - 1]
            k = np.searchsorted(lay.nodes, cur[rows])
            edges[rows, step] = lay.pred_edge[k]
            cur[rows] = lay.pred_node[k]
            nodes[rows, step + 1] = cur[rows]
        left[left > 0] -= 1
    return nodes, edges


def _with_cycle(nodes: IntArray, best_h: IntArray) -> IntArray:
    """Rows of :func:`_walks`'s ``nodes`` whose walk visits a subject twice."""
    dup = np.zeros(len(nodes), dtype=bool)
    width = nodes.shape[1]
    for a in range(width):
        for b in range(a + 1, width):
            dup |= (nodes[:, a] == nodes[:, b]) & (b <= best_h)
    return np.flatnonzero(dup)


def _cut_cycles(subj: list[int], edges: list[int]) -> tuple[list[int], list[int]]:
    """Back to the first visit of a repeated subject (floating-point ties only)."""
    out_s: list[int] = [subj[0]]
    out_e: list[int] = []
    pos = {subj[0]: 0}
    for v, e in zip(subj[1:], edges, strict=True):
        if v in pos:
            cut = pos[v]
            for u in out_s[cut + 1 :]:
                del pos[u]
            out_s, out_e = out_s[: cut + 1], out_e[:cut]
        else:
            pos[v] = len(out_s)
            out_s.append(v)
            out_e.append(e)
    return out_s, out_e


def _links(projection: Projection, g: TransmissionGraph, edges: IntArray) -> dict[int, Any]:
    """Link dicts of the given pair edges (relationship ids looked up in one batch)."""
    edges = np.unique(edges)
    counts = g.rel_ptr[edges + 1] - g.rel_ptr[edges]
    ks = np.repeat(g.rel_ptr[edges], counts) + (
        np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    )
    ids = projection.relationship_ids(g.rel_table[ks], g.rel_row[ks])
    kinds = [CHANNELS[c] for c in g.rel_channel[ks].tolist()]
    weights = g.rel_weight[ks].tolist()
    out: dict[int, Any] = {}
    at = 0
    pair_weights = g.weight[edges].tolist()
    for e, cnt, pw in zip(edges.tolist(), counts.tolist(), pair_weights, strict=True):
        if cnt == 1:
            rels = [{"id": ids[at], "kind": kinds[at], "weight": weights[at]}]
        else:
            ordered = sorted((-weights[k], kinds[k], ids[k]) for k in range(at, at + cnt))
            rels = [{"id": i, "kind": c, "weight": -w} for w, c, i in ordered]
        at += cnt
        out[e] = {"weight": pw, "relationships": rels}
    return out


def _source_records(
    projection: Projection, sources: IntArray, d_codes: IntArray
) -> list[list[str]]:
    """Active record ids of each (source, domain), largest effect first, then by id."""
    rec = projection.records
    owner, pos = _gather(rec.subject_ptr, np.asarray(sources, dtype=np.int64))
    keep = (rec.domain[pos] == np.asarray(d_codes)[owner]) & (rec.effective[pos] > 0)
    owner, pos = owner[keep], pos[keep]
    order = np.lexsort((rec.id[pos].astype(str), -rec.effective[pos], owner))
    ids = rec.id[pos[order]].tolist()
    bounds = np.searchsorted(owner[order], np.arange(len(sources) + 1)).tolist()
    return [[str(x) for x in ids[a:b]] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def explain(
    projection: Projection,
    policy: Policy,
    scores: Scores,
    subject_index: int,
    top: int | None = None,
) -> list[Contribution]:
    """Contributions to ``scores.network[d][subject_index]`` for every domain ``d``.

    One per (domain, source subject), largest amount first; per domain they combine
    by noisy-OR into the network risk, ``n = 1 - prod(1 - amount)`` (S5). ``top=K``
    keeps the K largest (scores unaffected).
    """
    if projection.policy_hash != policy.hash or scores.policy_hash != policy.hash:
        raise ConfigError("explain: projection, scores and policy come from different policies")
    i = int(subject_index)
    if not 0 <= i < projection.n_subjects:
        raise IndexError(f"subject index {i} out of range")
    hop, damping = policy.propagation.hop_limit, policy.propagation.damping
    layers_of: dict[int, list[_Layer]] = {}
    hops_of: dict[int, tuple[IntArray, IntArray]] = {}  # sorted subjects, hops
    amounts: list[FloatArray] = []
    dcodes: list[IntArray] = []
    sources: list[IntArray] = []
    for d_code, d in enumerate(DOMAINS):
        b = scores.intrinsic[d]
        if not b.any():
            continue
        layers_of[d_code] = _backward(projection.graphs[d], i, hop)
        nodes, p_si, n_hops = _strengths(layers_of[d_code], damping, projection.n_subjects)
        amount = b[nodes] * p_si
        keep = (amount > 0) & (nodes != i)
        amounts.append(amount[keep])
        sources.append(nodes[keep])
        dcodes.append(np.full(int(keep.sum()), d_code, dtype=np.int64))
        hops_of[d_code] = (nodes, n_hops)
    if not amounts:
        return []
    amt, dc, src = np.concatenate(amounts), np.concatenate(dcodes), np.concatenate(sources)
    with _gc_paused():
        return _contributions(projection, damping, layers_of, hops_of, amt, dc, src, top)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an explanation is built.

    A large explanation makes tens of thousands of small lists and dicts, none in a
    cycle; each few hundred of them would otherwise start a collection that walks
    every tracked object of the process (a projection, a web server's modules), which
    doubled the time of the largest explanation at 100k subjects. Reference counting
    still frees everything; the collector resumes on the way out, also on an error.
    ``gc`` is process-wide: if another thread paused it first, it is left to that
    thread to resume it.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _contributions(
    projection: Projection,
    damping: float,
    layers_of: dict[int, list[_Layer]],
    hops_of: dict[int, tuple[IntArray, IntArray]],
    amt: FloatArray,
    dc: IntArray,
    src: IntArray,
    top: int | None,
) -> list[Contribution]:
    """The contributions found by :func:`explain`'s search, largest first, with paths.

    Paths are assembled a domain at a time as object matrices (subject ids in the even
    columns, link dicts in the odd ones) and cut to length per row; a walk with a
    cycle (floating-point ties only) is cut by :func:`_cut_cycles` on its own. The
    strength multiplies the link weights from the source on, as a loop over one path
    would, so that it equals ``amount / b_source`` as before.
    """
    ids = projection.subjects.ids
    order = np.lexsort((src, dc, -amt))  # largest first; ties by domain, then subject
    if top is not None:
        order = order[: max(0, top)]
    src_o, dc_o, amt_o = src[order], dc[order], amt[order]
    n = len(order)
    paths: list[Any] = [None] * n
    hops: list[int] = [0] * n
    strengths: list[float] = [0.0] * n
    for d_code, layers in layers_of.items():
        at = np.flatnonzero(dc_o == d_code)
        if not len(at):
            continue
        srcs = src_o[at]
        h_nodes, h_hops = hops_of[d_code]
        best_h = h_hops[np.searchsorted(h_nodes, srcs)]
        nodes, edges = _walks(srcs, best_h, layers)
        links = _links(projection, projection.graphs[DOMAINS[d_code]], edges[edges >= 0])
        weight = projection.graphs[DOMAINS[d_code]].weight
        used = np.unique(edges[edges >= 0])
        link_objs = np.empty(len(used) + 1, dtype=object)  # the last: beyond a path's end
        link_objs[:-1] = [links[e] for e in used.tolist()]
        width = nodes.shape[1]
        grid = np.empty((len(at), 2 * width - 1), dtype=object)
        grid[:, 0::2] = ids[np.maximum(nodes, 0)]  # beyond a path's end: cut off below
        if width > 1:
            grid[:, 1::2] = link_objs[np.where(edges >= 0, np.searchsorted(used, edges), -1)]
        strength = np.ones(len(at))
        for j in range(width - 1):  # left to right, as a loop over the path multiplies
            strength *= np.where(edges[:, j] >= 0, weight[np.maximum(edges[:, j], 0)], 1.0)
        rows = grid.tolist()
        h_list = best_h.tolist()
        st_list = strength.tolist()
        for k, (pos, h) in enumerate(zip(at.tolist(), h_list, strict=True)):
            paths[pos] = rows[k][: 2 * h + 1]
            hops[pos] = h
            strengths[pos] = st_list[k] * damping ** max(h - 1, 0)
        for k in _with_cycle(nodes, best_h).tolist():
            h = h_list[k]
            subj, eds = _cut_cycles(nodes[k, : h + 1].tolist(), edges[k, :h].tolist())
            path: list[PathItem] = [str(ids[subj[0]])]
            st = 1.0
            for e, t in zip(eds, subj[1:], strict=True):
                path += (links[e], str(ids[t]))
                st *= links[e]["weight"]
            pos = int(at[k])
            paths[pos], hops[pos] = path, len(eds)
            strengths[pos] = st * damping ** max(len(eds) - 1, 0)
    records = _source_records(projection, src_o, dc_o)
    return [
        Contribution(DOMAINS[d], recs, path[0], a, path, h, st)
        for d, recs, a, path, h, st in zip(
            dc_o.tolist(), records, amt_o.tolist(), paths, hops, strengths, strict=True
        )
    ]
