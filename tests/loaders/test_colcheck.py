"""loaders.colcheck on its own: what each column check vouches for, and the values.

Two promises (loaders/colcheck.py's docstring), checked directly rather than through
a whole load (test_columnwise.py does that):

- *sound*: a row outside the mask is valid under the per-row rules and its typed value
  is the per-row code's (``validate.text_problem`` / ``validate.parse_value``, the
  reference here); checked on hand-picked values and on any text (Hypothesis);
- *useful*: ordinary values (the generator's, and the usual spellings) are vouched
  for, so the per-row code sees only the odd row; checked exactly, value by value.
  A check that masked every row would be sound and useless: a load as slow as before.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.loaders.colcheck import check_column, string_array
from credgraph.loaders.layout import MAX_INDEXED_BYTES, MAX_NUMBER_CHARS, Column
from credgraph.loaders.validate import _BadValue, parse_value, text_problem

ENUM = Column("status", "enum", enum=("current", "overdue", "default"))
COLUMNS = {
    "text": Column("name"),
    "required text": Column("name", required=True),
    "date": Column("listed_on", "date"),
    "required date": Column("listed_on", "date", required=True),
    "int": Column("days_overdue", "int"),
    "amount": Column("amount", "amount"),
    "required amount": Column("amount", "amount", required=True),
    "share": Column("share", "share"),
    "severity": Column("severity", "severity"),
    "enum": ENUM,
    "required enum": Column("status", "enum", required=True, enum=ENUM.enum),
}


def reference(column: Column, v: str | None, *, ident: bool, indexed: bool) -> tuple[bool, Any]:
    """``(valid, typed value)`` of one value by the per-row rules (validate._typed)."""
    if v is None or (column.required and not v.strip()):
        return not column.required, None
    if column.type == "str":
        return text_problem(v, ident=ident, indexed=indexed) is None, v
    try:
        return True, parse_value(column, v)
    except _BadValue:
        return False, None


def check(
    column: Column, values: list[str | None], *, ident: bool = False, indexed: bool = False
) -> tuple[list[Any], list[bool]]:
    typed, bad = check_column(column, pa.array(values, pa.string()), ident=ident, indexed=indexed)
    assert len(typed) == len(bad) == len(values)
    return typed, bad.tolist()


def assert_sound(
    column: Column, values: list[str | None], *, ident: bool = False, indexed: bool = False
) -> list[bool]:
    typed, bad = check(column, values, ident=ident, indexed=indexed)
    for v, got, masked in zip(values, typed, bad, strict=True):
        if masked:
            continue
        ok, want = reference(column, v, ident=ident, indexed=indexed)
        assert ok, f"{v!r} vouched for in a {column.type} column, the row rules refuse it"
        assert (type(got), got) == (type(want), want), v
    return bad


def assert_vouched(column: Column, values: list[str | None], want: list[Any], **kw: bool) -> None:
    """Every value vouched for (mask all False), with exactly these typed values."""
    typed, bad = check(column, values, **kw)
    assert bad == [False] * len(values), list(zip(values, bad, strict=True))
    assert [(type(x), x) for x in typed] == [(type(x), x) for x in want]


# ------------------------------------------------------------------------- useful
def test_ordinary_text_is_vouched_for() -> None:
    values = ["Anna Berg", "x", " leading", "trailing ", "tab\there", "line\nfeed", "cr\rlf"]
    values += ["Ærø Ltd", "北京", "ü" * (MAX_INDEXED_BYTES // 2), None]
    assert_vouched(Column("name"), values, values, indexed=True)
    assert_vouched(Column("name", required=True), values[:-1], values[:-1])
    assert_vouched(Column("id"), ["P0000001", "ü-1", "a b"], ["P0000001", "ü-1", "a b"], ident=True)


def test_ordinary_dates_are_vouched_for() -> None:
    values = ["2024-01-05", "2024-02-29", "0001-01-01", "9999-12-31", "0999-06-30", None]
    want = [date(2024, 1, 5), date(2024, 2, 29), date(1, 1, 1), date(9999, 12, 31)]
    want += [date(999, 6, 30), None]
    assert_vouched(COLUMNS["date"], values, want)


def test_a_bad_date_leaves_the_good_ones_vouched_for() -> None:
    """Arrow's cast stops at the first impossible date; the others keep their values."""
    typed, bad = check(COLUMNS["date"], ["2024-01-05", "2023-02-29", "2024-03-01", None])
    assert bad == [False, True, False, False]
    assert [typed[0], typed[2], typed[3]] == [date(2024, 1, 5), date(2024, 3, 1), None]


