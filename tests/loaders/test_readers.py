"""Readers: folder discovery, CSV edge cases, Parquet round trip, streaming."""

from __future__ import annotations

import datetime as dt
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from credgraph.graph.errors import InputError
from credgraph.loaders.layout import BLACKLIST, FILES, FIRMS, LOANS, PERSONS
from credgraph.loaders.readers import (
    INVALID_UTF8,
    RawBlock,
    RawRow,
    discover,
    read_blocks,
    read_rows,
    to_text,
)


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def rows(spec, path: Path) -> list[RawRow]:  # type: ignore[no-untyped-def]
    return list(read_rows(spec, path))


# -- discover -------------------------------------------------------------------------------


def test_discover_returns_layout_order_and_reports_ignored_files(tmp_path: Path) -> None:
    for name in ("blacklist.csv", "persons.csv", "loans.parquet", "notes.txt", "rejects.csv"):
        write(tmp_path / name, "")
    write(tmp_path / ".DS_Store", "")
    (tmp_path / "sub").mkdir()
    found = discover(tmp_path, None)
    assert [(s.name, p.name) for s, p in found] == [
        ("persons", "persons.csv"),
        ("loans", "loans.parquet"),
        ("blacklist", "blacklist.csv"),
    ]
    assert [p.name for p in found.ignored] == ["notes.txt", "rejects.csv", "sub"]


def test_discover_with_format_ignores_the_other_format(tmp_path: Path) -> None:
    write(tmp_path / "persons.csv", "")
    write(tmp_path / "persons.parquet", b"")
    write(tmp_path / "firms.parquet", b"")
    found = discover(tmp_path, "csv")
    assert [(s, p.name) for s, p in found] == [(PERSONS, "persons.csv")]
    assert [p.name for p in found.ignored] == ["firms.parquet", "persons.parquet"]
    found = discover(tmp_path, "parquet")
    assert [p.name for _, p in found] == ["persons.parquet", "firms.parquet"]


def test_discover_refuses_both_formats_of_one_file(tmp_path: Path) -> None:
    write(tmp_path / "firms.csv", "")
    write(tmp_path / "firms.parquet", b"")
    with pytest.raises(InputError) as e:
        discover(tmp_path, None)
    assert "firms.csv" in str(e.value) and "firms.parquet" in str(e.value)


def test_discover_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        discover(tmp_path / "nope", None)
    write(tmp_path / "readme.md", "")
    with pytest.raises(InputError, match="no input file"):
        discover(tmp_path, None)


# -- CSV ------------------------------------------------------------------------------------


def test_bom_crlf_quotes_and_row_numbers(tmp_path: Path) -> None:
    data = (
        '\ufeffid,name,country\r\nP1,"Doe, John",de\r\nP2,"two\r\nline\nname",fr\r\n\r\nP3,Ann,\r\n'
    )
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [(r.row, r.values["id"], r.values["name"], r.values["country"]) for r in got] == [
        (2, "P1", "Doe, John", "de"),
        (3, "P2", "two\r\nline\nname", "fr"),
        (7, "P3", "Ann", None),
    ]
    assert all(r.error is None and r.file == "persons.csv" for r in got)
    # every layout column is present; absent ones are None
    assert got[0].values == {
        "id": "P1",
        "name": "Doe, John",
        "birth_date": None,
        "country": "de",
        "national_id": None,
        "net_worth": None,
    }


@pytest.mark.parametrize(
    "data",
    [
        "id,name\nP1,Ann\nP2,Bob\n",  # LF
        "id,name\r\nP1,Ann\r\nP2,Bob",  # CRLF, no line break at the end
        "id,name\rP1,Ann\rP2,Bob\r",  # CR alone: "CSV (Macintosh)"
        "id,name\rP1,Ann\nP2,Bob\r\n",  # all three
        "id,name\nP1,Ann\rP2,Bob\r",  # LF after the header, then CR alone
        "\ufeffid,name\r\r\nP1,Ann\r\n\rP2,Bob\r",  # BOM, blank lines of both kinds
        "id,name",  # the header alone
        "id,name\r",
    ],
)
def test_every_line_ending_gives_the_same_rows_in_blocks(tmp_path: Path, data: str) -> None:
    """The load reads CSV in blocks (read_blocks): a file whose lines end in CR alone
    was once read as empty, silently. Each kind of line ending, and mixes of them,
    must give in blocks exactly the rows read one by one."""
    path = write(tmp_path / "persons.csv", data)
    one_by_one = [(r.row, r.values, r.error) for r in rows(PERSONS, path)]
    in_blocks = []
    for part in read_blocks(PERSONS, path):
        got = (
            [part.raw(PERSONS, i) for i in range(len(part.rows))]
            if isinstance(part, RawBlock)
            else [part]
        )
        in_blocks += [(r.row, r.values, r.error) for r in got]
    assert in_blocks == one_by_one
    names = [v["name"] for _, v, _ in one_by_one]
    assert names == ([] if data.startswith("id,name") and "P1" not in data else ["Ann", "Bob"])


