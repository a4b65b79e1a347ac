"""Hostile input: every bad value is a reject with its reason, never an aborted load.

Unit tests of the validator, the readers and the rejects file for each class of bad
value (docs/data-model.md, "What the loader refuses"), then `credgraph load` against the
real Neo4j on CSV, Parquet and FtM input mixing good and hostile rows: exit code 3, each
bad row in the rejects file with its reason, the good rows loaded exactly as a load of
the good rows alone loads them, nothing else written.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from credgraph.graph.errors import DatabaseError, InputError
from credgraph.graph.gateway import Gateway
from credgraph.graph.managed import ManagedServer
from credgraph.loaders.ftm import read_ftm
from credgraph.loaders.layout import (
    BLACKLIST,
    LOANS,
    MAX_INDEXED_BYTES,
    PERSONS,
    FileSpec,
)
from credgraph.loaders.load import load
from credgraph.loaders.readers import INVALID_UTF8, RawRow, read_rows
from credgraph.loaders.rejects import RejectWriter, safe_text
from credgraph.loaders.validate import Reject, Validator, ValidRow, text_problem
from credgraph.loaders.writer import load_params, to_params, write_rows
from tests.conftest import wipe
from tests.loaders.test_load_faults import content as graph_content


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def load_day(gw: Gateway) -> dt.date:
    """The UTC day the (only) load in the graph started: what an undated sanction
    counts from (not the test's own clock: a run may cross midnight)."""
    (row,) = gw.read("MATCH (l:Load) RETURN l.started_at AS at")
    return row["at"].to_native().astimezone(dt.UTC).date()  # type: ignore[no-any-return]


def good_row(spec: FileSpec) -> dict[str, str]:
    good = {"str": "x", "date": "2024-01-05", "amount": "5", "share": "0.5", "severity": "1"}
    good["int"] = "5"
    return {c.name: c.enum[0] if c.type == "enum" else good[c.type] for c in spec.columns}


def validate(spec: FileSpec, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Reject]]:
    """Rows through the validator (every subject and loan referenced is in the graph)."""
    v = Validator(lambda space, ids: set(ids) if space in ("subject", "loan") else set())
    valid, rejects = [], []
    raws = [RawRow(f"{spec.name}.csv", i + 2, r) for i, r in enumerate(rows)]
    for b in v.validate_file(spec, raws):
        valid += b.rows
        rejects += b.rejects
    return valid, rejects


# -- the validator, one class of bad value at a time --------------------------------------

CONTROL = "control character U+{:04X} at character {} (text may hold tab, line feed and carriage return, no other)"  # noqa: E501
ID_CONTROL = "control character U+{:04X} at character {} (ids may hold none)"
TOO_LONG = "too long: {} bytes in UTF-8, at most 4096 for a value Neo4j indexes"

REFUSED = [
    (PERSONS, "name", "Ann\x00", CONTROL.format(0, 4)),
    (PERSONS, "name", "\x1b[31mAnn", CONTROL.format(0x1B, 1)),
    (PERSONS, "national_id", "N\x7f", CONTROL.format(0x7F, 2)),
    (PERSONS, "country", "\x9b2J", CONTROL.format(0x9B, 1)),
    (PERSONS, "name", "A\ud800", "not valid Unicode: a lone surrogate U+D800 at character 2"),
    (PERSONS, "country", "\udfff", "not valid Unicode: a lone surrogate U+DFFF at character 1"),
    (PERSONS, "id", "P\t1", ID_CONTROL.format(9, 2)),
    (PERSONS, "id", "P1\n", ID_CONTROL.format(10, 3)),
    (PERSONS, "id", "P" * 4097, TOO_LONG.format(4097)),
    (PERSONS, "name", "x" * 4097, TOO_LONG.format(4097)),
    (PERSONS, "name", "é" * 2049, TOO_LONG.format(4098)),
    (PERSONS, "name", "张" * 1366, TOO_LONG.format(4098)),
    (LOANS, "lender_id", "F" * 5000, TOO_LONG.format(5000)),
    (LOANS, "lender_id", "F\x00", ID_CONTROL.format(0, 2)),
    (BLACKLIST, "list", "s" * 4097, TOO_LONG.format(4097)),
    (BLACKLIST, "reason", "why\x1b]0;pwned\x07", CONTROL.format(0x1B, 4)),
    (
        LOANS,
        "days_overdue",
        "9223372036854775808",
        "days_overdue out of range: '9223372036854775808' is past 9223372036854775807 (64 bits)",
    ),
    (LOANS, "days_overdue", "9" * 5000, "too long for a number: 5000 characters, at most 100"),
    (LOANS, "amount", "1" * 101, "too long for a number: 101 characters, at most 100"),
    (BLACKLIST, "severity", "0." + "0" * 200, "too long for a number: 202 characters, at most 100"),
    (
        BLACKLIST,
        "reason",
        "r" * 1_048_577,
        "too long: 1048577 bytes in UTF-8, at most 1048576 for a text",
    ),
    (
        PERSONS,
        "national_id",
        "ü" * 524_289,
        "too long: 1048578 bytes in UTF-8, at most 1048576 for a text",
    ),
]

