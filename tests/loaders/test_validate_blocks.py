"""loaders.validate's block plumbing and its fast path, by hand.

A load hands the validator blocks of any size (loaders/readers.py); the validator cuts
and joins them into batches (``_take``, ``_slice``, ``_concat``). Whole loads compare the
column path with the row path (test_columnwise.py), but only where chunk and batch sizes
happen to meet; here each case is built by hand: a block that is exactly a batch, a
batch across blocks, a block cut in the middle, odd rows and row-read rows carried along.
And the fast path is *used*: clean input sends no row to the per-row code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from credgraph.loaders.generate import generate
from credgraph.loaders.layout import MAX_NUMBER_CHARS, Column
from credgraph.loaders.readers import RawBlock, RawRow, discover, read_blocks, read_rows
from credgraph.loaders.validate import Reject, Validator, _concat, _slice, _take, parse_value


def block(first: int, n: int, *, odd: list[int] | None = None, with_b: bool = True) -> RawBlock:
    """Rows ``first .. first + n - 1``; column a holds "a<row>", b "b<row>"."""
    rows = list(range(first, first + n))
    columns = {"a": pa.array([f"a{r}" for r in rows], pa.string())}
    if with_b:
        columns["b"] = pa.array([f"b{r}" for r in rows], pa.string())
    return RawBlock("f.csv", rows, columns, odd=odd)


def shape(b: RawBlock) -> tuple[list[int], dict[str, list[Any]], list[int], Any]:
    cols = {k: v.to_pylist() for k, v in b.columns.items()}
    return b.rows, cols, list(b.odd or []), b.raws


def test_a_block_of_exactly_the_batch_is_taken_whole() -> None:
    b1, b2, b3 = block(1, 3), block(4, 2), block(6, 4)
    first, left = _take([b1, b2, b3], 3)
    assert first is b1
    assert left == [b2, b3]


def test_a_batch_across_blocks_is_joined_and_the_rest_kept() -> None:
    b1, b2, b3 = block(1, 3, odd=[2]), block(4, 3, odd=[0, 2]), block(7, 2)
    first, left = _take([b1, b2, b3], 5)
    rows, cols, odd, raws = shape(first)
    assert rows == [1, 2, 3, 4, 5]
    assert cols == {"a": [f"a{r}" for r in rows], "b": [f"b{r}" for r in rows]}
    assert odd == [2, 3]  # b1's third row, b2's first
    assert raws is None
    assert [shape(b)[:3] for b in left] == [
        ([6], {"a": ["a6"], "b": ["b6"]}, [0]),  # b2's third row, odd, now at 0
        ([7, 8], {"a": ["a7", "a8"], "b": ["b7", "b8"]}, []),
    ]
    # the rest of the rows, taken in turn, are the rest of the input
    second, left = _take(left, 3)
    assert shape(second)[0] == [6, 7, 8] and left == []


def test_a_batch_inside_one_block_cuts_it() -> None:
    b1 = block(1, 5, odd=[0, 3, 4])
    first, left = _take([b1], 2)
    assert shape(first)[:3] == ([1, 2], {"a": ["a1", "a2"], "b": ["b1", "b2"]}, [0])
    (rest,) = left
    assert shape(rest)[:3] == (
        [3, 4, 5],
        {"a": ["a3", "a4", "a5"], "b": ["b3", "b4", "b5"]},
        [1, 2],
    )


def test_slices_keep_the_rows_read_one_by_one() -> None:
    raw = RawRow("f.csv", 2, {"a": "x", "b": None})
    b = RawBlock("f.csv", [1, 2, 3], {"a": pa.array(["a1", "x", "a3"])}, raws=[None, raw, None])
    assert _slice(b, 0, 3) is b
    part = _slice(b, 1, 3)
    assert part.raws == [raw, None] and part.rows == [2, 3]
    joined = _concat([_slice(b, 0, 1), block(9, 1, with_b=False), part])
    assert joined.raws == [None, None, raw, None]
    assert joined.file == "f.csv" and joined.rows == [1, 9, 2, 3]
    assert _concat([block(1, 1), block(2, 1)]).raws is None


def test_a_column_one_block_lacks_is_none_there() -> None:
    joined = _concat([block(1, 2, with_b=False), block(3, 1)])
    assert shape(joined)[1] == {"a": ["a1", "a2", "a3"], "b": [None, None, "b3"]}
    assert joined.columns["b"].type == pa.string()


def test_clean_input_never_reaches_the_per_row_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On generated input (every value ordinary), every row is vouched for by the column
    checks: the per-row code is for odd rows only (else a load is as slow as before)."""
    generate(tmp_path, 300, seed=5)
    calls: list[int] = []
    typed = Validator._typed

    def counted(self: Validator, plan: Any, raw: RawRow, rejects: list[Reject]) -> Any:
        calls.append(raw.row)
        return typed(self, plan, raw, rejects)

    monkeypatch.setattr(Validator, "_typed", counted)
    v = Validator(batch_size=97)
    valid = 0
    for spec, path in discover(tmp_path, None):
        for batch in v.validate_file(spec, read_blocks(spec, path)):
            valid += len(batch.rows)
            assert batch.rejects == []
    assert valid > 1000
    assert calls == []
    # rows that come one by one (Parquet, FtM, a CSV chunk with quotes) are checked
    # column-wise too, as blocks of rows
    again = Validator(batch_size=97)
    for spec, path in discover(tmp_path, None):
        for batch in again.validate_file(spec, read_rows(spec, path)):
            assert batch.rejects == []
    assert again.summary() == v.summary()
    assert calls == []
    # the same input on the reference row path goes through it row by row
    ref = Validator(batch_size=97, rowwise=True)
    for spec, path in discover(tmp_path, None):
        for _ in ref.validate_file(spec, read_blocks(spec, path)):
            pass
    assert len(calls) == valid


