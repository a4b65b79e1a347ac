"""Score rows as reported (no database)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from credgraph.graph.engine import pipeline
from credgraph.graph.engine.arrays import descending_ranks
from credgraph.graph.engine.pipeline import compute, score_drops, score_rows, upgrade_score_row
from credgraph.graph.engine.policy import DOMAINS, load_policy
from credgraph.services.scores import risk_of as _risk
from tests.graph.engine.test_propagation import AS_OF, PAST, World


def row(**domain_values: float) -> dict[str, float]:
    base = {"intrinsic": 0.1, "network": 0.9, "total": 0.95}
    for d in DOMAINS:
        base |= {f"{d}_intrinsic": 0.1, f"{d}_total": 0.9}
    return base | domain_values


def test_a_row_of_a_run_stored_before_the_cap_is_reported_capped() -> None:
    old = row(credit_network=1.7, compliance_network=0.2)
    new = upgrade_score_row(old)
    assert new["credit_network"] == 1.0 and new["credit_network_uncapped"] == 1.7
    assert new["compliance_network"] == 0.2 and new["compliance_network_uncapped"] == 0.2
    assert old["credit_network"] == 1.7  # the stored row is not touched
    assert _risk(new, "credit") == {
        "intrinsic": 0.1,
        "network": 1.0,
        "total": 0.9,
        "network_uncapped": 1.7,
    }
    assert _risk(new) == {"intrinsic": 0.1, "network": 0.9, "total": 0.95}


def test_a_current_row_is_unchanged() -> None:
    current = row(
        credit_network=1.0,
        credit_network_uncapped=1.7,
        compliance_network=0.2,
        compliance_network_uncapped=0.2,
    )
    assert upgrade_score_row(current) == current


def test_a_row_stored_without_its_duplicate_columns_reads_back_whole() -> None:
    """Score nodes written since 2026-12-01 leave out NOT_STORED (`<d>_network_uncapped`,
    equal to `<d>_network`); read back, every row is the row the engine made."""
    firms = [{"id": x, "name": x, "equity": 1.0, "total_assets": 1.0} for x in ("F1", "F2")]
    bl = [{"id": "B1", "subject_id": "F1", "list": "court_dishonest_debtor", "listed_on": PAST[2]}]
    owns = [{"owner_id": "F2", "firm_id": "F1", "share": 0.6}]  # F1's risk reaches F2
    projection, scores, cent = compute(
        World({"firms": firms, "blacklist": bl, "ownership": owns}).tables(),
        load_policy(None),
        AS_OF,
        {},
    )
    rows = list(score_rows(projection, scores, cent))
    assert pipeline.NOT_STORED == {f"{d}_network_uncapped" for d in DOMAINS}
    assert any(r[f"{d}_network_uncapped"] > 0 for r in rows for d in DOMAINS)
    for r in rows:
        stored = {k: v for k, v in r.items() if k not in pipeline.NOT_STORED}
        assert upgrade_score_row(stored) == r


def test_the_score_statement_takes_only_column_names() -> None:
    from credgraph.graph.runs import _create_scores

    assert _create_scores(["subject", "trust_score"]) == (
        "UNWIND $rows AS row CREATE (sc:Score {run: $run, subject: row[0], trust_score: row[1]})"
    )
    for bad in ("x}) DETACH DELETE sc //", "Trust", "a-b", ""):
        with pytest.raises(ValueError, match="not a score column name"):
            _create_scores(["subject", bad])


# ----------------------------------------------------------------- stored ranks and drops


def _brute_ranks(values: list[float], ids: list[str]) -> list[int]:
    """1 + position in ``sorted`` by (value descending, id ascending)."""
    order = sorted(range(len(values)), key=lambda k: (-values[k], ids[k]))
    ranks = [0] * len(values)
    for pos, k in enumerate(order, start=1):
        ranks[k] = pos
    return ranks


@given(
    st.lists(
        st.tuples(st.sampled_from([0.0, 0.1, 0.25, 1.0, 3.0]), st.text(min_size=1, max_size=3)),
        max_size=40,
        unique_by=lambda t: t[1],
    )
)
def test_descending_ranks_match_a_sort_by_value_then_id(rows: list[tuple[float, str]]) -> None:
    values = [v for v, _ in rows]
    ids = [i for _, i in rows]
    event(f"ties: {len(values) - len(set(values)) > 0}")
    got = descending_ranks(np.array(values), np.array(ids, dtype=object)).tolist()
    assert got == _brute_ranks(values, ids)


def test_descending_ranks_by_hand() -> None:
    # values 2, 5, 5, 1 with ids b, c, a, d: 5(a) 5(c) 2(b) 1(d)
    got = descending_ranks(np.array([2.0, 5.0, 5.0, 1.0]), np.array(["b", "c", "a", "d"]))
    assert got.tolist() == [3, 2, 1, 4]


def test_score_drops_by_hand() -> None:
    ids = np.array(["A", "B", "C", "D", "E"], dtype=object)
    trust = np.array([50.0, 80.0, 70.0, 100.0, 20.0])
    # A fell 40, B rose, C fell 10, D unchanged, E is new (no previous score)
    d = score_drops(ids, trust, {"A": 90.0, "B": 60.0, "C": 80.0, "D": 100.0, "Z": 5.0})
    assert d.index.tolist() == [0, 2]
    assert d.previous.tolist() == [90.0, 80.0]
    assert d.drop.tolist() == [40.0, 10.0]
    assert d.rank.tolist() == [1, 2]


def test_score_rows_hold_ranks_and_drops() -> None:
    """Three firms, F1 listed, F2 and F3 clean, all at trust 100 in the run before: the
    ranks and drops a Score node holds, checked against a sort done here."""
    firms = [{"id": x, "name": x, "equity": 1.0, "total_assets": 1.0} for x in ("F1", "F2", "F3")]
    bl = [{"id": "B1", "subject_id": "F1", "list": "court_dishonest_debtor", "listed_on": PAST[2]}]
    projection, scores, cent = compute(
        World({"firms": firms, "blacklist": bl}).tables(), load_policy(None), AS_OF, {}
    )
    ids = [str(x) for x in projection.subjects.ids]
    trust = dict(zip(ids, scores.trust.tolist(), strict=True))
    assert trust["F1"] < 100 and trust["F2"] == trust["F3"] == 100
    before = {"F1": 100.0, "F2": 100.0, "F3": 100.0}
    drops = score_drops(projection.subjects.ids, scores.trust, before)
    rows = {r["subject"]: r for r in score_rows(projection, scores, cent, drops)}
    assert (rows["F1"]["drop"], rows["F1"]["drop_previous"], rows["F1"]["drop_rank"]) == (
        100.0 - trust["F1"],
        100.0,
        1,
    )
    assert all(rows[x]["drop"] is None and rows[x]["drop_rank"] is None for x in ("F2", "F3"))
    for m in ("pagerank", "betweenness", "kcore"):
        ranks = {x: rows[x][f"{m}_rank"] for x in ids}
        expected = sorted(ids, key=lambda x: (-float(rows[x][m]), x))
        assert sorted(ids, key=ranks.__getitem__) == expected, m
    # without a run before there is nothing to compare: no drop columns at all
    assert "drop" not in next(iter(score_rows(projection, scores, cent)))


def test_ranks_beyond_the_kept_ones_are_not_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only ranks up to RANKS_KEPT go to the Score node (each is an index entry)."""
    firms = [{"id": x, "name": x, "equity": 1.0, "total_assets": 1.0} for x in ("F1", "F2", "F3")]
    projection, scores, cent = compute(
        World({"firms": firms}).tables(), load_policy(None), AS_OF, {}
    )
    monkeypatch.setattr(pipeline, "RANKS_KEPT", 2)
    before = dict.fromkeys(("F1", "F2", "F3"), 101.0)  # all three fell by 1: ranks by id
    drops = score_drops(projection.subjects.ids, scores.trust, before)
    rows = {r["subject"]: r for r in score_rows(projection, scores, cent, drops)}
    assert [rows[x]["drop_rank"] for x in ("F1", "F2", "F3")] == [1, 2, None]
    assert [rows[x]["drop"] for x in ("F1", "F2", "F3")] == [1.0, 1.0, 1.0]
    for m in ("pagerank", "betweenness", "kcore"):  # all tied: by id
        assert [rows[x][f"{m}_rank"] for x in ("F1", "F2", "F3")] == [1, 2, None]


def test_top_k_queries_never_ask_beyond_the_kept_ranks() -> None:
    from credgraph.queries.library import library

    for name in ("systemic_subjects", "score_drops"):
        (limit,) = [p for p in library()[name].params if p.name == "limit"]
        assert limit.maximum is not None and limit.maximum <= pipeline.RANKS_KEPT, name
