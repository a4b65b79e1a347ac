"""Spill files (loaders/spill.py): data only, and every value reads back exactly."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from credgraph.loaders.spill import Spill, dumps, loads

EXACT: list[Any] = [
    None,
    True,
    0,
    -(2**200),
    "x\ud800y\udfff",  # lone surrogates: written as escapes, read back as themselves
    "é\x00\n\u2028",
    'a"$date"',
    1.5,
    -0.0,
    5e-324,
    float("inf"),
    float("-inf"),
    [],
    ["a", ""],
    {"$date": "2020-01-01"},  # a map that looks like a tag is not read as one
    {"a": {"$float": "nan"}, "$map": []},
    date(1, 1, 1),
    date(9999, 12, 31),
    datetime(2020, 1, 1, 2, 3, 4, 5),
    datetime(2020, 1, 1, tzinfo=UTC),
    datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=7))),
    datetime(2021, 11, 7, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),
    datetime(2021, 11, 7, 1, 30, fold=1),
]


@pytest.mark.parametrize("value", EXACT, ids=repr)
def test_a_value_reads_back_exactly(value: Any) -> None:
    back = loads(dumps(value))
    assert back == value
    assert repr(back) == repr(value)  # same types, fold and zone included


def test_nan_reads_back_as_nan() -> None:
    assert math.isnan(loads(dumps([float("nan")]))[0])


def test_a_line_is_ascii_json() -> None:
    line = dumps({"name": "Zoë \ud800", "on": date(2024, 1, 31)})
    assert line == b'{"name": "Zo\\u00eb \\ud800", "on": {"$date": "2024-01-31"}}\n'


@pytest.mark.parametrize(
    "value",
    [
        {1, 2},
        b"bytes",
        datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=1), "CET")),
    ],
    ids=repr,
)
def test_what_cannot_be_kept_exactly_is_refused(value: Any) -> None:
    with pytest.raises(TypeError, match="cannot spill"):
        dumps({"v": value})


VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.dates()
    | st.datetimes(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(VALUES)
def test_any_record_reads_back_exactly(value: Any) -> None:
    back = loads(dumps(value))
    assert back == value
    assert repr(back) == repr(value)


def test_a_spill_replays_in_order_and_a_named_one_after_close(tmp_path: Path) -> None:
    records = [[1, {"a": "x"}], [2, {"b": [date(2020, 1, 1)]}]]
    temp = Spill()
    for r in records:
        temp.write(r)
    assert list(temp) == records
    temp.close()
    named = Spill(tmp_path / "side.jsonl")
    for r in records:
        named.write(r)
    named.close()
    assert named.count == 2
    assert list(named) == records
    assert b"pickle" not in (tmp_path / "side.jsonl").read_bytes()