def test_a_number_of_exactly_the_longest_length_is_read() -> None:
    assert parse_value(Column("amount", "amount"), "1" * MAX_NUMBER_CHARS) == float(
        "1" * MAX_NUMBER_CHARS
    )
    assert parse_value(Column("n", "int"), "0" * (MAX_NUMBER_CHARS - 1) + "7") == 7


def test_an_extra_that_is_neither_text_nor_a_list_is_refused() -> None:
    from credgraph.loaders.layout import FILES

    persons = next(f for f in FILES if f.name == "persons")
    rows = [
        RawRow("x.ftm.json", 1, {"id": "P1", "name": "Ann", "aliases": 5}),
        RawRow("x.ftm.json", 2, {"id": "P2", "name": "Bo", "aliases": ["Bo"], "topics": None}),
    ]
    (batch,) = Validator().validate_file(persons, rows)
    assert [r.values["id"] for r in batch.rows] == ["P2"]
    assert batch.rows[0].values["topics"] is None
    assert batch.rejects == [Reject("x.ftm.json", 1, "aliases", 5, "expected text")]  # type: ignore[arg-type]


@pytest.mark.parametrize("reader", [read_blocks, read_rows])
def test_optional_columns_a_file_lacks_are_none(tmp_path: Path, reader: Any) -> None:
    """persons.csv with only some of its columns: the others are None, on both paths."""
    (tmp_path / "persons.csv").write_text("id,country,name\nP1,SE,Ann\nP2,,Bo\n", encoding="utf-8")
    (spec, path), *_ = discover(tmp_path, None)
    for v in (Validator(), Validator(rowwise=True)):
        (batch,) = v.validate_file(spec, reader(spec, path))
        assert batch.rejects == []
        got = [r.values for r in batch.rows]
        assert [g["id"] for g in got] == ["P1", "P2"]
        assert [(g["name"], g["country"]) for g in got] == [("Ann", "SE"), ("Bo", None)]
        assert all(g[c] is None for g in got for c in ("birth_date", "national_id", "net_worth"))