def test_ordinary_whole_numbers_are_vouched_for() -> None:
    values = ["0", "7", "007", "+5", "5.0", "5.", "12.000", "9" * 18, None]
    want = [0, 7, 7, 5, 5, 5, 12, int("9" * 18), None]
    assert_vouched(COLUMNS["int"], values, want)


@pytest.mark.parametrize(
    ("name", "values", "want"),
    [
        ("amount", ["0", "-0", "12.5", ".5", "5.", "1e5", "1E-3", "+3"], [0.0, 0.0, 12.5, 0.5]),
        ("share", ["1", "0.5", "1e-9", "1.0"], [1.0, 0.5, 1e-9, 1.0]),
        ("severity", ["0", "1", "0.25", "-0"], [0.0, 1.0, 0.25, 0.0]),
    ],
)
def test_ordinary_numbers_are_vouched_for(name: str, values: list[str], want: list[float]) -> None:
    want = want + [float(v) + 0.0 for v in values[len(want) :]]
    assert_vouched(COLUMNS[name], [*values, None], [*want, None])
    typed, _ = check(COLUMNS[name], ["-0"])
    assert str(typed[0]) == "0.0"  # never -0.0


def test_a_long_number_within_the_limit_is_vouched_for() -> None:
    v = "1" * MAX_NUMBER_CHARS
    assert_vouched(COLUMNS["amount"], [v], [float(v)])


def test_known_enum_values_are_vouched_for() -> None:
    assert_vouched(ENUM, ["current", "default", None], ["current", "default", None])


def test_a_slice_is_read_from_its_own_offset() -> None:
    """Blocks are slices of a larger array: the byte scan must start at the slice."""
    whole = pa.array(["\x01bad", "ok", " ", "fine", "x" * (MAX_INDEXED_BYTES + 1), "y"])
    part = whole.slice(1, 4)
    _, bad = check_column(Column("name", required=True), part, ident=False, indexed=True)
    assert bad.tolist() == [False, True, False, True]
    _, bad = check_column(Column("name"), whole.slice(1), ident=False, indexed=False)
    assert bad.tolist() == [False, False, False, False, False]