KEPT = [
    (PERSONS, "name", "Ann\tB\r\nC"),  # tab, CR, LF are kept in text
    (PERSONS, "name", "é" * 2048),  # exactly 4096 bytes
    (PERSONS, "id", "P" * 4096),
    (PERSONS, "national_id", "N" * 100_000),  # free text: up to MAX_TEXT_BYTES
    (BLACKLIST, "reason", "ü" * 524_288),  # exactly 1 MiB in UTF-8
    (PERSONS, "name", "\u202eevil\u200b"),  # format characters (Cf) are text
    (PERSONS, "name", "=cmd()"),
    (LOANS, "days_overdue", "9223372036854775807"),
    (LOANS, "amount", "1" * 100),
]


@pytest.mark.parametrize(("spec", "column", "value", "reason"), REFUSED)
def test_each_bad_value_is_a_reject_with_its_reason(
    spec: FileSpec, column: str, value: str, reason: str
) -> None:
    rows = [good_row(spec) for _ in range(4)]
    for i, r in enumerate(rows):
        r[spec.key or column] = f"K{i}" if spec.key else r[column]
    rows[2][column] = value
    valid, rejects = validate(spec, rows)
    assert rejects == [Reject(f"{spec.name}.csv", 4, column, value, reason)]
    assert [r.row for r in valid] == [2, 3, 5]


@pytest.mark.parametrize(("spec", "column", "value"), KEPT)
def test_values_near_the_limits_are_kept(spec: FileSpec, column: str, value: str) -> None:
    rows = [good_row(spec) for _ in range(3)]
    for i, r in enumerate(rows):
        r[spec.key or column] = f"K{i}" if spec.key else r[column]
    rows[1][column] = value
    valid, rejects = validate(spec, rows)
    assert rejects == []
    got = valid[1].values[column]
    assert got == (int(value) if column == "days_overdue" else
                   float(value) if column == "amount" else value)  # fmt: skip


@settings(deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=40))
def test_text_problem_is_the_documented_rule(text: str) -> None:
    """Accepted text is valid UTF-8 without control characters but tab, LF, CR; an id
    without any; nothing accepted is past the limit when indexed."""
    for ident in (False, True):
        problem = text_problem(text * 120, ident=ident, indexed=True)
        allowed = "" if ident else "\t\n\r"
        clean = all(
            not (0xD800 <= ord(c) <= 0xDFFF)
            and not (ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F)
            or c in allowed
            for c in text
        )
        short = len((text * 120).encode("utf-8", "surrogatepass")) <= MAX_INDEXED_BYTES
        assert (problem is None) == (clean and short), (text, problem)


# -- the rejects file survives any text -------------------------------------------------


@settings(deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=300))
def test_rejects_writer_survives_any_text(tmp_path_factory: Any, text: str) -> None:
    out = tmp_path_factory.mktemp("rw") / "r.csv"
    with RejectWriter(out) as w:
        w.write(Reject(text, 1, text, text, text))
    raw = out.read_bytes().decode("utf-8")  # strict: the file is valid UTF-8
    (row,) = list(csv.DictReader(io.StringIO(raw, newline="")))
    assert row["reason"] == safe_text(text) and row["file"] == safe_text(text)
    assert safe_text(row["value"]) == row["value"]  # nothing left to escape


def test_safe_text_escapes_what_a_terminal_or_utf8_cannot_take() -> None:
    assert safe_text("a\ud800b\x00\x1b[31m\x9b\tok\né") == "a\\ud800b\\x00\\x1b[31m\\x9b\tok\né"


# -- FtM: the reader never stops on a line --------------------------------------------


def ftm_lines(path: Path, lines: Iterable[dict[str, Any] | str]) -> Path:
    with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def person(eid: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"id": eid, "schema": "Person", "properties": {"name": [name]}, **extra}


