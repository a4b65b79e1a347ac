"""graph.engine.exposure: exposure values checked against a hand computation and a
plain-Python reference written from the rule in PRODUCT.md ("Stress test").

The rule: a lender is exposed to its borrower by the outstanding loan amount (issued
on or before the date, not repaid by then); a guarantor to the *borrower* of the
guaranteed loan by the guaranteed amount, while the guarantee is active
(``since``/``until``) and the loan outstanding. Self-exposures, unknown subjects and
amounts that are missing or <= 0 carry nothing.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import event, given, settings, target
from hypothesis import strategies as st

from credgraph.graph.engine.exposure import Exposures, exposures
from credgraph.graph.engine.policy import load_policy
from credgraph.graph.engine.projection import Subjects, build_projection
from credgraph.loaders.tables import tables_from_folder

AS_OF = date(2024, 1, 1)

# A hand-made world: the comment on each row says whether it carries exposure, and why.
PERSONS = """id,name,net_worth
P1,Ann,1000
P2,Bob,
"""
FIRMS = """id,name,equity,total_assets
BANK,Bank,10000,99999
F1,Alpha,500,2000
F2,Beta,100,900
"""
LOANS = """id,lender_id,borrower_id,amount,issued_on,status,status_on
L1,BANK,F1,1000,2020-01-01,performing,
L2,BANK,F2,500,2020-01-01,repaid,2023-01-01
L3,BANK,F2,700,2020-01-01,repaid,2024-06-01
L4,BANK,F1,300,2020-01-01,repaid,
L5,F1,F2,200,2024-05-01,performing,
L6,F1,F1,50,2020-01-01,performing,
L7,F2,GHOST,10,2020-01-01,performing,
L8,F2,P1,0,2020-01-01,performing,
L9,P1,F2,80,2021-01-01,defaulted,2022-01-01
L10,F2,F1,,2020-01-01,performing,
L11,F1,P2,30,2024-01-01,overdue,2024-01-01
L12,BANK,P2,90,2020-01-01,repaid,2024-01-01
L13,F2,BANK,40,,performing,
L14,F1,F2,0.5,2020-01-01,performing,
"""
GUARANTEES = """id,guarantor_id,loan_id,amount,since,until
G1,P2,L1,400,,
G2,F2,L2,100,,
G3,P1,L3,250,,2023-06-30
G4,P1,L3,250,2022-01-01,
G5,F1,L1,100,,
G6,P2,L-missing,100,,
G7,F2,L3,100,2024-06-01,
G8,P2,L5,100,,
G9,BANK,L9,60,,2024-01-01
G10,F1,L12,70,,
G11,P2,L13,0,,
G12,F2,L1,0.25,,
"""
# Worked by hand from the rule:
#   L1   BANK -> F1 1000    performing, issued 2020
#   L2   repaid on 2023-01-01, before the date: nothing (and so nothing for G2)
#   L3   BANK -> F2 700     repaid only on 2024-06-01, after the date: still outstanding
#   L4   repaid, no status date: repaid for good, nothing
#   L5   issued after the date: nothing (and nothing for G8)
#   L6   self-loan; L7 unknown borrower; L8 amount 0; L10 no amount: nothing
#   L9   P1 -> F2 80        defaulted is not repaid
#   L11  F1 -> P2 30        issued on the date itself
#   L12  repaid on the date itself: nothing (and nothing for G10)
#   L13  F2 -> BANK 40      no issue date: outstanding
#   L14  F1 -> F2 0.5       amounts below 1 count
#   G1   P2 -> F1 400       the guarantor is exposed to the borrower (F1), not the lender
#   G3   ended 2023-06-30: nothing;  G4 P1 -> F2 250 (active since 2022)
#   G5   F1 guarantees its own loan: self-exposure, nothing
#   G6   unknown loan; G7 starts after the date; G11 amount 0: nothing
#   G9   BANK -> F2 60      guarantees P1's loan to F2; until the date itself counts
#   G12  F2 -> F1 0.25      guarantees L1 (borrower F1)
EXPECTED = sorted(
    [
        ("BANK", "F1", 1000.0, False),
        ("BANK", "F2", 700.0, False),
        ("P1", "F2", 80.0, False),
        ("F1", "P2", 30.0, False),
        ("F2", "BANK", 40.0, False),
        ("F1", "F2", 0.5, False),
        ("P2", "F1", 400.0, True),
        ("P1", "F2", 250.0, True),
        ("BANK", "F2", 60.0, True),
        ("F2", "F1", 0.25, True),
    ]
)


def as_rows(exp: Exposures, ids: np.ndarray) -> list[tuple[str, str, float, bool]]:
    return sorted(
        (str(ids[c]), str(ids[d]), float(a), bool(g))
        for c, d, a, g in zip(
            exp.creditor.tolist(),
            exp.debtor.tolist(),
            exp.amount.tolist(),
            exp.guarantee.tolist(),
            strict=True,
        )
    )


def test_hand_worked_exposures_from_files(tmp_path: Path) -> None:
    for name, text in (
        ("persons", PERSONS),
        ("firms", FIRMS),
        ("loans", LOANS),
        ("guarantees", GUARANTEES),
    ):
        (tmp_path / f"{name}.csv").write_text(text)
    tables = tables_from_folder(tmp_path)
    subjects = build_projection(tables, load_policy(None), AS_OF).subjects
    exp = exposures(tables, subjects, AS_OF)
    assert as_rows(exp, subjects.ids) == EXPECTED
    assert exp.creditor.dtype == np.int64 and exp.debtor.dtype == np.int64
    # the guarantee view holds the guarantees only, guarantor first
    c, d, a = exp.guarantees
    got = sorted(zip(subjects.ids[c].tolist(), subjects.ids[d].tolist(), a.tolist(), strict=True))
    assert got == [
        ("BANK", "F2", 60.0),
        ("F2", "F1", 0.25),
        ("P1", "F2", 250.0),
        ("P2", "F1", 400.0),
    ]
    # one day later L11 is still out, G9 has ended; one day earlier L11 is not yet issued,
    # L12 not yet repaid (so G10 counts), G9 still runs
    later = as_rows(exposures(tables, subjects, date(2024, 1, 2)), subjects.ids)
    assert ("BANK", "F2", 60.0, True) not in later and ("F1", "P2", 30.0, False) in later
    earlier = as_rows(exposures(tables, subjects, date(2023, 12, 31)), subjects.ids)
    assert ("F1", "P2", 30.0, False) not in earlier
    assert ("BANK", "P2", 90.0, False) in earlier and ("F1", "P2", 70.0, True) in earlier
    assert ("BANK", "F2", 60.0, True) in earlier


def test_no_loans_or_no_guarantees() -> None:
    subjects = Subjects(
        ids=np.array(["A", "B"], dtype=object),
        kind=np.array(["firm", "firm"]),
        equity=np.array([1.0, 1.0]),
        net_worth=np.full(2, np.nan),
        total_assets=np.array([1.0, 1.0]),
    )
    exp = exposures({}, subjects, AS_OF)
    assert exp.creditor.size == exp.debtor.size == exp.amount.size == exp.guarantee.size == 0
    # guarantees without loans carry nothing; loans without guarantees carry themselves
    guar = pd.DataFrame({"id": ["G"], "guarantor_id": ["A"], "loan_id": ["L"], "amount": [5.0]})
    assert exposures({"guarantees": guar}, subjects, AS_OF).amount.size == 0
    loans = pd.DataFrame({"id": ["L"], "lender_id": ["A"], "borrower_id": ["B"], "amount": [5.0]})
    exp = exposures({"loans": loans}, subjects, AS_OF)
    assert (exp.creditor.tolist(), exp.debtor.tolist(), exp.amount.tolist()) == ([0], [1], [5.0])
    assert exp.guarantee.tolist() == [False]


# ----------------------------------------------------------------------------- reference

DAYS = [None, date(2020, 1, 1), date(2023, 12, 31), AS_OF, date(2024, 1, 2)]
SUBJECTS = ["A", "B", "C", "D"]


def reference(
    loans: list[dict[str, Any]], guarantees: list[dict[str, Any]], as_of: date
) -> list[tuple[str, str, float, bool]]:
    """The exposure rule, row by row, in plain Python."""

    def amount_ok(x: Any) -> bool:
        return x is not None and not math.isnan(x) and x > 0

    def outstanding(lo: dict[str, Any]) -> bool:
        issued = lo["issued_on"] is None or lo["issued_on"] <= as_of
        repaid = lo["status"] == "repaid" and (lo["status_on"] is None or lo["status_on"] <= as_of)
        return issued and not repaid

    out = []
    by_id = {}
    for lo in loans:
        by_id[lo["id"]] = lo
        known = lo["lender_id"] in SUBJECTS and lo["borrower_id"] in SUBJECTS
        if (
            known
            and outstanding(lo)
            and lo["lender_id"] != lo["borrower_id"]
            and amount_ok(lo["amount"])
        ):
            out.append((lo["lender_id"], lo["borrower_id"], float(lo["amount"]), False))
    for g in guarantees:
        lo = by_id.get(g["loan_id"])
        if lo is None or not outstanding(lo):
            continue
        active = (g["since"] is None or g["since"] <= as_of) and (
            g["until"] is None or g["until"] >= as_of
        )
        debtor = lo["borrower_id"]
        if (
            active
            and g["guarantor_id"] in SUBJECTS
            and debtor in SUBJECTS
            and g["guarantor_id"] != debtor
            and amount_ok(g["amount"])
        ):
            out.append((g["guarantor_id"], debtor, float(g["amount"]), True))
    return sorted(out)


def frame(rows: list[dict[str, Any]], cols: list[str]) -> pd.DataFrame:
    df = pd.DataFrame({c: [r[c] for r in rows] for c in cols})
    for c in cols:
        if c in ("issued_on", "status_on", "since", "until"):
            df[c] = pd.to_datetime(df[c])
        elif c == "amount":
            df[c] = df[c].astype(float)
        else:
            df[c] = df[c].astype("str")
    return df


subject = st.sampled_from([*SUBJECTS, "GHOST"])
amount = st.sampled_from([None, -5.0, 0.0, 0.5, 10.0, 250.0, 1e4, 10.0, 250.0])
day = st.sampled_from(DAYS)


@st.composite
def loan_rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 8))
    return [
        {
            "id": f"L{k}",
            "lender_id": draw(subject),
            "borrower_id": draw(subject),
            "amount": draw(amount),
            "issued_on": draw(day),
            "status": draw(st.sampled_from(["performing", "repaid", "defaulted", "overdue"])),
            "status_on": draw(day),
        }
        for k in range(n)
    ]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    loans = draw(loan_rows())
    ids = [lo["id"] for lo in loans] + ["L-missing"]
    guarantees = [
        {
            "id": f"G{k}",
            "guarantor_id": draw(subject),
            "loan_id": draw(st.sampled_from(ids)),
            "amount": draw(amount),
            "since": draw(day),
            "until": draw(day),
        }
        for k in range(draw(st.integers(0, 8)))
    ]
    return loans, guarantees


SUBJECTS_4 = Subjects(
    ids=np.array(SUBJECTS, dtype=object),
    kind=np.array(["firm"] * 4),
    equity=np.ones(4),
    net_worth=np.full(4, np.nan),
    total_assets=np.ones(4),
)


@settings(max_examples=200, deadline=None)
@given(worlds())
def test_exposures_match_the_rule_row_by_row(
    world: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    loans, guarantees = world
    tables = {
        "loans": frame(
            loans, ["id", "lender_id", "borrower_id", "amount", "issued_on", "status", "status_on"]
        ),
        "guarantees": frame(
            guarantees, ["id", "guarantor_id", "loan_id", "amount", "since", "until"]
        ),
    }
    want = reference(loans, guarantees, AS_OF)
    got = as_rows(exposures(tables, SUBJECTS_4, AS_OF), SUBJECTS_4.ids)
    assert got == want
    n_guar = sum(1 for r in want if r[3])
    event(f"guarantee exposures: {min(n_guar, 3)}{'+' if n_guar >= 3 else ''}")
    target(float(n_guar), label="guarantee exposures")
    target(float(len(want) - n_guar), label="loan exposures")
