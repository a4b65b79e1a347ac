"""Intrinsic risk of records with several end dates (listed, expires, delisted, disputed).

The documented precedence (graph/engine/intrinsic.py, STATUSES): the first that
applies wins, in the order ``not_yet_listed`` (listed after the date), ``delisted``
(delisted_on <= date), ``expired`` (expires_on < date), ``disputed``, else ``active``;
only active records count. The reference below is that sentence as an if-chain.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import event, given, settings, target
from hypothesis import strategies as st

from credgraph.graph.engine.intrinsic import intrinsic_risk, record_status
from credgraph.graph.engine.policy import DOMAINS, load_policy
from credgraph.graph.engine.projection import build_projection

AS_OF = date(2024, 1, 1)
DAY = timedelta(days=1)
# every end date in relation to the as-of date: before, on, after, missing
DATES = [None, AS_OF - 400 * DAY, AS_OF - DAY, AS_OF, AS_OF + DAY]


def reference_status(row: dict[str, Any], as_of: date) -> str:
    if row["listed_on"] is not None and row["listed_on"] > as_of:
        return "not_yet_listed"
    if row["delisted_on"] is not None and row["delisted_on"] <= as_of:
        return "delisted"
    if row["expires_on"] is not None and row["expires_on"] < as_of:
        return "expired"
    if row["disputed"]:
        return "disputed"
    return "active"


def tables(rows: list[dict[str, Any]]) -> dict[str, pd.DataFrame]:
    bl = pd.DataFrame(
        {
            "id": [r["id"] for r in rows],
            "subject_id": [r["subject_id"] for r in rows],
            "list": ["sanctions"] * len(rows),
            "listed_on": pd.to_datetime([r["listed_on"] for r in rows]),
            "expires_on": pd.to_datetime([r["expires_on"] for r in rows]),
            "delisted_on": pd.to_datetime([r["delisted_on"] for r in rows]),
            "severity": [float(r["severity"]) for r in rows],
            "disputed": [bool(r["disputed"]) for r in rows],
        }
    )
    return {
        "persons": pd.DataFrame({"id": ["P", "Q"], "name": ["p", "q"], "net_worth": [1.0, 1.0]}),
        "firms": pd.DataFrame({"id": ["K"], "name": ["k"], "equity": [1.0], "total_assets": [1.0]}),
        "blacklist": bl,
    }


def test_delisted_wins_over_expired_and_disputed() -> None:
    day = AS_OF - 30 * DAY
    base = {"subject_id": "P", "listed_on": date(2020, 1, 1), "severity": 0.5}
    rows = [
        # expired and delisted: delisted (documented order), either way it does not count
        {**base, "id": "both", "expires_on": day, "delisted_on": day, "disputed": False},
        # expired, delisted and disputed
        {**base, "id": "all", "expires_on": day, "delisted_on": day, "disputed": True},
        # expired and disputed: expired
        {**base, "id": "exp-disp", "expires_on": day, "delisted_on": None, "disputed": True},
        # delisted only tomorrow, expired yesterday: expired
        {**base, "id": "exp-later-delist", "expires_on": AS_OF - DAY,
         "delisted_on": AS_OF + DAY, "disputed": False},
        # expires today, delisted tomorrow: still active (counts)
        {**base, "id": "active", "expires_on": AS_OF, "delisted_on": AS_OF + DAY,
         "disputed": False},
        # listed tomorrow although "delisted" and "expired" before: not yet listed
        {**base, "id": "future", "listed_on": AS_OF + DAY, "expires_on": day,
         "delisted_on": day, "disputed": True},
    ]  # fmt: skip
    proj = build_projection(tables(rows), load_policy(None), AS_OF)
    status = dict(zip(proj.records.id.tolist(), proj.records.status.tolist(), strict=True))
    assert status == {
        "both": "delisted",
        "all": "delisted",
        "exp-disp": "expired",
        "exp-later-delist": "expired",
        "active": "active",
        "future": "not_yet_listed",
    }
    risk = intrinsic_risk(proj)
    domain = load_policy(None).list_policy("sanctions").domain
    p = proj.subjects.index_of("P")
    assert risk[domain][p] == pytest.approx(0.5)  # one active record, no decay
    assert all(risk[d][p] == 0.0 for d in DOMAINS if d != domain)


@st.composite
def blacklists(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Records with several end dates on purpose: most rows draw two or three."""
    rows = []
    for k in range(draw(st.integers(1, 8))):
        listed_on = draw(st.sampled_from([None, AS_OF - 800 * DAY, AS_OF, AS_OF + DAY]))
        # both end dates drawn from the days around the as-of date (missing in 1 of 5),
        # so expired + delisted (+ disputed) meet in many rows
        ends = (draw(st.sampled_from(DATES)), draw(st.sampled_from(DATES)))
        rows.append(
            {
                "id": f"B{k}",
                "subject_id": draw(st.sampled_from(["P", "Q"])),
                "listed_on": listed_on,
                "expires_on": ends[0],
                "delisted_on": ends[1],
                "severity": draw(st.sampled_from([0.2, 0.5, 1.0]) | st.floats(0.0, 1.0)),
                "disputed": draw(st.booleans()),
            }
        )
    return rows