def test_ftm_deep_nesting_and_wrong_json_types_are_problems_naming_the_line(
    tmp_path: Path,
) -> None:
    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            person("p1", "Ann"),
            "[" * 100_000 + "]" * 100_000,
            '{"id": "p2", "schema": "Person", "properties": {"name": '
            + "[" * 5000
            + "]" * 5000
            + "}}",
            person("p3", "Bob", datasets=5),
            person("p4", "Cy", datasets=["ok", 7]),
            {"id": "p5", "schema": ["Person"], "properties": {}},
            person("p6", "Di", caption=5),
            person("p7", "Ed", first_seen={"a": 1}),
            '{"id": "p8", "schema": "Person", "properties": {}, "n": ' + "1" * 5000 + "}",
            {"id": "p9", "schema": "Person", "properties": {"name": [["nested"]]}},
            {"id": 10, "schema": "Person"},
            person("p11", "Flo"),
            {"id": "p12", "schema": "Person", "properties": {"na\x1bme": 5}},
        ],
    )
    reader = read_ftm(path)
    rows = [(spec.name, row.row) for spec, row in reader]
    assert rows == [("persons", 1), ("persons", 12)]
    got = [(p.row, p.value, p.reason) for p in reader.problems]
    assert got[0] == (2, None, "invalid JSON: nested too deeply")
    assert got[1] == (3, None, "invalid JSON: nested too deeply")  # inside properties
    assert got[2:7] == [
        (4, "p3", "invalid FtM entity: datasets is not a list of strings"),
        (5, "p4", "invalid FtM entity: datasets is not a list of strings"),
        (6, "p5", "unknown FtM schema ['Person']"),
        (7, "p6", "invalid FtM entity: caption is not a string"),
        (8, "p7", "invalid FtM entity: first_seen is not a string"),
    ]
    assert got[7][:2] == (9, None) and got[7][2].startswith("invalid JSON: Exceeds the limit")
    assert got[8:] == [
        (10, "p9", "invalid FtM entity: name is not a list of strings"),
        (11, None, "entity without id"),
        (13, "p12", "invalid FtM entity: 'na\\x1bme' is not a list of strings"),
    ]
    # the field at fault is the rejects file's column
    assert [p.column for p in reader.problems] == [
        *(None, None, "datasets", "datasets", "schema", "caption", "first_seen", None),
        *("properties.name", "id", "properties.'na\\x1bme'"),
    ]


def test_ftm_text_that_cannot_be_stored_is_rejected_by_the_validator(tmp_path: Path) -> None:
    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            '{"id": "p1", "schema": "Person", "properties": {"name": ["Zed\\ud800"]}}',
            person("p2", "Ann", properties={"name": ["Ann"], "alias": ["A" * 5000]}),
            person("p3\u0000", "Bob"),
            {
                "id": "o\u001b1",
                "schema": "Ownership",
                "properties": {"owner": ["p4"], "asset": ["c1"], "percentage": ["50"]},
            },
            person("p4", "Cy", properties={"name": ["Cy"], "alias": ["C\u0007"]}),
            {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"]}},
        ],
    )
    v = Validator()
    rejects: list[Reject] = []
    valid: list[Any] = []
    for spec, row in read_ftm(path):
        for b in v.validate_file(spec, [row]):
            rejects += b.rejects
            valid += b.rows
    assert [(r.row, r.column, r.reason) for r in rejects] == [
        (1, "name", "not valid Unicode: a lone surrogate U+D800 at character 4"),
        (1, "aliases", "not valid Unicode: a lone surrogate U+D800 at character 4"),
        (2, "aliases", TOO_LONG.format(5000)),
        (3, "id", ID_CONTROL.format(0, 3)),
        (3, "source_entity", ID_CONTROL.format(0, 3)),  # the entity id again
        (5, "aliases", CONTROL.format(7, 2)),
        (4, "source_entity", ID_CONTROL.format(0x1B, 2)),
    ]
    assert [r.key for r in valid] == ["c1"]


def test_ftm_sanction_without_any_date_counts_from_the_load(tmp_path: Path) -> None:
    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            person("p1", "Ann", properties={"name": ["Ann"], "topics": ["sanction"]}),
            person("p2", "Bob"),
            {"id": "s2", "schema": "Sanction", "properties": {"entity": ["p2"]}},
            person("p3", "Cy"),
            {
                "id": "s3",
                "schema": "Sanction",
                "properties": {"entity": ["p3"], "startDate": ["2020-05-01"]},
            },
        ],
    )
    day = dt.date(2026, 1, 2)
    v = Validator()
    entries = {}
    for spec, row in read_ftm(path, loaded_on=day):
        for b in v.validate_file(spec, [row]):
            assert b.rejects == []
            entries.update({r.key: r.values for r in b.rows if spec is BLACKLIST})
    assert entries["ftm-sanction:p1"]["listed_on"] == day
    assert entries["ftm-sanction:p1"]["listed_on_basis"] == "loaded"
    assert entries["s2"]["listed_on"] == day and entries["s2"]["listed_on_basis"] == "loaded"
    assert entries["s3"]["listed_on"] == dt.date(2020, 5, 1)
    assert "listed_on_basis" not in entries["s3"]
    # the default is the day the reader is made, UTC
    before = utc_today()
    default = read_ftm(path).loaded_on
    assert default in {before.isoformat(), utc_today().isoformat()}


# -- Parquet: types checked against the schema, pages decoded before any row ------------


def write_parquet(folder: Path, name: str, table: pa.Table, **kw: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, folder / f"{name}.parquet", **kw)
    return folder / f"{name}.parquet"


