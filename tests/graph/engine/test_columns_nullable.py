"""The engine's column readers on pandas' nullable dtypes (what Arrow and Parquet
input give: ``boolean``, ``Float64``, ``Int64``, ``string`` with missing values),
and noisy-OR on probabilities outside [0, 1]. Expected values are worked by hand.
These kill mutants of `make mutate` that change an outcome only when a value is
missing (docs/testing.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credgraph.graph.engine.columns import loan_outstanding, read_bools, read_floats
from credgraph.graph.engine.intrinsic import noisy_or_by_group

DAY = np.datetime64("2026-06-30", "D")


def test_missing_flags_are_false_in_every_dtype() -> None:
    df = pd.DataFrame(
        {
            "nullable_bool": pd.array([True, None, False], dtype="boolean"),
            "float": [1.0, np.nan, 0.0],
            "nullable_float": pd.array([2.5, None, 0.0], dtype="Float64"),
            "nullable_int": pd.array([1, None, 0], dtype="Int64"),
        }
    )
    for col in df.columns:
        got = read_bools(df, col)
        assert got.dtype == np.bool_, col
        assert got.tolist() == [True, False, False], col
    absent = read_bools(df, "absent")  # a flag column the input does not have
    assert absent.dtype == np.bool_ and absent.tolist() == [False, False, False]
    assert (~absent).tolist() == [True, True, True]  # usable as a mask


def test_missing_numbers_are_nan_in_nullable_dtypes() -> None:
    df = pd.DataFrame(
        {
            "nullable_float": pd.array([1.5, None], dtype="Float64"),
            "nullable_int": pd.array([3, None], dtype="Int64"),
        }
    )
    for col in df.columns:
        got = read_floats(df, col)
        assert got.dtype == np.float64, col
        assert got[0] in (1.5, 3.0) and np.isnan(got[1]), col


def test_a_loan_with_no_status_is_outstanding_whatever_the_dtype() -> None:
    """Status missing: not repaid (a missing status must never hide an exposure)."""
    for dtype in (object, "string"):
        loans = pd.DataFrame(
            {
                "id": ["L1", "L2", "L3"],
                "status": pd.array(["repaid", None, "active"], dtype=dtype),
                "issued_on": ["2026-01-01"] * 3,
                "status_on": [None, None, None],
            }
        )
        assert loan_outstanding(loans, DAY).tolist() == [False, True, True], dtype


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        # clipped to 1: the group is certain
        ([1.5, 0.2], 1.0),
        # a negative value counts as 0: 1 - (1 - 0)(1 - 0.2) = 0.2
        ([-0.5, 0.2], 0.2),
        # 1 - 0.5 * 0.5 = 0.75
        ([0.5, 0.5], 0.75),
    ],
)
def test_noisy_or_clips_each_probability_first(p: list[float], expected: float) -> None:
    got = noisy_or_by_group(np.array([0, 0]), np.array(p), 1)
    assert got.tolist() == pytest.approx([expected], abs=1e-15)