def test_lf_and_values_kept_verbatim(tmp_path: Path) -> None:
    data = 'id,name\nP1,  spaced  \nP2,=cmd()\nP3,"MATCH (n) DETACH DELETE n"\nP4,"a ""quoted"" name"\n'
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [r.values["name"] for r in got] == [
        "  spaced  ",
        "=cmd()",
        "MATCH (n) DETACH DELETE n",
        'a "quoted" name',
    ]


def test_invalid_utf8_rejects_only_that_row(tmp_path: Path) -> None:
    data = b"id,name\nP1,Ann\nP2,Bad\xff\xfename\nP3,J\xc3\xb6rg\n"
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [r.error for r in got] == [None, INVALID_UTF8, None]
    assert got[1].error_column == "name"
    assert got[1].values["name"] == "Bad\\xff\\xfename"
    assert got[2].values["name"] == "Jörg"


def test_invalid_utf8_in_an_ignored_column_still_flags_the_row(tmp_path: Path) -> None:
    data = b"id,name,extra\nP1,Ann,\xff\nP2,Bob,ok\n"
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [r.error for r in got] == [INVALID_UTF8, None]
    assert "extra" not in got[1].values


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    data = "id,name,country\nP1,Ann\nP2,Bob,de,extra\nP3,Cy,fr\n"
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [r.error for r in got] == [
        "expected 3 fields, found 2",
        "expected 3 fields, found 4",
        None,
    ]
    assert got[2].values["country"] == "fr"


def test_unknown_columns_ignored_and_any_column_order(tmp_path: Path) -> None:
    data = "colour,name,id\nred,Ann,P1\n"
    (r,) = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert r.values["id"] == "P1" and r.values["name"] == "Ann"
    assert "colour" not in r.values


def test_field_of_several_megabytes(tmp_path: Path) -> None:
    big = "x" * 5_000_000
    data = f'id,name\nP1,"{big}"\nP2,Bob\n'
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert len(got[0].values["name"] or "") == 5_000_000
    assert got[1].values["name"] == "Bob" and got[1].row == 3


def test_empty_and_header_only_files(tmp_path: Path) -> None:
    assert rows(PERSONS, write(tmp_path / "persons.csv", b"")) == []
    assert rows(PERSONS, write(tmp_path / "p2.csv", "id,name\r\n")) == []
    assert rows(PERSONS, write(tmp_path / "p3.csv", "\ufeffid,name")) == []


def test_missing_required_header_column_refuses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "loans.csv", "id,lender_id,borrower_id,amount,issued_on\nL1,A,B,1,x\n")
    with pytest.raises(InputError) as e:
        read_rows(LOANS, path)  # checked before the first row is read
    assert "loans.csv" in str(e.value) and "'status'" in str(e.value)


def test_repeated_header_column_refuses_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "persons.csv", "id,name,id\nP1,Ann,P2\n")
    with pytest.raises(InputError, match="'id' appears twice"):
        read_rows(PERSONS, path)


def test_malformed_quoting_is_a_row_error_not_a_silent_change(tmp_path: Path) -> None:
    data = 'id,name\nP1,Ann\nP2,"Doe" Jr\nP3,Bob\nP4,"never closed\nP5,x\n'
    got = rows(PERSONS, write(tmp_path / "persons.csv", data))
    assert [(r.row, r.error) for r in got] == [
        (2, None),
        (3, "malformed CSV: ',' expected after '\"'"),
        (4, None),
        (5, "malformed CSV: unexpected end of data"),
    ]


def test_streaming_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "persons.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("id,name,country\n")
        for i in range(100_000):
            f.write(f"P{i},Person number {i} with a longish name,de\n")
    tracemalloc.start()
    try:
        n = 0
        for _ in read_rows(PERSONS, path):
            n += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == 100_000
    assert peak < 2_000_000  # the file is ~5 MB; rows are not kept


# -- Parquet --------------------------------------------------------------------------------


def test_parquet_round_trip_matches_csv(tmp_path: Path) -> None:
    csv_text = (
        "id,lender_id,borrower_id,amount,currency,issued_on,maturity_on,status,days_overdue\n"
        "L1,B1,F1,1000000.5,EUR,2023-01-31,,performing,\n"
        "L2,B1,F2,0.1,,2024-02-29,2025-02-28,overdue,30\n"
    )
    csv_rows = rows(LOANS, write(tmp_path / "loans.csv", csv_text))
    table = pa.table(
        {
            "id": ["L1", "L2"],
            "lender_id": ["B1", "B1"],
            "borrower_id": ["F1", "F2"],
            "amount": pa.array([1000000.5, 0.1], pa.float64()),
            "currency": ["EUR", None],
            "issued_on": pa.array([dt.date(2023, 1, 31), dt.date(2024, 2, 29)], pa.date32()),
            "maturity_on": pa.array([None, dt.datetime(2025, 2, 28)], pa.timestamp("us")),
            "status": pa.array(["performing", "overdue"]).dictionary_encode(),
            "days_overdue": pa.array([None, 30], pa.int64()),
            "ignored": [1, 2],
        }
    )
    pq.write_table(table, tmp_path / "loans.parquet")
    pq_rows = rows(LOANS, tmp_path / "loans.parquet")
    assert [r.values for r in pq_rows] == [r.values for r in csv_rows]
    assert [r.row for r in pq_rows] == [1, 2]
    assert all(r.file == "loans.parquet" for r in pq_rows)