@pytest.mark.parametrize(
    ("column", "array", "words"),
    [
        ("name", pa.array([["a"], ["b"]]), "list<element: string>"),
        ("name", pa.array([{"a": 1}, {"a": 2}]), "struct<a: int64>"),
        ("national_id", pa.array([True, False]), "bool"),
        ("national_id", pa.array([1.5, 2.5]), "double"),
        ("birth_date", pa.array([1.5, 2.5]), "double"),
        ("net_worth", pa.array([dt.date(2024, 1, 1)] * 2), "date32[day]"),
        ("net_worth", pa.array([[1], [2]]), "list<element: int64>"),
    ],
)
def test_parquet_column_of_the_wrong_arrow_type_refuses_the_file(
    tmp_path: Path, column: str, array: pa.Array, words: str
) -> None:
    cols = {"id": pa.array(["P1", "P2"]), "name": pa.array(["Ann", "Bob"]), column: array}
    path = write_parquet(tmp_path, "persons", pa.table(cols))
    with pytest.raises(InputError) as e:
        read_rows(PERSONS, path)
    assert e.value.message.startswith(
        f"persons.parquet: column '{column}' has Arrow type {words}, but persons.{column} holds"
    )


def test_parquet_types_that_fit(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int64()),  # integer ids are text
            "name": pa.array(["Ann", "Bob"]).dictionary_encode(),
            "birth_date": pa.array([None, None], pa.null()),
            "net_worth": pa.array([1, 2**64 - 1], pa.uint64()),
        }
    )
    rows = list(read_rows(PERSONS, write_parquet(tmp_path, "persons", table)))
    assert [(r.values["id"], r.values["name"], r.values["net_worth"]) for r in rows] == [
        ("1", "Ann", "1"),
        ("2", "Bob", str(2**64 - 1)),
    ]


def test_parquet_value_python_cannot_hold_is_an_error_row(tmp_path: Path) -> None:
    table = pa.table(
        {
            "id": ["B1", "B2"],
            "subject_id": ["P1", "P1"],
            "list": ["x", "x"],
            # 10000-01-01: past Python's datetime
            "listed_on": pa.array([1_600_000_000, 253_402_300_800], pa.timestamp("s")),
        }
    )
    rows = list(read_rows(BLACKLIST, write_parquet(tmp_path, "blacklist", table)))
    assert rows[0].error is None and rows[0].values["listed_on"] == "2020-09-13T12:26:40"
    assert rows[1].error is not None and rows[1].error.startswith("unreadable timestamp[ms]")
    assert rows[1].error_column == "listed_on"


def corrupt(path: Path, row_group: int, column: int) -> None:
    """Flip bytes in the middle of one column chunk of one row group."""
    md = pq.ParquetFile(path).metadata.row_group(row_group).column(column)
    start = md.dictionary_page_offset if md.has_dictionary_page else md.data_page_offset
    data = bytearray(path.read_bytes())
    middle = start + md.total_compressed_size // 2
    for i in range(middle, middle + 8):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def persons_table(n: int) -> pa.Table:
    return pa.table({"id": [f"P{i}" for i in range(n)], "name": [f"n{i} " * 4 for i in range(n)]})


def test_corrupt_parquet_page_names_the_file_and_row_group_before_any_row(
    tmp_path: Path,
) -> None:
    path = write_parquet(
        tmp_path, "persons", persons_table(3000), row_group_size=1000, write_page_checksum=True
    )
    corrupt(path, 1, 1)
    rows = read_rows(PERSONS, path)  # the header is fine
    with pytest.raises(InputError) as e:
        next(iter(rows))  # nothing is given before the whole file decodes
    assert e.value.message.startswith(
        "persons.parquet: row group 1 (rows 1001-2000) cannot be read"
    )


# -- credgraph load against the real Neo4j -----------------------------------------------

VOLATILE = {"load", "row"}  # provenance by reference: the load number, the row


def content(gw: Gateway) -> dict[str, Any]:
    """Every node and relationship but bookkeeping, less what names the load and the
    row (the good rows sit at other row numbers here than in a file of good rows only)."""
    return graph_content(gw, VOLATILE)


