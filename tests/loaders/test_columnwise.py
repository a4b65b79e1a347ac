"""The column-wise validator (Arrow blocks, loaders/colcheck.py) against the row path.

The reference is the per-row code alone: ``Validator(rowwise=True)`` fed by
``readers.read_rows`` (one ``RawRow`` at a time, every row through ``Validator._typed``,
keys and references row after row, as before the column-wise checks). A load validates
with ``Validator()`` fed by ``readers.read_blocks``. Over the same generated and hostile
inputs both must accept the same rows with the same values and reject the same rows with
the same reasons, in the same order.
"""

from __future__ import annotations

import csv
import io
import random
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credgraph.loaders import readers
from credgraph.loaders.generate import generate
from credgraph.loaders.layout import FILES, MAX_INDEXED_BYTES, FileSpec
from credgraph.loaders.readers import RawBlock, discover, read_blocks, read_rows
from credgraph.loaders.validate import Validator

# Values that break (or nearly break) a rule of some column type, and harmless ones.
HOSTILE = [
    "",
    " ",
    "\t",
    "  x  ",
    " 2024-01-05 ",
    "2024-01-05",
    "2023-02-29",
    "2024-02-29",
    "0000-01-01",
    "0001-01-01",
    "9999-12-31",
    "2024-1-05",
    "2024-13-01",
    "x",
    "-1",
    "-0",
    "+5",
    "5.0",
    "5.",
    ".5",
    " 5 ",
    "1e5",
    "1E-3",
    "1e400",
    "-1e400",
    "nan",
    "inf",
    "0x10",
    "1_000",
    "9223372036854775807",
    "9223372036854775808",
    "999999999999999999",
    "1000000000000000000",
    "0" * 150 + "1",
    "1" * 30,
    "5." + "0" * 120,
    "0.5",
    "0",
    "1",
    "1.0000001",
    "\x00",
    "a\x01b",
    "a\x7fb",
    "a\x85b",
    "a\x9fb",
    "a\tb",
    "a\nb",
    "a\r\nb",
    "\x1c",
    "\u3000",
    "\u2028x",
    "\ufeff",
    "x" * (MAX_INDEXED_BYTES + 1),
    "é" * (MAX_INDEXED_BYTES // 2 + 1),
    "x" * MAX_INDEXED_BYTES,
    'say "hi"',
    '"',
    "a,b",
    "=cmd()",
    "MATCH (n) DETACH DELETE n",
    "李雷",
    "active",
    " active",
    "Active",
    "joint",
    "performing",
    "director",
    "P0000001",
    "F0000001",
    "L0000001",
]

# Lines that are not rows of the header's shape: the row reader words them.
JUNK_LINES = [
    b"",
    b"   ",
    b"a,b",
    b'"Doe" Jr,x,y',
    b"\xff\xfebad,bytes",
    b"caf\xc3\xa9,\xc3",
    b",,,,,,,,,,,,,,,,,,,,",
]


def known(space: str, ids: list[str]) -> set[str]:
    """A pretend graph: about a third of any id space, decided by the id alone."""
    return {i for i in ids if zlib.crc32(f"{space}:{i}".encode("utf-8", "replace")) % 3 == 0}


def outcome(
    folder: Path, *, rowwise: bool, batch_size: int, graph: bool
) -> tuple[list[Any], list[Any], dict[str, dict[str, int]], int]:
    """Valid rows, rejects and summary of validating a folder, and how many blocks the
    readers gave (0 for the row path)."""
    v = Validator(known if graph else None, batch_size=batch_size, rowwise=rowwise)
    valid: list[Any] = []
    rejects: list[Any] = []
    blocks = 0
    for spec, path in discover(folder, None):
        if rowwise:
            rows: Any = read_rows(spec, path)
        else:
            items = list(read_blocks(spec, path))
            blocks += sum(type(b) is RawBlock for b in items)
            rows = items
        for batch in v.validate_file(spec, rows):
            valid.extend((r.file, r.row, r.key, r.values) for r in batch.rows)
            rejects.extend(batch.rejects)
    return valid, rejects, v.summary(), blocks


def assert_same(folder: Path, *, batch_size: int, graph: bool) -> tuple[int, int, int]:
    old = outcome(folder, rowwise=True, batch_size=batch_size, graph=graph)
    new = outcome(folder, rowwise=False, batch_size=batch_size, graph=graph)
    assert new[0] == old[0]
    assert new[1] == old[1]
    assert new[2] == old[2]
    return len(new[0]), len(new[1]), new[3]


def _cells(spec: FileSpec, row: dict[str, str]) -> list[str]:
    return [row.get(c.name, "") for c in spec.columns]


def hostile_copy(src: Path, dst: Path, seed: int) -> None:
    """The generated files of ``src`` with hostile values, duplicated and dropped rows,
    junk lines, CRLF and quoted fields mixed in (deterministic from ``seed``)."""
    rnd = random.Random(seed)
    dst.mkdir()
    for spec in FILES:
        text = (src / f"{spec.name}.csv").read_text(encoding="utf-8")
        lines = text.splitlines()
        header, data = lines[0], lines[1:]
        out = io.BytesIO()
        out.write(header.encode() + b"\n")
        w = io.StringIO()
        writer = csv.writer(w, lineterminator="\n")
        crlf = spec.name == "firms"  # one file with Windows line ends throughout
        for i, line in enumerate(data):
            fields = next(csv.reader([line]))
            roll = rnd.random()
            if roll < 0.04:
                continue  # a dropped row: references to it become unknown
            if roll < 0.20:
                for _ in range(rnd.randint(1, 2)):
                    fields[rnd.randrange(len(fields))] = rnd.choice(HOSTILE)
            w.seek(0)
            w.truncate()
            writer.writerow(fields)
            encoded = w.getvalue().encode("utf-8", "surrogatepass")
            if crlf:
                encoded = encoded[:-1] + b"\r\n"
            out.write(encoded)
            if roll > 0.97:
                out.write(encoded)  # a duplicate key
            if roll > 0.985:
                out.write(rnd.choice(JUNK_LINES) + b"\n")
            if spec.name == "ownership" and i == len(data) - 5:
                out.write(b"\r")  # a lone CR: the rest of this file goes the row reader
        if spec.name == "guarantees":
            out.write(b'G9999999,P0000001,"L0000001\n')  # a quote never closed
        (dst / f"{spec.name}.csv").write_bytes(out.getvalue())


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("market") / "csv"
    generate(folder, 400, seed=11)
    return folder


@pytest.fixture(scope="module")
def hostile(market: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "csv"
    hostile_copy(market, folder, seed=3)
    return folder


@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("batch_size", [5000, 37])
def test_generated_market_same_outcome(market: Path, batch_size: int, graph: bool) -> None:
    valid, rejects, blocks = assert_same(market, batch_size=batch_size, graph=graph)
    assert blocks > 0  # the column path did read blocks
    assert valid > 1000
    if not graph:
        assert rejects == 0


@pytest.mark.parametrize("chunk", [1 << 20, 700])
@pytest.mark.parametrize("graph", [False, True])
@pytest.mark.parametrize("batch_size", [5000, 37])
def test_hostile_market_same_outcome(
    hostile: Path, batch_size: int, graph: bool, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small chunks put quoted fields, junk lines and CRLF on either side of chunk ends."""
    monkeypatch.setattr(readers, "_CSV_CHUNK_BYTES", chunk)
    valid, rejects, blocks = assert_same(hostile, batch_size=batch_size, graph=graph)
    if chunk < 1000:
        assert blocks > 0  # small chunks without a hostile row are read by Arrow
    assert valid > 500
    assert rejects > 100


def test_parquet_market_same_outcome(tmp_path: Path) -> None:
    generate(tmp_path, 200, seed=4, fmt="parquet")
    assert_same(tmp_path, batch_size=50, graph=True)


_FIELD = st.sampled_from(HOSTILE) | st.text(max_size=8)


@settings(suppress_health_check=[HealthCheck.too_slow], deadline=None, max_examples=60)
@given(
    st.sampled_from(FILES),
    st.lists(st.lists(_FIELD, min_size=1, max_size=12), min_size=1, max_size=25),
    st.lists(st.sampled_from(JUNK_LINES), max_size=3),
    st.integers(16, 400),
    st.booleans(),
)
def test_any_rows_same_outcome(  # type: ignore[no-untyped-def]
    tmp_path_factory, spec, rows, junk, chunk, graph
) -> None:
    """Rows of anything (the header's width or not, values from the hostile list or any
    text), junk lines among them, in chunks of any size: same outcome on both paths."""
    folder = tmp_path_factory.mktemp("any")
    w = io.StringIO()
    writer = csv.writer(w, lineterminator="\n")
    writer.writerow(spec.column_names)
    for cells in rows:
        width = len(spec.columns)
        fields = (cells * width)[:width] if len(cells) > 2 else cells
        writer.writerow(fields)
    data = w.getvalue().encode("utf-8", "surrogatepass")
    lines = data.split(b"\n")
    for i, j in enumerate(junk):
        lines.insert(1 + (i * 7) % max(1, len(lines) - 1), j)
    (folder / f"{spec.name}.csv").write_bytes(b"\n".join(lines))
    old_chunk = readers._CSV_CHUNK_BYTES
    readers._CSV_CHUNK_BYTES = chunk
    try:
        assert_same(folder, batch_size=7, graph=graph)
    finally:
        readers._CSV_CHUNK_BYTES = old_chunk