def test_parquet_missing_required_column_and_empty_table(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["F1"]}), tmp_path / "firms.parquet")
    with pytest.raises(InputError) as e:
        read_rows(FIRMS, tmp_path / "firms.parquet")
    assert "firms.parquet" in str(e.value) and "'name'" in str(e.value)
    empty = pa.table({"id": pa.array([], pa.string()), "name": pa.array([], pa.string())})
    pq.write_table(empty, tmp_path / "persons.parquet")
    assert rows(PERSONS, tmp_path / "persons.parquet") == []


def test_parquet_invalid_utf8_binary_and_odd_types(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([b"B1", b"B\xff"], pa.binary()),
            "subject_id": ["P1", "P2"],
            "list": ["sanctions", ""],
            "listed_on": pa.array([dt.datetime(2024, 1, 1, 12, 30), None], pa.timestamp("s")),
            "severity": pa.array([Decimal("0.75"), Decimal("1.00")], pa.decimal128(5, 2)),
        }
    )
    pq.write_table(table, tmp_path / "blacklist.parquet")
    got = rows(BLACKLIST, tmp_path / "blacklist.parquet")
    assert got[0].error is None
    assert got[0].values["listed_on"] == "2024-01-01T12:30:00"  # not a date: validator says so
    assert got[0].values["severity"] == "0.75"
    assert got[1].error == INVALID_UTF8 and got[1].error_column == "id"
    assert got[1].values["list"] is None  # empty string -> None


def test_parquet_not_a_parquet_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="as Parquet"):
        read_rows(PERSONS, write(tmp_path / "persons.parquet", "id,name\n"))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        (True, "true"),
        (3, "3"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        (Decimal("1E+3"), "1000"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 2, 29, tzinfo=dt.UTC), "2024-02-29"),  # as pandas writes dates
        (dt.datetime(2024, 2, 29, tzinfo=dt.timezone(dt.timedelta(hours=-5))), "2024-02-29"),
        (dt.datetime(2024, 2, 29, 12, tzinfo=dt.UTC), "2024-02-29T12:00:00+00:00"),  # not a date
    ],
)
def test_to_text(value: object, text: str | None) -> None:
    assert to_text(value) == text


def test_files_table_is_the_layout() -> None:
    assert [s.name for s in FILES][0] == "persons"


@pytest.mark.parametrize("dictionary", [False, True])
def test_parquet_narrow_floats_read_as_written(tmp_path: Path, dictionary: bool) -> None:
    """A float32 (or float16) column gives the text of the value as written, as a CSV
    file would: 0.1, not 0.10000000149011612 (the float32 nearest 0.1, widened)."""
    amount = pa.array([0.1, 0.3, 1e20, 2.5, None], pa.float32())
    table = pa.table(
        {
            "id": [f"L{i}" for i in range(5)],
            "lender_id": ["B"] * 5,
            "borrower_id": ["F"] * 5,
            "amount": amount.dictionary_encode() if dictionary else amount,
            "issued_on": ["2024-01-01"] * 5,
            "status": ["performing"] * 5,
            "days_overdue": pa.array([1.0, 2.0, None, 4.0, 5.0], pa.float16()),
        }
    )
    pq.write_table(table, tmp_path / "loans.parquet")
    got = rows(LOANS, tmp_path / "loans.parquet")
    assert [r.values["amount"] for r in got] == ["0.1", "0.3", "1e+20", "2.5", None]
    assert [r.values["days_overdue"] for r in got] == ["1.0", "2.0", None, "4.0", "5.0"]


@pytest.mark.parametrize("line_end", [b"\n", b"\r"])
def test_a_long_line_costs_time_in_proportion_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line_end: bytes
) -> None:
    """A line far longer than a chunk (a field of megabytes, or a file whose lines end
    with CR alone) is read in time proportional to it: the block reader searched and
    copied all it had read again at every chunk (a 200 MB line took 48 s, not 7 s)."""
    import time

    import credgraph.loaders.readers as readers_module

    monkeypatch.setattr(readers_module, "_CSV_CHUNK_BYTES", 64)
    path = tmp_path / "persons.csv"
    long_line = b"P1," + b"x" * 3_000_000
    path.write_bytes(line_end.join([b"id,name", b"P0,a", long_line, b"P2,b", b""]))
    t0 = time.monotonic()
    got: list[RawRow] = []
    for part in read_blocks(PERSONS, path):
        if isinstance(part, RawBlock):
            got += [part.raw(PERSONS, i) for i in range(len(part.rows))]
        else:
            got.append(part)
    assert time.monotonic() - t0 < 5  # was about a minute
    assert [(r.row, r.values["id"], len(str(r.values["name"]))) for r in got] == [
        (2, "P0", 1),
        (3, "P1", 3_000_000),
        (4, "P2", 1),
    ]
