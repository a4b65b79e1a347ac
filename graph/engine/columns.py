"""Column readers: one way to read a table's ids, amounts, dates and flags.

The projection and the exposures read the input tables (pandas DataFrames in
the layout of ``loaders.layout``) only through these, so a missing column, a
column of text where numbers are expected, or a time zone on a date column is
handled the same way everywhere: missing ids are ``None``, missing numbers
``NaN``, missing dates ``NaT``, missing flags ``False``.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from credgraph.graph.engine.arrays import BoolArray, DateArray, FloatArray

NAT = np.datetime64("NaT", "D")


def as_day(d: date | datetime | str) -> np.datetime64:
    """A date (or datetime, or ISO text) as a numpy day."""
    if isinstance(d, datetime):
        d = d.date()
    return np.datetime64(d, "D")


def read_ids(df: pd.DataFrame, name: str) -> pd.Series:
    """Column ``name`` as strings (all ``None`` when the column is absent)."""
    s = df[name] if name in df.columns else pd.Series([None] * len(df), dtype="str")
    if not (pd.api.types.is_string_dtype(s) or s.dtype == object):
        s = s.astype("str")
    return s


def read_floats(df: pd.DataFrame, name: str) -> FloatArray:
    """Column ``name`` as float64 (``NaN`` for missing or unparseable values)."""
    if name not in df.columns:
        return np.full(len(df), np.nan)
    s = df[name]
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        s = pd.to_numeric(s, errors="coerce")
    return np.asarray(s.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def read_dates(df: pd.DataFrame, name: str) -> DateArray:
    """Column ``name`` as days (``NaT`` for missing or unparseable values)."""
    if name not in df.columns:
        return np.full(len(df), NAT)
    s = df[name]
    if not pd.api.types.is_datetime64_any_dtype(s):
        s = pd.to_datetime(s, errors="coerce")
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_localize(None)
    return np.asarray(s.to_numpy(), dtype="datetime64[D]")


def read_bools(df: pd.DataFrame, name: str) -> BoolArray:
    """Column ``name`` as flags: true, 1, yes, y, t (any case) or a non-zero number."""
    if name not in df.columns:
        return np.zeros(len(df), dtype=bool)
    s = df[name]
    if pd.api.types.is_bool_dtype(s):
        return np.asarray(s.to_numpy(dtype=bool, na_value=False), dtype=bool)
    if pd.api.types.is_numeric_dtype(s):
        return np.asarray(s.to_numpy(dtype=np.float64, na_value=0.0) != 0, dtype=bool)
    low = s.astype("str").str.strip().str.lower()
    return np.asarray(low.isin(["true", "1", "yes", "y", "t"]).to_numpy(), dtype=bool)


def age_days(as_of: np.datetime64, d: DateArray) -> FloatArray:
    """Days from each date to ``as_of`` (0 where the date is missing)."""
    age = np.zeros(len(d), dtype=np.float64)
    m = ~np.isnat(d)
    age[m] = (as_of - d[m]).astype(np.int64)
    return age


def is_active(as_of: np.datetime64, since: DateArray, until: DateArray) -> BoolArray:
    """A relationship is active as of a day: ``since`` missing or ``<= as_of`` and
    ``until`` missing or ``>= as_of``."""
    return (np.isnat(since) | (since <= as_of)) & (np.isnat(until) | (until >= as_of))


def loan_outstanding(loans: pd.DataFrame, as_of: np.datetime64) -> BoolArray:
    """The one loan-exposure rule: a loan is outstanding (carries a lending and its
    guarantees' exposure) once issued (``issued_on`` missing or ``<= as_of``) and until
    repaid (status ``repaid`` with ``status_on`` missing or ``<= as_of``)."""
    issued = read_dates(loans, "issued_on")
    status_on = read_dates(loans, "status_on")
    repaid = (read_ids(loans, "status") == "repaid").to_numpy(dtype=bool, na_value=False)
    repaid = repaid & (np.isnat(status_on) | (status_on <= as_of))
    out: BoolArray = (np.isnat(issued) | (issued <= as_of)) & ~repaid
    return out