# ------------------------------------------------------------------------- sound
@pytest.mark.parametrize(
    ("key", "values", "kw"),
    [
        ("text", ["a\x00b", "a\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\x7f", "\x85", "\x9f"], {}),
        (
            "text",
            ["x" * (MAX_INDEXED_BYTES + 1), "ü" * (MAX_INDEXED_BYTES // 2 + 1)],
            {"indexed": True},
        ),
        ("text", ["a\tb", "a\nb", "a\rb", "\x01"], {"ident": True}),
        ("required text", [None, "", " ", "\t", "\u3000", "\xa0\u2028", "\ufeff", "\x1c"], {}),
        ("required date", [None, "", " "], {}),
        ("date", ["2023-02-29", "2024-13-01", "2024-1-05", "0000-01-01", "24-01-05", "x"], {}),
        ("date", ["2024-01-05T00:00", "２０２４-01-05", "2024-01-05x"], {}),
        ("int", ["-1", "-0", "x", "1e3", "0x10", "1_000", "9" * 19, "5.5", "١٢"], {}),
        ("int", ["1" * (MAX_NUMBER_CHARS + 1)], {}),
        ("amount", ["-1", "-1e-9", "nan", "inf", "-inf", "1e400", "x", "1,5", "0x10", "."], {}),
        ("amount", ["1" * (MAX_NUMBER_CHARS + 1), "Infinity", "1_0", "١"], {}),
        ("share", ["0", "-0", "1.0000001", "2", "-0.5", "nan"], {}),
        ("severity", ["-0.1", "1.01", "nan", "inf"], {}),
        ("enum", ["unknown", "Current", "current ", ""], {}),
        ("required amount", [None, "", "  "], {}),
        ("required enum", [None, ""], {}),
    ],
)
def test_bad_values_are_never_vouched_for(key: str, values: list[str | None], kw: Any) -> None:
    """Together and each alone (alone, no other value sets off a column's slow scan)."""
    column = COLUMNS[key]
    bad = assert_sound(column, values, **kw)
    assert all(bad), [v for v, b in zip(values, bad, strict=True) if not b]
    for v in values:
        assert assert_sound(column, [v, *(["x"] if column.type == "str" else [])], **kw)[0], v


def test_spaced_values_are_sound_either_way() -> None:
    """A value with spaces around it may go either way; if vouched for, exactly."""
    for key, values in {
        "date": [" 2024-01-05 ", "2024-01-05 "],
        "int": [" 5 ", "5 "],
        "amount": [" 5 ", "\t1e3"],
        "enum": [" current"],
        "required text": [" x "],
    }.items():
        assert_sound(COLUMNS[key], values)


_TEXT = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(list(" \t\n\r.+-eE0123456789\x00\x1f\x7f\x85\u3000\xa0")),
    max_size=14,
)
_DIGITS = st.from_regex(r"\A[+-]?0*[0-9]{1,22}(\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?\Z")
_DATES = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(sorted(COLUMNS)),
    st.lists(st.none() | _TEXT | _DIGITS | _DATES | st.sampled_from(ENUM.enum), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_any_values_outside_the_mask_are_valid_and_exact(
    key: str, values: list[str | None], ident: bool, indexed: bool
) -> None:
    assert_sound(COLUMNS[key], values, ident=ident, indexed=indexed)


# ------------------------------------------------------------------- string_array
def test_string_array_holds_what_arrow_cannot_as_none() -> None:
    arr, odd = string_array(["a", None, "\ud800", 5, "ok", ["x"], "é"])
    assert arr.type == pa.string()
    assert arr.to_pylist() == ["a", None, None, None, "ok", None, "é"]
    assert odd == [2, 3, 5]
    arr, odd = string_array(["a", None, "b"])
    assert (arr.to_pylist(), odd) == (["a", None, "b"], [])


# ------------------------------------------------------------- the other paths
def test_a_large_string_column_is_read_as_a_string_column() -> None:
    values = ["Anna", "\x01", " ", None, "x" * (MAX_INDEXED_BYTES + 1), "ü"]
    for column in (Column("name", required=True), Column("name")):
        want = check_column(column, pa.array(values, pa.string()), ident=False, indexed=True)
        got = check_column(column, pa.array(values, pa.large_string()), ident=False, indexed=True)
        assert got[0] == want[0] and got[1].tolist() == want[1].tolist()
    assert want[1].tolist() == [False, True, False, False, True, False]


def test_a_missing_required_number_is_masked() -> None:
    for t in ("int", "amount", "share", "severity"):
        column = Column("n", t, required=True)  # type: ignore[arg-type]
        _, bad = check(column, ["1", None])
        assert bad == [False, True], t


def test_when_arrow_refuses_a_number_python_reads_the_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The fallback for a column Arrow's float parser refuses (none found in 300,000
    random numbers, kept for safety): Python's float reads it, value by value."""
    cast = pa.compute.cast

    def refuse_floats(arr: Any, target: Any = None, *a: Any, **kw: Any) -> Any:
        if target == pa.float64():
            raise pa.ArrowInvalid("refused by the test")
        return cast(arr, target, *a, **kw)

    monkeypatch.setattr(pa.compute, "cast", refuse_floats)
    values = ["12.5", None, "-0", "x", "1e400", ".5"]
    typed, bad = check(COLUMNS["amount"], values)
    assert bad == [False, False, False, True, True, False]
    assert [typed[i] for i in (0, 1, 2, 5)] == [12.5, None, 0.0, 0.5]
    assert str(typed[2]) == "0.0"


def test_ordinary_text_needs_no_regular_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    """The byte scans let ordinary text through without a regular expression over the
    column (the expensive part); a value that may hold a control character or be blank
    sets off the one scan it needs. (A value that starts with a character past ASCII is
    tested for blankness in full: a few Unicode spaces are blank to Python.)"""
    scans: list[str] = []
    match = pa.compute.match_substring_regex

    def counted(values: Any, pattern: str, *a: Any, **kw: Any) -> Any:
        scans.append(pattern)
        return match(values, pattern, *a, **kw)

    monkeypatch.setattr(pa.compute, "match_substring_regex", counted)
    ordinary = ["Anna Berg", "x", "!", "Lars Ærø", "~", "Co 北京", "a"]
    check(Column("name", required=True), ordinary, indexed=True)
    assert scans == []
    from credgraph.loaders import colcheck

    for extra, pattern in [
        (" Anna", colcheck._MAYBE_BLANK),
        ("", colcheck._MAYBE_BLANK),
        ("\u3000", colcheck._MAYBE_BLANK),
        ("Ærø Ltd", colcheck._MAYBE_BLANK),
        ("a\tb", colcheck.BAD_TEXT),
        ("a\x7fb", colcheck.BAD_TEXT),
        ("a\x85b", colcheck.BAD_TEXT),
    ]:
        scans.clear()
        check(Column("name", required=True), [*ordinary, extra])
        assert scans == [pattern], extra
