"""How the writer cuts a batch into transactions of bounded size (no database)."""

from __future__ import annotations

from typing import Any

from credgraph.loaders.writer import MAX_BATCH_CHARS, split_by_size


def _row(key: str, text: str | None, n: int = 0) -> dict[str, Any]:
    return {"key": key, "props": {"reason": text, "amount": n, "aliases": ["x" * 50]}}


def test_a_batch_of_short_rows_stays_whole() -> None:
    rows = [_row(f"K{i}", "why") for i in range(5000)]
    assert split_by_size(rows) == [rows]
    assert split_by_size([]) == []


def test_parts_hold_at_most_the_limit_and_keep_the_order() -> None:
    rows = [_row(f"K{i}", "x" * 30) for i in range(10)]  # 32 characters a row
    parts = split_by_size(rows, limit=100)
    assert [len(p) for p in parts] == [3, 3, 3, 1]
    assert [r for p in parts for r in p] == rows
    assert split_by_size(rows, limit=96) == [rows[0:3], rows[3:6], rows[6:9], rows[9:]]


def test_a_row_past_the_limit_is_a_part_of_its_own() -> None:
    rows = [_row("A", "s"), _row("B", "x" * 500), _row("C", None), _row("D", "t")]
    assert split_by_size(rows, limit=100) == [[rows[0]], [rows[1]], rows[2:]]


def test_the_default_limit_takes_several_megabytes_of_text() -> None:
    big = "r" * 1_048_576
    parts = split_by_size([_row(f"K{i}", big) for i in range(20)])
    assert all(sum(len(r["props"]["reason"]) for r in p) <= MAX_BATCH_CHARS for p in parts)
    assert sum(len(p) for p in parts) == 20 and len(parts) == 3
