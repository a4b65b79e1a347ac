"""graph.engine.columns: the one way to read ids, numbers, dates and flags, by hand."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from credgraph.graph.engine.columns import (
    age_days,
    as_day,
    is_active,
    loan_outstanding,
    read_bools,
    read_dates,
    read_floats,
    read_ids,
)

D = np.datetime64
NAT = D("NaT", "D")


def test_as_day() -> None:
    assert as_day(date(2024, 1, 1)) == D("2024-01-01", "D")
    assert as_day(datetime(2024, 1, 1, 23, 59)) == D("2024-01-01", "D")
    assert as_day("2024-02-29") == D("2024-02-29", "D")


def test_read_ids() -> None:
    df = pd.DataFrame({"a": ["x", None], "n": [1, 2]})
    a = read_ids(df, "a")
    assert a.iloc[0] == "x" and pd.isna(a.iloc[1])
    assert read_ids(df, "n").tolist() == ["1", "2"]  # numbers become text
    missing = read_ids(df, "nope")
    assert len(missing) == 2 and missing.isna().all()


def test_read_floats() -> None:
    df = pd.DataFrame(
        {
            "t": ["1.5", "x", None],
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": [True, False, True],
        }
    )
    np.testing.assert_array_equal(read_floats(df, "t"), [1.5, np.nan, np.nan])
    np.testing.assert_array_equal(read_floats(df, "i"), [1.0, np.nan, 3.0])
    assert read_floats(df, "i").dtype == np.float64
    np.testing.assert_array_equal(read_floats(df, "b"), [1.0, 0.0, 1.0])
    assert np.isnan(read_floats(df, "nope")).all() and len(read_floats(df, "nope")) == 3


def test_read_dates() -> None:
    df = pd.DataFrame(
        {
            "s": ["2024-01-02", "junk", None],
            "tz": pd.to_datetime(["2024-01-02T23:00:00+00:00", None, "2023-05-05T01:00:00+00:00"]),
            "d": pd.to_datetime(["2020-01-01", None, "2021-01-01"]),
        }
    )
    assert read_dates(df, "s").tolist() == [date(2024, 1, 2), None, None]
    assert read_dates(df, "tz").tolist() == [date(2024, 1, 2), None, date(2023, 5, 5)]
    assert read_dates(df, "d").dtype == np.dtype("datetime64[D]")
    assert np.isnat(read_dates(df, "nope")).all() and len(read_dates(df, "nope")) == 3


def test_read_bools() -> None:
    df = pd.DataFrame(
        {
            "s": ["true", " Yes ", "Y", "t", "1", "false", "no", "", None, "2"],
            "n": [1, 0, 2, -1, 0, 0, 0, 0, 0, 0],
            "b": [True, False] * 5,
            "nb": pd.array([True, None] * 5, dtype="boolean"),
        }
    )
    assert read_bools(df, "s").tolist() == [True] * 5 + [False] * 5
    assert read_bools(df, "n").tolist() == [True, False, True, True] + [False] * 6
    assert read_bools(df, "b").tolist() == [True, False] * 5
    assert read_bools(df, "nb").tolist() == [True, False] * 5
    assert read_bools(df, "nope").tolist() == [False] * 10


def test_age_and_activity() -> None:
    as_of = D("2024-01-01", "D")
    d = np.array(["2023-12-31", "NaT", "2024-01-11"], dtype="datetime64[D]")
    np.testing.assert_array_equal(age_days(as_of, d), [1.0, 0.0, -10.0])
    since = np.array(
        ["NaT", "2024-01-01", "2024-01-02", "2023-01-01", "NaT"], dtype="datetime64[D]"
    )
    until = np.array(["NaT", "NaT", "NaT", "2023-12-31", "2024-01-01"], dtype="datetime64[D]")
    assert is_active(as_of, since, until).tolist() == [True, True, False, False, True]


def test_loan_outstanding() -> None:
    loans = pd.DataFrame(
        {
            "issued_on": pd.to_datetime(
                [None, "2024-01-01", "2024-01-02", "2020-01-01", "2020-01-01", "2020-01-01", None]
            ),
            "status": ["performing", "overdue", "performing", "repaid", "repaid", "repaid", None],
            "status_on": pd.to_datetime([None, None, None, None, "2024-01-01", "2024-01-02", None]),
        }
    )
    # missing issue date: out; issued today: out; issued tomorrow: not yet;
    # repaid with no date: repaid; repaid today: repaid; repaid tomorrow: still out;
    # no status: out
    got = loan_outstanding(loans, D("2024-01-01", "D")).tolist()
    assert got == [True, True, False, False, False, True, True]