@settings(max_examples=120, deadline=None)
@given(blacklists())
def test_status_and_intrinsic_match_the_documented_precedence(rows: list[dict[str, Any]]) -> None:
    proj = build_projection(tables(rows), load_policy(None), AS_OF)
    status = dict(zip(proj.records.id.tolist(), proj.records.status.tolist(), strict=True))
    want = {r["id"]: reference_status(r, AS_OF) for r in rows}
    assert status == want
    several = sum(
        1
        for r in rows
        if (r["delisted_on"] is not None and r["delisted_on"] <= AS_OF)
        + (r["expires_on"] is not None and r["expires_on"] < AS_OF)
        + bool(r["disputed"])
        >= 2
    )
    event("a record with two or more end conditions" if several else "none with two")
    target(float(several), label="records with two or more end conditions")
    # intrinsic risk: noisy-OR of the active records' severities (blacklists do not decay)
    domain = load_policy(None).list_policy("sanctions").domain
    risk = intrinsic_risk(proj)
    for sid in ("P", "Q"):
        keep = [r["severity"] for r in rows if r["subject_id"] == sid and want[r["id"]] == "active"]
        expected = 1.0 - math.prod(1.0 - s for s in keep)
        assert risk[domain][proj.subjects.index_of(sid)] == pytest.approx(expected, abs=1e-12)


def test_record_status_on_arrays_with_every_pair_of_end_dates() -> None:
    """Every combination of (listed, expires, delisted, disputed) over the five days."""
    combos = [
        {"listed_on": a, "expires_on": b, "delisted_on": c, "disputed": d}
        for a in DATES
        for b in DATES
        for c in DATES
        for d in (False, True)
    ]

    def days(key: str) -> np.ndarray:
        return np.array(
            [np.datetime64(r[key], "D") if r[key] else np.datetime64("NaT", "D") for r in combos]
        )

    got = record_status(
        np.datetime64(AS_OF, "D"),
        days("listed_on"),
        expires_on=days("expires_on"),
        delisted_on=days("delisted_on"),
        disputed=[r["disputed"] for r in combos],
    )
    assert got.tolist() == [reference_status(r, AS_OF) for r in combos]


def test_one_active_record_beside_inactive_ones_is_returned_exactly() -> None:
    """Records that do not count are left out before the noisy-OR: a subject whose one
    active record has severity p has intrinsic risk exactly p (no log/exp round trip,
    which for this p is one unit in the last place off)."""
    p = 0.22715759353337972
    base = {"subject_id": "P", "listed_on": date(2020, 1, 1), "delisted_on": None}
    rows = [
        {**base, "id": "on", "expires_on": None, "severity": p, "disputed": False},
        {**base, "id": "off", "expires_on": AS_OF - DAY, "severity": 0.5, "disputed": False},
        {**base, "id": "zero", "expires_on": None, "severity": 0.0, "disputed": False},
    ]
    proj = build_projection(tables(rows), load_policy(None), AS_OF)
    domain = load_policy(None).list_policy("sanctions").domain
    assert intrinsic_risk(proj)[domain][proj.subjects.index_of("P")] == p


def test_disputed_flags_given_as_numbers() -> None:
    dates = np.array(["2020-01-01"] * 3, dtype="datetime64[D]")
    got = record_status(np.datetime64(AS_OF, "D"), dates, disputed=[1, 0, 0])
    assert got.tolist() == ["disputed", "active", "active"]
