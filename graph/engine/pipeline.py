"""The engine's pipeline on input tables, no database: projection, scores, centrality,
and the Score row schema every reader of a run shares.

:func:`compute` is what a propagation run does between the export and the
write-back; :func:`score_rows` flattens its result into one row per subject
(the ``(:Score)`` nodes, ``credgraph scores``, the API), with the columns of
:data:`SCORE_COLUMNS`; :func:`upgrade_score_row` reads rows of runs stored by
earlier versions as this version reports them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from credgraph.graph.engine import centrality
from credgraph.graph.engine.arrays import FloatArray, IntArray, descending_ranks
from credgraph.graph.engine.exposure import Exposures, exposures
from credgraph.graph.engine.policy import DOMAINS, Policy
from credgraph.graph.engine.projection import Projection, build_projection
from credgraph.graph.engine.propagation import Scores, propagate


@dataclass
class Centrality:
    pagerank: FloatArray
    betweenness: np.ndarray
    betweenness_sample: int | None
    kcore: np.ndarray
    circle: np.ndarray  # circle number or -1
    circles: list[centrality.Circle]


def betweenness_sample(n: int) -> int | None:
    """Exact betweenness up to 5,000 subjects; sampled pivots beyond (Brandes & Pich 2007).

    The cost is one single-source pass per pivot, about linear in the graph's
    size, so the sample shrinks as the graph grows to keep a run's time bounded.
    """
    if n <= 5000:
        return None
    if n <= 200_000:
        return 128
    return 16


def compute_centrality(n: int, exp: Exposures) -> Centrality:
    """Centralities on the exposure graph (creditor -> debtor, weighted by amount)."""
    sample = betweenness_sample(n)
    bc, used = centrality.betweenness(n, exp.creditor, exp.debtor, sample=sample, seed=0)
    g_src, g_dst, g_amount = exp.guarantees
    circles = centrality.guarantee_circles(n, g_src, g_dst, g_amount)
    return Centrality(
        pagerank=centrality.pagerank(n, exp.creditor, exp.debtor, weight=exp.amount),
        betweenness=bc,
        betweenness_sample=used,
        kcore=centrality.kcore(n, exp.creditor, exp.debtor),
        circle=centrality.circle_membership(n, circles),
        circles=circles,
    )


def compute(
    tables: dict[str, Any], policy: Policy, as_of: date, timings: dict[str, float]
) -> tuple[Projection, Scores, Centrality]:
    """The engine on input tables, no database: projection, scores, centrality."""
    t = time.perf_counter()
    projection = build_projection(tables, policy, as_of)
    timings["projection"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = propagate(projection, policy)
    timings["propagation"] = time.perf_counter() - t
    t = time.perf_counter()
    exp = exposures(tables, projection.subjects, as_of)
    cent = compute_centrality(projection.n_subjects, exp)
    timings["centrality"] = time.perf_counter() - t
    return projection, scores, cent


def unnamed_lists(projection: Projection, policy: Policy) -> dict[str, int]:
    """Blacklist entries whose list the policy does not name (scored with its
    ``lists.default``), counted per list name as loaded, by name. A list name is kept
    as written (``"Sanctions"`` or ``" sanctions "`` is not ``sanctions``): a run
    reports these so that a misspelt list is seen, not scored quietly as another."""
    rec = projection.records
    labels = rec.label[rec.kind == "blacklist"]
    names, counts = np.unique(labels.astype(str), return_counts=True)
    return {
        n: int(c)
        for n, c in zip(names.tolist(), counts.tolist(), strict=True)
        if n not in policy.lists
    }


RANKED: tuple[str, ...] = ("pagerank", "betweenness", "kcore")
"""The centralities a Score node also holds as ranks (``<measure>_rank``, 1 = highest,
ties by subject id): :func:`~credgraph.graph.engine.arrays.descending_ranks`."""

RANKS_KEPT = 1000
"""Ranks (of :data:`RANKED` and of drops) are stored up to this one, absent beyond it:
the top-k queries ask for at most 1000 rows (their ``limit`` header), and each stored
rank is an index entry that every run writes (100,000 per measure at 100k otherwise)."""


def _kept(ranks: IntArray) -> npt.NDArray[Any]:
    """``ranks`` as an object column, None beyond :data:`RANKS_KEPT`."""
    out = np.full(len(ranks), None, dtype=object)
    keep = np.flatnonzero(ranks <= RANKS_KEPT)
    out[keep] = ranks[keep].tolist()
    return out


@dataclass(frozen=True)
class Drops:
    """Trust-score drops of a run against the run before it (``score_drops``).

    ``index`` are the subjects scored in both runs whose trust fell (``previous -
    trust > 0``), ``previous`` their trust in the run before, ``drop`` the fall and
    ``rank`` its rank among them, 1 = the largest fall, ties by subject id.
    """

    index: IntArray
    previous: FloatArray
    drop: FloatArray
    rank: IntArray


def score_drops(ids: npt.ArrayLike, trust: FloatArray, before: dict[str, float]) -> Drops:
    """``drop_i = before[id_i] - trust_i`` for every subject in ``before`` whose trust
    fell, ranked by :func:`descending_ranks` (the order of the ``score_drops`` query)."""
    ids = np.asarray(ids, dtype=object)
    prev = np.array([before.get(x, np.nan) for x in ids.tolist()], dtype=np.float64)
    drop = prev - np.asarray(trust, dtype=np.float64)
    index = np.flatnonzero(drop > 0)  # NaN (not scored before) compares False
    return Drops(
        index=index.astype(np.int64),
        previous=prev[index],
        drop=drop[index],
        rank=descending_ranks(drop[index], ids[index]),
    )


def score_columns(
    projection: Projection, scores: Scores, cent: Centrality, drops: Drops | None = None
) -> dict[str, list[Any]]:
    """The columns of :func:`score_rows`, each a list with one value per subject (in
    the projection's subject order): what the write-back sends, by position."""
    s = projection.subjects
    cols: dict[str, Any] = {
        "subject": s.ids,
        "kind": s.kind,
        "trust_score": scores.trust,
        "intrinsic": scores.intrinsic_total,
        "network": scores.network_total,
        "total": scores.total,
    }
    for d in DOMAINS:
        cols[f"{d}_intrinsic"] = scores.intrinsic[d]
        # S9: the network risk is in [0, 1] by construction (no cap since
        # 2026-11-30); `<d>_network_uncapped` stays in the schema and equals it.
        cols[f"{d}_network"] = scores.network[d]
        cols[f"{d}_network_uncapped"] = scores.network[d]
        cols[f"{d}_total"] = scores.domain[d]
    cols["pagerank"] = cent.pagerank
    cols["betweenness"] = cent.betweenness
    cols["kcore"] = cent.kcore
    cols["circle"] = cent.circle
    # on the Score node only (not in SCORE_COLUMNS): the order of `systemic_subjects`
    for m in RANKED:
        cols[f"{m}_rank"] = _kept(descending_ranks(cols[m], s.ids))
    if drops is not None:
        drop_cols: dict[str, npt.NDArray[Any]] = {
            "drop": drops.drop,
            "drop_previous": drops.previous,
            "drop_rank": _kept(drops.rank),
        }
        for name, column in drop_cols.items():
            col = np.full(len(s.ids), None, dtype=object)
            col[drops.index] = column.tolist()
            cols[name] = col
    # `+ 0.0` turns the -0.0 that 1 - prod(1 - 0) can give into 0.0.
    return {
        name: (np.asarray(v) + 0.0).tolist()
        if np.asarray(v).dtype.kind == "f"
        else np.asarray(v).tolist()
        for name, v in cols.items()
    }


def score_rows(
    projection: Projection, scores: Scores, cent: Centrality, drops: Drops | None = None
) -> Iterator[dict[str, Any]]:
    """One flat row per subject: what a Score node and `credgraph scores` hold; with
    ``drops``, also ``drop``, ``drop_previous`` (None where the trust did not fall)
    and ``drop_rank``; ranks beyond :data:`RANKS_KEPT` are None."""
    cols = score_columns(projection, scores, cent, drops)
    names = list(cols)
    for row in zip(*cols.values(), strict=True):
        yield dict(zip(names, row, strict=True))


NOT_STORED: frozenset[str] = frozenset(f"{d}_network_uncapped" for d in DOMAINS)
"""Score columns not written on ``(:Score)`` nodes since 2026-12-01: each equals
``<d>_network`` (S9), and every property costs the write-back about 0.45 s per
100,000 subjects on the server; :func:`upgrade_score_row` fills them on read."""


SCORE_COLUMNS: tuple[str, ...] = (
    "subject",
    "kind",
    "trust_score",
    "intrinsic",
    "network",
    "total",
    *[f"{d}_{k}" for d in DOMAINS for k in ("intrinsic", "network", "total")],
    "pagerank",
    "betweenness",
    "kcore",
    "circle",
    # added 2026-11-26, last so that readers of the earlier columns by position still work;
    # equal to `<d>_network` since 2026-11-30 (the model needs no cap, S9)
    *[f"{d}_network_uncapped" for d in DOMAINS],
)
"""The columns of a Score row, in the order :func:`score_rows` gives them."""

EXPORT_COLUMNS: tuple[str, ...] = (
    "id",
    *[c for c in SCORE_COLUMNS[1:] if not c.endswith("_network_uncapped")],
    "run",
    *[c for c in SCORE_COLUMNS if c.endswith("_network_uncapped")],
)
"""The columns of an export of a run's scores (``credgraph scores``): ``subject`` is
``id``; columns added later come after ``run``, so readers by position keep working."""


def upgrade_score_row(row: dict[str, Any]) -> dict[str, Any]:
    """A Score row as this version reports it (S1: every risk in [0, 1]).

    Runs stored before ``<d>_network_uncapped`` existed held the uncapped walk
    sum under ``<d>_network``: it moves to ``<d>_network_uncapped`` and
    ``<d>_network`` becomes it capped at 1. Runs stored since 2026-12-01 do not
    store it (:data:`NOT_STORED`): their ``<d>_network``, in [0, 1], is copied
    (the cap changes nothing). Rows that hold both come back unchanged.
    """
    out = dict(row)
    for d in DOMAINS:
        net = out.get(f"{d}_network")
        if out.get(f"{d}_network_uncapped") is None and net is not None:
            out[f"{d}_network_uncapped"] = net
            out[f"{d}_network"] = min(1.0, net)
    return out


def export_row(row: dict[str, Any], run_id: str) -> dict[str, Any]:
    """A stored Score row as one row of an export (:data:`EXPORT_COLUMNS`)."""
    r = upgrade_score_row(row)
    out = {"id": r["subject"]}
    out.update({k: r.get(k) for k in EXPORT_COLUMNS if k not in ("id", "run")})
    out["run"] = run_id
    if out.get("circle") is not None and out["circle"] < 0:
        out["circle"] = None  # in no circle: empty, as `score` says (null), not -1
    return {k: out[k] for k in EXPORT_COLUMNS}
