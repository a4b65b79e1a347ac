"""Exposure edges between subjects, for centrality and DebtRank.

A lender is exposed to its borrower by the outstanding loan amount, a
guarantor to the borrower of the guaranteed loan by the guaranteed amount
(PRODUCT.md, "Stress test"). Outstanding: issued on or before the date and
not repaid (the layout has no repayment schedule, so the full amount counts).
Guarantees count while active (``since``/``until``) on a loan that carries
exposure. Self-exposures are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import numpy.typing as npt
import pandas as pd

from credgraph.graph.engine.arrays import FloatArray, IntArray
from credgraph.graph.engine.columns import (
    is_active,
    loan_outstanding,
    read_dates,
    read_floats,
    read_ids,
)
from credgraph.graph.engine.projection import Subjects, Tables


@dataclass(frozen=True)
class Exposures:
    """Parallel arrays: ``creditor`` is exposed to ``debtor`` by ``amount``."""

    creditor: IntArray
    debtor: IntArray
    amount: FloatArray
    guarantee: npt.NDArray[np.bool_]  # True for a guarantee, False for a loan

    @property
    def guarantees(self) -> tuple[IntArray, IntArray, FloatArray]:
        m = self.guarantee
        return self.creditor[m], self.debtor[m], self.amount[m]


def _live(df: pd.DataFrame, as_of: np.datetime64) -> npt.NDArray[np.bool_]:
    return is_active(as_of, read_dates(df, "since"), read_dates(df, "until"))


def exposures(tables: Tables, subjects: Subjects, as_of: date) -> Exposures:
    day = np.datetime64(as_of, "D")
    empty = pd.DataFrame()
    loans = tables.get("loans", empty)
    guar = tables.get("guarantees", empty)
    idx = subjects.index
    if len(loans):
        live = loan_outstanding(loans, day)
        lender = idx.get_indexer(read_ids(loans, "lender_id").astype(object))
        borrower = idx.get_indexer(read_ids(loans, "borrower_id").astype(object))
        amount = read_floats(loans, "amount")
        ok = live & (lender >= 0) & (borrower >= 0) & (lender != borrower) & (amount > 0)
        loan_pos = pd.Index(read_ids(loans, "id").astype(object))
    else:
        lender = borrower = np.zeros(0, dtype=np.int64)
        amount = np.zeros(0)
        ok = np.zeros(0, dtype=bool)
        live = ok
        loan_pos = pd.Index([], dtype=object)
    parts_c, parts_d, parts_a, parts_g = (
        [lender[ok]],
        [borrower[ok]],
        [amount[ok]],
        [np.zeros(int(ok.sum()), dtype=bool)],
    )
    if len(guar) and len(loans):
        at = loan_pos.get_indexer(read_ids(guar, "loan_id").astype(object))
        has_loan = at >= 0
        guarantor = idx.get_indexer(read_ids(guar, "guarantor_id").astype(object))
        g_amount = read_floats(guar, "amount")
        debtor = np.where(has_loan, borrower[np.where(has_loan, at, 0)], -1)
        loan_live = np.where(has_loan, live[np.where(has_loan, at, 0)], False)
        g_ok = (
            has_loan
            & loan_live
            & _live(guar, day)
            & (guarantor >= 0)
            & (debtor >= 0)
            & (guarantor != debtor)
            & (g_amount > 0)
        )
        parts_c.append(guarantor[g_ok])
        parts_d.append(debtor[g_ok])
        parts_a.append(g_amount[g_ok])
        parts_g.append(np.ones(int(g_ok.sum()), dtype=bool))
    return Exposures(
        creditor=np.concatenate(parts_c).astype(np.int64),
        debtor=np.concatenate(parts_d).astype(np.int64),
        amount=np.concatenate(parts_a).astype(np.float64),
        guarantee=np.concatenate(parts_g),
    )