@pytest.mark.parametrize("reader", [read_blocks, read_rows])
def test_batches_of_long_text_are_cut_by_their_text(
    tmp_path: Path, reader: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows of long free text: a batch stops where its text passes ``batch_text``
    (one row at least), with the same rows and rejects as batches cut by rows only.
    (Rows read one by one count once in a block: of 5 rows here, of 512 in a load.)"""
    import credgraph.loaders.validate as validate_module
    from credgraph.loaders.layout import BY_NAME

    monkeypatch.setattr(validate_module, "_CHUNK_ROWS", 5)

    spec = BY_NAME["blacklist"]
    lines = ["id,subject_id,list,listed_on,reason"]
    for i in range(40):
        reason = "r" * (100 * (i % 7) + (3000 if i in (5, 6, 30) else 0))
        listed = "2024-01-01" if i != 12 else "not a date"
        lines.append(f"B{i},S{i},tax_violation,{listed},{reason}")
    path = tmp_path / "blacklist.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    known = lambda space, ids: set(ids)  # noqa: E731 - every subject exists

    def text(r: Any) -> int:
        return sum(len(v) for v in (r.key, *r.values.values()) if isinstance(v, str))

    whole = list(Validator(known, batch_size=1000).validate_file(spec, reader(spec, path)))
    cut = list(
        Validator(known, batch_size=1000, batch_text=2000).validate_file(spec, reader(spec, path))
    )
    assert len(whole) == 1 and len(cut) > 5
    assert [r.row for b in cut for r in b.rows] == [r.row for r in whole[0].rows]
    assert [x for b in cut for x in b.rejects] == whole[0].rejects
    for b in cut:  # the text of a batch (read as it was: key, list, date, reason, ...)
        n = len(b.rows) + len(b.rejects)
        assert n == 1 or sum(text(r) for r in b.rows) <= 2000, [r.row for r in b.rows]
    assert [len(b.rows) + len(b.rejects) for b in cut if len(b.rows) + len(b.rejects) == 1]


def test_ftm_extras_count_towards_a_batchs_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows with FtM extras (``aliases``, a list of texts): their text counts towards
    the batch's as the columns' does, so many aliases cut a batch short too."""
    import credgraph.loaders.validate as validate_module
    from credgraph.loaders.layout import BY_NAME

    monkeypatch.setattr(validate_module, "_CHUNK_ROWS", 4)
    spec = BY_NAME["persons"]
    rows = [
        RawRow(
            "e.ftm.json",
            i + 1,
            {
                "id": f"E{i}",
                "name": f"N{i}",
                "ftm_schema": "Person",
                "aliases": ["a" * 100] * (10 if i % 3 else 1),  # 1,000 or 100 bytes
            },
        )
        for i in range(30)
    ]
    batches = list(Validator(batch_size=1000, batch_text=2500).validate_file(spec, iter(rows)))
    assert [r.row for b in batches for r in b.rows] == list(range(1, 31))
    assert all(b.rejects == [] for b in batches)

    def text(r: Any) -> int:
        strs = [v for v in r.values.values() if isinstance(v, str)]
        lists = [t for v in r.values.values() if isinstance(v, list) for t in v]
        return sum(len(t) for t in [*strs, *lists])

    assert len(batches) >= 9  # 21,000 bytes of aliases, at most 2,500 a batch
    for b in batches:
        assert len(b.rows) == 1 or sum(text(r) for r in b.rows) <= 2500, [r.row for r in b.rows]


def test_a_list_of_texts_past_the_text_limit_is_rejected() -> None:
    """An FtM extra holding many short texts (each within its own limit) that together
    pass ``MAX_TEXT_BYTES`` is one property too long: the row is rejected naming it."""
    from credgraph.loaders.layout import BY_NAME, MAX_TEXT_BYTES

    spec = BY_NAME["persons"]
    many = ["x" * 4000] * (MAX_TEXT_BYTES // 4000 + 1)
    rows = [
        RawRow("e.ftm.json", 1, {"id": "E1", "name": "A", "aliases": many}),
        RawRow("e.ftm.json", 2, {"id": "E2", "name": "B", "aliases": many[:10]}),
    ]
    (batch,) = Validator().validate_file(spec, iter(rows))
    assert [r.key for r in batch.rows] == ["E2"]
    (rej,) = batch.rejects
    assert (rej.file, rej.row, rej.column) == ("e.ftm.json", 1, "aliases")
    assert "too long" in rej.reason and str(MAX_TEXT_BYTES) in rej.reason


def test_the_last_rows_of_a_file_are_cut_by_their_text_too(tmp_path: Path) -> None:
    """Rows read one by one (Parquet, FtM) are counted a block at a time; the file's
    last rows, fewer than a block, are cut by their text as the others are (they went
    out as one batch whatever their size)."""
    from credgraph.loaders.layout import BY_NAME

    spec = BY_NAME["blacklist"]
    lines = ["id,subject_id,list,listed_on,reason"]
    lines += [f"B{i},S{i},tax_violation,2024-01-01,{'r' * 1000}" for i in range(7)]
    path = tmp_path / "blacklist.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    known = lambda space, ids: set(ids)  # noqa: E731 - every subject exists
    batches = list(
        Validator(known, batch_size=1000, batch_text=2500).validate_file(
            spec, read_rows(spec, path)
        )
    )
    assert [len(b.rows) for b in batches] == [2, 2, 2, 1]