def cli_load(server: ManagedServer, path: Path, rejects: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(CREDGRAPH_HOME=str(server.home), CREDGRAPH_BOLT_PORT=str(server.port))
    env.update(CREDGRAPH_BATCH_SIZE="3")  # several batches per file: the fast path runs
    cmd = [sys.executable, "-m", "credgraph.cli.main", "load", str(path), "--source", "s"]
    return subprocess.run(
        [*cmd, "--rejects", str(rejects)], env=env, capture_output=True, text=True, timeout=300
    )


def read_rejects(path: Path) -> list[tuple[str, int, str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return [(r["file"], int(r["row"]), r["column"], r["reason"]) for r in csv.DictReader(fh)]


def expected_content(gw: Gateway, path: Path, tmp_path: Path) -> dict[str, Any]:
    """What a load of only the good rows gives (the database emptied before and after)."""
    wipe(gw)
    report = load(gw, path, source="s", rejects_path=tmp_path / "good.rejects.csv")
    assert report.rejected == 0, report
    snap = content(gw)
    wipe(gw)
    return snap


def csv_bytes(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode("utf-8", "surrogatepass")  # "\ud800": bytes ED A0 80


PERSONS_HEAD = ["id", "name", "birth_date", "country", "national_id", "net_worth"]
LOANS_HEAD = ["id", "lender_id", "borrower_id", "amount", "currency", "issued_on"]
LOANS_HEAD += ["maturity_on", "status", "status_on", "days_overdue"]
BL_HEAD = ["id", "subject_id", "list", "authority", "reason", "listed_on"]

GOOD: dict[str, list[list[str]]] = {
    "persons": [
        ["P1", "Ada", "1815-12-10", "GB", "", ""],
        ["P2", "Tab\tand\r\nnewline", "", "", "", ""],
        ["P7", "é" * 2048, "", "", "", ""],
        ["P8", "Long", "", "", "N" * 100_000, "1"],
    ],
    "firms": [["F1", "Bank"]],
    "loans": [
        ["L1", "F1", "P1", "100", "EUR", "2024-01-01", "", "overdue", "", "9223372036854775807"],
        ["L6", "F1", "P2", "5", "", "2024-01-01", "", "repaid", "", ""],
    ],
    "guarantees": [["G1", "P1", "L1", "10"]],
    "blacklist": [["B1", "P1", "sanctions", "", "", "2024-01-01"]],
}
BAD: dict[str, list[tuple[int, list[str], str, str]]] = {
    # position among the file's data rows, the row, the rejected column, the reason
    "persons": [
        (2, ["P3", "Bell\x07", "", "", "", ""], "name", CONTROL.format(7, 5)),
        (3, ["P\x1b4", "Esc", "", "", "", ""], "id", ID_CONTROL.format(0x1B, 2)),
        (4, ["P5", "x" * 5000, "", "", "", ""], "name", TOO_LONG.format(5000)),
        (5, ["P6", "Zed\ud800", "", "", "", ""], "name", INVALID_UTF8),
        (6, ["P9", "Nul\x00", "", "", "", ""], "name", CONTROL.format(0, 4)),
    ],
    "loans": [
        (
            1,
            ["L2", "F1", "P1", "1", "", "2024-01-01", "", "overdue", "", "9223372036854775808"],
            "days_overdue",
            "days_overdue out of range: '9223372036854775808' is past "
            "9223372036854775807 (64 bits)",
        ),
        (
            2,
            ["L3", "F1", "P1", "1", "", "2024-01-01", "", "overdue", "", "9" * 5000],
            "days_overdue",
            "too long for a number: 5000 characters, at most 100",
        ),
        (
            3,
            ["L4", "F1", "P1", "1" * 150, "", "2024-01-01", "", "overdue", "", ""],
            "amount",
            "too long for a number: 150 characters, at most 100",
        ),
        (
            4,
            ["L5", "F1", "P3", "1", "", "2024-01-01", "", "overdue", "", ""],
            "borrower_id",
            "borrower_id P3 was rejected (persons{ext} row {P3})",
        ),
    ],
    "guarantees": [
        (1, ["G2", "P1", "L2", "1"], "loan_id", "loan_id L2 was rejected (loans{ext} row {L2})"),
    ],
    "blacklist": [
        (1, ["B2", "P2", "s" * 5000, "", "", "2024-01-01"], "list", TOO_LONG.format(5000)),
        (2, ["B3", "P2", "tax", "", "\x9b31m", "2024-01-01"], "reason", CONTROL.format(0x9B, 1)),
    ],
}
HEADS = {
    "persons": PERSONS_HEAD,
    "firms": ["id", "name"],
    "loans": LOANS_HEAD,
    "guarantees": ["id", "guarantor_id", "loan_id", "amount"],
    "blacklist": BL_HEAD,
}


def tables(with_bad: bool) -> dict[str, list[list[str]]]:
    out = {}
    for name, good in GOOD.items():
        rows = [list(r) for r in good]
        if with_bad:
            for pos, row, _, _ in BAD.get(name, []):
                rows.insert(pos, row)
        out[name] = rows
    return out


def expected_rejects(ext: str, row_of: Any, **rows: int) -> list[tuple[str, int, str, str]]:
    """The rejects of BAD in files ``<name><ext>``; ``rows``: where P3 and L2 are."""
    return [
        (f"{name}{ext}", row_of(pos), column, reason.format(ext=ext, **rows))
        for name, bad in BAD.items()
        for pos, _, column, reason in bad
    ]


@pytest.mark.integration
def test_hostile_csv(gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path) -> None:
    good, hostile = tmp_path / "good", tmp_path / "hostile"
    for folder, with_bad in ((good, False), (hostile, True)):
        folder.mkdir()
        for name, rows in tables(with_bad).items():
            (folder / f"{name}.csv").write_bytes(csv_bytes([HEADS[name], *rows]))
    want = expected_content(gateway, good, tmp_path)

    rejects = tmp_path / "rejects.csv"
    done = cli_load(neo4j_server, hostile, rejects)
    assert done.returncode == 3, done.stderr
    got = read_rejects(rejects)
    # the CSV row number: the header is line 1 (no value here spans lines but P2's name,
    # which comes after the rows of persons.csv that are rejected)
    exp = expected_rejects(".csv", lambda pos: pos + 2, P3=5, L2=3)
    persons = [r for r in exp if r[0] == "persons.csv"]
    exp = [r for r in exp if r[0] != "persons.csv"] + [
        (f, row + 1 if row > 3 else row, c, reason) for f, row, c, reason in persons
    ]  # P2's name holds a line break: the rows after it start one line later
    assert sorted(got) == sorted(exp)
    assert content(gateway) == want
    loads = gateway.read("MATCH (l:Load) RETURN l.outcome AS o, l.rejected AS n")
    assert loads == [{"o": "completed_with_rejects", "n": len(exp)}]


@pytest.mark.integration
def test_hostile_parquet(gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path) -> None:
    good, hostile = tmp_path / "good", tmp_path / "hostile"

    def table(name: str, rows: list[list[str]]) -> pa.Table:
        cols: dict[str, Any] = {}
        for i, col in enumerate(HEADS[name]):
            values = [r[i] if i < len(r) else "" for r in rows]
            if any("\ud800" in v for v in values):  # not valid UTF-8: as bytes
                cols[col] = pa.array(
                    [v.encode("utf-8", "surrogatepass") for v in values], pa.binary()
                )
            else:
                cols[col] = pa.array(values, pa.string())
        return pa.table(cols)

    for folder, with_bad in ((good, False), (hostile, True)):
        for name, rows in tables(with_bad).items():
            write_parquet(folder, name, table(name, rows))
    want = expected_content(gateway, good, tmp_path)

    rejects = tmp_path / "rejects.csv"
    done = cli_load(neo4j_server, hostile, rejects)
    assert done.returncode == 3, done.stderr
    exp = expected_rejects(".parquet", lambda pos: pos + 1, P3=3, L2=2)  # rows count from 1
    assert sorted(read_rejects(rejects)) == sorted(exp)
    assert content(gateway) == want


@pytest.mark.integration
@pytest.mark.parametrize("damage", ["list column", "corrupt page"])
def test_unreadable_parquet_refuses_the_load_before_any_write(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path, damage: str
) -> None:
    folder = tmp_path / "in"
    write_parquet(folder, "firms", pa.table({"id": ["F1"], "name": ["Bank"]}))
    if damage == "list column":
        write_parquet(
            folder, "persons", pa.table({"id": ["P1"], "name": pa.array([["Ann", "Anna"]])})
        )
        message = "persons.parquet: column 'name' has Arrow type list<element: string>"
    else:
        path = write_parquet(
            folder, "persons", persons_table(3000), row_group_size=1000,
            write_page_checksum=True,
        )  # fmt: skip
        corrupt(path, 2, 1)
        message = "persons.parquet: row group 2 (rows 2001-3000) cannot be read"
    done = cli_load(neo4j_server, folder, tmp_path / "r.csv")
    assert done.returncode == 1
    assert message in done.stderr
    # nothing written: not the firms before it, not even a Load record
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]


@pytest.mark.integration
def test_hostile_ftm(gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path) -> None:
    good_lines: list[dict[str, Any] | str] = [
        # no date at all: counts from the load
        person("p1", "Ann", properties={"name": ["Ann"], "topics": ["sanction"]}),
        person("p2", "Bob\tTab", properties={"name": ["Bob\tTab"], "alias": ["Бобр"]}),
        {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"]}},
        {
            "id": "o1",
            "schema": "Ownership",
            "properties": {"owner": ["p2"], "asset": ["c1"], "percentage": ["50"]},
        },
        {"id": "s2", "schema": "Sanction", "properties": {"entity": ["p2"]}},
    ]
    surrogate = "not valid Unicode: a lone surrogate U+D800 at character 4"
    # each line and its rejects: (column, reason)
    bad_lines: list[tuple[dict[str, Any] | str, list[tuple[str, str]]]] = [
        ("[" * 100_000 + "]" * 100_000, [("", "invalid JSON: nested too deeply")]),
        (
            person("p3", "Cy", datasets=5),
            [("datasets", "invalid FtM entity: datasets is not a list of strings")],
        ),
        (
            '{"id": "p4", "schema": "Person", "properties": {"name": ["Zed\\ud800"]}}',
            [("name", surrogate), ("aliases", surrogate)],  # aliases: every name
        ),
        (
            person("p5", "Di", properties={"name": ["Di"], "alias": ["D" * 5000]}),
            [("aliases", TOO_LONG.format(5000))],
        ),
        (
            person("p6\u0000", "Ed"),
            [("id", ID_CONTROL.format(0, 3)), ("source_entity", ID_CONTROL.format(0, 3))],
        ),
        (
            {"id": "s7", "schema": "Sanction", "properties": {"entity": ["p4"]}},
            [("subject_id", "subject_id p4 was rejected (x.ftm.json row 8)")],
        ),
        (
            '{"id": "p9", "schema": "Person", "n": ' + "1" * 5000 + "}",
            [
                (
                    "",
                    "invalid JSON: Exceeds the limit (4300 digits) for integer string "
                    "conversion: value has 5000 digits; use sys.set_int_max_str_digits() "
                    "to increase the limit",
                )
            ],
        ),
    ]
    good = ftm_lines(tmp_path / "g.ftm.json", good_lines)
    want = expected_content(gateway, good, tmp_path)
    hostile = ftm_lines(tmp_path / "x.ftm.json", [*good_lines, *(b[0] for b in bad_lines)])

    rejects = tmp_path / "rejects.csv"
    done = cli_load(neo4j_server, hostile, rejects)
    assert done.returncode == 3, done.stderr
    exp = [
        ("x.ftm.json", len(good_lines) + 1 + i, column, reason)
        for i, (_, rejected) in enumerate(bad_lines)
        for column, reason in rejected
    ]
    assert sorted(read_rejects(rejects)) == sorted(exp)
    got = content(gateway)
    # the same graph as the good lines alone, but for the file's name in provenance
    for part in ("nodes", "rels"):
        for item in [*got[part], *want[part]]:
            item[-1].pop("file", None)
    assert got == want
    entries = gateway.read(
        "MATCH (s)-[:LISTED]->(b:BlacklistEntry) RETURN s.id AS s, b.listed_on AS on, "
        "b.listed_on_basis AS basis ORDER BY s"
    )
    day = load_day(gateway).isoformat()
    assert [(e["s"], str(e["on"]), e["basis"]) for e in entries] == [
        ("p1", day, "loaded"),
        ("p2", day, "loaded"),
    ]
    # lines the reader refused (bad JSON, wrong types) count as read and rejected
    (rec,) = gateway.read("MATCH (l:Load) RETURN l.files AS files")
    files = {f["file"]: f for f in json.loads(rec["files"])}
    assert (files["x.ftm.json"]["read"], files["x.ftm.json"]["rejected"]) == (3, 3)


@pytest.mark.integration
def test_a_load_dated_entry_keeps_the_date_of_its_first_load(
    gateway: Gateway, tmp_path: Path
) -> None:
    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            person("p1", "Ann"),
            {"id": "s1", "schema": "Sanction", "properties": {"entity": ["p1"]}},
        ],
    )

    def load_on(day: dt.date, reason: str | None = None) -> dict[str, int]:
        v = Validator()
        totals: dict[str, int] = {}
        params = load_params(1, [path.name])
        for spec, row in read_ftm(path, loaded_on=day):
            if reason and spec is BLACKLIST:
                row.values["reason"] = reason
            for b in v.validate_file(spec, [row]):
                got = write_rows(gateway, spec, [to_params(spec, r) for r in b.rows], params)
                if spec is BLACKLIST:
                    totals = got
        return totals

    def entry() -> tuple[str, str, str | None]:
        row = gateway.read(
            "MATCH (b:BlacklistEntry {id: 's1'}) RETURN b.listed_on AS on, "
            "b.listed_on_basis AS basis, b.reason AS reason"
        )[0]
        return str(row["on"]), row["basis"], row["reason"]

    assert load_on(dt.date(2026, 1, 1))["created"] == 1
    assert entry() == ("2026-01-01", "loaded", None)
    assert load_on(dt.date(2026, 2, 1))["unchanged"] == 1  # another day: the same entry
    assert entry() == ("2026-01-01", "loaded", None)
    assert load_on(dt.date(2026, 3, 1), reason="fraud")["updated"] == 1
    assert entry() == ("2026-01-01", "loaded", "fraud")  # updated, still from its first load


@pytest.mark.integration
def test_a_failed_write_names_the_file_and_rows(gateway: Gateway) -> None:
    """What validation now refuses, sent past it: the error names file and row range."""
    params = load_params(1, ["persons.csv", "loans.csv"])
    rows = [
        {"key": f"P{i}", "props": {"id": f"P{i}", "name": "x" * 10_000}, "fp": "f",
         "file": "persons.csv", "line": i, "a": None, "b": None}
        for i in (7, 9, 8)
    ]  # fmt: skip
    with pytest.raises(DatabaseError) as e:
        write_rows(gateway, PERSONS, rows, params)
    assert e.value.message.startswith("writing persons.csv rows 7-9: Neo4j error")
    loan = to_params(
        LOANS,
        ValidRow(
            "loans.csv", 4, "L1", {**{c.name: None for c in LOANS.columns}, "days_overdue": 2**70}
        ),
    )
    with pytest.raises(DatabaseError) as e:
        write_rows(gateway, LOANS, [loan], params)
    assert e.value.message.startswith("writing loans.csv row 4 failed: ")
    assert gateway.read("MATCH (n) WHERE NOT n:CredgraphSchema RETURN count(n) AS n") == [{"n": 0}]


@pytest.mark.integration
def test_explanation_shows_a_sanction_dated_by_its_load(
    gateway: Gateway, settings: Any, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    from credgraph.graph.engine.policy import load_policy
    from credgraph.graph.runs import Runs
    from credgraph.services.caller import Caller
    from credgraph.services.scores import score_lookup

    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            person("p1", "Ann"),
            {"id": "s1", "schema": "Sanction", "properties": {"entity": ["p1"]}},
            {
                "id": "s2",
                "schema": "Sanction",
                "properties": {"entity": ["p1"], "startDate": ["2020-05-01"]},
            },
            {
                "id": "s3",
                "schema": "Sanction",
                "properties": {"entity": ["p1"], "startDate": ["2019-05"]},
            },
            {"id": "c1", "schema": "Company", "properties": {"name": ["Co"]}},
            {
                "id": "o1",
                "schema": "Ownership",
                "properties": {"owner": ["p1"], "asset": ["c1"], "percentage": ["100"]},
            },
        ],
    )
    load(gateway, path, rejects_path=tmp_path / "r.csv")
    day = load_day(gateway)
    Runs(gateway, settings).run(load_policy(None), day)
    doc = score_lookup(gateway, settings, "p1", caller=Caller("tester", "test"))
    got = {r["id"]: (r["date"], r["date_basis"]) for r in doc["records"]}
    assert got == {
        "s1": (day.isoformat(), "loaded"),
        "s2": ("2020-05-01", "input"),
        "s3": ("2019-05-01", "partial"),
    }
    env = dict(os.environ, CREDGRAPH_HOME=str(neo4j_server.home))
    env["CREDGRAPH_BOLT_PORT"] = str(neo4j_server.port)
    shown = subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", "score", "p1", "--reason", "test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in shown.splitlines() if x.strip().startswith("s1 "))
    assert line.endswith(f"(no date in the source: counts from its load on {day})")
    assert "counts from its load" not in next(
        x for x in shown.splitlines() if x.strip().startswith("s2 ")
    )
    line = next(x for x in shown.splitlines() if x.strip().startswith("s3 "))
    assert line.endswith("(the source gives only a year or month: counts from 2019-05-01)")
    # the firm p1 controls: its explanation names p1's records with their basis too
    firm = score_lookup(gateway, settings, "c1", caller=Caller("tester", "test"))
    (c,) = [c for c in firm["contributions"] if c["source_subject"] == "p1"]
    assert sorted(c["records"]) == ["s1", "s2", "s3"]
    assert c["record_date_basis"] == {"s1": "loaded", "s3": "partial"}
    shown = subprocess.run(
        [sys.executable, "-m", "credgraph.cli.main", "score", "c1", "--reason", "test"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "s1 [no date in the source: counts from its load]" in shown
    assert "s3 [dated by a year or month only]" in shown


@pytest.mark.integration
def test_an_ftm_file_name_with_control_characters_is_shown_escaped(
    gateway: Gateway, neo4j_server: ManagedServer, tmp_path: Path
) -> None:
    """An FtM file's name is anyone's: its escape sequences reached the terminal in the
    load's table (``ev\\x1b[31mil.ftm.json:persons``) and the Load record's ``files``;
    they are escaped there as in the rejects file."""
    path = ftm_lines(tmp_path / "ev\x1b[2Jil.ftm.json", [person("p1", "Ann")])
    done = cli_load(neo4j_server, path, tmp_path / "r.csv")
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "ev\\x1b[2Jil.ftm.json:persons" in done.stdout
    (row,) = gateway.read("MATCH (l:Load) RETURN l.files AS files, l.file_names AS names")
    assert [f["file"] for f in json.loads(row["files"])] == ["ev\\x1b[2Jil.ftm.json:persons"]
    assert row["names"] == ["ev\\x1b[2Jil.ftm.json"]


def test_ftm_entity_with_too_many_party_combinations_is_a_problem(tmp_path: Path) -> None:
    """One record per combination of an entity's references: a 25 KB line naming 1,500
    owners and 1,500 assets gave 2,250,000 ownership rows (48 s and 1.4 GB in the reader
    alone). Past MAX_ENTITY_ROWS the line is a reject naming it; the rest loads."""
    from credgraph.loaders.ftm import MAX_ENTITY_ROWS

    assert MAX_ENTITY_ROWS == 10_000
    owners = [f"p{i}" for i in range(1500)]
    path = ftm_lines(
        tmp_path / "x.ftm.json",
        [
            person("p0", "Ann"),
            {"id": "c1", "schema": "Company", "properties": {"name": ["Acme"]}},
            {
                "id": "o1",
                "schema": "Ownership",
                "properties": {"owner": owners, "asset": [f"c{i}" for i in range(1500)]},
            },
            {  # 100 x 100: at the limit, kept
                "id": "o2",
                "schema": "Ownership",
                "properties": {"owner": owners[:100], "asset": [f"c{i}" for i in range(100)]},
            },
            {"id": "s1", "schema": "Sanction", "properties": {"entity": ["p0"]}},
        ],
    )
    reader = read_ftm(path)
    rows = [(spec.name, row.row) for spec, row in reader]
    assert reader.problems == [
        Reject(
            "x.ftm.json",
            3,
            None,
            "o1",
            "too many parties: Ownership 1,500 owner x 1,500 asset gives 2,250,000 rows, "
            "at most 10,000 per entity",
        )
    ]
    assert rows.count(("ownership", 4)) == 10_000
    assert [r for r in rows if r[0] != "ownership"] == [
        ("persons", 1),
        ("firms", 2),
        ("blacklist", 5),
    ]
