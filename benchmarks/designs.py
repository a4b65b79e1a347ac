"""Network-risk designs compared for issue 11 (reference code, not the product).

Four ways for a domain's sources (intrinsic risk ``b``) to reach the other subjects
over the transmission graph ``W`` (damping ``a``, hop limit ``H``), each computed per
(source, subject) pair so that S8 can be checked pair by pair:

* ``walk``: the walk sum used until 2026-11-30 (Katz 1953): ``c(s, i) = b_s *
  sum_h a^(h-1) (W^h)[s, i]`` over every walk (walks may return through ``s``),
  summed over sources and capped at 1 when combined.
* ``substochastic``: every subject's incoming weights scaled to sum to at most 1,
  damping on every hop: ``c(s, i) = b_s * sum_h a^h (W'^h)[s, i]``, summed (<= 1
  for ``a <= 1/2``).
* ``debtrank``: per source, each subject passes what it received on once, at the
  hop it is first reached (Battiston et al. 2012, Sci. Rep. 2:541), damped per
  hop; ``c(s, i) = min(1, b_s * received)``, sources combined by noisy-OR.
* ``strongest``: the product (``credgraph.graph.engine.propagation``): the strongest
  path per source, ``c(s, i) = b_s * max_paths a^(h-1) prod(w)``, noisy-OR.

    .venv/bin/python benchmarks/designs.py [--data FOLDER] [--as-of DATE]

prints the hand-built cases and, with ``--data``, the generated market's figures.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from common import table

from credgraph.graph.engine.arrays import FloatArray, IntArray
from credgraph.graph.engine.intrinsic import intrinsic_risk
from credgraph.graph.engine.policy import DOMAINS, Policy, load_policy
from credgraph.graph.engine.projection import Projection, TransmissionGraph, build_projection
from credgraph.graph.engine.propagation import strongest_paths
from credgraph.loaders.tables import tables_from_folder

DESIGNS = ("walk", "substochastic", "debtrank", "strongest")


def _expand(g: TransmissionGraph, weight: FloatArray, nodes: IntArray) -> tuple[IntArray, ...]:
    starts = g.indptr[nodes]
    counts = g.indptr[nodes + 1] - starts
    owner = np.repeat(np.arange(len(nodes), dtype=np.int64), counts)
    pos = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(int(counts.sum()))
    return owner, g.dst[pos], weight[pos]


def _sum_by_key(keys: IntArray, vals: FloatArray) -> tuple[IntArray, FloatArray]:
    uk, inv = np.unique(keys, return_inverse=True)
    return uk, np.bincount(inv, weights=vals, minlength=len(uk))


def pair_amounts(
    design: str, g: TransmissionGraph, b: FloatArray, hop: int, a: float, batch: int = 2000
) -> tuple[IntArray, IntArray, FloatArray]:
    """(source, subject, c(source, subject)) of every pair with c > 0, ``subject != source``."""
    sources = np.flatnonzero(b > 0)
    n = g.n
    if design == "strongest":
        out_s, out_t, out_c = [], [], []
        for lo in range(0, len(sources), batch):
            src = sources[lo : lo + batch]
            s_pos, subj, p = strongest_paths(g, src, hop, a)
            out_s.append(src[s_pos])
            out_t.append(subj)
            out_c.append(b[src[s_pos]] * p)
        return _cat(out_s, out_t, out_c)
    weight = g.weight
    if design == "substochastic":
        incoming = np.bincount(g.dst, weights=g.weight, minlength=n)
        weight = g.weight / np.maximum(1.0, incoming[g.dst])
    out_s, out_t, out_c = [], [], []
    for lo in range(0, len(sources), batch):
        src = sources[lo : lo + batch]
        first = a if design == "substochastic" else 1.0
        owner, tgt, w = _expand(g, weight, src)
        fk, fv = _sum_by_key(owner * n + tgt, first * w)
        tot_k, tot_v = [fk], [fv]
        seen = fk
        for _ in range(2, hop + 1):
            if len(fk) == 0:
                break
            f_src, f_node = np.divmod(fk, n)
            owner, tgt, w = _expand(g, weight, f_node)
            ck, cv = f_src[owner] * n + tgt, fv[owner] * a * w
            if design == "debtrank":  # the source is done; pass on only when first reached
                keep = tgt != src[f_src[owner]]
                ck, cv = _sum_by_key(ck[keep], cv[keep])
                tot_k.append(ck)
                tot_v.append(cv)
                new = ~np.isin(ck, seen)
                fk, fv = ck[new], cv[new]
                seen = np.union1d(seen, fk)
            else:  # every walk, through the source too
                fk, fv = _sum_by_key(ck, cv)
                tot_k.append(fk)
                tot_v.append(fv)
        k, v = _sum_by_key(np.concatenate(tot_k), np.concatenate(tot_v))
        s_pos, subj = np.divmod(k, n)
        keep = subj != src[s_pos]
        s_idx = src[s_pos[keep]]
        c = b[s_idx] * v[keep]
        if design == "debtrank":
            c = np.minimum(1.0, c)
        out_s.append(s_idx)
        out_t.append(subj[keep])
        out_c.append(c)
    return _cat(out_s, out_t, out_c)


def _cat(s: list[IntArray], t: list[IntArray], c: list[FloatArray]) -> tuple[IntArray, ...]:
    if not s:
        z = np.zeros(0, dtype=np.int64)
        return z, z, np.zeros(0)
    return np.concatenate(s), np.concatenate(t), np.concatenate(c)


def combine(design: str, subj: IntArray, c: FloatArray, n: int) -> FloatArray:
    """Network risk per subject: a plain sum (walk, substochastic) or noisy-OR."""
    if design in ("walk", "substochastic"):
        return np.bincount(subj, weights=c, minlength=n)
    with np.errstate(divide="ignore"):
        out: FloatArray = -np.expm1(np.bincount(subj, weights=np.log1p(-c), minlength=n))
    return out


@dataclass
class MarketFigures:
    design: str
    seconds: float
    network: dict[str, FloatArray]
    pairs: int
    s8_violations: int
    worst_ratio: float


def market(projection: Projection, policy: Policy, design: str) -> MarketFigures:
    hop, a = policy.propagation.hop_limit, policy.propagation.damping
    b = intrinsic_risk(projection)
    started = time.perf_counter()
    net: dict[str, FloatArray] = {}
    pairs = viol = 0
    worst = 0.0
    for d in DOMAINS:
        s, t, c = pair_amounts(design, projection.graphs[d], b[d], hop, a)
        net[d] = combine(design, t, c, projection.n_subjects)
        pairs += len(c)
        ratio = c / b[d][s] if len(c) else np.zeros(1)
        viol += int((ratio > 1 + 1e-12).sum())
        worst = max(worst, float(ratio.max()))
    return MarketFigures(design, time.perf_counter() - started, net, pairs, viol, worst)


def trust_of(b: dict[str, FloatArray], net: dict[str, FloatArray]) -> FloatArray:
    keep = np.ones(len(next(iter(b.values()))))
    for d in DOMAINS:
        keep *= (1.0 - b[d]) * (1.0 - np.minimum(1.0, net[d]))
    return 100.0 * keep


# ----------------------------------------------------------------------------- hand-built


def dense_graph(dense: np.ndarray) -> TransmissionGraph:
    n = dense.shape[0]
    src, dst = (x.astype(np.int64) for x in np.nonzero(dense))
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
    order = np.argsort(dst, kind="stable").astype(np.int64)
    in_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(dst, minlength=n), out=in_indptr[1:])
    m = len(src)
    z8 = np.zeros(m, dtype=np.int8)
    return TransmissionGraph(
        "compliance", n, indptr, src, dst, dense[src, dst], np.arange(m + 1), z8, z8,
        np.arange(m), dense[src, dst], in_indptr, src[order], order,
    )  # fmt: skip


def hand_cases() -> list[tuple[str, np.ndarray, np.ndarray, int, str]]:
    """(name, dense weights, b, target subject, what a reader expects)."""
    cases = []
    # 0 P (tax 0.5) legal representative of 1 F: P -> F 1.0, F -> P 0.5
    w = np.array([[0, 1.0], [0.5, 0]])
    cases.append(("legal representative (issue)", w, np.array([0.5, 0]), 1, "0.5 (= the violator)"))
    # guarantee circle A (0.8) -> B -> C -> A, full guarantees
    w = np.zeros((3, 3))
    w[0, 1] = w[1, 2] = w[2, 0] = 1.0
    cases.append(("guarantee circle, B", w, np.array([0.8, 0, 0]), 1, "<= 0.8"))
    # 10 parallel paths S (1.0) -> M_k (0.5) -> T (1.0)
    w = np.zeros((12, 12))
    w[0, 1:11] = 0.5
    w[1:11, 11] = 1.0
    cases.append(("10 parallel paths", w, np.r_[1.0, np.zeros(11)], 11, "<= 1 x 0.5 x 1 x a"))
    # 50% rule: S (sanctioned) controls F; then with a clean second 50% owner O
    w = np.array([[0, 1.0], [0, 0]])
    cases.append(("50% rule, S controls F", w, np.array([1.0, 0]), 1, "1 (F sanctioned)"))
    w = np.zeros((3, 3))
    w[0, 1] = w[2, 1] = 1.0
    cases.append(("50% rule + clean 50% owner", w, np.array([1.0, 0, 0]), 1, "1 (no offsetting)"))
    # five sanctioned owners of 30% each
    w = np.zeros((6, 6))
    w[:5, 5] = 0.3
    cases.append(("five 30% sanctioned owners", w, np.r_[np.ones(5), 0], 5, "in [0.3, 1]"))
    # ten tax violators (0.5) with 10% each
    w = np.zeros((11, 11))
    w[:10, 10] = 0.1
    cases.append(
        ("ten weak owners (0.5 x 10%)", w, np.r_[np.full(10, 0.5), 0], 10, "in [0.05, 0.5]")
    )
    # one sanctioned owner of 40%
    w = np.array([[0, 0.4], [0, 0]])
    cases.append(("one strong owner (1.0 x 40%)", w, np.array([1.0, 0]), 1, "0.4"))
    return cases


def hand_table(hop: int, a: float) -> str:
    rows = []
    for name, w, b, t, expect in hand_cases():
        g = dense_graph(w)
        row: dict[str, object] = {"case": name, "expect": expect}
        for design in DESIGNS:
            s, subj, c = pair_amounts(design, g, b, hop, a)
            n = combine(design, subj, c, g.n)[t]
            over = bool(np.any(c > b[s] + 1e-12))
            row[design] = f"{n:.4f}" + (" (S8 x)" if over else "") + (" (>1)" if n > 1 else "")
        rows.append(row)
    return table(rows, [("case", "case", ""), ("expect", "expected", "")] + [
        (d, d, "") for d in DESIGNS
    ])  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path)
    ap.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    args = ap.parse_args()
    policy = load_policy(None)
    hop, a = policy.propagation.hop_limit, policy.propagation.damping
    print(f"hand-built graphs, network risk of the target (H = {hop}, damping = {a}):\n")
    print(hand_table(hop, a))
    if args.data is None:
        return
    proj = build_projection(tables_from_folder(args.data), policy, args.as_of)
    b = intrinsic_risk(proj)
    norec = np.ones(proj.n_subjects, dtype=bool)
    for d in DOMAINS:
        norec &= b[d] == 0
    rows = []
    for design in DESIGNS:
        f = market(proj, policy, design)
        trust = trust_of(b, f.network)
        row = {
            "design": design,
            "s10": 100.0 * float((trust[norec] < 1).mean()),
            "floor": int((trust[norec] < 1).sum()),
            "seconds": f.seconds,
            "pairs": f.pairs,
            "s8": f.s8_violations,
            "worst": f.worst_ratio,
        }
        for d in DOMAINS:
            row[f"{d}_max"] = float(f.network[d].max())
            row[f"{d}_p99"] = float(np.quantile(f.network[d], 0.99))
            row[f"{d}_over"] = int((f.network[d] > 1).sum())
        rows.append(row)
    print(f"\n{args.data.name}: {proj.n_subjects:,} subjects, {int(norec.sum()):,} with no record")
    print(f"as of {args.as_of}\n")
    cols = [
        ("design", "design", ""),
        ("s10", "no-record subjects below 1 %", ".2f"),
        ("floor", "of them", ","),
        ("pairs", "source-subject pairs", ","),
        ("s8", "pairs with c > b_s (S8)", ","),
        ("worst", "max c / b_s", ".3g"),
    ]
    for d in DOMAINS:
        cols += [(f"{d}_max", f"{d} max n", ".4g"), (f"{d}_p99", f"{d} p99", ".3g"),
                 (f"{d}_over", f"{d} n > 1", ",")]  # fmt: skip
    cols.append(("seconds", "seconds", ".2f"))
    print(table(rows, cols))


if __name__ == "__main__":
    main()
